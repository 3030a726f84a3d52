"""A whole minihbase cluster as processes on loopback, started and stopped by one command
(see docs/local-cluster.md). No Docker: a real ZooKeeper (minihbase.zookeeper), an active and
a backup master, N region servers, a Thrift gateway (`thrift_servers=1`; the command line
starts one), one directory.

    python -m minihbase.local_cluster start  --dir var/local [--regionservers 3] [--masters 2]
    python -m minihbase.local_cluster status --dir var/local
    python -m minihbase.local_cluster stop   --dir var/local
    python -m minihbase.local_cluster rolling-restart --dir var/local [--rs-only|--master-only]

Layout of the directory:

    <dir>/cluster.json        pids, ports, command lines: how `stop`/`status` find the processes
    <dir>/zookeeper/          ZooKeeper's config, data and log
    <dir>/hbase/              the cluster root directory (--rootdir of every daemon)
    <dir>/logs/<role>-<i>.log each daemon's log and stderr (every line names the server),
                              rolled by the daemon (--log-file) to .log.1 ... .log.20

Every daemon runs detached (`start_new_session=True`), so the command that started the cluster
may exit and another one stops it. `start` returns once ZooKeeper shows an active master and
every region server registered, or fails with a message and the tail of the failing log.
`stop` sends SIGTERM to Thrift gateways first, then to region servers (they flush and hand
their regions back while a master is still there to take them), then to masters, then stops
ZooKeeper; SIGKILL after a timeout.

Tests use the same class in-process: `LocalCluster(tmpdir, flush_size=..., session_timeout=4)`
with free ports, plus the fault injectors (kill_regionserver, kill_master, add_regionserver).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Callable

from minihbase.zookeeper import ZooKeeperServer, free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE_FILE = "cluster.json"

# Flags the LocalCluster forwards, per role (names as Python keywords; "--" + dashes on the
# command line). A flag given to LocalCluster goes to every role that knows it.
MASTER_FLAGS = {"session_timeout", "balancer_period", "oldwals_ttl", "orphan_grace", "zk_parent",
                "max_clock_skew", "warn_clock_skew",
                "normalizer_period", "normalizer_min_region_count", "normalizer_merge_min_age",
                "normalizer_merge_min_bytes", "log_max_bytes", "log_backups"}
REGIONSERVER_FLAGS = {"session_timeout", "flush_size", "global_memstore_size", "split_size",
                      "max_value_bytes", "max_row_bytes", "max_call_queue_bytes",
                      "block_cache_bytes", "scanner_lease", "report_period",
                      "periodic_flush_interval", "wal_roll_period", "zk_parent",
                      "log_max_bytes", "log_backups"}

# HBase's port conventions, used by the command line when the ports are free.
DEFAULT_PORTS = {"zookeeper": 2181, "master": 16000, "master_info": 16010,
                 "regionserver": 16020, "regionserver_info": 16030,
                 "thrift": 9090, "thrift_info": 9095}
DAEMON_MODULES = {"master": "hmaster.main", "regionserver": "regionserver.main",
                  "thrift": "thriftserver.main"}
STOP_ORDER = ("thrift", "regionserver", "master")  # clients first; masters take regions back


class ClusterError(RuntimeError):
    """The cluster did not come up (or go down) as asked; the message says what and why."""


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Daemon:
    """One daemon process: what it is, how to reach it, where it logs."""

    role: str  # "master" | "regionserver"
    index: int
    port: int
    info_port: int
    log_path: str
    argv: list[str]
    pid: int = 0
    name: str = ""  # host,port,startcode once seen in ZooKeeper
    started_at: float = 0.0
    # The Popen handle exists only in the process that started the daemon (reaps it).
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _pid_runs(self.pid, self.argv)

    def signal(self, sig: int) -> None:
        if self.is_alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> bool:
        """True once the process has exited; False if it still runs after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                return True
            time.sleep(0.05)
        return not self.is_alive()

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "process"}


