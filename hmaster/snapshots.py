"""Table snapshots: snapshot, list, delete, clone, restore (HBase's; see docs/coordination.md,
"Snapshots", and storage/snapshots.py for the files).

    snapshot  the table lock held (no DDL meanwhile). Enabled table: each region's lock held
              (no move, split or merge of it meanwhile), its server flushes it (unless
              SKIP_FLUSH) and links its files into the attempt's working directory
              (.hbase-snapshot/.tmp/<name>.<attempt>/). Splits and merges of the table are
              paused; a region not OPEN (moving, a split under way) fails the attempt, and
              another is made a moment later, for up to WAIT_S. Disabled table: the master
              links the closed regions' files itself. Then the manifest, and one rename
              makes it exist.
    clone     a new table with the snapshot's schema and region boundaries: its region
              directories are written first (hard links), then ONE multi-op creates the table
              and its regions, which are assigned as for a create.
    restore   the table disabled: new region directories, then ONE multi-op swaps the table's
              schema and every region record for the snapshot's (and drops its split/merge
              journals); the old directories are deleted after. The table stays disabled. A
              table that no longer exists is cloned.
    delete    the snapshot's directory, renamed away first.

Snapshot calls run one at a time (a delete never pulls files from under a clone).

Nonces: a client sends one nonce with every attempt of a clone or restore call. The multi-op
that makes the call take effect (creates the table, or swaps its regions) also creates the
record /hbase/nonces/<nonce> (split_merge.py, "Nonces"), so an attempt that finds it answers
"done": a resend to the next master after the first was killed past that commit must not be
refused because the table it cloned back is there (ENABLING, being opened) or no longer
DISABLED. No record: no attempt took effect, and this one runs as a first would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from dataclasses import replace

from coordination.znodes import CLOSED, DISABLED, ENABLED, OPEN, TableRecord, now_ms
from hmaster.ddl import next_region_id
from minihbase.errors import (CorruptionError, HBaseError, InvalidArgumentError,
                              SnapshotCreationError, SnapshotExistsError, SnapshotNotFoundError,
                              TableNotDisabledError)
from protos import minihbase_pb2 as pb
from storage import layout, snapshots
from storage.schema import RegionInfo, validate_snapshot_name, validate_table_name
from storage.snapshots import SnapshotManifest

log = logging.getLogger(__name__)

WAIT_S = 20.0  # how long a snapshot waits for regions in transition (moves, splits) to settle
RETRY_PAUSE_S = 0.5
REGION_TIMEOUT_S = 120.0


class _InTransition(Exception):
    """A region is moving, or a split or merge is between two of its steps: another attempt,
    a moment later, may pass."""


class SnapshotManager:
    def __init__(self, meta, assignment, ddl, splits, rootdir: str):
        self.meta = meta
        self.assignment = assignment
        self.clients = assignment.clients
        self.ddl = ddl
        self.splits = splits
        self.rootdir = rootdir
        self._lock = threading.Lock()
        self._working: set[str] = set()  # names under .hbase-snapshot/.tmp a call works in

    @property
    def lock(self) -> threading.Lock:
        """Held by every snapshot call (hbck's cleaner takes it to delete stale attempts)."""
        return self._lock

    def working_dirs(self) -> frozenset[str]:
        """The directories under .hbase-snapshot/.tmp that running calls own (hbck)."""
        return frozenset(self._working)

    # --- snapshot ----------------------------------------------------------------------------

    def snapshot(self, table: str, name: str, skip_flush: bool = False,
                 seconds: float | None = None) -> SnapshotManifest:
        """The table's DDL lock held, and its splits and merges paused (as HBase's exclusive
        table lock): a split or move already under way is waited for, up to WAIT_S and within
        `seconds` (the caller's remaining time: an attempt is not started that could outlast
        the caller, who would not learn that the snapshot was taken)."""
        name, table = validate_snapshot_name(name), validate_table_name(table)
        deadline = time.monotonic() + min(WAIT_S, seconds if seconds is not None else WAIT_S)
        with _acquired(self._lock, deadline, "another snapshot call"), \
                _held(self.ddl.try_table_lock(table, deadline - time.monotonic()),
                      f"DDL on table {table!r}"), \
                self.splits.paused(table):
            if snapshots.exists(self.rootdir, name):
                raise SnapshotExistsError(f"snapshot {name!r} already exists")
            while True:
                try:
                    return self._take(table, name, skip_flush)
                except _InTransition as e:
                    if time.monotonic() + RETRY_PAUSE_S >= deadline:
                        raise SnapshotCreationError(
                            f"snapshot {name!r} not taken: {e}, still after waiting; try "
                            "again") from None
                    log.info("snapshot %s of %s waits: %s", name, table, e)
                    time.sleep(RETRY_PAUSE_S)

    def _take(self, table: str, name: str, skip_flush: bool) -> SnapshotManifest:
        rec = self.meta.read_table(table)  # TableNotFoundError
        if rec.state not in (ENABLED, DISABLED):
            raise _InTransition(f"table {table!r} is {rec.state}")
        records = self.meta.regions(table)
        wanted = OPEN if rec.state == ENABLED else CLOSED
        moving = [r for r in records if r.state != wanted]
        if moving:  # checked for all at once: no region is flushed for an attempt in vain
            raise _InTransition(f"region {moving[0].info.name} is {moving[0].state}, not "
                                f"{wanted}")
        regions = sorted((r.info for r in records), key=lambda i: i.start_key)
        _check_covers_the_table(table, regions)
        attempt = snapshots.begin(self.rootdir, name)
        work = layout.snapshot_work_dir(self.rootdir, name, attempt)
        self._working.add(os.path.basename(work))
        try:
            for info in regions:
                self._link_region(rec, info, name, attempt, skip_flush,
                                  os.path.join(work, info.encoded_name))
            manifest = snapshots.commit(self.rootdir, name, attempt, rec.descriptor, regions,
                                        now_ms())
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            self._working.discard(os.path.basename(work))
        log.info("snapshot %s of table %s taken (%d regions)", name, table, len(regions))
        return manifest

    def _link_region(self, table_rec: TableRecord, info: RegionInfo, name: str, attempt: str,
                     skip_flush: bool, dest: str) -> None:
        with self.assignment.region_lock(info.encoded_name):
            cur = self.meta.read_region(info.table, info.encoded_name)
            wanted = OPEN if table_rec.state == ENABLED else CLOSED
            if cur is None or cur.state != wanted:
                state = "gone (split or merged)" if cur is None else cur.state
                raise _InTransition(f"region {info.name} is {state}, not {wanted}")
            if wanted == CLOSED:
                snapshots.link_closed_region(self.rootdir, info, table_rec.descriptor, dest)
                return
            try:
                self.clients.call(cur.server, "SnapshotRegion", pb.SnapshotRegionRequest(
                    region=info.name, snapshot=name, attempt=attempt, skip_flush=skip_flush,
                    server=cur.server), REGION_TIMEOUT_S)
            except HBaseError as e:
                if e.retryable:  # NotServingRegion (moving), a server going away...
                    raise _InTransition(f"region {info.name} on {cur.server}: "
                                        f"{type(e).__name__}: {e}") from None
                raise SnapshotCreationError(
                    f"snapshot {name!r}: region {info.name} on {cur.server} failed: "
                    f"{type(e).__name__}: {e}") from None

    # --- list, delete ------------------------------------------------------------------------

    def describe_all(self) -> list[pb.SnapshotDescription]:
        out = []
        for name in snapshots.names(self.rootdir):
            try:
                m = snapshots.read_manifest(self.rootdir, name)
            except FileNotFoundError:  # listed, so that its name is explained
                problem = "no manifest (.snapshotinfo)"
            except HBaseError as e:  # CorruptionError: listed, never used
                problem = str(e)
            else:
                out.append(pb.SnapshotDescription(name=name, table=m.table.name,
                                                  created_ms=m.created_ms,
                                                  regions=len(m.regions),
                                                  size_bytes=m.size_bytes()))
                continue
            size = _tree_bytes(layout.snapshot_dir(self.rootdir, name))  # no manifest to say
            out.append(pb.SnapshotDescription(name=name, size_bytes=size, problem=problem))
        return out

    def remove_unfinished(self) -> None:
        """Master start: attempts an earlier master left (nothing is being taken now)."""
        with self._lock:
            n = snapshots.remove_unfinished(self.rootdir)
        if n:
            log.info("removed %d unfinished snapshot attempt(s)", n)

    def delete(self, name: str) -> None:
        with self._lock:
            self._must_exist(name)
            self._working.add(f"{name}.deleting")  # storage/snapshots.delete's
            try:
                snapshots.delete(self.rootdir, name)
            finally:
                self._working.discard(f"{name}.deleting")
        log.info("snapshot %s deleted", name)

    def _must_exist(self, name: str) -> None:
        if not snapshots.exists(self.rootdir, validate_snapshot_name(name)):
            raise SnapshotNotFoundError(f"snapshot {name!r} does not exist")

    def _read(self, name: str) -> SnapshotManifest:
        self._must_exist(name)
        try:
            return snapshots.read_manifest(self.rootdir, name)
        except FileNotFoundError:
            raise CorruptionError(f"snapshot {name!r} has no manifest (.snapshotinfo): it "
                                  "cannot be used; delete it") from None

    # --- export, clone, restore --------------------------------------------------------------

    def export(self, name: str, copy_to: str) -> tuple[int, int]:
        """HBase's ExportSnapshot into root directory `copy_to` on this host (storage/
        snapshots.export): (files, bytes) copied. Not under the snapshot lock, which would
        hold every snapshot call for the whole copy: a snapshot deleted meanwhile fails the
        export, which leaves nothing behind."""
        if not os.path.isabs(copy_to):
            raise InvalidArgumentError(f"export of snapshot {name!r}: {copy_to!r} is not an "
                                       "absolute path (on the master's host)")
        self._read(name)  # SnapshotNotFoundError, CorruptionError
        try:
            files, size = snapshots.export(self.rootdir, name, copy_to)
        except OSError as e:
            raise HBaseError(f"export of snapshot {name!r} to {copy_to} failed: {e}") from None
        log.info("snapshot %s exported to %s: %d files, %d bytes", name, copy_to, files, size)
        return files, size


    def clone(self, name: str, table: str, nonce: str = "") -> None:
        """`nonce`: the call's (see "Nonces" in the module doc)."""
        table = validate_table_name(table)
        with self._lock:
            if self._done_before(nonce, ("clone_snapshot",)):
                return
            m = self._read(name)
            with self.ddl.table_lock(table):
                self._clone(m, table, nonce)

    def _clone(self, m: SnapshotManifest, table: str, nonce: str) -> None:
        desc = replace(m.table, name=table)
        region_id = now_ms()
        pairs = [(src, RegionInfo(table, src.start_key, src.end_key, region_id))
                 for src in m.regions]

        def write_dirs():
            for src, target in pairs:
                snapshots.write_region_from(self.rootdir, m, src, target, desc)
        self.ddl.create_regions(desc, [t for _, t in pairs], write_dirs,
                                self._nonce_ops(nonce, "clone_snapshot", m.name, table))
        log.info("snapshot %s cloned to table %s (%d regions)", m.name, table, len(pairs))

    def restore(self, name: str, nonce: str = "") -> str:
        """Returns the restored table's name. `nonce`: the call's (see "Nonces" in the module
        doc)."""
        with self._lock:
            # a restore of a dropped table clones it: its record is a clone's
            done = self._done_before(nonce, ("restore_snapshot", "clone_snapshot"))
            if done:
                return done["table"]
            m = self._read(name)
            table = m.table.name
            with self.ddl.table_lock(table):
                if table not in self.meta.tables():  # HBase: restoring a dropped table clones
                    self._clone(m, table, nonce)
                else:
                    self._restore(m, nonce)
        return table

    def _restore(self, m: SnapshotManifest, nonce: str) -> None:
        table = m.table.name
        rec = self.meta.read_table(table)
        if rec.state != DISABLED:
            raise TableNotDisabledError(f"table {table!r} is {rec.state}: disable it before "
                                        f"restoring snapshot {m.name!r}")
        old = self.meta.regions(table)
        region_id = next_region_id(old)
        new = [RegionInfo(table, src.start_key, src.end_key, region_id) for src in m.regions]

        def write_dirs():
            for src, target in zip(m.regions, new):  # every block checked: the old data goes
                snapshots.write_region_from(self.rootdir, m, src, target, m.table,
                                            verify_blocks=True)
        self.ddl.swap_regions(TableRecord(m.table, DISABLED), old, new, write_dirs,
                              "restored from a snapshot", f"restore of snapshot {m.name!r}",
                              self._nonce_ops(nonce, "restore_snapshot", m.name, table))
        log.info("table %s restored from snapshot %s (%d regions)", table, m.name, len(new))

    # --- nonces ------------------------------------------------------------------------------

    def _done_before(self, nonce: str, ops: tuple[str, ...]) -> dict | None:
        """The record of the clone or restore an earlier attempt of this call (same nonce)
        made take effect -- its answer lost with a master killed after the commit -- or None
        (none did: this attempt runs, and fails or succeeds on its own). An attempt running
        on this master holds the snapshot lock, so it has finished by now."""
        return self.meta.read_nonce(nonce, ops) if nonce else None

    def _nonce_ops(self, nonce: str, op: str, snapshot: str, table: str) -> list:
        """The record that the call took effect, created by the multi-op that does it."""
        if not nonce:
            return []
        return [self.meta.nonce_op(nonce, {"op": op, "snapshot": snapshot, "table": table,
                                           "state": "done"}, create=True)]


@contextlib.contextmanager
def _acquired(lock, deadline: float, holder: str):
    if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise SnapshotCreationError(f"snapshot not taken: {holder} is still running; try "
                                    "again")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _held(try_lock, holder: str):
    """`try_lock` (a with block given whether its lock was taken), or SnapshotCreationError."""
    with try_lock as held:
        if not held:
            raise SnapshotCreationError(f"snapshot not taken: {holder} is still running; "
                                        "try again")
        yield


def _check_covers_the_table(table: str, regions: list[RegionInfo]) -> None:
    """The regions read from meta tile the whole key space (else a split or merge was between
    two of its steps)."""
    ends = [b""] + [r.end_key for r in regions]
    starts = [r.start_key for r in regions] + [b""]
    if not regions or ends != starts:
        raise _InTransition(f"the regions of table {table!r} do not cover its key space (a "
                            "split or merge in progress)")


def _tree_bytes(path: str) -> int:
    total = 0
    for d, _, files in os.walk(path):
        for n in files:
            try:
                total += os.stat(os.path.join(d, n)).st_size
            except FileNotFoundError:
                pass
    return total

