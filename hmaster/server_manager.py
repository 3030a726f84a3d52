"""Which region servers are alive, and their last reported load (see docs/coordination.md,
"Server states").

A kazoo ChildrenWatch on /hbase/rs fires at once when a server's ephemeral znode appears or
vanishes (a clean stop closes the session, so its znode vanishes immediately; a crashed server's
vanishes when its session expires). Joins and departures are handed to callbacks on their own
thread, so the watch thread never blocks on crash handling.

A server is *online* when its /hbase/rs znode exists and the master has not declared it dead
(servers/<name> not CRASHED/SPLITTING_WAL/DEAD): a restarted process gets a new startcode, hence a
new name, so a dead name never comes back.

Clock skew (HBase's ServerManager.checkClockSkew): a server that joins while this master is
active is refused when its clock differs from the master's by more than max_clock_skew_s, and
logged above warn_clock_skew_s. The master reads its clock when it joins (GetServerLoad's
built_ms) or, if that call fails, from its first load report; until then it is not online. A
refused server is never online (so never given a region); its next report is answered with
ClockOutOfSyncError, on which it aborts, and its departure is handled as any crash. Servers
already registered when this master became active were accepted by an earlier master: their
skew is only logged -- refusing them would take their regions down because of this master's
clock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kazoo.recipe.watchers import ChildrenWatch

from coordination.znodes import DEAD, ONLINE, Paths, parse_server_name
from hmaster.meta import MetaStore
from minihbase.errors import ClockOutOfSyncError

log = logging.getLogger(__name__)

# A report is built at most this long before it reaches the master (LoadReporter's call
# timeout): that much of the difference between its built_ms and the master's clock is transit.
REPORT_TRANSIT_MS = 5000


def superseded(names, by: str | None = None) -> set[str]:
    """Names in `names` whose host and port a newer incarnation (higher startcode) uses: a
    region server restarted on the same address before its old session expired. With `by`,
    only those that `by` supersedes."""
    newest: dict[tuple[str, int], int] = {}
    candidates = list(names) + ([by] if by else [])
    for n in candidates:
        host, port, startcode = parse_server_name(n)
        newest[(host, port)] = max(newest.get((host, port), startcode), startcode)
    out = set()
    for n in names:
        host, port, startcode = parse_server_name(n)
        if startcode < newest[(host, port)] and (
                by is None or parse_server_name(by)[:2] == (host, port)):
            out.add(n)
    return out


def names_matching(names, spec: str) -> list[str]:
    """The server names `spec` names, as HBase's decommission_regionservers reads it: a full
    name host,port,startcode, host,port, or a host name (all of its servers)."""
    parts = spec.count(",") + 1
    return [n for n in names if ",".join(n.split(",")[:parts]) == spec]


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


class ServerManager:
    def __init__(self, zk, paths: Paths, meta: MetaStore, *, max_clock_skew_s: float = 30.0,
                 warn_clock_skew_s: float = 10.0):
        self.zk = zk
        self.paths = paths
        self.meta = meta
        self.max_clock_skew_s = max_clock_skew_s  # hbase.master.maxclockskew
        self.warn_clock_skew_s = warn_clock_skew_s  # hbase.master.warningclockskew
        self.master_name = ""  # this master's name, for the messages
        self._lock = threading.Lock()
        self._live: set[str] = set()  # guarded by _lock: children of /hbase/rs
        self._dead: set[str] = set()  # guarded by _lock: names the master declared crashed
        self._loads: dict[str, object] = {}  # guarded by _lock: name -> last pb.ServerLoad
        # guarded by _lock: name -> this master's clock when that report arrived (a server's
        # built_ms is on its own clock, which may be off by up to max_clock_skew_s)
        self._received_ms: dict[str, int] = {}
        # guarded by _lock: joined servers whose clock is not checked yet; live names only
        self._clock_unchecked: set[str] = set()
        self._clock_seen: set[str] = set()  # guarded by _lock: skew looked at (live names only)
        self._refused: dict[str, str] = {}  # guarded by _lock: name -> why (live names only)
        self.on_join: Callable[[str], None] = lambda name: None
        self.on_leave: Callable[[str], None] = lambda name: None
        self._watch = None
        self._stopped = False

    def start(self) -> set[str]:
        """Start watching; returns the live servers at the time of the first listing."""
        first = threading.Event()

        def changed(children):
            if self._stopped:
                return False  # kazoo: stop watching
            self._update(set(children), initial=not first.is_set())
            first.set()
            return True

        self._watch = ChildrenWatch(self.zk, self.paths.rs, changed)
        first.wait(10)
        return self.live()

    def _update(self, children: set[str], initial: bool) -> None:
        with self._lock:
            joined = children - self._live
            left = self._live - children
            self._live = children
            for name in left:
                self._loads.pop(name, None)
                self._received_ms.pop(name, None)
                self._refused.pop(name, None)
            self._clock_unchecked = (self._clock_unchecked - left) | (set() if initial
                                                                      else joined)
            self._clock_seen -= left
        if initial:
            return  # the server's startup reconciliation handles the first listing
        for name in sorted(left):
            log.info("region server %s left (znode vanished)", name)
            threading.Thread(target=self.on_leave, args=(name,), daemon=True,
                             name=f"leave-{name}").start()
        for name in sorted(joined):
            log.info("region server %s joined", name)
            threading.Thread(target=self.on_join, args=(name,), daemon=True,
                             name=f"join-{name}").start()

    def live(self) -> set[str]:
        with self._lock:
            return set(self._live)

    def is_live(self, name: str) -> bool:
        with self._lock:
            return name in self._live and name not in self._dead

    def online(self) -> list[str]:
        """Live servers not declared dead, refused, or still waiting for their clock check:
        the only ones regions are assigned to."""
        with self._lock:
            return sorted(self._live - self._dead - self._clock_unchecked)

    def assignable(self) -> list[str]:
        """Online servers that regions may be assigned to: not decommissioned."""
        draining = set(self.meta.decommissioned())
        return [s for s in self.online() if s not in draining]

    def matching(self, spec: str) -> list[str]:
        """Online servers `spec` names (names_matching)."""
        return names_matching(self.online(), spec)

    def mark_dead(self, name: str) -> None:
        with self._lock:
            self._dead.add(name)
            self._loads.pop(name, None)
            self._received_ms.pop(name, None)

    def forget_dead(self, keep) -> None:
        """Drop the dead names that are neither in `keep` (the servers meta still lists) nor
        live (a lingering znode must stay excluded from online()): names never come back, so
        without this the set grows by one per server incarnation."""
        keep = set(keep)
        with self._lock:
            self._dead = {n for n in self._dead if n in keep or n in self._live}

    def register_online(self, name: str) -> bool:
        """Record a joined server as ONLINE; False if that name was already declared dead."""
        st = self.meta.read_server_state(name)
        if st is None:
            self.meta.write_server_state(name, ONLINE)
            self._forget_earlier_dead(name)
            return True
        if st.state == ONLINE:
            return True
        self.mark_dead(name)  # a dead name never comes back
        return False

    def _forget_earlier_dead(self, name: str) -> None:
        """A server back on its address: its earlier incarnations that were declared dead and
        recovered leave the dead-server list (HBase's cleanPreviousInstance)."""
        states = self.meta.server_states()
        dead = {n for n, st in states.items() if st.state == DEAD}
        for old in superseded(dead, by=name):
            self.meta.delete_server_state(old)

    def check_clock(self, name: str, server_ms: int, low_ms: int, high_ms: int) -> None:
        """Refuse `name` (ClockOutOfSyncError) if `server_ms`, its clock read while this master's
        read `low_ms`..`high_ms` (the call's round trip, which does not count as skew), is more
        than max_clock_skew_s away; log a warning above warn_clock_skew_s. A `server_ms` of 0
        (a server that does not tell its time) cannot be checked: it is accepted."""
        if not server_ms:
            with self._lock:
                self._clock_unchecked.discard(name)
            return
        if server_ms < low_ms:
            skew_ms, way, master_ms = low_ms - server_ms, "behind", low_ms
        else:
            skew_ms, way, master_ms = max(0, server_ms - high_ms), "ahead of", high_ms
        with self._lock:
            self._clock_unchecked.discard(name)
            self._clock_seen.add(name)
        clocks = (f"its clock read {_utc(server_ms)}, {skew_ms / 1000:.1f} s {way} master "
                  f"{self.master_name or '(this master)'}'s {_utc(master_ms)}")
        if skew_ms > self.max_clock_skew_s * 1000:
            why = (f"region server {name} refused: {clocks}, more than --max-clock-skew "
                   f"{self.max_clock_skew_s:g} s (HBase's hbase.master.maxclockskew); cell "
                   "timestamps and TTLs need the servers' clocks in sync: fix its clock (NTP) "
                   "and start it again")
            with self._lock:
                self._refused[name] = why
                self._dead.add(name)  # never online, so never given a region
                self._loads.pop(name, None)
                self._received_ms.pop(name, None)
            log.error("%s", why)
            raise ClockOutOfSyncError(why)
        if skew_ms > self.warn_clock_skew_s * 1000:
            log.warning("region server %s: %s, more than --warn-clock-skew %g s (refused above "
                        "--max-clock-skew %g s)", name, clocks, self.warn_clock_skew_s,
                        self.max_clock_skew_s)

    def refusal(self, name: str) -> str | None:
        """Why the master refused `name` for its clock; None if it did not."""
        with self._lock:
            return self._refused.get(name)

    def report(self, load) -> None:
        """Keep `load`; ClockOutOfSyncError if its server is refused (see check_clock)."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            why = self._refused.get(load.server)
            unchecked = load.server in self._clock_unchecked
            first = load.server in self._live and load.server not in self._clock_seen
        if why is not None:
            raise ClockOutOfSyncError(why)
        if unchecked:
            self.check_clock(load.server, load.built_ms, now_ms - REPORT_TRANSIT_MS, now_ms)
        elif load.built_ms and first:  # accepted by an earlier master: only logged
            with self._lock:
                self._clock_seen.add(load.server)
            if abs(load.built_ms - now_ms) > self.warn_clock_skew_s * 1000:
                log.warning("region server %s: its clock read %s, %.1f s away from this "
                            "master's %s (it registered before this master became active, so "
                            "it is not refused)", load.server, _utc(load.built_ms),
                            abs(load.built_ms - now_ms) / 1000, _utc(now_ms))
        with self._lock:
            # A report already in flight when the server was declared dead must not bring its
            # regions back into the status (names never come back: the startcode differs); one
            # from a name that is not registered (gone, or never there) is not kept either --
            # a server's first report may beat the watch: its next one counts.
            if load.server in self._live and load.server not in self._dead:
                self._loads[load.server] = load
                self._received_ms[load.server] = now_ms

    def load(self, name: str):
        with self._lock:
            return self._loads.get(name)

    def load_received(self, name: str) -> tuple[object | None, int]:
        """`name`'s last report and this master's clock when it arrived (0: no report)."""
        with self._lock:
            return self._loads.get(name), self._received_ms.get(name, 0)

    def stop(self) -> None:
        self._stopped = True
