"""The write-ahead log of one region server, shared by all its regions (see docs/storage-wal.md).

Contract:
- `append`/`append_batch` write one checksummed record per row mutation (format in
  wal_format.py) to the current segment and return a txid; nothing is durable yet.
- `sync(txid)` returns once every record up to txid is fsynced. Group commit: one caller becomes
  the leader and fsyncs everything appended so far while the others wait on a Condition, so
  concurrent writers share one fsync.
- After each fsync the leader checks that the WAL directory is still the one it created. If the
  master renamed it (fencing, `WALs/<server>` -> `WALs/<server>-splitting`), every caller and
  every later call raises WALFencedError: a fenced server acknowledges nothing more. The
  directory is created only in __init__, never again.
- Segments roll once they pass `segment_bytes`, and when `roll_if_older` finds the current one
  older than the server's roll period (an idle server's segment is not kept forever). A
  segment that is not the current one and whose edits are all flushed
  (`mark_flushed`/`forget_region`) moves to `archive_dir` (or is deleted).
- Any I/O error while writing or syncing poisons the WAL (ServerAbortedError from then on): after
  a failed write or fsync the file's content is unknown, so the server must abort.

Locks: `_lock` guards the segments and region bookkeeping and serialises writes; `_sync_cond`
guards the group-commit state. A thread never holds `_sync_cond` while taking `_lock`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from minihbase.errors import ServerAbortedError, WALFencedError
from storage import layout
from storage.cell import Cell
from storage.wal_format import (FILE_HEADER, WALEntry, closing_end_record, decode_or_raise,
                                encode_entries, end_record, iter_entries, iter_log_payloads,
                                torn_tail_offset)

__all__ = ["WAL", "WALEntry", "WALStats", "read_segment", "read_wal_dir", "list_segments"]

log = logging.getLogger(__name__)

_fdatasync = getattr(os, "fdatasync", os.fsync)  # file size is data: an append is covered


@dataclass
class WALStats:
    syncs: int = 0  # fsync rounds (one per group commit, not per caller)
    sync_seconds_total: float = 0.0
    appends: int = 0  # records (row mutations) appended
    batches: int = 0  # append/append_batch calls
    bytes_written: int = 0


@dataclass
class _Segment:
    number: int
    path: str
    size: int = 0
    records: int = 0  # records appended (its end record counts them)
    started: float = field(default_factory=time.monotonic)
    # region -> highest seqid logged in this segment
    max_seqids: dict[str, int] = field(default_factory=dict)


class WAL:
    """One per region server, shared by all its regions. Thread-safe."""

    def __init__(self, directory: str, *, segment_bytes: int = 64 << 20, sync: bool = True,
                 archive_dir: str | None = None):
        self.directory = directory
        self.archive_dir = archive_dir
        self._segment_bytes = segment_bytes
        self._do_sync = sync
        self.stats = WALStats()
        layout.make_dirs(directory)
        if archive_dir is not None:
            layout.make_dirs(archive_dir)
        st = os.stat(directory)
        self._dir_identity = (st.st_dev, st.st_ino)  # fencing check: same directory, same path
        self._prefix = os.path.basename(os.path.normpath(directory))

        self._lock = threading.Lock()
        # guarded by self._lock:
        self._txid = 0  # last txid handed out
        self._closed_segments: list[_Segment] = []  # oldest first, not yet archived
        self._retired_fds: list[int] = []  # rolled segments the next sync leader fsyncs+closes
        self._dir_dirty = False  # a segment was created since the last directory fsync
        self._flushed: dict[str, int] = {}  # region -> every edit <= this seqid is in HFiles
        self._failure: BaseException | None = None  # fenced / I/O error: refuse everything

        self._sync_cond = threading.Condition(threading.Lock())
        # guarded by self._sync_cond:
        self._synced_txid = 0
        self._sync_running = False
        self._closed = False

        existing = list_segments(directory)
        if existing:
            self._repair_torn_tail(existing[-1])
            self._end_segment(existing[-1])
        numbers = [layout.parse_wal_segment(os.path.basename(p)) for p in existing]
        if archive_dir is not None:  # never reuse a number that is already archived
            archived = self._prefix + "."
            numbers += [layout.parse_wal_segment(n[len(archived):]) or 0
                        for n in os.listdir(archive_dir) if n.startswith(archived)]
        number = max(numbers, default=0) + 1
        self._fd, self._current = self._create_segment(number)
        os.fsync(self._fd)
        layout.fsync_dir(directory)

    @staticmethod
    def _repair_torn_tail(path: str) -> None:
        """Cut the torn tail of the last segment of a previous run (never acknowledged), so the
        segments this run adds do not make it look like corruption in the middle of the log."""
        cut = torn_tail_offset(path)
        if cut is None:
            return
        log.warning("WAL segment %s: truncating a torn tail at offset %d", path, cut)
        with open(path, "r+b") as f:
            f.truncate(cut)
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _end_segment(path: str) -> None:
        """Give the last segment of a previous run its end record: segments follow it now."""
        record = closing_end_record(path)
        if record is None:
            return
        with open(path, "ab") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

    # --- writing ------------------------------------------------------------------------------

    def append(self, region: str, seqid: int, cells: Sequence[Cell]) -> int:
        return self.append_batch(((region, seqid, cells),))

    def append_batch(self, entries: Sequence[tuple[str, int, Sequence[Cell]]]) -> int:
        """Log row mutations (region, seqid, cells); returns one txid to pass to sync()."""
        data = encode_entries(entries)  # outside the lock: encoding is the CPU part
        batch_max: dict[str, int] = {}  # region -> highest seqid in this batch
        for region, seqid, _ in entries:
            if seqid > batch_max.get(region, -1):
                batch_max[region] = seqid
        to_archive = ()
        with self._lock:
            self._check_usable()
            if not entries:
                return self._txid
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as e:
                self._fail(e, "write")
            seg = self._current
            seg.size += len(data)
            seg.records += len(entries)
            max_seqids = seg.max_seqids
            for region, seqid in batch_max.items():
                if seqid > max_seqids.get(region, -1):
                    max_seqids[region] = seqid
            self._txid += 1
            txid = self._txid
            stats = self.stats
            stats.appends += len(entries)
            stats.batches += 1
            stats.bytes_written += len(data)
            if seg.size >= self._segment_bytes:
                self._roll()
                to_archive = self._take_archivable()
        if to_archive:
            self._archive(to_archive)
        return txid

    def sync(self, txid: int) -> None:
        """Block until every record up to `txid` is on disk; group commit (see module doc)."""
        if txid > self._txid:
            raise ValueError(f"txid {txid} was never handed out (last is {self._txid})")
        with self._sync_cond:
            while True:
                if self._failure is not None:  # fenced: refuse even an already synced txid
                    raise self._failure
                if self._synced_txid >= txid:  # durable, even if close() ran meanwhile
                    return
                self._check_usable()
                if not self._sync_running:
                    break
                self._sync_cond.wait()
            self._sync_running = True
        self._lead_sync_round()

    def _lead_sync_round(self) -> None:
        """Run one sync round as the leader (the caller set _sync_running) and hand its
        outcome to every waiter."""
        target, error = 0, None
        try:
            target = self._sync_round()
        except BaseException as e:  # noqa: BLE001 - handed to every waiter below
            error = e
        with self._sync_cond:
            self._sync_running = False
            if error is None and target > self._synced_txid:
                self._synced_txid = target
            self._sync_cond.notify_all()
        if error is not None:
            raise error

    def _sync_round(self) -> int:
        """The leader's work: fsync all that was appended so far, then check for fencing."""
        with self._lock:
            self._check_usable()
            target = self._txid
            retired, self._retired_fds = self._retired_fds, []
            fds = retired + [self._fd]
            dir_dirty, self._dir_dirty = self._dir_dirty, False
        t0 = time.perf_counter()
        try:
            if self._do_sync:
                for fd in fds:
                    _fdatasync(fd)
                if dir_dirty:
                    layout.fsync_dir(self.directory)
        except OSError as e:
            with self._lock:
                if not self._fenced_now():
                    self._fail(e, "sync")
                self._fail(WALFencedError(self._fenced_message()), "sync")
        finally:
            for fd in retired:
                os.close(fd)
        if self._do_sync:
            self.stats.syncs += 1  # only the one leader at a time writes this
            self.stats.sync_seconds_total += time.perf_counter() - t0
        # Check AFTER the fsync: an edit is acknowledged only if it reached the directory that
        # the master will split. A rename after this check still carries the synced edits along.
        if self._fenced_now():
            with self._lock:
                self._fail(WALFencedError(self._fenced_message()), "sync")
        return target

    # --- segments -----------------------------------------------------------------------------

    def _create_segment(self, number: int) -> tuple[int, _Segment]:
        # No O_CREAT of directories, ever: if the master renamed ours, this fails with ENOENT.
        path = os.path.join(self.directory, layout.wal_segment_name(number))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            os.write(fd, FILE_HEADER)
        except OSError:
            os.close(fd)
            raise
        return fd, _Segment(number, path, len(FILE_HEADER))

    def _roll(self) -> None:  # called with self._lock held
        try:
            # The end record first: a segment that a later one follows is complete only with
            # it, so a reader tells a cut-short segment from a complete one (wal_format).
            record = end_record(self._current.records)
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view):]
            self._current.size += len(record)
        except OSError as e:
            self._fail(e, "roll")
        try:
            fd, seg = self._create_segment(self._current.number + 1)
        except OSError as e:
            if self._fenced_now():
                self._fail(WALFencedError(self._fenced_message()), "roll")
            self._fail(e, "roll")
        if self._do_sync:
            self._retired_fds.append(self._fd)  # the next sync leader fsyncs and closes it
        else:
            os.close(self._fd)
        self._closed_segments.append(self._current)
        self._fd, self._current = fd, seg
        self._dir_dirty = True
        log.debug("WAL %s rolled to segment %d", self.directory, seg.number)

    def roll_if_older(self, seconds: float) -> bool:
        """Roll the current segment if it holds records and was started `seconds` ago or more
        (HBase's hbase.regionserver.logroll.period). A server that goes quiet would otherwise
        keep its last segment, and everything in it to replay after a crash, for as long as
        it lives; rolled, the segment is archived once its regions flush. Returns whether it
        rolled."""
        with self._lock:
            if self._closed and self._failure is None:
                return False  # a clean stop closed it under the server's chore
            self._check_usable()
            age = time.monotonic() - self._current.started
            if not self._current.records or age < seconds:
                return False
            self._roll()
            to_archive = self._take_archivable()
        self._archive(to_archive)
        # No write may follow to sync the rolled segment's end record and close it: do it now.
        with self._sync_cond:
            while self._sync_running:
                self._sync_cond.wait()
            if self._closed and self._failure is None:
                return True  # close() synced and closed the files
            self._check_usable()
            self._sync_running = True
        self._lead_sync_round()
        log.info("WAL %s: rolled a segment started %.0f s ago (roll period %g s)",
                 self.directory, age, seconds)
        return True

    def mark_flushed(self, region: str, seqid: int) -> None:
        """Every edit of `region` with seqid <= `seqid` is in HFiles."""
        with self._lock:
            if seqid > self._flushed.get(region, -1):
                self._flushed[region] = seqid
            to_archive = self._take_archivable()
        self._archive(to_archive)

    def forget_region(self, region: str) -> None:
        """The region closed with everything flushed: it pins no segment any more."""
        with self._lock:
            self._flushed.pop(region, None)
            for seg in self._closed_segments:
                seg.max_seqids.pop(region, None)
            self._current.max_seqids.pop(region, None)
            to_archive = self._take_archivable()
        self._archive(to_archive)

    def _unflushed_regions(self, seg: _Segment) -> list[str]:  # self._lock held
        flushed = self._flushed
        return sorted(r for r, s in seg.max_seqids.items() if flushed.get(r, -1) < s)

    def _all_flushed(self, seg: _Segment) -> bool:  # self._lock held
        flushed = self._flushed
        return all(flushed.get(r, -1) >= s for r, s in seg.max_seqids.items())

    def _take_archivable(self) -> list[_Segment]:  # self._lock held
        if self._failure is not None:
            return []  # a fenced or failed server touches nothing more on disk
        keep, done = [], []
        for seg in self._closed_segments:
            (done if self._all_flushed(seg) else keep).append(seg)
        if done:
            self._closed_segments = keep
        return done

    def _archive(self, segments: Sequence[_Segment]) -> None:
        """Move (or delete) fully flushed segments. Outside the lock: renames are slow."""
        if not segments:
            return
        try:
            for seg in segments:
                if self.archive_dir is None:
                    os.unlink(seg.path)
                else:
                    target = os.path.join(self.archive_dir, f"{self._prefix}.{os.path.basename(seg.path)}")
                    os.replace(seg.path, target)
            if self.archive_dir is not None:
                layout.fsync_dir(self.archive_dir)
            layout.fsync_dir(self.directory)
        except OSError as e:
            # Harmless for correctness (a left-over segment only replays flushed edits), and
            # expected when the directory was just fenced.
            log.warning("WAL %s: could not archive segments: %s", self.directory, e)

    def regions_pinning_oldest_segment(self) -> list[str]:
        """Regions whose unflushed edits keep the oldest segment alive: flush them to archive it."""
        with self._lock:
            if not self._closed_segments:
                return []
            return self._unflushed_regions(self._closed_segments[0])

    def segment_count(self) -> int:
        with self._lock:
            return len(self._closed_segments) + 1

    def size_bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self._closed_segments) + self._current.size

    @property
    def last_txid(self) -> int:
        """The txid of the latest append: sync(wal.last_txid) syncs everything appended so far."""
        return self._txid

    @property
    def current_segment_path(self) -> str:
        return self._current.path

    # --- failure and closing -------------------------------------------------------------------

    def _fenced_now(self) -> bool:
        try:
            st = os.stat(self.directory)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._dir_identity

    def _fenced_message(self) -> str:
        return (f"WAL directory {self.directory} was renamed by the master (fenced): this server "
                "was declared dead and may acknowledge no more writes")

    def _fail(self, error: BaseException, during: str):  # self._lock held; always raises
        if self._failure is None:
            if isinstance(error, ServerAbortedError):
                self._failure = error
            else:
                self._failure = ServerAbortedError(f"WAL {self.directory}: {during} failed: {error}")
                self._failure.__cause__ = error
            log.error("WAL %s unusable: %s", self.directory, self._failure)
        raise self._failure

    def check_not_fenced(self) -> None:
        """Raise (WALFencedError, or the failure that poisoned this WAL) once the WAL is fenced
        or failed. Flushes and compactions call it before writing or deleting region files: a
        server declared dead must not touch files that the regions' next owner now holds."""
        with self._lock:
            if self._failure is None and self._fenced_now():
                self._fail(WALFencedError(self._fenced_message()), "flush or compaction")
            if self._failure is not None:
                raise self._failure

    def _check_usable(self) -> None:
        failure = self._failure
        if failure is not None:
            raise failure
        if self._closed:
            raise ServerAbortedError(f"WAL {self.directory} is closed")

    def close(self) -> None:
        """Sync what was appended (unless fenced or failed) and close every file."""
        with self._sync_cond:
            while self._sync_running:
                self._sync_cond.wait()
            if self._closed:
                return
            self._closed = True
            self._sync_cond.notify_all()
        with self._lock:
            fds = self._retired_fds + [self._fd]
            self._retired_fds = []
            healthy = self._failure is None
            if healthy and self._do_sync:
                try:
                    for fd in fds:
                        _fdatasync(fd)
                except OSError as e:
                    log.error("WAL %s: final sync failed: %s", self.directory, e)
            for fd in fds:
                os.close(fd)
            self._fd = -1
            to_archive = []
            if healthy and not self._fenced_now():
                # A clean shutdown (every region flushed and forgotten) leaves no segment behind.
                to_archive = self._take_archivable()
                if self._all_flushed(self._current):
                    to_archive.append(self._current)
        self._archive(to_archive)


def list_segments(directory: str) -> list[str]:
    """Paths of the WAL segments in `directory`, oldest first."""
    numbered = []
    for name in os.listdir(directory):
        number = layout.parse_wal_segment(name)
        if number is not None:
            numbered.append((number, os.path.join(directory, name)))
    return [path for _, path in sorted(numbered)]


def read_segment(path: str) -> Iterator[WALEntry]:
    """Every entry of one segment. Stops cleanly at a torn tail; raises CorruptionError (naming
    file and offset) for a bad record that has valid records after it."""
    return iter_entries(path, tolerate_torn_tail=True)


def read_wal_dir(directory: str) -> Iterator[WALEntry]:
    """Every entry of every segment in `directory`, in segment order. The segments are one log:
    only its very end may be torn (see wal_format.iter_log_payloads)."""
    for path, off, payload in iter_log_payloads(list_segments(directory)):
        yield decode_or_raise(path, off, payload)
