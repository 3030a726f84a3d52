"""MemStore: one family's recent edits, sorted in memory (see docs/storage.md, "MemStore").

Layout: a SortedDict keyed by ROW (bytes compare about twice as fast as store-key tuples, which
is what bounds the put rate), whose value is the row's cells as a tuple (a list once the row is
wide) of `(store key, entry)` pairs sorted by store key (row, qualifier, -timestamp, -type). Iterating
rows in order and each row's list in order yields HBase order. An entry is
`(seqid, value, previous entry or None)`: the seqid is the MVCC write number of the batch that
wrote it; a reader with read point `rp` sees an entry only if its seqid <= rp, and falls back to
the previous entry of the same key when a newer write overwrote it (same row, column, timestamp
and type). Previous entries are kept as long as a registered reader (MVCC.begin_read) may need
them, and dropped at the next overwrite after that.

Concurrency: one lock per MemStore guards every mutation of the active segment (the SortedDict
and the row lists) and every read of it. Readers never iterate while another thread mutates:
they copy chunks of rows under the lock and re-seek after the last row (`irange`). A full
active segment is frozen (immutable) and a fresh one takes writes (see MemStore). A flush
`snapshot()`s the active and frozen segments: new writes go to a fresh segment, and the flush
writes the snapshot to an HFile while readers still see it, until `clear_snapshot()`
(done by the Store in the same critical section that adds the new HFile, so a reader sees one
or the other).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from heapq import merge
from operator import itemgetter

from sortedcontainers import SortedDict

# Python objects per memstore cell besides the row/qualifier/value bytes (key and entry tuples,
# row list, dict and SortedList slots): ~320 bytes measured with tracemalloc. Flush-size
# accounting adds it so that flush_size bounds real memory, not just payload bytes.
ENTRY_OVERHEAD = 320
_CHUNK = 512
_key0 = itemgetter(0)


def _bulk_insert(d: SortedDict, entries: dict) -> None:
    """d.update(entries) for keys not yet in d, without SortedDict's per-key Python overhead:
    sort the batch once, then bisect + insort each key straight into SortedList's sublists.
    Relies on sortedcontainers 2.x internals (_lists/_maxes/_expand/_index/_len), which have been
    stable for years; falls back to the public API otherwise. Caller holds the segment lock."""
    sl = getattr(d, "_list", None)
    lists = getattr(sl, "_lists", None)
    if lists is None or not lists or len(entries) * 10 > len(d):
        d.update(entries)  # small memstore: SortedDict re-sorts everything at C speed
        return
    dict.update(d, entries)
    maxes = sl._maxes
    limit = sl._load << 1
    expand = sl._expand
    nmax = len(maxes)
    for k in sorted(entries):
        pos = bisect_right(maxes, k)
        if pos == nmax:
            pos -= 1
            sub = lists[pos]
            sub.append(k)
            maxes[pos] = k
        else:
            sub = lists[pos]
            insort(sub, k)
        if len(sub) > limit:
            expand(pos)
            nmax = len(maxes)
    sl._len += len(entries)
    del sl._index[:]


def _visible(entry, read_point: int):
    while entry is not None and entry[0] > read_point:
        entry = entry[2]
    return entry


def _row_pairs(cells: list, read_point: int, fast: bool, start: tuple | None = None) -> list:
    """A row's visible (key, value) pairs. Called with the segment lock held (copies)."""
    if start is not None:
        cells = cells[bisect_left(cells, (start,)):]
    if fast:
        return [(k, e[1]) for k, e in cells]
    out = []
    for k, e in cells:
        if e[0] > read_point:
            e = _visible(e, read_point)
            if e is None:
                continue
        out.append((k, e[1]))
    return out


def _older_versions(entry, oldest_reader: int):
    """The chain `entry` -> previous -> ... cut after the first entry that the oldest reader
    can see (anything older than that no reader can ever need)."""
    kept = []
    while entry is not None:
        kept.append((entry[0], entry[1]))
        if entry[0] <= oldest_reader:
            break
        entry = entry[2]
    chain = None
    for s, v in reversed(kept):
        chain = (s, v, chain)
    return chain


