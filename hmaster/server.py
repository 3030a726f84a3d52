"""The HMaster process: lifecycle and the gRPC Master service (see docs/coordination.md,
"Master failover").

Lifecycle:
  1. open a ZooKeeper session; a LOST (expired) session ends the process at once -- a master
     that was declared gone must not keep writing meta;
  2. start gRPC (every call answers MasterNotRunningError until this master is active);
  3. race for /hbase/master (election.py); as a backup, wait;
  4. when active: ensure the znode layout, watch /hbase/rs, then rebuild from ZooKeeper and the
     file system in the background ("recovery"): resume crash procedures (servers/ not DEAD),
     declare crashed any server meta points at that is neither live nor known, settle regions
     left OPENING/CLOSING, resume split/merge journals, finish ENABLING/DISABLING tables,
     assign every region still OFFLINE/FAILED_OPEN, and remove unfinished snapshot attempts;
  5. chores, every min(5 s, --balancer-period): the split/merge janitor, retries of failed
     crash procedures, re-driving regions stuck in transition, closing copies of regions that
     servers report open where meta does not place them, reopening regions meta has open on a
     server whose reports no longer list them, pruning old DEAD entries,
     deleting archived WALs older than --oldwals-ttl (log_cleaner.py); the balancer every
     --balancer-period seconds; every ORPHAN_CHECK_S the consistency check (hbck.py), which
     deletes orphaned region directories older than --orphan-grace, and the pruning of
     split/merge/move nonce records older than NONCE_TTL_S; the region normalizer
     (normalizer.py) every --normalizer-period seconds.
SIGTERM (main.py) calls stop(): gRPC stops, the session closes, /hbase/master vanishes and a
backup takes over at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from kazoo.client import KazooState
from kazoo.exceptions import NodeExistsError

from coordination import zk as zk_mod
from coordination.znodes import (CLOSED, CLOSING, DEAD, DISABLED, DISABLING, ENABLED, ENABLING,
                                 FAILED_OPEN, OFFLINE, ONLINE, OPEN, OPENING, MasterRecord, Paths,
                                 server_name)
from hmaster.assignment import UNASSIGNED, AssignmentManager
from hmaster.balancer import Balancer
from hmaster.crash import CrashHandler
from hmaster import hbck
from hmaster.ddl import TableDDL
from hmaster.election import MasterElection
from hmaster.log_cleaner import clean_old_wals
from hmaster.meta import MetaStore
from hmaster.normalizer import NormalizerConfig, RegionNormalizer
from hmaster.rs_client import RegionServerClients
from hmaster.server_manager import ServerManager, superseded
from hmaster.servicer import MasterServicer
from hmaster.snapshots import SnapshotManager
from hmaster.split_merge import NONCE_TTL_S, SplitMergeCoordinator
from minihbase.errors import ClockOutOfSyncError, TableNotFoundError
from minihbase.metrics import RpcMetrics
from protos import minihbase_pb2_grpc as pb_grpc
from protos.limits import DAEMON_MESSAGE_OPTIONS
from protos.status import RefuseMalformedInterceptor
from storage import layout

log = logging.getLogger(__name__)

ORPHAN_CHECK_S = 60.0  # the consistency check (and orphan cleaner) runs this often
JOIN_SETTLE_S = 0.5  # joins this close together are handled as one (see _on_server_join)


@dataclass
class MasterConfig:
    zk: str
    rootdir: str
    bind: str = "0.0.0.0"
    port: int = 16000
    advertise: str = ""
    info_port: int = 16010
    zk_parent: str = "/hbase"
    session_timeout: float = 15.0
    balancer_period: float = 30.0
    backup: bool = False  # HBase's --backup: wait for an active master before contending
    oldwals_ttl: float = 600.0  # archived WAL segments are deleted this long after (log_cleaner)
    orphan_grace: float = 600.0  # orphaned region directories are deleted this long after (hbck)
    max_clock_skew: float = 30.0  # region servers further off are refused (server_manager)
    warn_clock_skew: float = 10.0  # region servers further off are logged
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)  # its settings


class MasterServer:
    def __init__(self, config: MasterConfig, *, on_session_lost=None):
        self.config = config
        self._hbck_lock = threading.Lock()  # one consistency check at a time (chore, RPC)
        self.hbck_report: tuple[float, list] | None = None  # (when, problems) of the last check
        self._hbck_seen: set = set()  # guarded by _hbck_lock: keys of the last check's problems
        # guarded by _hbck_lock: orphan path -> when (monotonic) checks began to find it
        self._orphans_since: dict[str, float] = {}
        self.cluster_id_problem: str | None = None  # set when rootdir and ZooKeeper disagree
        self.rootdir = os.path.abspath(config.rootdir)
        self.paths = Paths(config.zk_parent)
        self.startcode = int(time.time() * 1000)
        self.host = config.advertise or os.uname().nodename
        self.name = ""  # host,port,startcode once the port is bound
        # Set once this master holds /hbase/master and watches servers (by the election thread),
        # cleared by stop(); RPC threads read it without a lock.
        self.active = False
        self.recovered = threading.Event()  # set once startup recovery finished
        self.cluster_id = ""
        self._stopped = threading.Event()
        self._on_session_lost = on_session_lost or self._exit_on_session_loss
        self.zk = None
        self.grpc_server = None
        self.info_server = None
        self._join_lock = threading.Lock()
        self._join_timer: threading.Timer | None = None  # guarded by _join_lock

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "MasterServer":
        os.makedirs(self.rootdir, exist_ok=True)
        self.zk = zk_mod.connect(self.config.zk, session_timeout=self.config.session_timeout,
                                 connect_timeout=zk_mod.DAEMON_CONNECT_TIMEOUT_S)
        self.zk.add_listener(self._session_listener)
        self.meta = MetaStore(self.zk, self.paths)
        self.servers = ServerManager(self.zk, self.paths, self.meta,
                                     max_clock_skew_s=self.config.max_clock_skew,
                                     warn_clock_skew_s=self.config.warn_clock_skew)
        self.clients = RegionServerClients(self.zk, self.paths, on_stale=self._on_stale)
        self.assignment = AssignmentManager(self.meta, self.clients, self.servers)
        self.crash = CrashHandler(self.meta, self.servers, self.assignment, self.rootdir)
        self.ddl = TableDDL(self.meta, self.assignment, self.rootdir)
        self.splits = SplitMergeCoordinator(self.meta, self.assignment, self.rootdir,
                                            self.ddl.namespace_lock)
        self.balancer = Balancer(self.meta, self.assignment)
        self.normalizer = RegionNormalizer(
            self.meta, self.servers, self.splits, self.config.normalizer,
            active=lambda: self.active and not self._stopped.is_set())
        self.snapshots = SnapshotManager(self.meta, self.assignment, self.ddl, self.splits,
                                         self.rootdir)

        self.rpc_metrics = RpcMetrics()  # latency by method, for the info port's /metrics
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=32,
                                                                  thread_name_prefix="rpc"),
                                       interceptors=[self.rpc_metrics.interceptor(),
                                                     RefuseMalformedInterceptor()],
                                       # a second master on a taken port must fail to bind,
                                       # not share it (gRPC's default SO_REUSEPORT)
                                       options=[("grpc.so_reuseport", 0)]
                                       + DAEMON_MESSAGE_OPTIONS)
        pb_grpc.add_MasterServicer_to_server(MasterServicer(self), self.grpc_server)
        try:
            port = self.grpc_server.add_insecure_port(f"{self.config.bind}:{self.config.port}")
        except RuntimeError:  # grpcio's "Failed to bind"; C-core logged the reason
            port = 0
        if port == 0:
            raise RuntimeError(f"cannot bind {self.config.bind}:{self.config.port} (is another "
                               "process, maybe an old master, using the port?)")
        self.port = port
        self.name = server_name(self.host, port, self.startcode)
        self.clients.sender = self.name
        self.servers.master_name = self.name
        self.grpc_server.start()
        self._start_info_server()
        info_port = self.info_server.port if self.info_server else 0
        log.info("master %s serving gRPC on %s:%d, info port %d", self.name, self.config.bind,
                 port, info_port)
        self.election = MasterElection(
            self.zk, self.paths, MasterRecord(self.name, self.host, port, info_port),
            backup=self.config.backup)
        self.zk.ensure_path(self.paths.backup_masters)
        threading.Thread(target=self._run, name="master-main", daemon=True).start()
        return self

    def _start_info_server(self) -> None:
        if self.config.info_port < 0:
            return
        try:
            from hmaster.web import InfoServer
        except ImportError:
            return
        try:
            self.info_server = InfoServer(self, self.config.bind, self.config.info_port).start()
        except OSError as e:
            log.warning("info server not started on port %d: %s", self.config.info_port, e)

    def _session_listener(self, state) -> None:
        if state == KazooState.LOST and not self._stopped.is_set():
            log.critical("ZooKeeper session expired: this master may have been replaced; "
                         "aborting")
            # Right here, on kazoo's connection thread: kazoo opens a new session once its
            # listeners return, and another thread of this master could still write meta on it
            # (requests made in the old session's last moments fail; later ones would not).
            self._on_session_lost()
        elif state == KazooState.SUSPENDED:
            log.warning("ZooKeeper connection suspended; waiting to reconnect")

    def _on_stale(self, refusal: Exception) -> None:
        """A region server refused a command: /hbase/master names another master, so this one
        was frozen past its session and has not heard of it yet. Stop acting at once."""
        if self._stopped.is_set():
            return
        self.active = False
        log.critical("a region server refused this master's command (%s): another master is "
                     "active; aborting", refusal)
        threading.Thread(target=self._on_session_lost, daemon=True).start()

    @staticmethod
    def _exit_on_session_loss() -> None:
        logging.shutdown()
        os._exit(3)

    def _run(self) -> None:
        try:
            if not self.election.wait_until_active():
                return
            self._become_active()
        except Exception:  # noqa: BLE001
            if not self._stopped.is_set():
                log.exception("master failed while becoming active; aborting")
                self._on_session_lost()

    def _become_active(self) -> None:
        self.meta.ensure_layout()
        self.cluster_id = self._ensure_cluster_id()
        try:
            self.zk.create(self.paths.running, b"", makepath=True)
        except NodeExistsError:
            pass
        self.servers.on_join = self._on_server_join
        self.servers.on_leave = self.crash.handle
        self.servers.start()
        self.active = True
        log.info("active master %s: recovering state from ZooKeeper and %s", self.name,
                 self.rootdir)
        started = time.monotonic()
        try:
            self.recover()
        except Exception:  # noqa: BLE001 -- chores retry what recovery could not finish
            if self._stopped.is_set():
                return  # stopping: ZooKeeper calls fail, nothing to report
            log.exception("startup recovery incomplete; the chores will retry")
        self.recovered.set()
        log.info("master %s initialised in %.3fs", self.name, time.monotonic() - started)
        self._chores()

    def _ensure_cluster_id(self) -> str:
        """The cluster id, kept in ZooKeeper and in the root directory (HBase's hbase.id).
        The root directory's wins when ZooKeeper has none (it was wiped); when they differ,
        this ZooKeeper belongs to another cluster than the data, and the orphan cleaner, which
        would take the data for orphans, is switched off."""
        path = os.path.join(self.rootdir, layout.CLUSTER_ID)
        try:
            with open(path) as f:
                on_disk = f.read().strip() or None
        except FileNotFoundError:
            on_disk = None
        try:
            self.zk.create(self.paths.cluster_id, (on_disk or str(uuid.uuid4())).encode(),
                           makepath=True)
        except NodeExistsError:
            pass
        cluster_id = self.zk.get(self.paths.cluster_id)[0].decode()
        if on_disk is None:
            layout.make_dirs(self.rootdir)
            layout.atomic_write(path, cluster_id.encode())
        elif on_disk != cluster_id:
            self.cluster_id_problem = (
                f"{path} says cluster {on_disk}, ZooKeeper {self.config.zk}"
                f"{self.config.zk_parent} says {cluster_id}: they belong to different "
                f"clusters; nothing is deleted as an orphan until they agree")
            log.error("%s", self.cluster_id_problem)
        return cluster_id

    def _on_server_join(self, name: str) -> None:
        if self._stopped.is_set():
            return
        self._retire_earlier_incarnations(name)
        if not self._clock_in_sync(name) or not self.servers.register_online(name):
            return
        # Servers usually start together (make up, a restart): wait a moment for the others
        # so waiting regions spread over all of them instead of piling onto the first one and
        # being moved by the balancer right after. Joins within the window share one run.
        with self._join_lock:
            if self._join_timer is not None:
                self._join_timer.cancel()
            self._join_timer = threading.Timer(JOIN_SETTLE_S, self._after_joins)
            self._join_timer.daemon = True
            self._join_timer.start()

    def _clock_in_sync(self, name: str) -> bool:
        """Check a joining server's clock before it can be given regions (HBase checks it when
        the server reports for duty); False if it is refused. A server that does not answer yet
        is checked on its first load report instead (server_manager, "Clock skew")."""
        low_ms = int(time.time() * 1000)
        try:
            built_ms = self.clients.server_load(name).built_ms
        except Exception as e:  # noqa: BLE001 -- unreachable, or its znode already gone
            log.info("reading the clock of joining region server %s failed (%s); its first "
                     "report is checked instead", name, e)
            return True
        try:
            self.servers.check_clock(name, built_ms, low_ms, int(time.time() * 1000))
        except ClockOutOfSyncError:
            return False
        return True

    def _retire_earlier_incarnations(self, name: str) -> None:
        """A region server restarted on the same host and port (a container restart) joins
        under a new startcode while its killed predecessor's znode lives until that session
        expires. Every call addressed to the old name would reach the new process, which would
        answer "not serving" for the old regions and have them reopened before their WAL was
        split. So the old incarnation is crashed at once, as HBase's ServerManager does."""
        for old in sorted(superseded(self.servers.live() - {name}, by=name)):
            log.info("region server %s restarted as %s: handling the old one as crashed",
                     old, name)
            self.servers.mark_dead(old)  # before the new one can be given any region
            threading.Thread(target=self.crash.handle, args=(old,), daemon=True,
                             name=f"crash-{old}").start()

    def _after_joins(self) -> None:
        if self._stopped.is_set():
            return
        try:
            self.assignment.retry_waiting(wait=True)
            self.balancer.balance()
        except Exception:  # noqa: BLE001
            if not self._stopped.is_set():
                log.exception("assignment after a server joined failed; chores will retry")

    # --- recovery ----------------------------------------------------------------------------

    def recover(self) -> None:
        for name in sorted(self.servers.live()):
            self.servers.register_online(name)
        workers = [threading.Thread(target=self.crash.handle, args=(n,), daemon=True)
                   for n in sorted(self._servers_to_crash_handle())]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        # Each step on its own: one that fails (a table dropped meanwhile, a ZooKeeper error)
        # must not skip the others; the chores retry what is left (repair, janitor, crashes).
        for step in (self._settle_in_flight, self.splits.resume, self._finish_table_transitions,
                     self.ddl.resume_alters, self._assign_waiting,
                     self.snapshots.remove_unfinished, self.ddl.remove_leftovers):
            try:
                step()
            except Exception:  # noqa: BLE001
                if self._stopped.is_set():
                    raise
                log.exception("recovery step %s failed; going on", step.__name__)

    def _finish_table_transitions(self) -> None:
        """Finish enables and disables the old master left half-done, table by table."""
        for t in self.meta.tables():
            try:
                rec = self.meta.read_table(t)
                if rec.state == ENABLING:
                    self.ddl.finish_enable(rec)
                elif rec.state == DISABLING:
                    self.ddl.finish_disable(rec)
            except Exception:  # noqa: BLE001 -- e.g. dropped meanwhile
                log.exception("finishing the enable/disable of table %s failed", t)

    def _settle_in_flight(self) -> None:
        """Regions the old master left OPENING/CLOSING on a live server: ask that server."""
        # server -> the regions it has OPEN (not merely OPENING or CLOSING), asked once: a
        # master killed mid-way through a crash's reassignment leaves hundreds OPENING, and
        # each answer lists every region of the server
        open_on: dict[str, set[str]] = {}
        for r in self.meta.all_regions():
            if r.state not in (OPENING, CLOSING) or not self.servers.is_live(r.server):
                continue
            if r.server not in open_on:
                try:
                    open_on[r.server] = {rl.region for rl in
                                         self.clients.server_load(r.server).regions
                                         if rl.state == OPEN}
                except Exception:  # noqa: BLE001 -- each of its regions is reopened
                    open_on[r.server] = set()
            is_open = r.info.name in open_on[r.server]
            try:
                tstate = self.meta.read_table(r.info.table).state
            except TableNotFoundError:
                continue  # dropped meanwhile
            if r.state == OPENING:
                if is_open:
                    self.meta.set_region(r, OPEN)
                else:
                    self.assignment.assign(r, preferred=r.server)
            else:
                final = CLOSED if tstate in (DISABLED, DISABLING) else OFFLINE
                self.assignment.unassign(r, final_state=final)

    def _assign_waiting(self) -> None:
        todo = []
        for t in self.meta.tables():
            try:
                if self.meta.read_table(t).state != ENABLED:
                    continue
            except TableNotFoundError:
                continue  # dropped meanwhile
            todo += [r for r in self.meta.regions(t)
                     if r.state in (OFFLINE, FAILED_OPEN, CLOSED)
                     and r.waiting_for != UNASSIGNED]  # an admin's unassign stands
        self.assignment.assign_many(todo)

    def _chores(self) -> None:
        period = max(0.5, self.config.balancer_period)
        janitor_period = min(period, 5.0)
        next_balance = time.monotonic() + period
        next_check = time.monotonic() + ORPHAN_CHECK_S
        next_normalize = time.monotonic() + self.config.normalizer.period
        while not self._stopped.wait(janitor_period):
            try:
                self.splits.janitor(forced=False)  # not while catalogjanitor_switch is off
                self.splits.resume_stalled()
                # one read of meta for all four: with hundreds of regions, reading it is most
                # of what an idle master does
                regions = self.meta.all_regions()
                self._resume_crashes(regions)
                self.assignment.repair(try_table_lock=self.ddl.try_table_lock, regions=regions)
                self.assignment.close_ghosts(regions)
                self.assignment.reopen_lost(regions)
                self.ddl.finish_interrupted()
                self._prune_dead_servers()
                self._prune_decommissioned()
                clean_old_wals(self.rootdir, self.config.oldwals_ttl)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + ORPHAN_CHECK_S
                    self.consistency_check(clean=True)
                    self.meta.prune_nonces(NONCE_TTL_S)
                if time.monotonic() >= next_balance:
                    next_balance = time.monotonic() + period
                    self.balancer.balance()
                if time.monotonic() >= next_normalize:
                    next_normalize = time.monotonic() + self.config.normalizer.period
                    # its own thread: a run of many splits must not hold up the janitor,
                    # repair and balancer (a run under way makes this one skip its turn)
                    threading.Thread(target=self._normalize, name="normalizer",
                                     daemon=True).start()
            except Exception:  # noqa: BLE001
                if not self._stopped.is_set():
                    log.exception("chore failed")

    def _normalize(self) -> None:
        try:
            self.normalizer.run()
        except Exception:  # noqa: BLE001 -- the next period tries again
            if not self._stopped.is_set():
                log.exception("normalizer run failed")

    def consistency_check(self, clean: bool = False) -> tuple[list, list, int]:
        """HBase's HBCK report (hbck.py), kept for the web page: (problems, removed, too_new:
        orphan-looking directories too new to judge). clean: also delete orphaned region
        directories and stale snapshot attempts older than --orphan-grace (0: never); those
        are `removed` and no longer problems."""
        removed: list = []
        with self._hbck_lock:
            problems, too_new = hbck.check(self.meta, self.servers.live(), self.rootdir,
                                           snapshot_attempts=self.snapshots.working_dirs())
            now = time.monotonic()
            self._orphans_since = {p.path: self._orphans_since.get(p.path, now)
                                   for p in problems if p.kind in hbck.CLEANED_KINDS}
            if self.cluster_id_problem:
                problems.append(hbck.Problem("CLUSTER_ID_MISMATCH", "", self.cluster_id_problem))
            elif clean and self.config.orphan_grace > 0 and self.recovered.is_set():
                seen_for = {path: now - t for path, t in self._orphans_since.items()}
                removed = hbck.remove_orphans(self.meta, problems, self.config.orphan_grace,
                                              seen_for, self.ddl.try_table_lock)
                removed += hbck.remove_stale_snapshot_attempts(
                    problems, self.config.orphan_grace, seen_for, self.snapshots.lock)
                problems = [p for p in problems if p not in removed]
            self.hbck_report = (time.time(), problems)
            seen, self._hbck_seen = self._hbck_seen, {p.key() for p in problems}
        for p in problems:
            if p.key() not in seen:  # each problem is logged once, when first found
                log.warning("hbck: %s %s", p.kind, p.detail)
        return problems, removed, too_new

    def _servers_to_crash_handle(self, regions=None) -> set[str]:
        """Servers not DEAD that are gone (znode vanished), declared crashed (by this master
        or an old one: a znode of that name still there belongs to a process that will abort,
        the name never comes back), restarted on the same address, or holding regions in meta
        while not live. recover() handles them; the chore retries them (a procedure may have
        failed, even before it could record CRASHED). regions: meta's, if just read."""
        live = self.servers.live()
        states = self.meta.server_states()
        todo = {n for n, st in states.items()
                if n not in live or st.state != ONLINE or not self.servers.is_live(n)}
        todo |= superseded(live)
        if regions is None:
            regions = self.meta.all_regions()
        todo |= {r.server for r in regions
                 if r.server and r.server not in live and r.state in (OPEN, OPENING, CLOSING)}
        return {n for n in todo if n not in states or states[n].state != DEAD}

    def _resume_crashes(self, regions=None) -> None:
        """Chore: retry crash procedures that failed or never started."""
        for name in sorted(self._servers_to_crash_handle(regions)):
            threading.Thread(target=self.crash.handle, args=(name,), daemon=True).start()

    def _prune_dead_servers(self, keep: int = 50) -> None:
        """Keep the newest `keep` DEAD entries (status shows them); drop older ones, and those
        of an address a newer incarnation now serves (HBase's DeadServer forgets a server once
        it is back): a cluster restarted whole declares its old servers dead only after the
        new ones joined, so the join alone (_forget_earlier_dead) misses them."""
        states = self.meta.server_states()
        dead = {n for n, st in states.items() if st.state == DEAD}
        live = self.servers.live()
        # not while its own znode lingers (its session not expired yet): forgotten, it would
        # count as a live server again, and its znode's expiry would make it dead anew
        back = (superseded(dead | live) & dead) - live
        by_age = sorted((states[n].since_ms, n) for n in dead - back)
        for name in back | {n for _, n in by_age[:-keep]}:
            self.meta.delete_server_state(name)
        listed = set(self.meta.server_states())  # also after a join or clear_deadservers
        self.crash.forget(listed)
        self.servers.forget_dead(listed)

    def _prune_decommissioned(self) -> None:
        """A decommissioned server that is gone stays gone (restarted, it has a new name)."""
        decommissioned = self.meta.decommissioned()  # first: one joining meanwhile is live
        live = self.servers.live()
        for name in decommissioned:
            if name not in live:
                self.meta.recommission(name)

    # --- stop --------------------------------------------------------------------------------

    def stop(self, grace: float = 2.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("master %s stopping", self.name)
        self.active = False
        with self._join_lock:
            if self._join_timer is not None:
                self._join_timer.cancel()
        if getattr(self, "election", None):
            self.election.stop()
        if getattr(self, "servers", None):
            self.servers.stop()
        if getattr(self, "assignment", None):
            self.assignment.stop()
        if self.grpc_server:
            self.grpc_server.stop(grace).wait(grace + 1)
        if self.info_server:
            self.info_server.stop()
        if self.zk:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:  # noqa: BLE001
                pass
        if getattr(self, "clients", None):
            self.clients.close()
        log.info("master %s stopped", self.name)

    def wait(self) -> None:
        self._stopped.wait()
