"""The server crash procedure (HBase's ServerCrashProcedure, simplified; see
docs/coordination.md, "Crash handling").

Runs when /hbase/rs/<name> vanishes (session expiry or clean stop), and again on master start
for every server whose servers/<name> state is not DEAD. Each step is recorded in
servers/<name> before the next begins, and every step is idempotent, so a new master resumes a
procedure its predecessor left half-done:

    ONLINE/none -> CRASHED        the master noticed; no region of it may be reassigned yet
    CRASHED -> SPLITTING_WAL      WALs/<name> renamed to WALs/<name>-splitting (the fence: a
                                  paused server's next WAL sync finds its directory gone and
                                  aborts with WALFencedError instead of acknowledging a write)
    SPLITTING_WAL                 storage.wal_splitter.split_wal writes recovered edits for the
                                  regions meta places on that server; then, in versioned
                                  multi-ops (one, unless they outgrow a ZooKeeper request),
                                  those regions become OFFLINE ("reassignment after crash of
                                  <name>"), or CLOSED for disabled tables
    -> (assign in parallel)       each region opens elsewhere, replaying its edits first
    -> DEAD                       the splitting directory is archived to oldWALs/
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time

from kazoo.exceptions import BadVersionError, NoNodeError

from coordination.znodes import (CLOSED, CLOSING, CRASHED, DEAD, DISABLED, DISABLING, OFFLINE,
                                 ONLINE, OPEN, OPENING, SPLITTING, MERGING, SPLITTING_WAL,
                                 RegionRecord, now_ms)
from hmaster.assignment import AssignmentManager
from hmaster.meta import MetaStore, in_transactions, op_bytes
from hmaster.server_manager import ServerManager
from minihbase.errors import CorruptionError
from storage import layout
from storage.wal_splitter import split_wal

log = logging.getLogger(__name__)

# Regions meta places on a server that a crash must recover. SPLITTING/MERGING ones too: the
# split/merge in flight finds its parent's record changed and abandons (split_merge.py).
HOSTED_STATES = (OPEN, OPENING, CLOSING, SPLITTING, MERGING)


class CrashHandler:
    def __init__(self, meta: MetaStore, servers: ServerManager, assignment: AssignmentManager,
                 rootdir: str):
        self.meta = meta
        self.servers = servers
        self.assignment = assignment
        self.rootdir = rootdir
        self._lock = threading.Lock()
        self._running: set[str] = set()  # guarded by _lock: servers being handled now
        # guarded by _lock: name -> seconds from notice to all open, for the servers status
        # still lists (see forget); the totals count every recovery since this master started
        self.last_recovery_s: dict[str, float] = {}
        self.recoveries = 0
        self.recovery_seconds = 0.0

    def handle(self, name: str) -> None:
        """Run (or resume) the crash procedure for `name`; concurrent calls collapse to one."""
        with self._lock:
            if name in self._running:
                return
            self._running.add(name)
        try:
            self._handle(name)
        except Exception:  # noqa: BLE001 -- logged; the state stays visible in servers/<name>
            log.exception("crash handling of %s failed; will resume on retry/new master", name)
        finally:
            with self._lock:
                self._running.discard(name)

    def forget(self, listed) -> None:
        """Keep the durations of the servers in `listed` only: the entry of a server the
        status no longer shows (superseded by its restart, pruned, cleared) would otherwise stay
        for the master's life, one per server incarnation it ever recovered."""
        with self._lock:
            for name in set(self.last_recovery_s) - set(listed):
                del self.last_recovery_s[name]

    def _handle(self, name: str) -> None:
        started = time.monotonic()
        self.servers.mark_dead(name)
        self.assignment.clients.forget(name)
        st = self.meta.read_server_state(name)
        state = st.state if st else ONLINE
        if state == DEAD:
            return
        if state == ONLINE:
            log.info("crash of %s: CRASHED", name)
            self.meta.write_server_state(name, CRASHED, "fencing of its WAL directory")
            state = CRASHED
        splitting = layout.splitting_wal_dir(self.rootdir, name)
        if state == CRASHED:
            live = layout.wal_dir(self.rootdir, name)
            if os.path.isdir(live):
                if os.path.isdir(splitting):
                    # a previous attempt renamed then the server recreated? never should; merge
                    for entry in os.listdir(live):
                        os.replace(os.path.join(live, entry), os.path.join(splitting, entry))
                    os.rmdir(live)
                else:
                    os.rename(live, splitting)
                layout.fsync_dir(os.path.dirname(live))
            log.info("crash of %s: WAL fenced, SPLITTING_WAL", name)
            self.meta.write_server_state(name, SPLITTING_WAL, "WAL split and reassignment")
            state = SPLITTING_WAL
        if state == SPLITTING_WAL:
            offline, regions = self._split_and_take_offline(name, splitting)
            # the load counts from the records read for the split: reading all of meta again
            # cost a crash of 600 regions a quarter of its reassignment
            results = self.assignment.assign_many(offline, regions=regions)
            opened = sum(1 for r in results if r is not None and r.state == OPEN)
            elapsed = time.monotonic() - started
            log.info("crash of %s: %d/%d regions reassigned in %.3fs", name, opened,
                     len(offline), elapsed)
            with self._lock:
                self.last_recovery_s[name] = elapsed
                self.recoveries += 1
                self.recovery_seconds += elapsed
            self._archive_splitting_dir(name, splitting)
            self.meta.write_server_state(name, DEAD)
            log.info("crash of %s: DEAD", name)

    def _split_and_take_offline(self, name: str,
                                splitting: str) -> tuple[list[RegionRecord], list[RegionRecord]]:
        """Split the WAL for the regions meta puts on `name`, then take them all offline in
        versioned multi-ops. A split or merge committing meanwhile changes that set: a
        transaction fails (BadVersion/NoNode) and the step reruns (both halves idempotent) for
        the regions still on `name`; those an earlier transaction took are kept in `taken`.
        Returns `taken` and every record of meta as last read (those of `name` as it left
        them), for the load counts of their assignment."""
        taken: list[RegionRecord] = []
        for attempt in range(20):
            # each with the znode version it was read at: a change since fails the
            # transaction that takes it offline
            everything = self.meta.all_regions_versioned()
            hosted = [(r, version) for r, version in everything
                      if r.server == name and r.state in HOSTED_STATES]
            if os.path.isdir(splitting):
                try:
                    written = split_wal(splitting, self.rootdir,
                                        regions={r.info.name for r, _ in hosted})
                except CorruptionError as e:
                    self.meta.write_server_state(name, SPLITTING_WAL,
                                                 f"operator: WAL split failed: {e}")
                    raise
                log.info("crash of %s: WAL split into recovered edits of %d regions", name,
                         len(written))
            try:
                self._take_offline(name, hosted, taken)
                return taken, [r for r, _ in everything]
            except (BadVersionError, NoNodeError) as e:
                log.info("crash of %s: meta changed during recovery (%r); redoing step", name, e)
                time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"crash of {name}: meta kept changing; will resume later")

    def _take_offline(self, name: str, regions: list[tuple[RegionRecord, int]],
                      taken: list[RegionRecord]) -> None:
        """Every region of the dead server OFFLINE (or CLOSED if disabled), appending the
        OFFLINE ones to `taken` as they commit. One multi-op while they fit in one: hundreds of
        regions with long keys outgrow the ~1 MB ZooKeeper takes in a request, and a single
        transaction refused for its size would fail this crash procedure on every retry."""
        changes = []  # (op, the record if it is to be reassigned)
        states = {}
        for r, version in regions:
            if r.info.table not in states:
                try:
                    states[r.info.table] = self.meta.read_table(r.info.table).state
                except Exception:  # noqa: BLE001 -- table dropped meanwhile
                    states[r.info.table] = None
            tstate = states[r.info.table]
            if tstate is None:
                continue
            if tstate in (DISABLED, DISABLING):
                new = RegionRecord(r.info, CLOSED, "", now_ms(), "")
            else:
                new = RegionRecord(r.info, OFFLINE, "", now_ms(),
                                   f"reassignment after crash of {name}")
            changes.append((self.meta.put_region_op(new, version), new))
        for part in in_transactions(changes, lambda change: op_bytes(change[0])):
            self.meta.commit([op for op, _ in part])
            taken += [new for _, new in part if new.state == OFFLINE]

    def _archive_splitting_dir(self, name: str, splitting: str) -> None:
        if not os.path.isdir(splitting):
            return
        old = layout.old_wal_dir(self.rootdir)
        os.makedirs(old, exist_ok=True)
        for entry in sorted(os.listdir(splitting)):
            os.replace(os.path.join(splitting, entry), os.path.join(old, f"{name}.{entry}"))
        shutil.rmtree(splitting, ignore_errors=True)
