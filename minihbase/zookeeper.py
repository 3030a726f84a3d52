"""Start and stop a real ZooKeeper server process (Debian's package) for the local cluster and
the tests (see docs/local-cluster.md). Nothing here fakes ZooKeeper: it runs
`zkServer.sh start-foreground` with a config of our own in a directory of our own, on a port of
our own.

ZooKeeper is found at $ZOOKEEPER_HOME, else /usr/share/zookeeper (Debian). tickTime=2000 gives
minSessionTimeout 4 s and maxSessionTimeout 40 s, so minihbase's 15 s sessions fit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

DEFAULT_HOME = "/usr/share/zookeeper"


def four_letter_word(server: str, word: bytes, timeout: float = 2.0) -> str:
    """The answer of ZooKeeper `server` (host:port) to a four-letter command (srvr, ruok...);
    OSError if it cannot be reached. A command outside its 4lw.commands.whitelist says so."""
    host, _, port = server.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(word)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply.decode(errors="replace")


def zookeeper_home() -> str:
    return os.environ.get("ZOOKEEPER_HOME", DEFAULT_HOME)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ZooKeeperServer:
    """One standalone ZooKeeper on 127.0.0.1:<port>, data and logs under `directory`."""

    def __init__(self, directory: str, port: int | None = None, tick_ms: int = 2000):
        self.directory = os.path.abspath(directory)
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.process: subprocess.Popen | None = None

    @property
    def quorum(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, "zookeeper.log")

    def _write_config(self) -> str:
        conf_dir = os.path.join(self.directory, "conf")
        os.makedirs(os.path.join(self.directory, "data"), exist_ok=True)
        os.makedirs(conf_dir, exist_ok=True)
        cfg = os.path.join(conf_dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(
                f"tickTime={self.tick_ms}\n"
                f"dataDir={self.directory}/data\n"
                f"clientPort={self.port}\n"
                "clientPortAddress=127.0.0.1\n"
                "maxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=ruok,stat,srvr,mntr\n"
                # keep the newest 3 snapshots and their logs, purged hourly; ZooKeeper keeps
                # every one forever otherwise
                "autopurge.snapRetainCount=3\n"
                "autopurge.purgeInterval=1\n"
            )
        # zkServer.sh reads log4j/logback settings from ZOOCFGDIR; keep Debian's beside ours.
        for name in ("log4j.properties", "logback.xml", "java.env"):
            src = os.path.join("/etc/zookeeper/conf", name)
            if os.path.exists(src) and not os.path.exists(os.path.join(conf_dir, name)):
                with open(src, "rb") as s, open(os.path.join(conf_dir, name), "wb") as d:
                    d.write(s.read())
        return cfg

    def start(self, timeout: float = 30.0) -> "ZooKeeperServer":
        script = os.path.join(zookeeper_home(), "bin", "zkServer.sh")
        if not os.path.exists(script):
            raise RuntimeError(
                f"ZooKeeper not found at {zookeeper_home()}: run 'make deps' (installs Debian's "
                "zookeeper package) or set ZOOKEEPER_HOME"
            )
        cfg = self._write_config()
        env = dict(os.environ, ZOOCFGDIR=os.path.dirname(cfg), ZOO_LOG_DIR=self.directory,
                   ZOO_LOG4J_PROP="INFO,CONSOLE", JVMFLAGS="-Xmx256m")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [script, "start-foreground", cfg], stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited early; see {self.log_path}")
            if self.is_ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"ZooKeeper did not answer on {self.quorum} within {timeout}s")

    def is_ok(self) -> bool:
        """The server answers client sessions. `ruok` is not enough: it says "imok" while the
        server is still loading its database and turning sessions away; `srvr` reports a
        Mode only once it serves requests."""
        try:
            return "Mode:" in four_letter_word(f"127.0.0.1:{self.port}", b"srvr", timeout=1)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None
