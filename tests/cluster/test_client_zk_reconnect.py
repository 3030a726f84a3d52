"""A client's location cache across a dropped ZooKeeper connection (same session): kazoo fires
every watch with EventType.NONE and does not set them again on reconnect. Cached locations stay
usable meanwhile (location_cache.is_change), but a table whose first load straddles the
reconnect must not be cached without its watches, or later meta changes would never reach it
(found by a review: it stayed stale after an alter)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import client
from protos import minihbase_pb2 as pb
from tests.cluster.conftest import wait_for
from tests.cluster import test_master_recovery as recovery

env = recovery.env  # the fixture: an in-process master, FakeRegionServers, real ZooKeeper


class Proxy:
    """Loopback TCP proxy in front of ZooKeeper; cut() drops every connection through it."""
    def __init__(self, upstream):
        self.up = upstream
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.socks, self.stop = [], False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.lsock.settimeout(0.2)
        deadline = time.monotonic() + 120
        while not self.stop and time.monotonic() < deadline:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                continue
            u = socket.create_connection(self.up)
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        for s in list(self.socks):
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.socks.clear()

    def close(self):
        self.stop = True
        self.cut()
        self.lsock.close()


def test_a_load_straddling_a_reconnect_is_not_cached_without_its_watches(env):
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    recovery.create(master, "lc")
    hostport, chroot = quorum.split("/", 1)
    host, port = hostport.rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    conn = client.Connection(f"127.0.0.1:{proxy.port}/{chroot}", timeout=20)
    states = []
    conn._zk.add_listener(states.append)
    try:
        reader = conn.locations.meta
        real = reader.server_address

        def server_address(server):  # inside the first load of "lc", after its meta reads
            if not states:           # armed their watches: the connection drops and comes back
                proxy.cut()
                wait_for(lambda: "SUSPENDED" in states and states[-1] == "CONNECTED", 20,
                         "suspended, then reconnected with the same session")
            return real(server)
        reader.server_address = server_address
        conn.locations.locate("lc", b"r1")  # what a get does first: loads "lc"
        assert states and not conn.locations.cached("lc")
        conn.locations.locate("lc", b"r1")  # loads again, with watches
        assert conn.locations.cached("lc")
        master.ddl.alter("lc", [pb.FamilySchema(name="cf2")], [])
        wait_for(lambda: not conn.locations.cached("lc"), 10, "the watch to drop the entry")
        assert conn.table("lc").family_names() == [b"cf", b"cf2"]
    finally:
        conn.close()
        proxy.close()


def test_a_library_user_gets_no_kazoo_warnings_on_stderr_when_the_connection_drops(env):
    """A program using the client without configuring logging: kazoo's "Connection dropped"
    warnings reached stderr through Python's last-resort handler. The client's ZooKeeper
    logger ("client.zookeeper") sits under a NullHandler, as a library's should; a program that
    configures logging still sees it."""
    quorum, rootdir, start_master, add_server, zk = env
    start_master()
    hostport, chroot = quorum.split("/", 1)
    host, port = hostport.rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    script = ("import sys, client\n"
              "conn = client.Connection(sys.argv[1], timeout=20)\n"
              "print(conn.tables(), flush=True)\n"
              "sys.stdin.readline()\n"
              "print(conn.tables(), flush=True)\n")
    p = subprocess.Popen([sys.executable, "-c", script, f"127.0.0.1:{proxy.port}/{chroot}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "[]"
        proxy.cut()  # kazoo reconnects through the proxy (same session)
        time.sleep(1.0)
        out, err = p.communicate("go\n", timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        proxy.close()
    assert out.strip() == "[]" and p.returncode == 0
    assert err == ""
