"""Region assignment: open and close regions on region servers, recording every step in meta
(see docs/coordination.md, "Region states").

    assign:   OFFLINE/CLOSED/FAILED_OPEN -> OPENING(server) -> RS.OpenRegion -> OPEN
              an open that fails is retried at once on another server (up to `attempts`
              servers); then FAILED_OPEN with waiting_for = "retry #n in Xs after: <error>", and a
              timer retries with back-off (or sooner, when a server joins).
              No live server: OFFLINE, waiting_for = "a live region server".
    unassign: OPEN -> CLOSING(server) -> RS.CloseRegion(flush) -> OFFLINE (move, reopen) or
              CLOSED (disable). If the server is gone, the record keeps its server and waits for
              the crash procedure, which must split that server's WAL for it first.

Every write stamps since_ms and waiting_for, so a region in transition always says why. One lock
per region serialises decisions about it; opens of different regions run in parallel on a
thread pool. Many regions at once (a crash's, a create's: assign_many) go in batches: their
OPENING and OPEN in versioned multi-ops, one OpenRegions call per server (docs/coordination.md,
"Region states").
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from coordination.znodes import (CLOSED, CLOSING, DEAD, DISABLED, DISABLING, ENABLED,
                                 FAILED_OPEN, MERGING, OFFLINE, OPEN, OPENING, SPLITTING,
                                 RegionRecord, now_ms)
from hmaster.meta import MetaStore, in_transactions, op_bytes
from hmaster.rs_client import RegionServerClients
from hmaster.server_manager import ServerManager
from minihbase.errors import (HBaseError, NotServingRegionError, RegionOfflineError,
                              ServerUnavailableError, TableNotFoundError)

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (1, 2, 3, 5, 10, 20, 30, 60)  # FAILED_OPEN re-tries; HBase-like growth
NO_SERVER = "a live region server to open it on"
ALL_DECOMMISSIONED = "a region server that is not decommissioned (recommission_regionserver)"
# waiting_for of a region an admin closed (HBase's unassign): it stays CLOSED until assigned
UNASSIGNED = "an admin's assign (unassigned by an admin)"
SPLIT_OR_MERGE = (SPLITTING, MERGING)
# A region meta has OPEN on a server is lost when a report that reached the master this long
# after meta recorded it open does not list it (reopen_lost): more than a report's transit (the
# region server's 5 s call timeout), so the report was built after the region opened.
LOST_MARGIN_S = 10.0
OPEN_BATCH = 200  # regions in one OpenRegions call (assign_many)


class KeyedLocks:
    """One lock per key, kept only while a thread holds or waits for it: a map of every region
    ever assigned would grow for as long as the master runs (splits retire regions for good)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, list] = {}  # key -> [lock, holders and waiters]; under _lock

    @contextmanager
    def hold(self, key: str):
        """`key`'s lock, held for the with block."""
        with self.try_hold(key, None):
            yield

    @contextmanager
    def try_hold(self, key: str, timeout: float | None = 0.0):
        """Yields whether `key`'s lock was acquired within `timeout` seconds (0: without
        waiting; None: it waits as long as it takes); if so it is held for the with block."""
        with self._lock:
            entry = self._entries.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        acquired = False
        try:
            acquired = entry[0].acquire(timeout=-1 if timeout is None else max(0.0, timeout))
            yield acquired
        finally:
            if acquired:
                entry[0].release()
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._entries[key]

    def busy(self, key: str) -> bool:
        """Whether a thread holds or waits for `key`'s lock right now."""
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class AssignmentManager:
    def __init__(self, meta: MetaStore, clients: RegionServerClients, servers: ServerManager,
                 *, attempts: int = 3, pool_size: int = 16, backoff=RETRY_BACKOFF_S):
        self.meta = meta
        self.clients = clients
        self.servers = servers
        self.attempts = attempts
        self.backoff = backoff
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="assign")
        # assign_many's batches' calls and retries, which hold no region lock and wait for none:
        # on `pool` they could queue behind tasks waiting for the locks the batch holds
        self.batch_pool = ThreadPoolExecutor(max_workers=pool_size,
                                             thread_name_prefix="assign-batch")
        self._lock = threading.Lock()
        self.region_locks = KeyedLocks()
        self._load: dict[str, int] = {}  # guarded by _lock: regions OPEN/OPENING per server
        self._retries: dict[str, tuple[int, threading.Timer]] = {}  # guarded by _lock
        # Set once by stop(), read without the lock: a retry timer started after stop()
        # cancelled it never fires (Timer.cancel before start still wins).
        self._stopped = False

    # --- bookkeeping -------------------------------------------------------------------------

    def region_lock(self, encoded: str):
        """Held while deciding about one region (a context manager)."""
        return self.region_locks.hold(encoded)

    def refresh_load(self, regions: list[RegionRecord] | None = None) -> dict[str, int]:
        """Recount regions per online server from meta (the balancer's and picker's input);
        regions: meta's records, if the caller just read them."""
        counts = {s: 0 for s in self.servers.online()}
        for rec in self.meta.all_regions() if regions is None else regions:
            if rec.state in (OPEN, OPENING) and rec.server in counts:
                counts[rec.server] += 1
        with self._lock:
            self._load = counts
        return dict(counts)

    def _bump(self, server: str, delta: int) -> None:
        with self._lock:
            self._load[server] = self._load.get(server, 0) + delta

    def pick_server(self, exclude: set[str], *, reserve: bool = False,
                    assignable: list[str] | None = None) -> str | None:
        """The assignable server (online, not decommissioned) with the fewest regions, not in
        `exclude`. With reserve, its count is bumped in the same critical section, so parallel
        assignments spread out. assignable: servers.assignable(), if the caller just read it
        (it reads the decommissioned servers from ZooKeeper)."""
        if assignable is None:
            assignable = self.servers.assignable()
        online = [s for s in assignable if s not in exclude]
        if not online:
            return None
        with self._lock:
            best = min(online, key=lambda s: (self._load.get(s, 0), s))
            if reserve:
                self._load[best] = self._load.get(best, 0) + 1
            return best

    def _is_dead(self, server: str) -> bool:
        st = self.meta.read_server_state(server)
        return st is not None and st.state == DEAD

    # --- assign ------------------------------------------------------------------------------

    def assign(self, rec: RegionRecord, *, preferred: str | None = None) -> RegionRecord | None:
        """Open `rec` somewhere; returns the final record (None if the region vanished)."""
        enc = rec.info.encoded_name
        with self.region_lock(enc):
            cur = self.meta.read_region(rec.info.table, enc)
            if cur is None:
                return None
            if cur.state == OPEN and self.servers.is_live(cur.server):
                return cur
            if cur.state in SPLIT_OR_MERGE:
                return cur  # the split/merge procedure owns it: it opens or drops it
            if (cur.state in (OPEN, OPENING, CLOSING) and cur.server
                    and not self.servers.is_live(cur.server) and not self._is_dead(cur.server)):
                # its server is gone but not yet recovered: opening it elsewhere now would
                # skip the WAL split; the crash procedure reassigns it
                return cur
            if cur.state in (OPENING, CLOSING) and cur.server and self.servers.is_live(cur.server):
                # an open or close that did not finish, on a server still registered (maybe
                # killed, its session not expired yet): close it there first, or two servers
                # could serve the region, or its edits in that server's WAL be skipped
                cur = self._close_locked(cur, OFFLINE, "reopening", flush=True)
                if cur.state == CLOSING:
                    return cur  # for the repair chore or the server's crash handling
            try:
                table = self.meta.read_table(cur.info.table)
            except TableNotFoundError:
                return None
            if table.state in (DISABLED, DISABLING):
                return self.meta.set_region(cur, CLOSED, server="",
                                            waiting_for="") if cur.state != CLOSED else cur
            return self._open_locked(cur, table.descriptor, preferred, set(), "")

    def _open_locked(self, cur: RegionRecord, desc, preferred: str | None, tried: set[str],
                     last_error: str) -> RegionRecord:
        """assign's attempts, the region lock held: open `cur` on up to `attempts` servers in
        all, not on those `tried` already (the last failing with `last_error`); then
        FAILED_OPEN with a retry timer, or OFFLINE if there was no server to try."""
        for _ in range(self.attempts - len(tried)):
            server = preferred if (preferred and preferred not in tried
                                   and preferred in self.servers.assignable()) else None
            if server is not None:
                self._bump(server, 1)
            else:
                server = self.pick_server(tried, reserve=True)
            if server is None:
                break
            tried.add(server)
            cur = self.meta.set_region(cur, OPENING, server=server,
                                       waiting_for=f"RS.OpenRegion on {server}")
            try:
                self.clients.open_region(server, cur.info, desc)
            except HBaseError as e:
                self._bump(server, -1)
                last_error = f"{type(e).__name__}: {e}"
                log.warning("open of %s on %s failed: %s", cur.info.name, server, last_error)
                if isinstance(e, (ServerUnavailableError, RegionOfflineError)):
                    self._abort_open(server, cur)
                continue
            self._cancel_retry(cur.info.encoded_name)
            log.info("region %s OPEN on %s", cur.info.name, server)
            return self.meta.set_region(cur, OPEN, server=server)
        if not tried:
            log.info("region %s waits for a live region server", cur.info.name)
            waiting = NO_SERVER if not self.servers.online() else ALL_DECOMMISSIONED
            return self.meta.set_region(cur, OFFLINE, server="", waiting_for=waiting)
        return self._failed_open(cur, last_error)

    def _abort_open(self, server: str, cur: RegionRecord) -> bool:
        """An open that timed out may still complete on `server`: ask it to drop the region
        (best effort) before another server opens it, so two servers never write its files.
        False if `server` could not be reached (a copy it opens anyway is closed later as a
        ghost, see close_ghosts)."""
        if not self.servers.is_live(server):
            return False
        try:
            self.clients.close_region(server, cur.info.name, False)
        except HBaseError as e:
            log.info("best-effort close of %s on %s after a failed open: %s", cur.info.name,
                     server, e)
            return not isinstance(e, ServerUnavailableError)
        return True

    def _failed_open(self, cur: RegionRecord, error: str) -> RegionRecord:
        enc = cur.info.encoded_name
        with self._lock:
            n = self._retries.get(enc, (0, None))[0]
            old = self._retries.get(enc, (0, None))[1]
            if old:
                old.cancel()
            delay = self.backoff[min(n, len(self.backoff) - 1)]
            timer = threading.Timer(delay, self._retry, args=(cur,))
            timer.daemon = True
            self._retries[enc] = (n + 1, timer)
        new = self.meta.set_region(cur, FAILED_OPEN, server="",
                                   waiting_for=f"retry #{n + 1} in {delay}s after: {error}")
        if not self._stopped:
            timer.start()
        return new

    def _retry(self, rec: RegionRecord) -> None:
        if not self._stopped:
            self.pool.submit(self._safe_assign, rec, None)

    def _cancel_retry(self, enc: str) -> None:
        with self._lock:
            entry = self._retries.pop(enc, None)
        if entry and entry[1]:
            entry[1].cancel()

    def _safe_assign(self, rec: RegionRecord, preferred: str | None) -> RegionRecord | None:
        try:
            return self.assign(rec, preferred=preferred)
        except Exception:  # noqa: BLE001 -- a pool task must never die silently
            log.exception("assignment of %s failed", rec.info.name)
            return None

    def assign_many(self, recs: list[RegionRecord], *, preferred: str | None = None,
                    wait: bool = True,
                    regions: list[RegionRecord] | None = None) -> list[RegionRecord | None]:
        """Assign in parallel; with wait, return once every region is OPEN or parked.
        regions: meta's records, if the caller just read them (the load counts' input)."""
        if not recs:
            return []
        self.refresh_load(regions)
        if wait and len(recs) > 1:
            return self._assign_batched(recs, preferred)
        futures = [self.pool.submit(self._safe_assign, r, preferred) for r in recs]
        return [f.result() for f in futures] if wait else []

    def _assign_batched(self, recs: list[RegionRecord],
                        preferred: str | None) -> list[RegionRecord | None]:
        """assign_many's work for regions waiting to be opened (OFFLINE, CLOSED, FAILED_OPEN
        in a table being enabled or enabled), as HBase sends a server its regions: their
        OPENING written in versioned multi-ops, one OpenRegions call per server and
        OPEN_BATCH regions, their OPEN in versioned multi-ops; a region whose open failed goes
        on with assign's attempts on the other servers. The region locks are held from the
        read to the last write, as assign holds one. Any other region (busy, in another state,
        changed under a multi-op) takes assign's path, after this batch."""
        results: dict[str, RegionRecord | None] = {}
        later: list[RegionRecord] = []  # for assign, once this batch released its locks
        with ExitStack() as held:
            mine = []
            for r in recs:
                enc = r.info.encoded_name
                if enc not in results and held.enter_context(self.region_locks.try_hold(enc)):
                    results[enc] = r
                    mine.append(r)
                else:
                    later.append(r)  # busy: someone decides about it now (or a duplicate)
            tables: dict[str, object] = {}
            ready = []  # (record, its znode version, table descriptor)
            for r, (cur, version) in zip(mine, self.meta.read_regions_versioned(mine)):
                results[r.info.encoded_name] = cur
                if cur is None:
                    continue
                if cur.info.table not in tables:  # each table's record once
                    try:
                        tables[cur.info.table] = self.meta.read_table(cur.info.table)
                    except TableNotFoundError:
                        tables[cur.info.table] = None
                table = tables[cur.info.table]
                if (cur.state in (OFFLINE, CLOSED, FAILED_OPEN) and table is not None
                        and table.state not in (DISABLED, DISABLING)):
                    ready.append((cur, version, table.descriptor))
                elif table is None:
                    results[r.info.encoded_name] = None  # dropped: as assign answers
                else:
                    later.append(cur)
            opening = self._write_opening(ready, preferred, later)
            futures = [self.batch_pool.submit(self._open_on, server, batch)
                       for server, batch in opening.items()]
            retries = []
            for future in futures:
                for cur, version, desc, error in future.result():
                    if error is None:
                        results[cur.info.encoded_name] = cur
                    else:
                        retries.append(self.batch_pool.submit(self._retry_open, cur, desc,
                                                              preferred, error))
            for future in retries:
                rec = future.result()
                if rec is not None:
                    results[rec.info.encoded_name] = rec
        futures = [self.pool.submit(self._safe_assign, r, preferred) for r in later]
        for r, future in zip(later, futures):
            results[r.info.encoded_name] = future.result()
        return [results.get(r.info.encoded_name) for r in recs]

    def _write_opening(self, ready, preferred: str | None, later: list[RegionRecord]):
        """Pick a server for each of `ready` (record, version, descriptor) and record it
        OPENING there, in versioned multi-ops; returns server -> [(record, version,
        descriptor)] of those written. A region whose multi-op failed goes to `later`."""
        changes = []
        assignable = self.servers.assignable()  # once: it reads ZooKeeper
        for cur, version, desc in ready:
            if preferred and preferred in assignable:
                server = preferred
                self._bump(server, 1)
            else:
                server = self.pick_server(set(), reserve=True, assignable=assignable)
            if server is None:
                later.append(cur)  # assign parks it: no server to open it on
                continue
            new = RegionRecord(cur.info, OPENING, server, now_ms(),
                               f"RS.OpenRegion on {server}")
            changes.append((self.meta.put_region_op(new, version), new, desc))
        opening: dict[str, list] = {}
        for part in in_transactions(changes, lambda change: op_bytes(change[0])):
            try:
                stats = self.meta.commit([op for op, _, _ in part])
            except Exception as e:  # noqa: BLE001 -- changed meanwhile, or ZooKeeper failed
                log.info("recording %d regions OPENING failed (%r): each is assigned alone",
                         len(part), e)
                for _, new, _ in part:
                    self._bump(new.server, -1)
                    later.append(new)  # assign reads it again (OPENING: closes it first)
                continue
            for (_, new, desc), stat in zip(part, stats):
                opening.setdefault(new.server, []).append((new, stat.version, desc))
        return opening

    def _open_on(self, server: str, batch: list) -> list:
        """_open_batch of `batch` in calls of OPEN_BATCH regions, one after the other: the
        server opens a few at a time whatever it is sent, and the deadline of each call
        counts on its regions having the server's open threads to themselves. Once a call
        fails as a whole (the server gone, or hung past the deadline), the rest are not sent:
        they fail with it at once and are tried elsewhere."""
        out, failed = [], None
        for i in range(0, len(batch), OPEN_BATCH):
            opened, failed = self._open_batch(server, batch[i:i + OPEN_BATCH], failed)
            out += opened
        return out

    def _open_batch(self, server: str, batch: list, failed: Exception | None):
        """OpenRegions of `batch` (record OPENING on `server`, version, descriptor), then the
        opened ones recorded OPEN in versioned multi-ops; with `failed` (an earlier call's
        error) no call, each fails with it. Returns (record, version, descriptor, error) of
        each: the OPEN record and error None, or the OPENING record and the error ("Class:
        message") its open failed with; and the error of the call as a whole, if it failed."""
        # once a best-effort close went unanswered, the others would too (and regions of a
        # call not sent need none)
        reachable = failed is None
        if failed is None:
            try:
                errors = self.clients.open_regions(server, [(c.info, d) for c, _, d in batch])
            except Exception as e:  # noqa: BLE001 -- HBaseError, or ZooKeeper's (the address)
                failed = e
        if failed is not None:
            errors = [failed] * len(batch)
            log.warning("open of %d regions on %s failed: %s: %s", len(batch), server,
                        type(failed).__name__, failed)
        out, opened = [], []
        for (cur, version, desc), e in zip(batch, errors):
            if e is None:
                opened.append((cur, version, desc))
                continue
            self._bump(server, -1)
            error = f"{type(e).__name__}: {e}"
            if e is not failed:
                log.warning("open of %s on %s failed: %s", cur.info.name, server, error)
            if reachable and isinstance(e, (ServerUnavailableError, RegionOfflineError)):
                reachable = self._abort_open(server, cur)
            out.append((cur, version, desc, error))
        changes = [(self.meta.put_region_op(RegionRecord(c.info, OPEN, server, now_ms(), ""),
                                            v), c) for c, v, _ in opened]
        for part in in_transactions(changes, lambda change: op_bytes(change[0])):
            try:
                self.meta.commit([op for op, _ in part])
            except Exception as e:  # noqa: BLE001 -- changed meanwhile, or ZooKeeper failed
                log.warning("recording %d regions OPEN on %s failed (%r): meta keeps what it "
                            "has", len(part), server, e)
                for _, cur in part:
                    rec = self.meta.read_region(cur.info.table, cur.info.encoded_name)
                    if rec is not None:
                        out.append((rec, -1, None, None))
                continue
            for op, cur in part:
                rec = RegionRecord.from_bytes(op.data)
                self._cancel_retry(cur.info.encoded_name)
                log.info("region %s OPEN on %s", cur.info.name, server)
                out.append((rec, -1, None, None))
        return out, failed

    def _retry_open(self, cur: RegionRecord, desc, preferred: str | None,
                    error: str) -> RegionRecord | None:
        """assign's further attempts for a region whose batched open on cur.server failed
        (its lock is held by the batch)."""
        try:
            return self._open_locked(cur, desc, preferred, {cur.server}, error)
        except Exception:  # noqa: BLE001 -- a pool task must never die silently
            log.exception("assignment of %s failed", cur.info.name)
            return None

    def retry_waiting(self, wait: bool = False) -> None:
        """Assign every OFFLINE/FAILED_OPEN region of enabled tables now (a server joined)."""
        todo = [r for r in self.meta.all_regions() if r.state in (OFFLINE, FAILED_OPEN)]
        for r in todo:
            self._cancel_retry(r.info.encoded_name)
        self.assign_many(todo, wait=wait)

    # --- unassign ----------------------------------------------------------------------------

    def unassign(self, rec: RegionRecord, *, final_state: str = OFFLINE,
                 waiting_for: str = "", flush: bool = True) -> RegionRecord | None:
        """Close `rec` where it is open. Returns the final record; a record left CLOSING means
        its server is gone and the crash procedure will take over."""
        enc = rec.info.encoded_name
        with self.region_lock(enc):
            cur = self.meta.read_region(rec.info.table, enc)
            if cur is None:
                return None
            if cur.state in SPLIT_OR_MERGE:
                # still open on its server, owned by the split/merge procedure (after a master
                # failover, until splits.resume ends it): marking it closed would be a lie
                return cur
            return self._close_locked(cur, final_state, waiting_for, flush)

    def _close_locked(self, cur: RegionRecord, final_state: str, waiting_for: str,
                      flush: bool) -> RegionRecord:
        """unassign's work, the region lock held: close `cur` on its server, then record
        `final_state`; left CLOSING when the close could not be done (server gone or failing)."""
        self._cancel_retry(cur.info.encoded_name)
        if cur.state in (OPEN, OPENING, CLOSING) and cur.server:
            server = cur.server
            if not self.servers.is_live(server):
                return self.meta.set_region(
                    cur, CLOSING, waiting_for=f"crash handling of {server}")
            cur = self.meta.set_region(cur, CLOSING,
                                       waiting_for=f"RS.CloseRegion on {server}")
            try:
                self.clients.close_region(server, cur.info.name, flush)
            except NotServingRegionError:
                pass  # not there: nothing to close
            except HBaseError as e:
                if not self.servers.is_live(server):
                    return self.meta.set_region(
                        cur, CLOSING, waiting_for=f"crash handling of {server}")
                log.warning("close of %s on %s failed: %s", cur.info.name, server, e)
                return self.meta.set_region(
                    cur, CLOSING, waiting_for=f"retry of RS.CloseRegion on {server}: {e}")
            self._bump(server, -1)
            log.info("region %s closed on %s", cur.info.name, server)
        return self.meta.set_region(cur, final_state, server="", waiting_for=waiting_for)

    def unassign_many(self, recs: list[RegionRecord], **kw) -> list[RegionRecord | None]:
        futures = [self.pool.submit(self.unassign, r, **kw) for r in recs]
        return [f.result() for f in futures]

    def repair(self, min_age_s: float = 10.0, try_table_lock=None, regions=None) -> int:
        """Chore: re-drive regions in transition for longer than min_age_s that nobody is
        working on (their lock is free and no retry timer is pending): a close that failed on a
        live server, an open interrupted by an error, a region left CLOSING for a server whose
        crash handling already finished, or a region left CLOSED in an ENABLED table (an enable
        whose assignment failed, say on a lost ZooKeeper connection; only with
        `try_table_lock`, TableDDL's, as the DDL lock a disable holds). regions: meta's
        records, if the caller just read them (each is re-read under its lock before it is
        acted on). Returns how many were re-driven."""
        now = time.time() * 1000
        todo = []
        enabled = set()
        for t in self.meta.tables() if try_table_lock is not None else ():
            try:
                if self.meta.read_table(t).state == ENABLED:
                    enabled.add(t)
            except TableNotFoundError:
                continue  # dropped meanwhile
        for r in self.meta.all_regions() if regions is None else regions:
            stuck = r.state in (OPENING, CLOSING, OFFLINE) or (
                r.state == CLOSED and r.info.table in enabled and r.waiting_for != UNASSIGNED)
            if not stuck or now - r.since_ms < min_age_s * 1000:
                continue
            enc = r.info.encoded_name
            with self._lock:
                if enc in self._retries:
                    continue
            if self.region_locks.busy(enc):
                continue  # an assignment is working on it right now
            if r.state in (OFFLINE, CLOSED) and not self.servers.online():
                continue
            if r.state == CLOSING and r.server and not self.servers.is_live(r.server):
                st = self.meta.read_server_state(r.server)
                if st is None or st.state != DEAD:
                    continue  # its crash procedure will take it
            todo.append(r)
        closed_tables = set()
        for r in todo:
            log.info("re-driving region %s stuck in %s since %d ms: %s", r.info.name, r.state,
                     r.since_ms, r.waiting_for)
            if r.state == CLOSED:
                closed_tables.add(r.info.table)
            else:
                self.pool.submit(self._redrive, r)
        for table in closed_tables:  # its own thread: assign_many waits on the pool
            threading.Thread(target=self._reopen_closed, args=(table, try_table_lock),
                             name=f"reopen-{table}", daemon=True).start()
        return len(todo)

    def close_ghosts(self, regions: list[RegionRecord] | None = None) -> int:
        """Chore: close the regions a live server reports OPEN that meta places elsewhere, or
        nowhere -- a copy a stale master opened, an open that ended after the master gave it up.
        Such a copy takes writes nobody reads and flushes and compacts into the directory the
        real copy serves from (HBase's master closes them too: checkOnlineRegionsReport).

        Decided under the region's lock (taken without waiting: an assignment at work settles
        it), meta read again under it: with the lock held nobody can be opening or moving the
        region, so if meta says OPEN on another server, or OFFLINE, CLOSED or FAILED_OPEN, or
        does not know the region, no copy on this server is legitimate -- even when the report
        is stale and the region moved away since (the close then finds nothing); a report built
        before meta's last change of the region is not acted on at all. Closed without
        a flush: a flush would write the copy's edits into the real region's directory.
        regions: meta's records, if the caller just read them. Returns how many were closed."""
        by_name = {r.info.name: r for r in (regions if regions is not None
                                            else self.meta.all_regions())}
        closed = 0
        for server in self.servers.online():
            load, received_ms = self.servers.load_received(server)
            for rl in load.regions if load is not None else ():
                rec = by_name.get(rl.region)
                if rl.state != OPEN or not _is_ghost(rec, server):
                    continue
                if rec is not None and received_ms <= rec.since_ms:
                    # received (so built) before meta's last change of the region, both by the
                    # master's clock: the copy it lists is the one that change closed (a move,
                    # a clean stop: the next report says so)
                    continue
                if self._close_ghost(server, rl.region):
                    closed += 1
        return closed

    def _close_ghost(self, server: str, name: str) -> bool:
        encoded = name.rpartition(".")[2]
        with self.region_locks.try_hold(encoded) as held:
            if not held:
                return False
            rec = self.meta.find_region(name)
            if not _is_ghost(rec, server) or not self.servers.is_live(server):
                return False
            where = "not in meta" if rec is None else f"{rec.state} on {rec.server or '-'}"
            log.warning("region %s is open on %s but meta has it %s: closing that copy",
                        name, server, where)
            try:
                self.clients.close_region(server, name, False)
            except NotServingRegionError:
                return False  # the report was older than its close
            except HBaseError as e:
                log.warning("closing the stray copy of %s on %s failed: %s", name, server, e)
                return False
        return True

    def reopen_lost(self, regions: list[RegionRecord] | None = None,
                    margin_s: float = LOST_MARGIN_S) -> int:
        """Chore: reopen the regions meta has OPEN on a live server whose last report, received
        more than `margin_s` after meta recorded the region open there, does not list it in any
        state -- closed behind the master's back (a tool's CloseRegion, a region server that
        dropped it): until an operator assigned it, every call would end in NotServingRegion
        while meta and `status` said OPEN. The region opened before meta recorded it (assign
        writes OPEN after OpenRegion answered), and the margin covers the report's transit, so
        such a report was built after the open and would list it. Both times are the master's
        clock: the server's built_ms may be off by up to the tolerated clock skew, and was
        compared here once -- ahead, a report built before the open made its region look lost;
        behind, a lost region went unnoticed for as long. regions: meta's records, if the
        caller just read them (re-read under the region's lock). Returns how many were
        reopened."""
        on_server: dict[str, list[RegionRecord]] = {}
        for r in regions if regions is not None else self.meta.all_regions():
            on_server.setdefault(r.server, []).append(r)
        lost = []
        for server in self.servers.online():
            load, received_ms = self.servers.load_received(server)
            if load is None:
                continue
            listed = {rl.region for rl in load.regions}
            lost += [(server, r) for r in on_server.get(server, ())
                     if _lost(r, server, listed, received_ms, margin_s)]
        reopened = 0
        for server, rec in lost:
            rec = self._mark_lost(server, rec, margin_s)
            if rec is not None:
                self.pool.submit(self._safe_assign, rec, server)
                reopened += 1
        return reopened

    def _mark_lost(self, server: str, rec: RegionRecord, margin_s: float):
        """OFFLINE for `rec` if, its lock held (taken without waiting: an assignment at work
        settles it) and meta and the server's report read again, it is still lost."""
        enc = rec.info.encoded_name
        with self.region_locks.try_hold(enc) as held:
            if not held:
                return None
            cur = self.meta.read_region(rec.info.table, enc)
            load, received_ms = self.servers.load_received(server)
            if (cur is None or load is None or not self.servers.is_live(server)
                    or not _lost(cur, server, {rl.region for rl in load.regions}, received_ms,
                                 margin_s)):
                return None
            log.warning("region %s is OPEN on %s in meta but its report received at %d ms "
                        "does not list it (closed without the master): reopening it",
                        cur.info.name, server, received_ms)
            self._bump(server, -1)
            return self.meta.set_region(cur, OFFLINE, server="",
                                        waiting_for=f"reopening: {server} does not serve it")

    def _reopen_closed(self, table: str, try_table_lock) -> None:
        """Assign the regions left CLOSED in ENABLED table `table`, all at once, under its DDL
        lock (taken without waiting: DDL at work will settle them) and only if the table is
        still enabled and they still closed."""
        with try_table_lock(table) as held:
            if not held:
                return
            try:
                if self.meta.read_table(table).state == ENABLED:
                    self.assign_many([r for r in self.meta.regions(table)
                                      if r.state == CLOSED and r.waiting_for != UNASSIGNED])
            except Exception:  # noqa: BLE001 -- the next chore round tries again
                log.exception("reopening the closed regions of table %s failed", table)

    def _redrive(self, r: RegionRecord) -> None:
        try:
            if r.state == CLOSING:
                if r.server and not self.servers.is_live(r.server):
                    with self.region_lock(r.info.encoded_name):
                        cur = self.meta.read_region(r.info.table, r.info.encoded_name)
                        if cur is None or cur.state != CLOSING:
                            return
                        r = self.meta.set_region(cur, OFFLINE, server="")
                else:
                    r = self.unassign(r)
                if r is None or r.state == CLOSING:
                    return
            self.assign(r, preferred=r.server or None)
        except Exception:  # noqa: BLE001
            log.exception("re-driving %s failed", r.info.name)

    def move(self, rec: RegionRecord, target: str | None) -> RegionRecord | None:
        """Close on the current server, open on `target` (or the least loaded other server)."""
        source = rec.server
        closed = self.unassign(rec, waiting_for=f"move from {source}")
        if closed is None or closed.state in (CLOSING,) + SPLIT_OR_MERGE:
            return closed
        if target is None:
            self.refresh_load()
            target = self.pick_server({source} if source else set())
        return self.assign(closed, preferred=target)

    def offload(self, server: str) -> int:
        """Move every region open or opening on `server` to the other assignable servers (a
        decommission); returns how many now serve elsewhere."""
        # OPENING too: move waits for the open (the region lock), then closes it there
        recs = [r for r in self.meta.all_regions()
                if r.state in (OPEN, OPENING) and r.server == server]
        # Targets are picked here, one region after the other, each counting the ones picked
        # before it: the moves run in parallel, and each picking for itself would see the
        # same counts (regions in flight are on no server) and choose the same server.
        load = self.refresh_load()
        targets = [s for s in self.servers.assignable() if s != server]
        plan = []
        for rec in recs:
            target = min(targets, key=lambda s: (load.get(s, 0), s)) if targets else None
            if target is not None:
                load[target] = load.get(target, 0) + 1
            plan.append((rec, target))
        moved = [self.pool.submit(self.move, r, target) for r, target in plan]
        return sum(1 for f in moved if _served_elsewhere(f.result(), server))

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            timers = [t for _, t in self._retries.values() if t]
            self._retries.clear()
        for t in timers:
            t.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.batch_pool.shutdown(wait=False, cancel_futures=True)


def _served_elsewhere(rec: RegionRecord | None, server: str) -> bool:
    return rec is not None and rec.state == OPEN and rec.server != server


def _lost(rec: RegionRecord, server: str, listed: set, received_ms: int,
          margin_s: float) -> bool:
    """Whether `server`'s report, listing the regions `listed` and received at `received_ms`
    (the master's clock), shows that it no longer serves the region meta has OPEN there (see
    reopen_lost)."""
    return (rec.state == OPEN and rec.server == server and rec.info.name not in listed
            and received_ms > rec.since_ms + margin_s * 1000)


def _is_ghost(rec: RegionRecord | None, server: str) -> bool:
    """Whether meta rules out `server` serving the region `rec` records (None: not in meta)."""
    if rec is None:
        return True
    if rec.state == OPEN:
        return rec.server != server
    return rec.state in (OFFLINE, CLOSED, FAILED_OPEN)