def _insert_into_row(cells: list, key: tuple, entry: tuple, oldest_reader) -> None:
    """Put one cell into a row's sorted list. An equal key (same row, column, timestamp, type)
    keeps the previous values that a registered reader may still need (MVCC)."""
    i = bisect_left(cells, (key,))
    if i < len(cells) and cells[i][0] == key:
        old = cells[i][1]
        if old[0] == entry[0]:  # same batch: the later pair wins, the older chain stays
            entry = (entry[0], entry[1], old[2])
        else:
            entry = (entry[0], entry[1], _older_versions(old, oldest_reader()))
        cells[i] = (key, entry)
    else:
        cells.insert(i, (key, entry))


# A row's cells are a tuple while the row is narrow: a tuple holding only bytes, ints and such
# tuples is untracked by the cyclic GC, which otherwise traverses every memstore row on each
# full collection. Wide rows become lists (in-place inserts instead of copies).
_ROW_TUPLE_MAX = 16


def _row_value(cells: list):
    return tuple(cells) if len(cells) <= _ROW_TUPLE_MAX else cells


def _no_readers() -> int:
    return 1 << 62


class Segment:
    """A sorted set of cells plus its byte size and the highest seqid written into it."""

    __slots__ = ("cells", "size", "max_seqid", "lock", "flush_seqid", "delete_count")

    def __init__(self, lock: threading.Lock):
        self.cells = SortedDict()  # row -> [(key, entry)]; guarded by lock while active
        self.size = 0
        self.max_seqid = 0
        self.lock = lock
        self.flush_seqid = None  # set once when a flush snapshots this segment
        self.delete_count = 0  # delete markers written here (readers take a faster path at 0)

    def __len__(self) -> int:  # rows
        return len(self.cells)

    def iter_from(self, start: tuple | None, read_point: int):
        """(key, value) pairs ascending from the first key >= start, visible at read_point."""
        d = self.cells
        row, inclusive = (start[0] if start is not None else None), True
        first_key = start if start is not None and len(start) > 1 else None
        while True:
            out: list = []
            last = None
            with self.lock:
                fast = self.max_seqid <= read_point
                it = d.irange(row, None, (inclusive, True)) if row is not None else iter(d)
                for last in it:
                    cells = d[last]
                    if first_key is not None and last == first_key[0]:
                        out.extend(_row_pairs(cells, read_point, fast, first_key))
                    else:
                        out.extend(_row_pairs(cells, read_point, fast))
                    if len(out) >= _CHUNK:
                        break
                else:
                    last = None  # exhausted: anything inserted later is above our read point
            yield from out
            if last is None:
                return
            row, inclusive = last, False

    def row_items(self, row: bytes, read_point: int) -> list:
        """Every visible (key, value) of one row, ascending."""
        with self.lock:
            cells = self.cells.get(row)
            if cells is None:
                return []
            return _row_pairs(cells, read_point, self.max_seqid <= read_point)

    def last_row_before(self, row: bytes | None) -> bytes | None:
        """The greatest row < row (the last row when row is None), visible or not."""
        d = self.cells
        with self.lock:
            if row is None:
                return d.peekitem(-1)[0] if d else None
            for r in d.irange(None, row, (True, False), reverse=True):
                return r
        return None

    def first_row(self) -> bytes | None:
        with self.lock:
            return self.cells.peekitem(0)[0] if self.cells else None

    def flush_items(self):
        """(key, newest value) ascending; only for an immutable snapshot segment."""
        for cells in self.cells.values():
            for k, e in cells:
                yield k, e[1]


class Snapshot:
    """The segments a flush writes out (newest first) and the seqid it covers."""

    def __init__(self, segments: list[Segment]):
        self.segments = segments
        self.flush_seqid: int | None = None  # set once by the region's flush
        self.size = sum(seg.size for seg in segments)

    def flush_items(self):
        """(key, newest value) ascending, each key once (the newest segment's value wins)."""
        if len(self.segments) == 1:
            yield from self.segments[0].flush_items()
            return
        prev = None
        for kv in merge(*[seg.flush_items() for seg in self.segments], key=_key0):
            if kv[0] != prev:
                prev = kv[0]
                yield kv