def _launch(what: str, argv: list[str], log_path: str,
            env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a daemon detached in its own session, its output appended to its log; env:
    variables added to ours."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    with open(log_path, "ab") as log:
        log.write(f"--- local_cluster: starting {what}: {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=REPO_ROOT, env=env,
                                start_new_session=True)


def _pid_runs(pid: int, argv: list[str]) -> bool:
    """The pid runs and is still the process we started (not a recycled pid, not a zombie)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    if state == b"Z":
        return False
    # The module name is the distinctive part of our argv (the interpreter path may differ).
    return any(a.encode() in cmdline for a in argv if a.endswith(".main"))


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05, error: type[Exception] = TimeoutError):
    """Poll `predicate` until it returns something truthy (returned); errors it raises count as
    "not yet". Raises `error` naming `what` and the last result after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 -- e.g. master not active yet
            last = e
        time.sleep(interval)
    raise error(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class LocalCluster:
    """ZooKeeper + masters + region servers as local processes; see the module docstring.

    Thread-safe for the fault injectors and accessors (tests call them from load threads too).
    """

    def __init__(self, directory: str, regionservers: int = 3, masters: int = 2, *,
                 thrift_servers: int = 0, zk_quorum: str | None = None,
                 prefer_default_ports: bool = False,
                 python: str = sys.executable, start_timeout: float = 60.0,
                 extra_master_args: list[str] | None = None,
                 extra_regionserver_args: list[str] | None = None, **daemon_flags):
        unknown = set(daemon_flags) - MASTER_FLAGS - REGIONSERVER_FLAGS
        if unknown:
            raise TypeError(f"unknown daemon flag(s): {sorted(unknown)}; known: "
                            f"{sorted(MASTER_FLAGS | REGIONSERVER_FLAGS)}")
        self.directory = os.path.abspath(directory)
        self.rootdir = os.path.join(self.directory, "hbase")
        self.log_dir = os.path.join(self.directory, "logs")
        self.num_regionservers = regionservers
        self.num_masters = masters
        self.num_thrift_servers = thrift_servers
        self.prefer_default_ports = prefer_default_ports
        self.python = python
        self.start_timeout = start_timeout
        self.daemon_flags = daemon_flags
        self.zk_parent = daemon_flags.get("zk_parent", "/hbase")
        self.extra_master_args = list(extra_master_args or [])
        self.extra_regionserver_args = list(extra_regionserver_args or [])
        self._external_zk = zk_quorum
        self.zookeeper: ZooKeeperServer | None = None
        self._zk_client = None  # kazoo client for inspection, opened lazily
        self._lock = threading.RLock()
        self.masters: list[Daemon] = []  # guarded by self._lock
        self.regionservers: list[Daemon] = []  # guarded by self._lock
        self.thrift_servers: list[Daemon] = []  # guarded by self._lock
        self._used_ports: set[int] = set()  # guarded by self._lock

    # ------------------------------------------------------------------ addresses

    @property
    def quorum(self) -> str:
        if self._external_zk:
            return self._external_zk
        if self.zookeeper is None:
            raise ClusterError("ZooKeeper is not started")
        return self.zookeeper.quorum

    def _pick_port(self, preferred: int | None) -> int:
        with self._lock:
            if preferred and self.prefer_default_ports and preferred not in self._used_ports \
                    and port_is_free(preferred):
                port = preferred
            else:
                port = free_port()
                while port in self._used_ports:
                    port = free_port()
            self._used_ports.add(port)
            return port

    # ------------------------------------------------------------------ start

    def start(self) -> "LocalCluster":
        """Start everything and wait until it serves; on failure stop what started and raise."""
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.rootdir, exist_ok=True)
        existing = read_state(self.directory)
        if existing and (any(_pid_runs(d["pid"], d["argv"]) for d in existing.get("daemons", []))
                         or (existing.get("zookeeper") and not self._external_zk
                             and _zk_pid_runs(existing["zookeeper"]["pid"]))):
            raise ClusterError(f"a cluster already runs from {self.directory}; "
                               f"stop it first (python -m minihbase.local_cluster stop "
                               f"--dir {self.directory})")
        try:
            if not self._external_zk:
                zk_port = self._pick_port(DEFAULT_PORTS["zookeeper"])
                self.zookeeper = ZooKeeperServer(os.path.join(self.directory, "zookeeper"),
                                                 port=zk_port)
                self.zookeeper.start()
                self._write_state()
            # The first master is started alone so it becomes the active one (index 0):
            # deterministic for people reading logs; takeover is tested separately.
            first = self._spawn("master", 0)
            self.wait_for(lambda: self.active_master() is not None, self.start_timeout,
                          "the first master to become active", daemons=[first])
            for i in range(1, self.num_masters):
                self._spawn("master", i)
            for i in range(self.num_regionservers):
                self._spawn("regionserver", i)
            self.wait_for(self._all_registered, self.start_timeout,
                          "every master and region server to register in ZooKeeper")
            gateways = [self._spawn("thrift", i) for i in range(self.num_thrift_servers)]
            self.wait_for(lambda: self._all_listening(gateways), self.start_timeout,
                          "the Thrift gateway to listen", daemons=gateways)
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _flags_for(self, role: str) -> list[str]:
        known = MASTER_FLAGS if role == "master" else REGIONSERVER_FLAGS
        args = []
        for key, value in sorted(self.daemon_flags.items()):
            if key in known and value is not None:
                args += ["--" + key.replace("_", "-"), str(value)]
        return args

    def _spawn(self, role: str, index: int, ports: tuple[int, int] | None = None,
               env: dict[str, str] | None = None) -> Daemon:
        """Start one daemon; `ports` (rpc, info) reuses a dead daemon's ports, else new ones;
        `env`: variables added to its environment."""
        port, info_port = ports or (self._pick_port(DEFAULT_PORTS[role] + index),
                                    self._pick_port(DEFAULT_PORTS[role + "_info"] + index))
        log_path = os.path.join(self.log_dir, f"{role}-{index}.log")
        # The daemon rolls its own log (--log-file); what runs before its logging is set up
        # (an import error) still reaches the file through stdout/stderr below.
        argv = [self.python, "-m", DAEMON_MODULES[role], "--zk", self.quorum,
                "--bind", "127.0.0.1", "--port", str(port), "--info-port", str(info_port),
                "--log-file", log_path]
        if role == "thrift":
            argv += ["--zk-parent", self.zk_parent]
        else:
            argv += ["--rootdir", self.rootdir, "--advertise", "127.0.0.1"]
            argv += self._flags_for(role) + (self.extra_master_args if role == "master"
                                             else self.extra_regionserver_args)
        process = _launch(f"{role}-{index}", argv, log_path, env)
        daemon = Daemon(role, index, port, info_port, log_path, argv, pid=process.pid,
                        started_at=time.time(), process=process)
        with self._lock:
            self._daemons_of(role).append(daemon)
        self._write_state()
        return daemon

    def _daemons_of(self, role: str) -> list[Daemon]:
        return {"master": self.masters, "regionserver": self.regionservers,
                "thrift": self.thrift_servers}[role]

    def _all_listening(self, gateways: list[Daemon]) -> bool:
        dead = [d for d in gateways if not d.is_alive()]
        if dead:
            raise ClusterError(self._describe_failure("the Thrift gateway exited", dead))
        for d in gateways:
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
            except OSError:
                return False
        return True

    def _all_registered(self) -> bool:
        self._refresh_names()
        with self._lock:
            daemons = [d for d in self.masters + self.regionservers if d.is_alive()]
            wanted = len(self.masters) + len(self.regionservers)
        if len(daemons) < wanted:
            dead = [d for d in self.masters + self.regionservers if not d.is_alive()]
            raise ClusterError(self._describe_failure(
                f"{dead[0].role}-{dead[0].index} exited (code {dead[0].exit_code()})", dead))
        return all(d.name for d in daemons)

    # ------------------------------------------------------------------ ZooKeeper views

    def zk(self):
        """A kazoo client on the cluster's ZooKeeper (for inspection by tests and status)."""
        with self._lock:
            if self._zk_client is None:
                from coordination.zk import connect
                self._zk_client = connect(self.quorum, session_timeout=10.0)
            return self._zk_client

    def _children(self, path: str) -> list[str]:
        from kazoo.exceptions import NoNodeError
        try:
            return self.zk().get_children(path)
        except NoNodeError:
            return []

    def active_master(self) -> str | None:
        """Name of the active master from /hbase/master, or None."""
        from kazoo.exceptions import NoNodeError
        from coordination.znodes import MasterRecord
        try:
            data, _ = self.zk().get(self.zk_parent.rstrip("/") + "/master")
        except NoNodeError:
            return None
        try:
            return MasterRecord.from_bytes(data).name
        except Exception:  # noqa: BLE001 -- a half-written/foreign record is "not yet"
            return None

    def live_regionservers(self) -> list[str]:
        return sorted(self._children(self.zk_parent.rstrip("/") + "/rs"))

    def backup_masters(self) -> list[str]:
        return sorted(self._children(self.zk_parent.rstrip("/") + "/backup-masters"))

    def _refresh_names(self) -> None:
        """Learn each daemon's server name (host,port,startcode) by its port in ZooKeeper."""
        names = self.live_regionservers() + self.backup_masters()
        active = self.active_master()
        if active:
            names.append(active)
        by_port: dict[int, tuple[int, str]] = {}  # port -> (startcode, name), newest wins
        for n in names:
            try:
                _, port, startcode = n.rsplit(",", 2)
                by_port[int(port)] = max(by_port.get(int(port), (0, "")), (int(startcode), n))
            except ValueError:
                continue
        with self._lock:
            for d in self.masters + self.regionservers:
                startcode, name = by_port.get(d.port, (0, ""))
                # A daemon restarted on its port must not take its dead predecessor's name,
                # still in ZooKeeper until that session expires: its startcode is older.
                if name and startcode >= int(d.started_at * 1000) and d.is_alive():
                    d.name = name

    def running(self, role: str) -> list[Daemon]:
        """The live daemons of `role` ("master" | "regionserver") that registered, by name."""
        self._refresh_names()
        return [d for d in self.all_daemons() if d.role == role and d.is_alive() and d.name]

    def master_daemon(self, active: bool = True) -> Daemon | None:
        """The daemon of the active master (or of a live backup when active=False)."""
        name = self.active_master()
        self._refresh_names()
        with self._lock:
            for d in self.masters:
                if not d.is_alive():
                    continue
                is_active = name is not None and d.name == name
                if is_active == active:
                    return d
        return None

    # ------------------------------------------------------------------ fault injection

    def kill_regionserver(self, i: int, sig: int = signal.SIGKILL) -> Daemon:
        """Send `sig` to region server i (SIGKILL: crash; SIGSTOP/SIGCONT: freeze/resume)."""
        with self._lock:
            d = self.regionservers[i]
        d.signal(sig)
        if sig == signal.SIGKILL:
            d.wait(10)
        return d

    def stop_regionserver(self, i: int, timeout: float = 30.0) -> Daemon:
        """Clean stop (SIGTERM): the server closes its regions and leaves."""
        with self._lock:
            d = self.regionservers[i]
        self._terminate(d, timeout)
        return d

    def add_regionserver(self, wait: bool = True, env: dict[str, str] | None = None) -> Daemon:
        """Start one more region server and (by default) wait until it registered; `env`:
        variables added to its environment (tests skew its clock with libfaketime's)."""
        with self._lock:
            index = len(self.regionservers)
        d = self._spawn("regionserver", index, env=env)
        if wait:
            self._wait_registered(d)
        self._write_state()
        return d

    def restart(self, old: Daemon, wait: bool = True) -> Daemon:
        """Start a dead daemon again on its own ports, as an operator restarts a crashed
        process: same host and port, a new startcode (a region server joins as a new server,
        a master as a backup while another is active). The new Daemon takes `old`'s place in
        masters/regionservers; by default this returns once it registered in ZooKeeper."""
        if old.is_alive():
            raise ClusterError(f"{old.role}-{old.index} still runs; stop it first")
        d = self._spawn(old.role, old.index, ports=(old.port, old.info_port))
        with self._lock:
            group = self._daemons_of(old.role)
            group.remove(d)
            group[group.index(old)] = d
        if wait and d.role == "thrift":
            self.wait_for(lambda: self._all_listening([d]), self.start_timeout,
                          "the Thrift gateway to listen", daemons=[d])
        elif wait:
            self._wait_registered(d)
        self._write_state()
        return d

    def _wait_registered(self, d: Daemon) -> None:
        def registered():
            self._refresh_names()
            if not d.is_alive():
                raise ClusterError(self._describe_failure(
                    f"{d.role}-{d.index} exited (code {d.exit_code()})", [d]))
            return bool(d.name)
        self.wait_for(registered, self.start_timeout, f"{d.role}-{d.index} to register",
                      daemons=[d])

    def kill_master(self, active: bool = True, sig: int = signal.SIGKILL) -> Daemon:
        """SIGKILL the active master (or a backup when active=False); returns its Daemon."""
        d = self.master_daemon(active=active)
        if d is None:
            raise ClusterError(f"no {'active' if active else 'backup'} master to kill")
        d.signal(sig)
        if sig == signal.SIGKILL:
            d.wait(10)
        return d

    # ------------------------------------------------------------------ waiting, logs

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str = "condition",
                 interval: float = 0.1, daemons: list[Daemon] | None = None):
        """Poll `predicate` until it returns something truthy (returned); ClusterError with
        the log tails of `daemons` (default: all) when `timeout` runs out."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except ClusterError:
                raise
            except Exception as exc:  # noqa: BLE001 -- keep polling; report the last one
                last_exc = exc
            if time.monotonic() >= deadline:
                why = f" (last error: {last_exc!r})" if last_exc else ""
                raise ClusterError(self._describe_failure(
                    f"timed out after {timeout:.0f}s waiting for {what}{why}", daemons))
            time.sleep(interval)

    def _describe_failure(self, message: str, daemons: list[Daemon] | None = None) -> str:
        with self._lock:
            chosen = daemons if daemons is not None else self.masters + self.regionservers
        parts = [message]
        for d in chosen:
            state = "running" if d.is_alive() else f"exited ({d.exit_code()})"
            parts.append(f"--- {d.role}-{d.index} [{state}] {d.log_path} (last lines):\n"
                         f"{tail(d.log_path, 25)}")
        return "\n".join(parts)

    def all_daemons(self) -> list[Daemon]:
        with self._lock:
            return list(self.masters) + list(self.regionservers) + list(self.thrift_servers)

    def logs(self, lines: int = 200) -> str:
        """The last `lines` of every daemon's log (and ZooKeeper's), for failure reports."""
        out = []
        for d in self.all_daemons():
            state = "running" if d.is_alive() else f"exited ({d.exit_code()})"
            out.append(f"===== {d.role}-{d.index} {d.name or '?'} pid {d.pid} [{state}] "
                       f"{d.log_path}\n{tail(d.log_path, lines)}")
        if self.zookeeper is not None:
            out.append(f"===== zookeeper {self.zookeeper.log_path}\n"
                       f"{tail(self.zookeeper.log_path, 30)}")
        return "\n".join(out)

    # ------------------------------------------------------------------ stop

    def _terminate(self, d: Daemon, timeout: float) -> None:
        if not d.is_alive():
            if d.process is not None:
                d.process.poll()
            return
        try:
            os.kill(d.pid, signal.SIGCONT)  # a frozen (SIGSTOPped) daemon cannot handle TERM
            os.kill(d.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if not d.wait(timeout):
            try:
                os.killpg(d.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            d.wait(5)

    def stop(self, timeout: float = 30.0) -> None:
        """Gateways, then region servers (clean hand-over), then masters, then ZooKeeper."""
        with self._lock:
            gateways, rss = list(self.thrift_servers), list(self.regionservers)
            masters = list(self.masters)
        for group in (gateways, rss):
            threads = [threading.Thread(target=self._terminate, args=(d, timeout))
                       for d in group]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for d in masters:
            self._terminate(d, timeout)
        with self._lock:
            if self._zk_client is not None:
                try:
                    self._zk_client.stop()
                    self._zk_client.close()
                except Exception:  # noqa: BLE001 -- ZooKeeper may already be gone
                    pass
                self._zk_client = None
        if self.zookeeper is not None:
            self.zookeeper.stop()
        self._write_state(stopped=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ state file

    def _write_state(self, stopped: bool = False) -> None:
        zk = self.zookeeper
        state = {
            "directory": self.directory,
            "rootdir": self.rootdir,
            "quorum": self._external_zk or (zk.quorum if zk else ""),
            "zk_parent": self.zk_parent,
            "zookeeper": None if (zk is None or zk.process is None) else
            {"pid": zk.process.pid, "port": zk.port, "log_path": zk.log_path},
            "daemons": [] if stopped else [d.to_json() for d in self.all_daemons()],
            "stopped": stopped,
            "updated": time.time(),
        }
        write_state(self.directory, state)

    def connect_help(self) -> str:
        q = self.quorum
        if self.zk_parent.rstrip("/") != "/hbase":  # the clients must be told the parent too
            cli, py = f"{q} --zk-parent {self.zk_parent}", f"'{q}', zk_parent='{self.zk_parent}'"
        else:
            cli, py = q, f"'{q}'"
        masters = ", ".join(f"{d.address} (UI http://127.0.0.1:{d.info_port})"
                            for d in self.masters)
        rss = ", ".join(d.address for d in self.regionservers)
        gateways = "".join(f"  thrift  : {d.address} (happybase: happybase.Connection("
                           f"'127.0.0.1', port={d.port}))\n" for d in self.thrift_servers)
        return (f"minihbase local cluster is up (directory {self.directory})\n"
                f"  ZooKeeper quorum : {q}\n"
                f"  masters          : {masters}\n"
                f"  region servers   : {rss}\n"
                f"  logs             : {self.log_dir}/\n"
                f"Connect:\n"
                f"  shell   : minihbase --zk {cli} shell"
                f"      (or python -m client.cli --zk {cli})\n"
                f"  python  : import client; conn = client.Connection({py})\n"
                + gateways +
                f"Stop      : python -m minihbase.local_cluster stop --dir {self.directory}"
                f"   (or: make local-down)")


# ---------------------------------------------------------------------- another process's view

def write_state(directory: str, state: dict) -> None:
    """<directory>/cluster.json := state, atomically (temp file, rename)."""
    path = os.path.join(os.path.abspath(directory), STATE_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=2)
    os.replace(path + ".tmp", path)


def read_state(directory: str) -> dict | None:
    try:
        with open(os.path.join(os.path.abspath(directory), STATE_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _zk_pid_runs(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"zookeeper" in f.read().lower()
    except OSError:
        return False


def stop_from_state(directory: str, timeout: float = 30.0, out=print) -> bool:
    """Stop the cluster recorded in <directory>/cluster.json. True if anything was running."""
    state = read_state(directory)
    if state is None:
        out(f"no cluster state in {directory} (nothing to stop)")
        return False
    daemons = [Daemon(**{k: v for k, v in d.items()}) for d in state.get("daemons", [])]
    any_running = False

    def terminate(group: list[Daemon]) -> None:
        nonlocal any_running
        live = [d for d in group if d.is_alive()]
        any_running |= bool(live)
        for d in live:
            out(f"stopping {d.role}-{d.index} {d.name or ''} (pid {d.pid})")
            os.kill(d.pid, signal.SIGCONT)
            os.kill(d.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for d in live:
            if not d.wait(max(0.0, deadline - time.monotonic())):
                out(f"{d.role}-{d.index} did not stop within {timeout:.0f}s: SIGKILL")
                try:
                    os.killpg(d.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    for role in STOP_ORDER:
        terminate([d for d in daemons if d.role == role])
    zk = state.get("zookeeper")
    if zk and _zk_pid_runs(zk["pid"]):
        any_running = True
        out(f"stopping zookeeper (pid {zk['pid']})")
        os.killpg(zk["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _zk_pid_runs(zk["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _zk_pid_runs(zk["pid"]):
            os.killpg(zk["pid"], signal.SIGKILL)
    state.update(daemons=[], zookeeper=None, stopped=True, updated=time.time())
    with open(os.path.join(os.path.abspath(directory), STATE_FILE), "w") as f:
        json.dump(state, f, indent=2)
    out("stopped" if any_running else "nothing was running")
    return any_running


def rolling_restart_from_state(directory: str, timeout: float = 60.0, out=print,
                               roles: tuple[str, ...] = ("master", "regionserver")) -> int:
    """HBase's bin/rolling-restart.sh for the cluster recorded in <directory>/cluster.json:
    the backup masters, then the active master (a backup takes over at once), then each
    region server in turn is stopped cleanly (SIGTERM: it flushes and its regions reopen on
    the others at once) and started again with its command line, on its ports; the next
    daemon waits until this one registered (a new startcode) and, after a region server, no
    region is in transition. Exit code 0, or 1 with the reason."""
    state = read_state(directory)
    if state is None or state.get("stopped"):
        out(f"no cluster running from {directory}")
        return 1
    from coordination.zk import connect
    try:
        zkc = connect(state["quorum"], session_timeout=10.0, connect_timeout=5.0)
    except Exception as exc:  # noqa: BLE001 -- said in one line, not a traceback
        out(f"rolling restart: cannot reach ZooKeeper at {state['quorum']}: {exc}")
        return 1
    restart = _RollingRestart(directory, state, zkc, timeout, out)
    try:
        return restart.run(roles)
    finally:
        restart.close()


class _RollingRestart:
    """rolling_restart_from_state's steps, over one ZooKeeper session and one Connection."""

    def __init__(self, directory: str, state: dict, zkc, timeout: float, out):
        from client import Connection
        self.directory, self.state, self.zkc = directory, state, zkc
        self.timeout, self.out = timeout, out
        self.parent = state.get("zk_parent", "/hbase").rstrip("/")
        self.daemons = [Daemon(**d) for d in state.get("daemons", [])]
        self.conn = Connection(state["quorum"], zk_parent=self.parent, timeout=timeout)

    def close(self) -> None:
        self.conn.close()
        self.zkc.stop()
        self.zkc.close()

    def run(self, roles: tuple[str, ...]) -> int:
        order = self._order(roles)
        for d in order:
            if not self._restart(d):
                return 1
        self.out(f"rolling restart done: {len(order)} daemons restarted")
        return 0

    def _active_master(self) -> str:
        from coordination.znodes import MasterRecord
        from kazoo.exceptions import NoNodeError
        try:
            return MasterRecord.from_bytes(self.zkc.get(self.parent + "/master")[0]).name
        except NoNodeError:
            return ""

    def _order(self, roles: tuple[str, ...]) -> list[Daemon]:
        """Backup masters, the active master, then the region servers (of `roles`)."""
        active_port = self._active_master().split(",")[1:2]
        masters = [d for d in self.daemons if d.role == "master"]
        active = [d for d in masters if [str(d.port)] == active_port]
        order = [d for d in masters if d not in active] + active if "master" in roles else []
        return order + [d for d in self.daemons
                        if d.role == "regionserver" and "regionserver" in roles]

    def _restart(self, d: Daemon) -> bool:
        label = f"{d.role}-{d.index} 127.0.0.1:{d.port}"
        if not d.is_alive():
            self.out(f"rolling restart stopped: {label} is not running")
            return False
        self.out(f"restarting {label} (pid {d.pid})")
        started, old_name = time.monotonic(), self._newest_name(d.port)[1]
        os.kill(d.pid, signal.SIGTERM)
        if not d.wait(self.timeout):
            self.out(f"{label} did not stop within {self.timeout:.0f}s: SIGKILL")
            os.killpg(d.pid, signal.SIGKILL)
            d.wait(5)
        d.started_at = time.time()
        d.pid, d.name = _launch(f"{d.role}-{d.index}", d.argv, d.log_path).pid, ""
        self._save()
        if not self._wait(lambda: self._registered(d),
                          f"registration of {label} (see {d.log_path})"):
            return False
        self._save()
        if d.role == "master" and not self._wait(self._active_master, "active master"):
            return False
        if d.role == "regionserver" and not self._wait(lambda: self._settled(old_name),
                                                       "end of the regions in transition"):
            return False
        self.out(f"  {label} serves again after {time.monotonic() - started:.1f}s")
        return True

    def _newest_name(self, port: int) -> tuple[int, str]:
        """(startcode, name) of the newest incarnation in ZooKeeper on `port`, or (0, "")."""
        names = (self.zkc.get_children(self.parent + "/rs")
                 + self.zkc.get_children(self.parent + "/backup-masters")
                 + [n for n in [self._active_master()] if n])
        found = [(int(n.rsplit(",", 1)[1]), n) for n in names if n.split(",")[1] == str(port)]
        return max(found, default=(0, ""))

    def _registered(self, d: Daemon) -> bool:
        """d's new incarnation is in ZooKeeper (its port, a startcode from after its start)."""
        startcode, name = self._newest_name(d.port)
        if startcode >= int(d.started_at * 1000):
            d.name = name
        return bool(d.name)

    def _settled(self, old_name: str) -> bool:
        """The master took the stopped server's regions over and none is in transition."""
        st = self.conn.status()
        return not st["regions_in_transition"] and not any(
            s["name"] == old_name and s["regions"] for s in st["servers"])

    def _wait(self, predicate, what: str) -> bool:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        self.out(f"rolling restart stopped: no {what} within {self.timeout:.0f}s")
        return False

    def _save(self) -> None:
        self.state.update(daemons=[d.to_json() for d in self.daemons], updated=time.time())
        write_state(self.directory, self.state)


