"""MemStore: one family's recent edits, sorted in memory (see docs/storage.md, "MemStore").

Cells are kept in a SortedDict keyed by the store key (row, qualifier, -timestamp, -type), so
iteration order is HBase order. Each entry is `(seqid, value, previous entry or None)`: the seqid
is the MVCC write number of the mutation that wrote it; a reader with read point `rp` sees an
entry only if its seqid <= rp, and falls back to the previous entry of the same key when a newer
write overwrote it (same row, column, timestamp and type). Only one previous entry is kept: a
reader older than two overwrites of the very same key misses that cell (documented limitation).

Concurrency: one lock per MemStore guards every mutation of the active segment and every read
of it. Readers never iterate a SortedDict that another thread mutates: they copy chunks of
keys under the lock and re-seek after the last key (`irange`). A flush `snapshot()`s the active
segment: it becomes immutable, new writes go to a fresh segment, and the flush writes the
snapshot to an HFile while readers still see it, until `clear_snapshot()` (done by the Store in
the same critical section that adds the new HFile, so a reader sees one or the other).
"""

from __future__ import annotations

import threading
from bisect import bisect_right, insort
from itertools import islice
from operator import itemgetter

from sortedcontainers import SortedDict

ENTRY_OVERHEAD = 64  # rough per-cell bytes of Python objects, for flush-size accounting
_CHUNK = 512
_value_of = itemgetter(1)


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


class Segment:
    """A sorted set of cells plus its byte size and the highest seqid written into it."""

    __slots__ = ("cells", "size", "max_seqid", "lock", "flush_seqid", "delete_count")

    def __init__(self, lock: threading.Lock):
        self.cells = SortedDict()  # guarded by lock while this is the active segment
        self.size = 0
        self.max_seqid = 0
        self.lock = lock
        self.flush_seqid = None  # set once when a flush snapshots this segment
        self.delete_count = 0  # delete markers written here (readers take a faster path at 0)

    def __len__(self) -> int:
        return len(self.cells)

    def iter_from(self, start: tuple | None, read_point: int):
        """(key, value) pairs ascending from the first key >= start, visible at read_point."""
        d = self.cells
        last, inclusive = start, True
        while True:
            with self.lock:
                it = d.irange(last, None, (inclusive, True)) if last is not None else iter(d)
                keys = list(islice(it, _CHUNK))
                entries = list(map(d.__getitem__, keys))
                fast = self.max_seqid <= read_point
            if fast:
                yield from zip(keys, map(_value_of, entries))
            else:
                for k, e in zip(keys, entries):
                    e = _visible(e, read_point)
                    if e is not None:
                        yield k, e[1]
            if len(keys) < _CHUNK:
                # anything inserted after this chunk has a seqid above our read point
                return
            last, inclusive = keys[-1], False

    def row_items(self, row: bytes, read_point: int) -> list:
        """Every visible (key, value) of one row, ascending."""
        d = self.cells
        with self.lock:
            keys = list(d.irange((row,), (row + b"\x00",), (True, False)))
            entries = list(map(d.__getitem__, keys))
            fast = self.max_seqid <= read_point
        if fast:
            return list(zip(keys, map(_value_of, entries)))
        out = []
        for k, e in zip(keys, entries):
            e = _visible(e, read_point)
            if e is not None:
                out.append((k, e[1]))
        return out

    def last_row_before(self, row: bytes | None) -> bytes | None:
        """The greatest row < row (the last row when row is None), visible or not."""
        d = self.cells
        with self.lock:
            if row is None:
                return d.peekitem(-1)[0][0] if d else None
            for k in d.irange(None, (row,), (True, False), reverse=True):
                return k[0]
        return None

    def first_row(self) -> bytes | None:
        with self.lock:
            return self.cells.peekitem(0)[0][0] if self.cells else None

    def flush_items(self):
        """(key, newest value) ascending; only for an immutable snapshot segment."""
        for k, e in self.cells.items():
            yield k, e[1]


class MemStore:
    """The active segment plus, during a flush, the snapshot being written."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = Segment(self._lock)  # guarded by self._lock (the reference and contents)
        self._snapshot: Segment | None = None  # immutable once set; guarded by self._lock

    def add(self, pairs, seqid: int, size: int, deletes: int = -1) -> None:
        """Insert (key, value) pairs of one batch written under `seqid`; later pairs win.
        `deletes` = how many are delete markers (-1: count them here)."""
        if deletes < 0:
            deletes = sum(1 for k, _ in pairs if k[3] != -4)
        entries = {k: (seqid, v, None) for k, v in pairs}
        with self._lock:
            seg = self._active
            d = seg.cells
            if d:
                contains = dict.__contains__
                dups = [k for k in entries if contains(d, k)]
                for k in dups:  # overwrite in place, keeping the previous value for old readers
                    old = d[k]
                    dict.__setitem__(d, k, (seqid, entries.pop(k)[1], (old[0], old[1], None)))
            _bulk_insert(d, entries)
            seg.size += size
            seg.delete_count += deletes
            if seqid > seg.max_seqid:
                seg.max_seqid = seqid

    def size(self) -> int:
        with self._lock:
            return self._active.size + (self._snapshot.size if self._snapshot else 0)

    def is_empty(self) -> bool:
        with self._lock:
            return not self._active.cells and not self._snapshot

    def segments(self) -> list[Segment]:
        """Newest first: the active segment, then the snapshot if a flush is running."""
        with self._lock:
            return [self._active] if self._snapshot is None else [self._active, self._snapshot]

    def snapshot(self) -> Segment | None:
        """Freeze the active segment for a flush (or return the snapshot of a flush that failed
        and is being retried). None when there is nothing to flush. The caller must make sure
        no mutation is half-applied (the region holds its update lock exclusively)."""
        with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            if not self._active.cells:
                return None
            self._snapshot = self._active
            self._active = Segment(self._lock)
            return self._snapshot

    def clear_snapshot(self) -> None:
        with self._lock:
            self._snapshot = None