class MemStore:
    """The active segment, frozen segments, and during a flush the snapshot being written.

    The active SortedDict is kept small: once it holds `segment_rows` rows it is frozen
    (immutable, still read) and a fresh one takes the writes. Inserting into a SortedDict slows
    down as it grows (cache misses on every comparison), so a bounded active segment keeps the
    put rate flat; readers merge the few segments (newest first, the newest value of a key
    wins). A frozen segment needs no previous-value chains: an older value lives in the older
    segment, so a reader whose read point hides the new value simply finds the old one there.
    """

    def __init__(self, segment_rows: int = 100_000):
        self._lock = threading.Lock()
        self._segment_rows = max(1, segment_rows)
        self._active = Segment(self._lock)  # guarded by self._lock (the reference and contents)
        self._frozen: list[Segment] = []  # newest first; immutable; guarded by self._lock
        self._snapshot: Snapshot | None = None  # immutable once set; guarded by self._lock

    def add(self, pairs, seqid: int, size: int, deletes: int = -1,
            oldest_reader=_no_readers) -> None:
        """Insert (key, value) pairs of one batch written under `seqid`; later pairs win.
        `deletes` = how many are delete markers (-1: count them here). `oldest_reader()` gives
        the lowest read point in use, called only when the batch overwrites an existing key."""
        if deletes < 0:
            deletes = sum(1 for k, _ in pairs if k[3] != -4)
        # the common batch touches each row once: build {row: ((key, entry),)} at C speed
        new_rows = dict(zip([k[0] for k, _ in pairs], [((k, (seqid, v, None)),) for k, v in pairs]))
        if len(new_rows) != len(pairs):  # a row written twice in the batch: group properly
            grouped: dict = {}
            for k, v in pairs:
                lst = grouped.get(k[0])
                if lst is None:
                    grouped[k[0]] = [(k, (seqid, v, None))]
                else:
                    _insert_into_row(lst, k, (seqid, v, None), oldest_reader)
            new_rows = {r: _row_value(lst) for r, lst in grouped.items()}
        with self._lock:
            seg = self._active
            d = seg.cells
            if d:
                contains = dict.__contains__
                for row in [r for r in new_rows if contains(d, r)]:
                    cur = list(d[row])
                    for k, e in new_rows.pop(row):
                        _insert_into_row(cur, k, e, oldest_reader)
                    dict.__setitem__(d, row, _row_value(cur))  # the key is already sorted in
            if new_rows:
                _bulk_insert(d, new_rows)
            seg.size += size
            seg.delete_count += deletes
            if seqid > seg.max_seqid:
                seg.max_seqid = seqid
            if len(d) >= self._segment_rows:
                self._frozen.insert(0, seg)
                self._active = Segment(self._lock)

    def size(self) -> int:
        with self._lock:
            return (self._active.size + sum(seg.size for seg in self._frozen)
                    + (self._snapshot.size if self._snapshot else 0))

    def is_empty(self) -> bool:
        with self._lock:
            return not self._active.cells and not self._frozen and not self._snapshot

    def segments(self) -> list[Segment]:
        """Newest first: the active segment, frozen ones, then a running flush's snapshot."""
        with self._lock:
            segs = [self._active]
            if self._frozen:
                segs.extend(self._frozen)
            if self._snapshot is not None:
                segs.extend(self._snapshot.segments)
            return segs

    def snapshot(self) -> Snapshot | None:
        """Freeze everything for a flush (or return the snapshot of a flush that failed and is
        being retried). None when there is nothing to flush. The caller must make sure no
        mutation is half-applied (the region holds its update lock exclusively)."""
        with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            segs = ([self._active] if self._active.cells else []) + self._frozen
            if not segs:
                return None
            self._snapshot = Snapshot(segs)
            self._active = Segment(self._lock)
            self._frozen = []
            return self._snapshot

    def clear_snapshot(self) -> None:
        with self._lock:
            self._snapshot = None
