"""A chaos monkey for minihbase: HBase's ChaosMonkey with a policy of random actions, one at a
time, bounded in count and time (docs/chaos.md).

Process actions need a LocalCluster this process started and only touch its daemons:
    kill_regionserver    SIGKILL a region server holding regions of the table, restart it on
                         its port after a random delay (before or after its session expires)
    kill_master          SIGKILL the active master (only while a backup runs), restart it as a
                         backup once another master is active
    freeze_regionserver  SIGSTOP a region server past its session expiry, SIGCONT it once its
                         regions serve elsewhere: it must abort (exit non-zero), then restart
    freeze_master        start a move, SIGSTOP the active master 0-50 ms later, SIGCONT it once
                         a backup took over and every region serves: it must exit non-zero,
                         no region may be open on two servers; then restart it
    kill_during_split    start a split (merge) and SIGKILL the server holding the region
    kill_during_merge    0-150 ms later; restart it once its regions serve elsewhere
Table actions go through the client's admin calls: move, split, merge (two adjacent
regions), balance (the balancer, run now), flush, major_compact.

Every action ends only when every region of the table is OPEN on a live server (not the
victim) and answers a read: its `seconds` is "action started -> regions serving again". At most
one daemon is down at any time and never every master. The monkey stops at the first action
that fails (a region that never serves again, a frozen server that does not abort).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass

from minihbase.errors import HBaseError
from minihbase.local_cluster import wait_until

PROCESS_ACTIONS = ("kill_regionserver", "kill_master", "freeze_regionserver", "freeze_master",
                   "kill_during_split", "kill_during_merge")
TABLE_ACTIONS = ("move", "split", "merge", "balance", "flush", "major_compact")


class ChaosError(RuntimeError):
    """An action's cluster did not recover as promised; the message says what is stuck."""


@dataclass
class Action:
    name: str
    started: float  # time.monotonic()
    ended: float = 0.0
    serving_at: float = 0.0  # when every region first served again after the disruption
    target: str = ""
    detail: str = ""
    ok: bool = True

    @property
    def seconds(self) -> float:
        """Action started -> every region serving again (the whole action when unknown)."""
        return (self.serving_at or self.ended) - self.started


