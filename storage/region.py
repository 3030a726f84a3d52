"""Region: rows [start, end) of one table, one Store per column family (docs/storage.md).

Write path (mutate / batch_mutate): validate, take the rows' locks, take the update lock
shared, begin an MVCC write number (= WAL seqid, one per batch), resolve LATEST timestamps,
one WAL append_batch + one sync, bulk-insert into the memstores, then complete the MVCC number:
the read point advances only past fully applied batches, so a reader (which sees only memstore
cells with seqid <= the read point it took at its start) never sees half a mutation.

Flush takes the update lock exclusively for a moment (no batch is half-applied), snapshots every
memstore and notes the seqid; writes then continue while the snapshots are written to HFiles,
which are then installed in every family at once (`_views_lock`) and reported to the WAL
(`mark_flushed`). A flush is requested when the region's memstores pass `flush_size()` (the
table's MEMSTORE_FLUSHSIZE, else the server's); a minor compaction when a store reaches
`compaction_min_files` files (or holds references), unless the table's COMPACTION_ENABLED is
false; both run on `background` (anything with submit(fn); default: one shared daemon pool per
process). Writes first ask `memstore_room` (the server-wide memstore limit, when the region
server sets one), then wait, and fail with RegionTooBusyError, while the memstores exceed
`memstore_block_multiplier` x `flush_size()`. While a store has `blocking_store_files` files,
a flush that the memstore size asked for waits for the compaction it requests, for at most
`blocking_wait_seconds` (HBase's blockingStoreFiles): writes go on into the memstore, so a
long compaction (a merged region's first, say) holds up writes only once the memstore
reaches its blocking size. A READONLY table's mutations are refused (TableReadOnlyError). A table's
DURABILITY decides whether a batch is logged (not with SKIP_WAL) and synced before it is
applied (not with ASYNC_WAL).

Reads: `get` and `scanner` take the read point, then one StoreView per selected family (pinned
memstore segments + store files); scanner.py merges and filters. Recovery: `open` replays
recovered.edits above each store's max HFile seqid, flushes, deletes them. Split and merge:
region_split.py (reference files).

Concurrency: `_updates` (shared by writers, exclusive for a flush snapshot); row locks are
striped (`_row_locks`, always taken in index order, before `_updates`); `_flush_lock` serialises
flushes, `_compaction_lock` compactions; `_views_lock` makes multi-family view capture atomic
with flush installs; `_state_lock` guards the closing/closed/queued flags.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import replace

from minihbase.bytes_text import quoted
from minihbase.errors import (CorruptionError, InvalidArgumentError, NoSuchColumnFamilyError,
                              NotACounterError, NotServingRegionError, RegionTooBusyError,
                              RowTooBigError, ServerAbortedError, TableReadOnlyError)
from storage import layout
from storage.cell import CELL_TYPES, LATEST_TIMESTAMP, MAX_ROW_LENGTH, Cell, CellType
from storage.compaction import (CompactionInterrupted, compact_store,
                                compaction_state as compaction_state_name)
from storage.config import RegionConfig, default_background
from storage.filters import filter_rows
from storage.memstore import ENTRY_OVERHEAD
from storage.mvcc import MVCC, UpdatesLock
from storage.nonces import NonceKey, NonceManager
from storage.query import Get, Mutation, Scan
from storage.scanner import (TICK_ROWS, ReadParams, RegionScanner, merge_family_rows,
                             rows_of, whole_rows)
from storage.schema import RegionInfo, TableDescriptor
from storage.store import Store
from storage.wal_format import (NONCE_CELL_TYPE, edits_file, encode_payload, nonce_cell,
                                nonce_of)

log = logging.getLogger(__name__)

_RI_MAGIC = b"MHRI"  # .regioninfo: layout.checksummed JSON; never change
_ROW_LOCK_STRIPES = 128
# Nonce cells a region keeps for its next server at most (about 100 bytes each): past it the
# oldest are forgotten early, as the NonceManager's own bound does (docs/storage.md, "Nonces")
HANDOVER_NONCES = 20_000
# How often a flush waiting for a compaction of too many store files looks again (HBase's
# MemStoreFlusher requeues such a flush every blockingWaitTime / 100).
FLUSH_RECHECK_S = 0.1
_PUT = int(CellType.PUT)
_DELETE = int(CellType.DELETE)
_CELL_OVERHEAD = ENTRY_OVERHEAD
_EVERY_VERSION = (1 << 31) - 1  # what a filtered raw read judges (HBase's Integer.MAX_VALUE)
_tuple_new = tuple.__new__  # builds a Cell without the NamedTuple constructor's Python frame


def write_region_info(path: str, info: RegionInfo) -> None:
    body = json.dumps(info.to_dict(), sort_keys=True).encode()
    layout.atomic_write(path, layout.checksummed(_RI_MAGIC, body))


def read_region_info(path: str) -> RegionInfo:
    with open(path, "rb") as f:
        body = layout.checked_body(_RI_MAGIC, f.read(), path)
    try:
        return RegionInfo.from_dict(json.loads(body))
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptionError(f"{path} holds no region info: {e}") from None


def _size_text(n: int) -> str:
    """'128 MiB' for whole MiB, else '1000 bytes' (a limit, exactly as configured)."""
    return f"{n >> 20} MiB" if n and not n % (1 << 20) else f"{n} bytes"


def _wrap_long(n: int) -> int:
    """`n` as a Java long: an increment past 2**63 - 1 wraps to -2**63, as in HBase (its
    region server adds counters with plain long arithmetic)."""
    return (n + (1 << 63)) % (1 << 64) - (1 << 63)


def _lost_files_message(info: RegionInfo, path: str) -> str:
    what = ("holds no .regioninfo" if os.path.isdir(path) else "is missing")
    return (f"region {info.name}: its directory {path} {what}, so its files are gone and it "
            "would be served without them; restore its files into it (keeping any "
            "recovered.edits there: edits from a WAL split), or, accepting their loss, create "
            f"the directory and an empty {layout.REGION_INFO} in it; then assign the region "
            "(or wait for the master's next open retry)")


def _check_region_info(region_path: str, info: RegionInfo) -> None:
    """HBase's checkRegionInfoOnFilesystem: meta is the truth, so a missing .regioninfo is
    written, and one that fails its checksum or names another region is reported and
    rewritten (tools that rebuild meta from the file system read these files)."""
    path = layout.region_info_path(region_path)
    try:
        found = read_region_info(path)
        if found == info:
            return
        log.warning("%s names region %s, not %s: rewriting it", path, found.name, info.name)
    except FileNotFoundError:
        pass
    except CorruptionError as e:
        log.warning("%s: rewriting it from meta", e)
    write_region_info(path, info)
    layout.fsync_dir(region_path)


class Region:
    def __init__(self, rootdir: str, info: RegionInfo, table: TableDescriptor, wal, block_cache,
                 config: RegionConfig, background, nonces: NonceManager | None = None):
        self.rootdir = rootdir
        self.info = info
        self.name = info.name
        self.table = table
        self.path = layout.region_dir(rootdir, info)
        self.wal = wal
        # HBase's DURABILITY: SKIP_WAL logs no edit; ASYNC_WAL acknowledges once the edit is
        # written to the WAL, before its fsync (the region server syncs the WAL every second)
        self._log_edits = table.durability != "SKIP_WAL"
        self._sync_edits = table.durability != "ASYNC_WAL"
        self.config = config
        self.background = background if background is not None else default_background()
        # the region server's, shared by its regions (storage/nonces.py)
        self.nonces = nonces if nonces is not None else NonceManager()
        # nonce cells of the operations applied here (or handed over), oldest first, for the
        # region's next server (_hand_over_nonces); the newest HANDOVER_NONCES only, so a busy
        # counter region holds a few MB at most; guarded by _nonce_lock
        self._applied_nonces: collections.deque[Cell] = collections.deque(
            maxlen=HANDOVER_NONCES)
        self._nonce_lock = threading.Lock()
        self._nonce_files: list[str] = []  # handover files read at open, in recovered.edits
        self.stores: dict[bytes, Store] = {
            fd.name: Store(self.path, rootdir, fd, config, block_cache) for fd in table.families}
        self._family_order = sorted(self.stores)
        # read plans depend on the clock only through TTL: cache them when no family has one
        self._plan_cacheable = all(not fd.ttl for fd in table.families)
        self._plan_cache: dict = {}  # (columns, time_range, max_versions) -> plans
        # every family in order, shaped like read plans for _acquire_views (no ReadParams)
        self._row_wire_stores = [(self.stores[f], None) for f in self._family_order]
        self._mvcc = MVCC(0)
        self._updates = UpdatesLock()
        self._row_locks = [threading.Lock() for _ in range(_ROW_LOCK_STRIPES)]
        self._flush_lock = threading.Lock()
        # every write up to this seqid is in a file (the last flush's; a flush that retried a
        # failed one's snapshot covers only that snapshot's); guarded by _flush_lock
        self._flushed_through = 0
        self._compaction_lock = threading.Lock()
        self._state_lock = threading.Lock()
        # Readers of several families take their store views under this lock and a flush
        # installs its files under it: without it a reader could see a mutation's cells in
        # one family's new HFile (no seqid filter) but not in another family's memstore.
        self._views_lock = threading.Lock()
        self._progress = threading.Condition(self._state_lock)  # flush/compaction finished
        self._closing = False  # guarded by _state_lock; no new operations once set
        self._closed = False  # guarded by _state_lock
        self._flush_queued = False  # guarded by _state_lock
        # since when (monotonic) a queued flush has waited for a compaction (_flush_must_wait);
        # only the background flush sets it, one at a time
        self._flush_waiting_since: float | None = None
        self._compaction_queued = False  # guarded by _state_lock
        # Requested compactions waiting (compaction_state): {major: count}; guarded by
        # _state_lock. _compacting: "MAJOR" or "MINOR" while compact() runs (one at a time).
        self._requested = {True: 0, False: 0}
        self._compacting: str | None = None
        self.read_requests = 0  # approximate counters (unsynchronised increments)
        self.write_requests = 0
        self.flushes = 0
        self.compactions = 0
        self.flush_seconds = 0.0  # time spent writing flushes / compactions (for metrics)
        self.compaction_seconds = 0.0

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, rootdir: str, info: RegionInfo, table: TableDescriptor, *, wal=None,
             block_cache=None, config: RegionConfig | None = None, background=None,
             nonces: NonceManager | None = None, must_exist: bool = False) -> "Region":
        """must_exist: the region's directory and .regioninfo were written when the region
        was made (a region server's opens): if they are gone, refuse to open the region
        (HBase's "region does not exist on disk") instead of serving nothing, or only the
        edits a WAL split kept, where data was."""
        r = cls(rootdir, info, table, wal, block_cache, config or RegionConfig(), background,
                nonces)
        if must_exist and not os.path.exists(layout.region_info_path(r.path)):
            raise CorruptionError(_lost_files_message(info, r.path))
        layout.make_dirs(r.path)
        _check_region_info(r.path, info)
        shutil.rmtree(layout.tmp_dir(r.path), ignore_errors=True)
        try:
            for store in r.stores.values():
                store.open_files()
            r._replay_recovered_edits()
        except BaseException:
            # A failed open (a corrupt file...) keeps no file open: the master retries opens,
            # and each attempt would otherwise leak the readers it had opened.
            for store in r.stores.values():
                store.close()
            raise
        if r.has_references():
            # a fresh daughter (or merged region): rewrite its references soon, as HBase does,
            # so that the parent's files can be deleted and the region can split again
            r._request_compaction()
        return r

    def _replay_recovered_edits(self) -> None:
        """Replay edits a dead server's WAL split left for us, per store only above what that
        store's HFiles already hold; flush them; delete the edits files. Nonces logged with
        increments, and those a clean close handed over, are remembered whether or not their
        cells were already flushed (the handover files stay until the next clean close)."""
        store_max = {f: s.max_seqid() for f, s in self.stores.items()}
        seen = max(store_max.values(), default=0)
        edits_dir = layout.recovered_edits_dir(self.path)
        names, nonce_files = [], []
        if os.path.isdir(edits_dir):
            present = os.listdir(edits_dir)
            names = sorted(n for n in present if n.endswith(layout.EDITS_SUFFIX))
            nonce_files = sorted(n for n in present if n.endswith(layout.NONCES_SUFFIX))
            for n in present:  # a split that died mid-write (its files are rewritten whole)
                if ".tmp." in n:
                    os.unlink(os.path.join(edits_dir, n))
        replayed = 0
        if names or nonce_files:
            from storage.wal_splitter import read_recovered_edits

            # nonce files (a clean close's handover, _hand_over_nonces) hold nonce cells only
            for name in nonce_files + names:
                for entry in read_recovered_edits(os.path.join(edits_dir, name)):
                    seen = max(seen, entry.seqid)
                    per_store: dict = {}
                    for c in entry.cells:
                        if c.type == NONCE_CELL_TYPE:
                            self._replay_nonce(c)
                            continue
                        if entry.seqid <= store_max.get(c.family, 1 << 64):
                            continue  # unknown family, or already in this store's HFiles
                        if not self.info.contains_row(c.row):
                            continue
                        per_store.setdefault(c.family, []).append(c)
                    for fam, cells in per_store.items():
                        pairs = [((c.row, c.qualifier, -c.timestamp, -c.type), c.value)
                                 for c in cells]
                        size = sum(len(c.row) + len(c.qualifier) + len(c.value) + _CELL_OVERHEAD
                                   for c in cells)
                        self.stores[fam].memstore.add(pairs, entry.seqid, size)
                        replayed += len(cells)
        self._mvcc = MVCC(seen)
        if replayed:
            log.info("region %s replayed %d recovered cells up to seqid %d",
                     self.name, replayed, seen)
            self.flush()
        for name in names:
            os.unlink(os.path.join(edits_dir, name))
        if names:
            layout.fsync_dir(edits_dir)
        # kept until the next clean close replaces them: a crash before it must not lose them
        self._nonce_files = nonce_files

    def _replay_nonce(self, c: Cell) -> None:
        try:
            key, result = nonce_of(c)
        except ValueError as e:  # its record's checksum matched: written this way
            raise CorruptionError(f"region {self.name}: recovered edit of row {quoted(c.row)}: {e}")
        self.nonces.record(key, result, c.timestamp / 1000)
        if self.info.contains_row(c.row):  # a daughter keeps its own rows' nonces only
            self._keep_nonces((c,))

    # --- nonces handed over on a clean close ------------------------------------------------
    # A crash hands a region's nonces to its next server through the WAL split. A clean close
    # (a move, a split, a merge, a disable) replays no WAL, so the close writes the nonce cells
    # of the last grace period to recovered.edits/<ms>.nonces (WAL record format: checksummed,
    # an end record) and the next open feeds them to its server's NonceManager: a retry whose
    # first answer was lost is answered, not applied again. Split and merge children get
    # copies (storage/region_split.py). HBase keeps no nonces across a clean move.

    def _keep_nonces(self, cells) -> None:
        with self._nonce_lock:
            self._applied_nonces.extend(cells)

    def _recent_nonces(self) -> list[Cell]:
        """The kept nonce cells not yet past the nonce grace period (older ones are dropped)."""
        oldest_ms = (self.config.clock() - self.nonces.grace) * 1000
        with self._nonce_lock:
            kept = self._applied_nonces
            while kept and kept[0].timestamp < oldest_ms:
                kept.popleft()
            return list(kept)

    def _hand_over_nonces(self) -> None:
        """One handover file with the recent nonces replaces those read at open."""
        cells = self._recent_nonces()
        if not cells and not self._nonce_files:
            return
        self._check_wal_owner()  # a fenced server writes nothing into the region's directory
        edits_dir = layout.recovered_edits_dir(self.path)
        name = f"{self.config.now_ms():020d}{layout.NONCES_SUFFIX}"
        if cells:
            layout.make_dirs(edits_dir)
            layout.atomic_write(os.path.join(edits_dir, name),
                                edits_file([encode_payload(self.name, 0, cells)]))
        for old in self._nonce_files:
            if old != name or not cells:
                os.unlink(os.path.join(edits_dir, old))
        self._nonce_files = [name] if cells else []
        layout.fsync_dir(edits_dir)

    # --- state ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise NotServingRegionError(f"region {self.name} is closed")

    def _check_writable(self, what: str) -> None:
        """HBase's checkReadOnly: no mutation of a READONLY table, however it is sent."""
        if self.table.readonly:
            raise TableReadOnlyError(
                f"table {self.table.name!r} is read-only (READONLY => true): {what} refused; "
                f"alter '{self.table.name}', READONLY => 'false' allows writes")

    def _check_row(self, row) -> None:
        if not isinstance(row, (bytes, bytearray)) or not row or len(row) > MAX_ROW_LENGTH:
            from storage.cell import validate_row

            validate_row(row)
        if not self.info.contains_row(row):
            raise NotServingRegionError(f"row {quoted(row)} is not in region {self.name}")

    def _store(self, family: bytes) -> Store:
        s = self.stores.get(family)
        if s is None:
            raise NoSuchColumnFamilyError(
                f"column family {quoted(family)} does not exist in table {self.table.name!r}")
        return s

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_closing(self) -> bool:
        """close() has begun (it may have failed part-way: the region serves no more)."""
        return self._closing

    # --- writes -----------------------------------------------------------------------------

    def mutate(self, m: Mutation) -> None:
        self.batch_mutate([m])

    def batch_mutate(self, ms: list[Mutation]) -> None:
        """Apply mutations atomically per row (the whole batch becomes visible at once), with
        one WAL sync."""
        self._check_open()
        if not ms:
            return
        self._check_writable("mutation")
        start, end = self.info.start_key, self.info.end_key
        for m in ms:
            row = m.row
            if (type(row) is not bytes or not row or len(row) > MAX_ROW_LENGTH or row < start
                    or (end and row >= end)):
                self._check_row(row)  # raises the precise error
        self._wait_if_busy()
        stripes = sorted({hash(m.row) % _ROW_LOCK_STRIPES for m in ms})
        locks = self._row_locks
        for i in stripes:
            locks[i].acquire()
        try:
            self._apply_locked(ms)
        finally:
            for i in stripes:
                locks[i].release()
        self._after_write()

    def _apply_locked(self, ms: list[Mutation], wal_only: tuple = ()) -> None:
        """Row locks held by the caller. `wal_only`: cells logged in the same WAL entry but
        applied to no store (the nonce cell of an increment or check-and-mutate)."""
        stores = self.stores
        max_value = self.config.max_value_bytes
        now = self.config.now_ms()
        self._updates.acquire_shared()
        try:
            self._check_open()
            seqid = self._mvcc.begin()
            try:
                wal_cells = []
                wal_append = wal_cells.append
                per_store: dict = {}  # family -> [pairs, bytes, delete markers]
                last_fam = acc = append = None
                size = deletes = 0
                for m in ms:
                    row = m.row
                    lrow = len(row) + _CELL_OVERHEAD
                    latest_deletes = None  # (family, qualifier) -> Deletes at LATEST so far
                    for c in m.cells:
                        crow, fam, q, ts, t, value = c
                        lv = len(value)
                        if fam is not last_fam:  # usually once per batch
                            if fam not in stores:
                                self._reject(m, c)
                            if acc is not None:
                                acc[1] += size
                                acc[2] += deletes
                            acc = per_store.get(fam)
                            if acc is None:
                                acc = per_store[fam] = [[], 0, 0]
                            append = acc[0].append
                            size = deletes = 0
                            last_fam = fam
                        if lv > max_value or t not in CELL_TYPES or (crow is not row
                                                                     and crow != row):
                            self._reject(m, c)
                        if ts == LATEST_TIMESTAMP:
                            if t == _DELETE:
                                if latest_deletes is None:
                                    latest_deletes = {}
                                nth = latest_deletes[fam, q] = latest_deletes.get((fam, q), 0) + 1
                                ts = self._latest_put_ts(row, fam, q, now, nth)
                            else:
                                ts = now
                            c = _tuple_new(Cell, (row, fam, q, ts, t, value))
                        elif ts < 0:
                            raise InvalidArgumentError(f"negative timestamp {ts}")
                        wal_append(c)
                        append(((row, q, -ts, -t), value))
                        size += lrow + lv + len(q)
                        if t != _PUT:
                            deletes += 1
                if acc is not None:
                    acc[1] += size
                    acc[2] += deletes
                if self.wal is not None and wal_cells and self._log_edits:
                    wal_cells.extend(wal_only)
                    txid = self.wal.append_batch([(self.name, seqid, wal_cells)])
                    if self._sync_edits:
                        self.wal.sync(txid)
                oldest = self._mvcc.oldest_read_point
                for fam, (pairs, size, deletes) in per_store.items():
                    stores[fam].memstore.add(pairs, seqid, size, deletes, oldest)
                if wal_only:
                    self._keep_nonces(wal_only)
            finally:
                self._mvcc.complete(seqid)
        finally:
            self._updates.release_shared()
        self.write_requests += len(ms)

    def _reject(self, m: Mutation, c: Cell):
        if c.family not in self.stores:
            raise NoSuchColumnFamilyError(
                f"column family {quoted(c.family)} does not exist in table {self.table.name!r}")
        if c.type not in CELL_TYPES:
            raise InvalidArgumentError(f"unknown cell type {c.type!r}")
        if len(c.value) > self.config.max_value_bytes:
            raise InvalidArgumentError(
                f"value of row {quoted(m.row)} column {quoted(c.family + b':' + c.qualifier)} is "
                f"{len(c.value)} bytes, over "
                f"max_value_bytes={self.config.max_value_bytes}")
        raise InvalidArgumentError(
            f"cell row {quoted(c.row)} differs from its mutation's row {quoted(m.row)}")

    def _latest_put_ts(self, row: bytes, family: bytes, qualifier: bytes, now: int,
                       nth: int = 1) -> int:
        """HBase's Delete-latest-version: the marker takes the newest visible put's timestamp;
        the nth such Delete of the column in one mutation takes the nth newest's (HBase's
        prepareDeleteTimestamps reads nth versions), or now when there are fewer."""
        cells = self._get_cells(Get(row, ((family, qualifier),), max_versions=nth), count=False)
        return cells[nth - 1].timestamp if len(cells) >= nth else now

    def _wait_if_busy(self) -> None:
        cfg = self.config
        if cfg.memstore_room is not None:
            cfg.memstore_room()
        deadline = None
        while True:
            if self.memstore_size() < self.flush_size() * cfg.memstore_block_multiplier:
                return
            self._request_flush()
            now = time.monotonic()
            if deadline is None:
                deadline = now + cfg.blocking_wait_seconds
            elif now >= deadline:
                why = ("; its flush waits for a compaction (too many store files)"
                       if self._flush_waiting_since is not None else "")
                raise RegionTooBusyError(f"region {self.name} is too busy: memstore over its "
                                         f"blocking size{why}")
            with self._progress:
                self._progress.wait(min(0.1, deadline - now))
            self._check_open()

    def _after_write(self) -> None:
        if self.memstore_size() >= self.flush_size():
            self._request_flush()

    def increment(self, row: bytes, family: bytes, qualifier: bytes, amount: int,
                  nonce: NonceKey | None = None) -> int:
        """Atomically add `amount` to an 8-byte big-endian signed counter; returns the new value,
        wrapped past the long range as HBase's; a cell of another size is NotACounterError.
        With a nonce (group, nonce), an operation that already succeeded with that nonce is not
        applied again: its result is returned (storage/nonces.py)."""
        self._check_open()
        self._check_writable("increment")
        self._check_row(row)
        self._store(family)
        return self._once(nonce, lambda n: self._increment(row, family, qualifier, amount, n))

    def _once(self, nonce: NonceKey | None, run, answer=int):
        """run(nonce) unless an earlier attempt with this nonce already ran: then answer(its
        result). `run` records its result (nonces.end) as soon as its edit is applied."""
        if nonce is None:
            return run(None)
        proceed, result = self.nonces.start(nonce)
        if not proceed:
            return answer(result)
        try:
            return run(nonce)
        finally:
            self.nonces.end(nonce, None)  # failed before it ran: a retry may proceed

    def _nonce_cells(self, row: bytes, family: bytes, nonce: NonceKey | None,
                     result: int) -> tuple:
        """The WAL-only cells logged with an operation's edit: its nonce, if it has one."""
        if nonce is None:
            return ()
        return (nonce_cell(row, family, nonce, result, self.config.now_ms()),)

    def _increment(self, row: bytes, family: bytes, qualifier: bytes, amount: int,
                   nonce: NonceKey | None) -> int:
        self._wait_if_busy()
        lock = self._row_locks[hash(row) % _ROW_LOCK_STRIPES]
        with lock:
            cells = self._get_cells(Get(row, ((family, qualifier),)), count=False)
            cur, ts = 0, self.config.now_ms()
            if cells:
                if len(cells[0].value) != 8:
                    raise NotACounterError(
                        f"row {quoted(row)} column {quoted(family + b':' + qualifier)} holds "
                        f"{len(cells[0].value)} bytes, "
                        "not an 8-byte counter")
                cur = int.from_bytes(cells[0].value, "big", signed=True)
                # the new version must be the newest, even in the same millisecond (HBase's
                # reckonDelta), or a version of the counter would be overwritten
                ts = max(ts, cells[0].timestamp + 1)
            new = _wrap_long(cur + amount)
            self._apply_locked([Mutation(row).put(family, qualifier,
                                                  new.to_bytes(8, "big", signed=True), ts)],
                               self._nonce_cells(row, family, nonce, new))
            if nonce is not None:
                self.nonces.end(nonce, new)  # applied: from here on a retry gets `new`
        self._after_write()
        return new

    def append(self, row: bytes, columns: list[tuple[bytes, bytes, bytes]],
               nonce: NonceKey | None = None) -> list[Cell]:
        """HBase's Append: atomically add bytes to the end of each (family, qualifier)'s newest
        value (an absent column starts empty); returns the new cells. With a nonce, a retry of
        an append that already ran is not applied again: it gets the columns' current cells
        (as HBase's region server answers a repeated Append)."""
        self._check_open()
        self._check_writable("append")
        self._check_row(row)
        if not columns:
            raise InvalidArgumentError(f"append to row {quoted(row)} names no column")
        for family, _, _ in columns:
            self._store(family)
        wanted = Get(row, tuple((f, q) for f, q, _ in columns))
        return self._once(nonce, lambda n: self._append(wanted, columns, n),
                          lambda _: self._get_cells(wanted, count=False))

    def _append(self, wanted: Get, columns: list[tuple[bytes, bytes, bytes]],
                nonce: NonceKey | None) -> list[Cell]:
        row = wanted.row
        self._wait_if_busy()
        with self._row_locks[hash(row) % _ROW_LOCK_STRIPES]:
            now = self.config.now_ms()
            current = {(c.family, c.qualifier): c for c in self._get_cells(wanted, count=False)}
            m = Mutation(row)
            for family, qualifier, suffix in columns:
                old = current.get((family, qualifier))
                # newest even in the same millisecond, as increment (HBase's reckonDelta)
                ts = now if old is None else max(now, old.timestamp + 1)
                m.put(family, qualifier, (old.value if old else b"") + suffix, ts)
                current[(family, qualifier)] = m.cells[-1]
            self._apply_locked([m], self._nonce_cells(row, columns[0][0], nonce, 1))
            if nonce is not None:
                self.nonces.end(nonce, 1)  # applied: from here on a retry reads the result
        self._after_write()
        return sorted(current.values(), key=lambda c: (c.family, c.qualifier))

    def check_and_mutate(self, row: bytes, family: bytes, qualifier: bytes,
                         expected: bytes | None, m: Mutation,
                         nonce: NonceKey | None = None) -> bool:
        """Apply `m` iff the column's latest value equals `expected` (None or b"": the column is
        absent or empty, as in HBase).
        With a nonce, a retry of a call that already ran gets that call's answer (the check
        is not made again: the first attempt's own put would now fail it)."""
        self._check_open()
        self._check_writable("checkAndMutate")
        self._check_row(row)
        self._store(family)
        if m.row != row:
            raise InvalidArgumentError(
                f"mutation row {quoted(m.row)} differs from checked row {quoted(row)}")
        return self._once(
            nonce, lambda n: self._check_and_mutate(row, family, qualifier, expected, m, n), bool)

    def _check_and_mutate(self, row: bytes, family: bytes, qualifier: bytes,
                          expected: bytes | None, m: Mutation, nonce: NonceKey | None) -> bool:
        self._wait_if_busy()
        with self._row_locks[hash(row) % _ROW_LOCK_STRIPES]:
            cells = self._get_cells(Get(row, ((family, qualifier),)), count=False)
            if expected:
                ok = bool(cells) and cells[0].value == expected
            else:  # None or b"": HBase matches an absent column or an empty value
                ok = not cells or not cells[0].value
            if ok and m.cells:
                if cells:
                    m = self._not_eclipsed(m, cells[0].timestamp)
                self._apply_locked([m], self._nonce_cells(row, family, nonce, 1))
            if nonce is not None:
                self.nonces.end(nonce, int(ok))  # ran: from here on a retry gets this answer
        if ok:
            self._after_write()
        return ok

    def _not_eclipsed(self, m: Mutation, checked_ts: int) -> Mutation:
        """`m` with its server-clock puts at max(now, the checked cell's timestamp), so a write
        that passed the check is never hidden under the cell it checked (a clock behind that
        cell's: HBase's check-and-mutate does the same, HBASE-14054)."""
        ts = max(self.config.now_ms(), checked_ts)
        return Mutation(m.row, [c._replace(timestamp=ts)
                                if c.timestamp == LATEST_TIMESTAMP and c.type == CellType.PUT
                                else c for c in m.cells])

    # --- reads ------------------------------------------------------------------------------

    def _plan(self, columns, time_range, max_versions: int,
              raw: bool = False) -> list[tuple[Store, ReadParams]]:
        if self._plan_cacheable:
            key = (columns, tuple(time_range), max_versions, raw)
            try:
                plans = self._plan_cache.get(key)
            except TypeError:  # unhashable column spec: plan without the cache
                return self._make_plan(*key)
            if plans is None:
                if len(self._plan_cache) > 256:
                    self._plan_cache.clear()
                plans = self._plan_cache[key] = self._make_plan(*key)
            return plans
        return self._make_plan(columns, time_range, max_versions, raw)

    def _make_plan(self, columns, time_range, max_versions: int, raw: bool = False):
        if not columns:
            wanted = {f: None for f in self._family_order}
        else:
            wanted = {}
            for fam, qual in columns:
                self._store(fam)
                if qual is None or wanted.get(fam, ()) is None:
                    wanted[fam] = None
                else:
                    wanted.setdefault(fam, set()).add(qual)
        now = self.config.now_ms()
        lo, hi = time_range
        plans = []
        for fam in sorted(wanted):
            store = self.stores[fam]
            fd = store.family
            quals = wanted[fam]
            # A raw scan shows versions past the family's until a compaction drops them.
            versions = max(1, max_versions if raw else min(max_versions, fd.max_versions))
            plans.append((store, ReadParams(
                fam, frozenset(quals) if quals is not None else None, lo, hi, versions,
                fd.max_versions, now - fd.ttl * 1000 if fd.ttl else -1, fd.min_versions, raw,
                fd.keeps_deleted)))
        return plans

    @staticmethod
    def _skip_before(p: ReadParams) -> int:
        """Files whose newest cell is older than this cannot change what the query sees."""
        return max(p.min_ts, p.ttl_cutoff if not p.min_versions else 0)

    def _acquire_views(self, plans) -> list:
        if len(plans) == 1:
            return [plans[0][0].acquire()]
        with self._views_lock:
            return [store.acquire() for store, _ in plans]

    def get(self, g: Get) -> list[Cell]:
        """The row's cells the Get asks for; RowTooBigError once they pass
        config.max_row_bytes (a scan reads such a row, in parts)."""
        self._check_open()
        self._check_row(g.row)
        max_bytes = self.config.max_row_bytes
        if g.filter is None:
            return self._get_cells(g, max_bytes=max_bytes)
        versions, caps = self._filtered_versions(g.columns, g.time_range, g.max_versions)
        cells = self._get_cells(replace(g, max_versions=versions), max_bytes=max_bytes)
        if not cells:
            return cells
        return next((kept for _, kept in filter_rows([(g.row, cells)], g.filter, caps)), [])

    def _filtered_versions(self, columns, time_range, max_versions: int,
                           raw: bool = False) -> tuple[int, dict | None]:
        """A filtered read's versions: (how many to read, per family how many of those the
        filter keeps to return; None: as many as read). As HBase 2's UserScanQueryMatcher,
        the filter judges every version the family keeps (every stored one in a raw read),
        and the read's own versions count only the cells it kept: a ValueFilter finds an
        older version that a one-version read without it would not show."""
        caps = {p.family: p.max_versions
                for _, p in self._plan(columns, time_range, max_versions, raw)
                if p.max_versions < (_EVERY_VERSION if raw else p.family_max_versions)}
        return _EVERY_VERSION, caps or None

    def get_row_wire(self, row: bytes, encode) -> bytes:
        """encode(self.get(Get(row))): the whole row, newest version of every column, as the
        caller's wire encoding. When no family has a TTL and each family's cells of the row sit
        in one HFile with nothing to mask (StoreView.row_wire), the encoding memoized with the
        cached block is reused instead of rebuilding and re-encoding the cells: the region
        server's hot path for a plain single-row get. Any other case takes the full read path.
        `encode` must be pure, give b"" for no cells, and encode families by concatenation
        (a protobuf repeated field does)."""
        self._check_open()
        self._check_row(row)
        self.read_requests += 1
        if self._plan_cacheable:  # no TTL: what a file holds cannot expire under us
            stores = self._row_wire_stores
            views = self._acquire_views(stores)
            try:
                parts = [view.row_wire(row, encode) for view in views]
            finally:
                for view in views:
                    view.release()
            if None not in parts:
                return parts[0] if len(parts) == 1 else b"".join(parts)
        return encode(self._get_cells(Get(row), count=False,
                                      max_bytes=self.config.max_row_bytes))

    def _get_cells(self, g: Get, count: bool = True, max_bytes: int = 0) -> list[Cell]:
        """The Get's cells. max_bytes > 0: RowTooBigError once they pass it, reading no
        further than the file where they did (what is left out of the count is the cells'
        timestamps and types: a Get's response is about that much larger)."""
        if count:
            self.read_requests += 1
        out: list = []
        plans = self._plan(g.columns, g.time_range, g.max_versions)
        mvcc = self._mvcc
        rp = mvcc.begin_read()
        size = 0
        try:
            views = self._acquire_views(plans)
            try:
                for view, (_, p) in zip(views, plans):
                    items, n = view.row_items(g.row, rp, self._skip_before(p), p.qualifiers,
                                              max_bytes)
                    if items is None:
                        raise self._row_too_big(g.row, max_bytes)
                    if items:
                        for _, cells in rows_of(items, p, None, view.plain, n):
                            out.extend(cells)
                            if max_bytes:
                                size += sum(len(c[0]) + len(c[2]) + len(c[5]) for c in cells)
                                if size > max_bytes:
                                    raise self._row_too_big(g.row, max_bytes)
            finally:
                for view in views:
                    view.release()
        finally:
            mvcc.end_read(rp)
        return out

    def _row_too_big(self, row: bytes, max_bytes: int) -> RowTooBigError:
        return RowTooBigError(
            f"row {quoted(row)} of table {self.table.name!r} holds more than "
            f"{_size_text(max_bytes)} of cells, the most one Get may read (--max-row-bytes, "
            "HBase's hbase.table.max.rowsize): scan it instead (a scan sends a row in parts), "
            "or get fewer columns")

    def scanner(self, s: Scan, parts: bool = False) -> RegionScanner:
        """Rows of the scan within this region, newest data as of now (MVCC read point).
        parts: a row wider than config.row_part_bytes may come in several results (the region
        server sends them as partial results; storage/scanner.py, "Row parts")."""
        self._check_open()
        self.read_requests += 1
        versions, caps = s.max_versions, None
        if s.filter is not None:
            versions, caps = self._filtered_versions(s.columns, s.time_range, s.max_versions,
                                                     s.raw)
        plans = self._plan(s.columns, s.time_range, versions, s.raw)
        mvcc = self._mvcc
        rp = mvcc.begin_read()  # registered until the scanner closes (memstore keeps versions)
        views = []
        try:
            views = self._acquire_views(plans)
            if s.reversed:
                upper = s.start_row + b"\x00" if s.start_row else None
                end = self.info.end_key
                if end and (upper is None or upper > end):
                    upper = end
                rows = self._reversed_rows(views, plans, upper, s.stop_row, rp)
            else:
                start = max(s.start_row, self.info.start_key)
                stop = s.stop_row
                end = self.info.end_key
                if end and (not stop or stop > end):
                    stop = end
                streams = []
                for v, (_, p) in zip(views, plans):
                    items, n = v.iter_from(start, stop, rp, self._skip_before(p))
                    streams.append(rows_of(items, p, stop or None, v.plain, n,
                                          self.config.row_part_bytes))
                rows = merge_family_rows(streams)
            if s.filter is not None:
                rows = filter_rows(whole_rows(rows), s.filter, caps)
        except BaseException:
            for v in views:
                v.release()
            mvcc.end_read(rp)
            raise
        return RegionScanner(rows, views, limit=s.limit, batch=s.batch, row_filter=s.filter,
                             on_close=lambda: mvcc.end_read(rp), parts=parts)

    def _reversed_rows(self, views, plans, upper, stop_row: bytes, rp: int):
        start_key = self.info.start_key
        empty = 0
        while True:
            best = None
            for v in views:
                r = v.last_row_before(upper)
                if r is not None and (best is None or r > best):
                    best = r
            if best is None or (stop_row and best <= stop_row) or best < start_key:
                return
            cells: list = []
            for v, (_, p) in zip(views, plans):
                items, n = v.row_items(best, rp, self._skip_before(p))
                if items:
                    for _, cs in rows_of(items, p, None, v.plain, n):
                        cells.extend(cs)
            if cells:
                yield best, cells
            else:
                empty += 1
                if empty == TICK_ROWS:  # a tick (storage/scanner.py)
                    empty = 0
                    yield best, None
            upper = best

    # --- flush and compaction ---------------------------------------------------------------

    def _submit(self, fn) -> None:
        try:
            self.background.submit(fn)
        except RuntimeError:  # executor shut down (process exiting)
            log.warning("region %s: background executor refused work", self.name)

    def _request_flush(self) -> None:
        with self._state_lock:
            if self._flush_queued or self._closing:
                return
            self._flush_queued = True
        self._submit(self._background_flush)

    def _background_flush(self) -> None:
        with self._state_lock:
            if self._closing:
                self._flush_queued = False
                return
        if self._flush_must_wait():  # still queued: looked at again shortly
            timer = threading.Timer(FLUSH_RECHECK_S, self._submit, (self._background_flush,))
            timer.daemon = True
            timer.start()
            return
        with self._state_lock:
            self._flush_queued = False
        try:
            self.flush()
        except Exception:
            log.exception("background flush of region %s failed", self.name)

    def _flush_must_wait(self) -> bool:
        """HBase's blockingStoreFiles: while a store has that many files, the flush the memstore
        size asked for waits for the compaction that lowers the count (another file would only
        add to its work), for at most blocking_wait_seconds, then flushes anyway."""
        cfg = self.config
        if not self.table.compaction_enabled or all(
                s.file_count() < cfg.blocking_store_files for s in self.stores.values()):
            self._flush_waiting_since = None
            return False
        self._request_compaction()
        now = time.monotonic()
        if self._flush_waiting_since is None:
            self._flush_waiting_since = now
            return True
        if now - self._flush_waiting_since < cfg.blocking_wait_seconds:
            return True
        log.info("region %s: flushing after waiting %.1fs for a compaction of too many store "
                 "files", self.name, now - self._flush_waiting_since)
        self._flush_waiting_since = None
        return False

    def _request_compaction(self) -> None:
        if not self.table.compaction_enabled:
            return
        with self._state_lock:
            if self._compaction_queued or self._closing:
                return
            self._compaction_queued = True
        self._submit(self._background_compaction)

    def _background_compaction(self) -> None:
        with self._state_lock:
            self._compaction_queued = False
            if self._closing:
                return
        try:
            self.compact(major=False)
        except Exception:
            log.exception("background compaction of region %s failed", self.name)

    def _notify_progress(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def flush(self) -> bool:
        """Write every memstore out as a new HFile. Returns False if there was nothing."""
        with self._flush_lock:
            if self._closed:
                return False
            self._updates.acquire_exclusive()
            try:
                seqid = self._mvcc.last_assigned()  # every write <= seqid is fully applied
                snaps = []
                with self._views_lock:  # a reader's views see all memstores before or after
                    for store in self.stores.values():
                        seg = store.memstore.snapshot()
                        if seg is not None:
                            if seg.flush_seqid is None:
                                seg.flush_seqid = seqid
                            snaps.append((store, seg))
            finally:
                self._updates.release_exclusive()
            if not snaps:
                self._flushed_through = seqid
                return False
            self._check_wal_owner()
            t0 = time.perf_counter()
            written = []
            try:
                for store, seg in snaps:
                    written.append((store, store.write_snapshot(seg, seg.flush_seqid)))
                self._check_wal_owner()  # fenced while writing: install nothing
            except ServerAbortedError:
                raise  # fenced: the region's next owner may have loaded these files; leave them
            except BaseException as e:
                # Never installed, so no compaction would ever include or delete them, and a
                # reopen would load them beside the retry's copies: after a delete and a
                # major compaction that would bring deleted cells back. The snapshots stay
                # in memory (and in the WAL) for the retry.
                for store, sf in written:
                    store.discard_unused(sf)
                if isinstance(e, FileNotFoundError) and not os.path.isdir(self.path):
                    raise CorruptionError(f"flush of region {self.name}: its directory "
                                          f"{self.path} is missing") from e
                raise
            with self._views_lock:  # every family switches at once (see _acquire_views)
                for store, sf in written:
                    store.install_flushed(sf)
            self._flushed_through = min(seg.flush_seqid for _, seg in snaps)
            self.flushes += 1
            self.flush_seconds += time.perf_counter() - t0
            if self.wal is not None:
                self.wal.mark_flushed(self.name, min(seg.flush_seqid for _, seg in snaps))
        self._notify_progress()
        if any(s.file_count() >= self.config.compaction_min_files or s.has_references()
               for s in self.stores.values()):
            self._request_compaction()
        return True

    def compact(self, major: bool = False, family: bytes | None = None) -> None:
        """Minor: compact stores that have enough files (and rewrite references). Major:
        rewrite every store into one file, dropping deleted, expired and surplus cells.
        family: only that family's store (NoSuchColumnFamilyError if it has none). A table
        with COMPACTION_ENABLED => false is not compacted at all, asked or not (HBase ignores
        the request)."""
        stores = [self._store(family)] if family else list(self.stores.values())
        if self._closing or not self.table.compaction_enabled:
            return  # closing: a close (move, split, disable) must not wait for a compaction
        if major:
            self.flush()
        with self._compaction_lock:
            if self._closed or self._closing:
                return
            # Fenced (declared dead; the region may be open elsewhere): write no file into
            # its directory. A fence during the rewrite stops it within _CHECK_EVERY cells
            # (before its output is in place), or at the latest before the swap.
            self._check_wal_owner()
            self._compacting = "MAJOR" if major else "MINOR"
            try:
                for store in stores:
                    files = store.take_for_compaction(major)
                    if files:
                        t0 = time.perf_counter()
                        compact_store(store, files, major, self.config.now_ms(),
                                      before_swap=self._check_wal_owner,
                                      interrupted=self._compaction_must_stop)
                        self.compactions += 1
                        self.compaction_seconds += time.perf_counter() - t0
            except CompactionInterrupted as e:
                log.info("compaction of region %s abandoned for its close: %s", self.name, e)
            finally:
                self._compacting = None
        self._notify_progress()

    def request_compaction(self, executor, major: bool = False,
                           family: bytes | None = None) -> None:
        """HBase's compaction request: checked now (NoSuchColumnFamilyError), run on
        `executor`; compaction_state() counts it from now until it has run."""
        if family:
            self._store(family)
        with self._state_lock:
            self._requested[major] += 1

        def run():
            try:
                self.compact(major, family)
            except Exception:  # noqa: BLE001 -- nobody waits for it: log it
                log.exception("requested compaction of region %s failed", self.name)
            finally:
                with self._state_lock:
                    self._requested[major] -= 1
        executor.submit(run)  # a DaemonExecutor: it has no shutdown, submit cannot fail

    def compaction_state(self) -> str:
        """HBase's CompactionState: NONE, MINOR, MAJOR or MAJOR_AND_MINOR, counting the
        compactions running and those requested or queued (after a flush) but not yet run."""
        running = self._compacting
        with self._state_lock:
            major = self._requested[True] > 0 or running == "MAJOR"
            minor = self._requested[False] > 0 or self._compaction_queued or running == "MINOR"
        return compaction_state_name(major, minor)

    # --- sizes and split --------------------------------------------------------------------

    def memstore_size(self) -> int:
        return sum(s.memstore.size() for s in self.stores.values())

    def store_size(self) -> int:
        return sum(s.size_bytes() for s in self.stores.values())

    def store_file_count(self) -> int:
        return sum(s.file_count() for s in self.stores.values())

    def has_references(self) -> bool:
        return any(s.has_references() for s in self.stores.values())

    def flush_size(self) -> int:
        """Memstore bytes past which the region flushes: the table's MEMSTORE_FLUSHSIZE, else
        the server's flush size (writes wait past memstore_block_multiplier times it)."""
        return self.table.memstore_flushsize or self.config.flush_size

    def split_size(self) -> int:
        """Store bytes past which the region asks to be split: the table's MAX_FILESIZE, else
        the server's split size."""
        return self.table.max_filesize or self.config.split_size

    def needs_split(self) -> bool:
        """Past its split size, with a row to split at, and its table's SPLIT_ENABLED true."""
        return (self.table.split_enabled and self.store_size() >= self.split_size()
                and self.mid_key() is not None)

    def mid_key(self) -> bytes | None:
        """A row strictly inside the region to split at, or None (nothing to split)."""
        stores = [s for s in self.stores.values() if s.file_count()]
        if not stores:
            return None
        mid = max(stores, key=Store.size_bytes).mid_row()
        if mid is None or mid <= self.info.start_key or (self.info.end_key and
                                                          mid >= self.info.end_key):
            return None
        return mid

    def split(self, split_key: bytes | None = None) -> tuple[RegionInfo, RegionInfo]:
        """Flush, close this region and create both daughters (reference files). The caller
        opens the daughters and later deletes the parent (region_split.delete_parent_if_unreferenced)."""
        from storage.region_split import check_split_key, write_daughters

        self._check_open()
        key = split_key if split_key is not None else self.mid_key()
        if key is None and self.memstore_size():  # its rows are still all in memory: as
            self.flush()                           # HBase does, flush and look again
            key = self.mid_key()
        if key is None:
            raise InvalidArgumentError(f"region {self.name} has no split point")
        check_split_key(key)
        if key <= self.info.start_key or (self.info.end_key and key >= self.info.end_key):
            raise InvalidArgumentError(f"split key {quoted(key)} is not inside region {self.name}")
        self.close(flush=True)
        return write_daughters(self.rootdir, self.info, self.table, key, self.config.now_ms())

    @staticmethod
    def merge(rootdir: str, parents: list[RegionInfo], table: TableDescriptor,
              now_ms: int | None = None) -> RegionInfo:
        """Create the region covering a run of two or more adjacent closed regions, given in
        any order (reference files)."""
        from storage.region_split import write_merged

        return write_merged(rootdir, parents, table,
                            now_ms if now_ms is not None else int(time.time() * 1000))

    def snapshot(self, dest_region_dir: str, flush: bool = True) -> None:
        """Put this region's store files into a snapshot's directory (storage/snapshots.py),
        flushed first unless flush=False (HBase's SKIP_FLUSH: what is only in the memstores is
        not in the snapshot). Views of every family are taken and their HFiles linked while no
        flush adds a file and no compaction swaps files, so all families are taken at one
        point; reference halves are written out after, from the views' pinned readers, so
        flushes (and the writes waiting for them) are not held up by that copy."""
        from storage.snapshots import link_plain_files, write_halves

        self._check_open()
        if flush:
            self._flush_through(self._mvcc.last_assigned())
        views, halves = [], []
        try:
            with self._flush_lock, self._compaction_lock:
                self._check_open()
                for store in self.stores.values():
                    view = store.acquire()
                    views.append(view)
                    dest = layout.family_dir(dest_region_dir, store.name)
                    halves.append((link_plain_files(view.files, dest), store.family, dest))
            for refs, family, dest in halves:
                write_halves(refs, family, dest)
        finally:
            for view in views:
                view.release()

    # --- closing ----------------------------------------------------------------------------

    def close(self, flush: bool = True) -> None:
        """Stop serving: new calls raise NotServingRegionError; wait for in-flight background
        work; flush (unless flush=False, e.g. an aborting server); release files."""
        with self._state_lock:
            if self._closed or (self._closing and not flush):
                return
            self._closing = True  # a close whose flush failed may be called again
        with self._compaction_lock:
            pass  # waits for a running compaction
        if flush:
            self._flush_until_empty()
            self._hand_over_nonces()
        with self._flush_lock, self._compaction_lock:
            with self._state_lock:
                self._closed = True
            for s in self.stores.values():
                s.close()
        if flush and self.wal is not None:
            self.wal.forget_region(self.name)
        self._notify_progress()

    def _compaction_must_stop(self) -> bool:
        """Asked by a running compaction: True once the region is closing; raises once the
        server is fenced (its output must not appear beside the next owner's files)."""
        self._check_wal_owner()
        return self._closing

    def _check_wal_owner(self) -> None:
        """Still this server's region? A fenced WAL means the master declared this server
        dead and may have reopened the region elsewhere: write or delete no file of it."""
        if self.wal is not None:
            self.wal.check_not_fenced()

    def _flush_until_empty(self) -> None:
        """Flush until no memstore holds a cell; raises if a flush fails (the WAL keeps the
        edits, and close may be called again). One flush is not always enough: after a failed
        flush, the next one writes that flush's snapshot alone, and what was written since
        waits in the active segment."""
        for _ in range(3):
            self.flush()
            if all(s.memstore.is_empty() for s in self.stores.values()):
                return
        raise RegionTooBusyError(f"region {self.name}: memstores not empty after 3 flushes")

    def _flush_through(self, seqid: int) -> None:
        """Flush until every write up to `seqid` is in a file (writes racing with the call may
        stay in the memstore). One flush is not always enough: after a failed flush, the next
        one writes that flush's snapshot alone, and what was written since waits in the
        active segment."""
        for _ in range(3):
            self.flush()
            self._check_open()
            with self._flush_lock:
                if self._flushed_through >= seqid:
                    return
        raise RegionTooBusyError(f"region {self.name}: writes up to seqid {seqid} not flushed "
                                 "after 3 flushes")

    def __repr__(self) -> str:
        return f"Region({self.name})"
