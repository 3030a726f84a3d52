"""Table snapshots: snapshot, list, delete, clone, restore (HBase's; see docs/coordination.md,
"Snapshots", and storage/snapshots.py for the files).

    snapshot  the table lock held (no DDL meanwhile). Enabled table: each region's lock held
              (no move, split or merge of it meanwhile), its server flushes it (unless
              SKIP_FLUSH) and links its files into the attempt's working directory
              (.hbase-snapshot/.tmp/<name>.<attempt>/); a region not OPEN fails the attempt
              (tried 3 times). Disabled table: the master links the closed regions' files
              itself. Then the manifest, and one rename makes it exist.
    clone     a new table with the snapshot's schema and region boundaries: its region
              directories are written first (hard links), then ONE multi-op creates the table
              and its regions, which are assigned as for a create.
    restore   the table disabled: new region directories, then ONE multi-op swaps the table's
              schema and every region record for the snapshot's (and drops its split/merge
              journals); the old directories are deleted after. The table stays disabled. A
              table that no longer exists is cloned.
    delete    the snapshot's directory, renamed away first.

Snapshot calls run one at a time (a delete never pulls files from under a clone).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import replace

from coordination.znodes import (CLOSED, DISABLED, ENABLED, OPEN, RegionRecord, TableRecord,
                                 now_ms)
from minihbase.errors import (CorruptionError, HBaseError, SnapshotCreationError,
                              SnapshotExistsError, SnapshotNotFoundError, TableNotDisabledError)
from protos import minihbase_pb2 as pb
from storage import layout, snapshots
from storage.region_split import remove_region_dirs
from storage.schema import RegionInfo, validate_snapshot_name, validate_table_name
from storage.snapshots import SnapshotManifest

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a region in transition (moving, splitting) fails an attempt; the next may pass
REGION_TIMEOUT_S = 120.0


class SnapshotManager:
    def __init__(self, meta, assignment, ddl, rootdir: str, *, retry_pause: float = 1.0):
        self.meta = meta
        self.assignment = assignment
        self.clients = assignment.clients
        self.ddl = ddl
        self.rootdir = rootdir
        self._retry_pause = retry_pause
        self._lock = threading.Lock()

    # --- snapshot ----------------------------------------------------------------------------

    def snapshot(self, table: str, name: str, skip_flush: bool = False) -> SnapshotManifest:
        name, table = validate_snapshot_name(name), validate_table_name(table)
        with self._lock, self.ddl.table_lock(table):
            if snapshots.exists(self.rootdir, name):
                raise SnapshotExistsError(f"snapshot {name!r} already exists")
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return self._take(table, name, skip_flush)
                except SnapshotCreationError as e:
                    if attempt == ATTEMPTS:
                        raise
                    log.info("snapshot %s of %s: attempt %d failed (%s); trying again", name,
                             table, attempt, e)
                    time.sleep(self._retry_pause)

    def _take(self, table: str, name: str, skip_flush: bool) -> SnapshotManifest:
        rec = self.meta.read_table(table)  # TableNotFoundError
        if rec.state not in (ENABLED, DISABLED):
            raise SnapshotCreationError(f"table {table!r} is {rec.state}: snapshot not taken "
                                        "(try again once it is enabled or disabled)")
        attempt = snapshots.begin(self.rootdir, name)
        work = layout.snapshot_work_dir(self.rootdir, name, attempt)
        try:
            regions = sorted((r.info for r in self.meta.regions(table)),
                             key=lambda i: i.start_key)
            _check_covers_the_table(table, regions)
            for info in regions:
                self._link_region(rec, info, name, attempt, skip_flush,
                                  os.path.join(work, info.encoded_name))
            manifest = snapshots.commit(self.rootdir, name, attempt, rec.descriptor, regions,
                                        now_ms())
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("snapshot %s of table %s taken (%d regions)", name, table, len(regions))
        return manifest

    def _link_region(self, table_rec: TableRecord, info: RegionInfo, name: str, attempt: str,
                     skip_flush: bool, dest: str) -> None:
        with self.assignment.region_lock(info.encoded_name):
            cur = self.meta.read_region(info.table, info.encoded_name)
            wanted = OPEN if table_rec.state == ENABLED else CLOSED
            if cur is None or cur.state != wanted:
                state = "gone (split or merged)" if cur is None else cur.state
                raise SnapshotCreationError(
                    f"snapshot {name!r}: region {info.name} is {state}, not {wanted}: snapshot "
                    "not taken (try again)")
            if wanted == CLOSED:
                snapshots.link_closed_region(self.rootdir, info, table_rec.descriptor, dest)
                return
            try:
                self.clients.call(cur.server, "SnapshotRegion", pb.SnapshotRegionRequest(
                    region=info.name, snapshot=name, attempt=attempt, skip_flush=skip_flush,
                    server=cur.server), REGION_TIMEOUT_S)
            except HBaseError as e:
                raise SnapshotCreationError(
                    f"snapshot {name!r}: region {info.name} on {cur.server} failed: "
                    f"{type(e).__name__}: {e}") from None

    # --- list, delete ------------------------------------------------------------------------

    def describe_all(self) -> list[pb.SnapshotDescription]:
        out = []
        for name in snapshots.names(self.rootdir):
            size = _tree_bytes(layout.snapshot_dir(self.rootdir, name))
            try:
                m = snapshots.read_manifest(self.rootdir, name)
            except FileNotFoundError:  # listed, so that its name is explained
                out.append(pb.SnapshotDescription(name=name, size_bytes=size,
                                                  problem="no manifest (.snapshotinfo)"))
                continue
            except HBaseError as e:  # CorruptionError: listed, never used
                out.append(pb.SnapshotDescription(name=name, size_bytes=size, problem=str(e)))
                continue
            out.append(pb.SnapshotDescription(name=name, table=m.table.name,
                                              created_ms=m.created_ms, regions=len(m.regions),
                                              size_bytes=size))
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
            snapshots.delete(self.rootdir, name)
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

    # --- clone, restore ----------------------------------------------------------------------

    def clone(self, name: str, table: str) -> None:
        table = validate_table_name(table)
        with self._lock:
            m = self._read(name)
            with self.ddl.table_lock(table):
                self._clone(m, table)

    def _clone(self, m: SnapshotManifest, table: str) -> None:
        desc = replace(m.table, name=table)
        region_id = now_ms()
        pairs = [(src, RegionInfo(table, src.start_key, src.end_key, region_id))
                 for src in m.regions]

        def write_dirs():
            for src, target in pairs:
                snapshots.write_region_from(self.rootdir, m, src, target, desc)
        self.ddl.create_regions(desc, [t for _, t in pairs], write_dirs)
        log.info("snapshot %s cloned to table %s (%d regions)", m.name, table, len(pairs))

    def restore(self, name: str) -> str:
        """Returns the restored table's name."""
        with self._lock:
            m = self._read(name)
            table = m.table.name
            with self.ddl.table_lock(table):
                if table not in self.meta.tables():  # HBase: restoring a dropped table clones
                    self._clone(m, table)
                else:
                    self._restore(m)
        return table

    def _restore(self, m: SnapshotManifest) -> None:
        table = m.table.name
        rec = self.meta.read_table(table)
        if rec.state != DISABLED:
            raise TableNotDisabledError(f"table {table!r} is {rec.state}: disable it before "
                                        f"restoring snapshot {m.name!r}")
        old = self.meta.regions(table)
        region_id = max([now_ms()] + [r.info.region_id + 1 for r in old])
        new = [RegionInfo(table, src.start_key, src.end_key, region_id) for src in m.regions]
        # The old regions' split/merge journals go in the same multi-op: if it fails, the
        # table is as it was, journals included.
        journals = [enc for enc, j in self.meta.journals().items() if j.get("table") == table]
        try:
            for src, target in zip(m.regions, new):
                snapshots.write_region_from(self.rootdir, m, src, target, m.table)
            self.meta.write_table(
                TableRecord(m.table, DISABLED),
                [self.meta.delete_journal_op(enc) for enc in journals]
                + [self.meta.delete_region_op(r) for r in old]
                + [self.meta.create_region_op(RegionRecord(i, CLOSED, "", now_ms(),
                                                           "restored from a snapshot"))
                   for i in new])
        except BaseException as e:
            if not self.meta.outcome_unknown(e):
                remove_region_dirs(self.rootdir, new)  # not in meta: nothing uses them
            raise
        keep = {i.encoded_name for i in new}
        tdir = layout.table_dir(self.rootdir, table)
        for entry in os.listdir(tdir):
            if entry not in keep:
                shutil.rmtree(os.path.join(tdir, entry), ignore_errors=True)
        log.info("table %s restored from snapshot %s (%d regions)", table, m.name, len(new))


def _check_covers_the_table(table: str, regions: list[RegionInfo]) -> None:
    """The regions read from meta tile the whole key space (else a split or merge was between
    two of its steps)."""
    ends = [b""] + [r.end_key for r in regions]
    starts = [r.start_key for r in regions] + [b""]
    if not regions or ends != starts:
        raise SnapshotCreationError(f"the regions of table {table!r} do not cover its key space "
                                    "right now (a split or merge in progress): snapshot not "
                                    "taken (try again)")


def _tree_bytes(path: str) -> int:
    total = 0
    for d, _, files in os.walk(path):
        for n in files:
            try:
                total += os.stat(os.path.join(d, n)).st_size
            except FileNotFoundError:
                pass
    return total