class ChaosMonkey(threading.Thread):
    """Runs actions on `table` until `duration` s or `max_actions`, whichever comes first; with
    `plan`, exactly those actions in that order. `actions` is written by this thread only;
    read it after join()."""

    def __init__(self, conn, table: str, cluster=None, *, plan=None, allowed=None,
                 duration: float = 60.0, max_actions: int = 20, pause=(2.0, 6.0),
                 session_timeout: float = 15.0, recovery_timeout: float = 120.0,
                 restart_delay=None, max_regions: int = 16, seed: int | None = None,
                 log=print):
        super().__init__(daemon=True, name="chaos-monkey")
        self.conn, self.table, self.cluster = conn, table, cluster
        self.plan = list(plan) if plan else None
        default = TABLE_ACTIONS + (PROCESS_ACTIONS if cluster is not None else ())
        self.allowed = tuple(allowed or default)
        self.duration, self.max_actions, self.pause = duration, max_actions, pause
        self.session_timeout, self.recovery_timeout = session_timeout, recovery_timeout
        # A killed region server restarts after this many seconds: before its session
        # expired (its successor on the same port replaces it) or after (a real expiry).
        self.restart_delay = restart_delay or (0.0, 1.5 * session_timeout)
        self.max_regions = max_regions
        self.rnd = random.Random(seed)
        self.log = log
        self.actions: list[Action] = []
        self.started = time.monotonic()

    @property
    def failed(self) -> list[Action]:
        return [a for a in self.actions if not a.ok]

    def active_during(self, start: float, end: float) -> bool:
        """Some action overlapped [start, end] (monotonic times)."""
        return any(a.started <= end and (a.ended or time.monotonic()) >= start
                   for a in self.actions)

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        self.started = time.monotonic()
        deadline = self.started + self.duration
        while len(self.actions) < self.max_actions and time.monotonic() < deadline:
            if self.plan is not None and len(self.actions) == len(self.plan):
                break
            action = self._run(self.plan[len(self.actions)] if self.plan else None)
            if not action.ok:
                break
            time.sleep(self.rnd.uniform(*self.pause))

    def _pick(self) -> str:
        count = len(self._wait(self._open_regions, self.recovery_timeout, "open regions"))
        choices = [n for n in self.allowed
                   if not (n.endswith("split") and count >= self.max_regions)
                   and not (n.endswith("merge") and count <= 2)]
        return self.rnd.choice(choices)

    def _run(self, name: str | None) -> Action:
        """Run action `name` (None: a random one) and record how it went."""
        action = Action(name or "pick", time.monotonic())
        self.actions.append(action)
        try:
            action.name = name or self._pick()
            getattr(self, "_" + action.name)(action)
        except Exception as exc:  # noqa: BLE001 -- any failure of an action fails the run
            action.ok = False
            action.detail = f"{action.detail}; {type(exc).__name__}: {exc}".lstrip("; ")
        action.ended = time.monotonic()
        self.log(f"[{action.started - self.started:6.1f}s] {action.name} {action.target}: "
                 f"{'ok' if action.ok else 'FAILED'} in {action.seconds:.1f}s {action.detail}")
        return action

    # ------------------------------------------------------------------ waiting

    def _wait(self, predicate, timeout: float, what: str):
        return wait_until(predicate, timeout, what, interval=0.2, error=ChaosError)

    def _open_regions(self) -> list[dict]:
        return [r for r in self.conn.regions(self.table) if r["state"] == "OPEN"]

    def _serving(self, avoid: str | None) -> list[dict] | None:
        live = {s["name"] for s in self.conn.status()["servers"] if s["state"] == "ONLINE"}
        regions = self.conn.regions(self.table)
        if any(r["state"] != "OPEN" or r["server"] not in live or r["server"] == avoid
               for r in regions):
            return None
        table = self.conn.table(self.table)
        for r in regions:
            table.row(r["start_key"] or b"\x00")
        return regions

    def _wait_serving(self, a: Action, avoid: str | None = None) -> list[dict]:
        regions = self._wait(lambda: self._serving(avoid), self.recovery_timeout,
                             f"every region of {self.table!r} serving"
                             + (f" on a server other than {avoid}" if avoid else ""))
        a.serving_at = a.serving_at or time.monotonic()
        return regions

    # ------------------------------------------------------------------ process actions

    def _victim_regionserver(self):
        """A live region server of the cluster, preferably one holding regions."""
        holding = {r["server"] for r in self._open_regions()}
        alive = self.cluster.running("regionserver")
        if not alive:
            raise ChaosError("no live region server to act on")
        return self.rnd.choice([d for d in alive if d.name in holding] or alive)

    def _kill_regionserver(self, a: Action) -> None:
        d = self._victim_regionserver()
        a.target = d.name
        d.signal(signal.SIGKILL)
        d.wait(10)
        delay = self.rnd.uniform(*self.restart_delay)
        if delay >= self.session_timeout:  # recovery by session expiry, then the restart
            self._wait_serving(a, avoid=d.name)
        time.sleep(max(0.0, a.started + delay - time.monotonic()))
        expired = d.name not in self.cluster.live_regionservers()
        self.cluster.restart(d)
        a.detail = (f"restarted after {delay:.1f}s, "
                    f"{'after' if expired else 'before'} its session expired")
        self._wait_serving(a, avoid=d.name)

    def _kill_master(self, a: Action) -> None:
        old = self.cluster.master_daemon(active=True)
        if old is None or not self.cluster.backup_masters():
            a.detail = "skipped: no active master with a live backup"
            return
        a.target = old.name
        old.signal(signal.SIGKILL)
        old.wait(10)
        new = self._wait(lambda: self.cluster.active_master() not in (None, old.name)
                         and self.cluster.active_master(),
                         self.session_timeout + self.recovery_timeout, "a backup master active")
        a.detail = f"{new} active after {time.monotonic() - a.started:.1f}s"
        self._wait_serving(a)
        self.cluster.restart(old)

    def _freeze_regionserver(self, a: Action) -> None:
        d = self._victim_regionserver()
        a.target = d.name
        d.signal(signal.SIGSTOP)
        try:
            self._wait(lambda: d.name not in self.cluster.live_regionservers(),
                       self.session_timeout + 30, "the frozen server's session to expire")
            self._wait_serving(a, avoid=d.name)
        finally:
            d.signal(signal.SIGCONT)
        if not d.wait(30) or d.exit_code() in (0, None):
            raise ChaosError(f"the fenced region server did not abort after SIGCONT "
                             f"(exit code {d.exit_code()})")
        a.detail = f"aborted with exit code {d.exit_code()}"
        self.cluster.restart(d)
        self._wait_serving(a)

    def _freeze_master(self, a: Action) -> None:
        """The zombie master: frozen in the middle of a move past its session, resumed once a
        backup took over. Its threads would send the commands they had prepared; region servers
        refuse them (docs/coordination.md, "Fencing the master")."""
        old = self.cluster.master_daemon(active=True)
        if old is None or not self.cluster.backup_masters():
            a.detail = "skipped: no active master with a live backup"
            return
        a.target = old.name
        r = self._random_region()
        outcome: list[str] = []
        mover = threading.Thread(target=lambda: outcome.append(
            _outcome(lambda: self.conn.move(r["name"]))), daemon=True)
        mover.start()
        time.sleep(self.rnd.uniform(0.0, 0.05))
        old.signal(signal.SIGSTOP)
        try:
            self._wait(lambda: self.cluster.active_master() not in (None, old.name),
                       self.session_timeout + self.recovery_timeout, "a backup master active")
            self._wait_serving(a)
        finally:
            old.signal(signal.SIGCONT)
        if not old.wait(30) or old.exit_code() in (0, None):
            raise ChaosError(f"the frozen master did not exit after SIGCONT "
                             f"(exit code {old.exit_code()})")
        mover.join(self.recovery_timeout)
        time.sleep(1.0)  # what the zombie sent in its last moments has arrived
        twice = _open_on_two_servers(self.cluster, self.table)
        if twice:
            raise ChaosError(f"regions open on two servers after the zombie master: {twice}")
        a.detail = (f"exit code {old.exit_code()}; the move: "
                    f"{outcome[0] if outcome else 'did not return'}")
        self.cluster.restart(old)
        self._wait_serving(a)

    # ------------------------------------------------------------------ table actions

    def _random_region(self) -> dict:
        regions = self._open_regions()
        if not regions:
            raise ChaosError(f"no open region of {self.table!r}")
        return self.rnd.choice(regions)

    def _move(self, a: Action) -> None:
        r = self._random_region()
        a.target = r["encoded"]
        self.conn.move(r["name"])
        moved = {x["encoded"]: x for x in self._wait_serving(a)}.get(r["encoded"])
        a.detail = f"{r['server']} -> {moved['server'] if moved else '(split/merged)'}"

    def _split(self, a: Action) -> None:
        call, _ = self._split_call(a)
        self._refusable(a, call)
        self._wait_serving(a)

    def _merge(self, a: Action) -> None:
        call, _ = self._merge_call(a)
        self._refusable(a, call)
        self._wait_serving(a)

    def _split_call(self, a: Action):
        """(the split of a random region, the server holding it)"""
        r = self._random_region()
        a.target = r["encoded"]
        return (lambda: self.conn.split(r["name"])), r["server"]

    def _merge_call(self, a: Action):
        """(the merge of a random run of two or three adjacent regions, the server holding the
        first)"""
        n = self.rnd.choice([2, 3])
        runs = self._wait(lambda: _adjacent_open_runs(self.conn.regions(self.table), n)
                          or _adjacent_open_runs(self.conn.regions(self.table), 2),
                          self.recovery_timeout, "two adjacent open regions to merge")
        run = self.rnd.choice(runs)
        a.target = "+".join(r["encoded"] for r in run)
        return (lambda: self.conn.merge(*(r["name"] for r in run))), run[0]["server"]

    def _kill_during_split(self, a: Action) -> None:
        self._kill_during(a, *self._split_call(a))

    def _kill_during_merge(self, a: Action) -> None:
        self._kill_during(a, *self._merge_call(a))

    def _kill_during(self, a: Action, call, server: str) -> None:
        """Start a split or merge and SIGKILL the server holding its region 0-150 ms later:
        the crash procedure races the split/merge journal (HBase runs its monkey's policies
        in parallel, so its actions overlap too). Either may win; nothing may be lost."""
        d = next((x for x in self.cluster.running("regionserver") if x.name == server), None)
        if d is None:
            raise ChaosError(f"{server} is not a region server of this cluster")
        outcome: list[str] = []
        caller = threading.Thread(target=lambda: outcome.append(_outcome(call)), daemon=True)
        caller.start()
        time.sleep(self.rnd.uniform(0.0, 0.15))
        d.signal(signal.SIGKILL)
        d.wait(10)
        self._wait_serving(a, avoid=d.name)
        caller.join(self.recovery_timeout)
        self.cluster.restart(d)
        self._wait_serving(a)
        if not outcome:
            raise ChaosError("the split/merge call did not return")
        a.detail = f"killed {d.name}; the call: {outcome[0]}"

    def _refusable(self, a: Action, call) -> None:
        """A split or merge the master refuses (a region too small, one already in
        transition) is recorded as refused, not failed: HBase's monkey skips those too."""
        try:
            call()
        except HBaseError as exc:
            if exc.retryable:
                raise
            a.detail = f"refused: {exc}"

    def _balance(self, a: Action) -> None:
        moves = self.conn.balance()
        a.detail = "balancer switched off" if moves is None else f"{moves} region(s) moved"
        self._wait_serving(a)

    def _flush(self, a: Action) -> None:
        a.target = self.table
        self.conn.flush(self.table)
        self._wait_serving(a)

    def _major_compact(self, a: Action) -> None:
        a.target = self.table
        self.conn.compact(self.table, major=True)
        self._wait_serving(a)