def status_from_state(directory: str, out=print) -> int:
    """Print what runs; exit code 0 when every recorded process runs, 1 otherwise."""
    state = read_state(directory)
    if state is None or state.get("stopped"):
        out(f"no cluster running from {directory}")
        return 1
    ok = True
    zk = state.get("zookeeper")
    if zk:
        up = _zk_pid_runs(zk["pid"])
        ok &= up
        out(f"zookeeper      127.0.0.1:{zk['port']}  pid {zk['pid']}  "
            f"{'running' if up else 'NOT RUNNING'}")
    for d in state.get("daemons", []):
        up = _pid_runs(d["pid"], d["argv"])
        ok &= up
        out(f"{d['role']}-{d['index']:<3} 127.0.0.1:{d['port']:<6} pid {d['pid']:<8} "
            f"{'running' if up else 'NOT RUNNING'}  {d.get('name') or ''}  log {d['log_path']}")
    if ok and state.get("quorum"):
        try:
            from coordination.zk import connect
            from coordination.znodes import MasterRecord
            zkc = connect(state["quorum"], session_timeout=10.0, connect_timeout=5.0)
            try:
                parent = state.get("zk_parent", "/hbase").rstrip("/")
                if zkc.exists(parent + "/master"):
                    master = MasterRecord.from_bytes(zkc.get(parent + "/master")[0])
                    out(f"active master  {master.name}")
                out(f"region servers {sorted(zkc.get_children(parent + '/rs'))}")
            finally:
                zkc.stop()
                zkc.close()
        except Exception as exc:  # noqa: BLE001 -- status is best effort beyond the pids
            out(f"(could not read ZooKeeper at {state['quorum']}: {exc})")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m minihbase.local_cluster",
                                description="Start/stop a local minihbase cluster (processes on "
                                            "loopback, real ZooKeeper, no Docker).")
    p.add_argument("command", choices=["start", "stop", "status", "rolling-restart"])
    p.add_argument("--dir", default="var/local", help="cluster directory (default var/local)")
    p.add_argument("--regionservers", type=int, default=3)
    p.add_argument("--masters", type=int, default=2)
    p.add_argument("--thrift-servers", type=int, default=1,
                   help="Thrift gateways for happybase and other Thrift clients (default 1)")
    p.add_argument("--session-timeout", type=float, default=None)
    p.add_argument("--flush-size", type=int, default=None)
    p.add_argument("--split-size", type=int, default=None)
    p.add_argument("--orphan-grace", type=float, default=None,
                   help="master: seconds before orphaned region directories are deleted")
    p.add_argument("--free-ports", action="store_true",
                   help="always pick free ports (default: HBase's ports when they are free)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for start/stop (rolling-restart: for each daemon)")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--rs-only", action="store_true", help="rolling-restart: region servers")
    only.add_argument("--master-only", action="store_true", help="rolling-restart: masters")
    args = p.parse_args(argv)
    # kazoo logs a harmless "Connection dropped" while ZooKeeper finishes starting; it retries.
    logging.getLogger("kazoo").setLevel(logging.ERROR)
    if args.command == "stop":
        stop_from_state(args.dir, timeout=args.timeout)
        return 0
    if args.command == "status":
        return status_from_state(args.dir)
    if args.command == "rolling-restart":
        roles = (("regionserver",) if args.rs_only else ("master",) if args.master_only
                 else ("master", "regionserver"))
        return rolling_restart_from_state(args.dir, timeout=args.timeout, roles=roles)
    flags = {k: v for k, v in dict(session_timeout=args.session_timeout,
                                   flush_size=args.flush_size,
                                   split_size=args.split_size,
                                   orphan_grace=args.orphan_grace).items() if v is not None}
    cluster = LocalCluster(args.dir, regionservers=args.regionservers, masters=args.masters,
                           thrift_servers=args.thrift_servers,
                           prefer_default_ports=not args.free_ports, start_timeout=args.timeout,
                           **flags)
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"local cluster failed to start: {exc}", file=sys.stderr)
        return 1
    # The daemons stay up after this process exits (own sessions); drop only our ZK client.
    with cluster._lock:
        if cluster._zk_client is not None:
            cluster._zk_client.stop()
            cluster._zk_client.close()
            cluster._zk_client = None
    print(cluster.connect_help())
    return 0


if __name__ == "__main__":
    sys.exit(main())