def _adjacent_open_runs(regions: list[dict], n: int) -> list[list[dict]]:
    """Every run of `n` regions that are OPEN and adjacent (each ends where the next starts).
    Only OPEN regions, sorted, are not enough: one in transition between two of them leaves a
    gap, and the master refuses that merge (not adjacent) instead of the monkey merging."""
    regions = sorted(regions, key=lambda r: r["start_key"])
    return [regions[i:i + n] for i in range(len(regions) - n + 1)
            if all(r["state"] == "OPEN" for r in regions[i:i + n])
            and all(a["end_key"] == b["start_key"]
                    for a, b in zip(regions[i:i + n], regions[i + 1:i + n]))]


def _outcome(call) -> str:
    try:
        call()
    except HBaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "done"


def _open_on_two_servers(cluster, table: str) -> dict[str, list[str]]:
    """Regions of `table` that more than one live region server says it has open (asked
    directly, not through the master's view)."""
    import grpc

    from coordination.znodes import Paths, ServerRecord
    from protos import minihbase_pb2 as pb
    from protos import minihbase_pb2_grpc as pb_grpc

    where: dict[str, list[str]] = {}
    zk = cluster.zk()
    for name in cluster.live_regionservers():
        rec = ServerRecord.from_bytes(zk.get(Paths(cluster.zk_parent).live_server(name))[0])
        with grpc.insecure_channel(f"{rec.host}:{rec.port}") as channel:
            try:
                load = pb_grpc.RegionServerStub(channel).GetServerLoad(pb.Empty(), timeout=10)
            except grpc.RpcError:
                continue  # gone meanwhile
        for rl in load.regions:
            if rl.table == table and rl.state == "OPEN":
                where.setdefault(rl.region, []).append(name)
    return {region: servers for region, servers in where.items() if len(servers) > 1}
