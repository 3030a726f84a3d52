"""Fixtures for the multi-process integration tests: a real ZooKeeper per test session, real
daemon processes per module (minihbase.local_cluster.LocalCluster), and a dump of every daemon's
log into the report of any failing test (pytest_runtest_makereport below).

Each cluster gets its own ZooKeeper chroot ("127.0.0.1:<port>/c<n>") on the one session
ZooKeeper, so clusters never see each other's znodes and ZooKeeper starts once.

Sizes are tiny (flush/split) so splits and flushes happen within seconds; tests that await a
session expiry pass a short-but-real --session-timeout, except the one SIGKILL test that keeps
the product's 15 s.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest

from minihbase.local_cluster import LocalCluster, wait_until
from minihbase.zookeeper import ZooKeeperServer

# Clusters alive right now, so a failing test can show their logs.  # guarded by _LIVE_LOCK
_LIVE: list[LocalCluster] = []
_LIVE_LOCK = threading.Lock()
_CHROOTS = itertools.count(1)

# Timeouts for the short-but-real sessions of expiry tests. ZooKeeper's floor is 2 x tickTime
# (4 s with tickTime 2000).
SHORT_SESSION_S = 4


def new_chroot(quorum: str) -> str:
    """`quorum` + a fresh chroot, so clusters and tests sharing one ZooKeeper never see each
    other's znodes."""
    from coordination.zk import connect

    chroot = f"/c{os.getpid()}_{next(_CHROOTS)}"
    admin = connect(quorum, session_timeout=10.0, connect_timeout=30.0)
    try:
        admin.ensure_path(chroot)
    finally:
        admin.stop()
        admin.close()
    return quorum + chroot


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy (returned); errors it raises count as
    "not yet". Raises AssertionError naming `what` and the last result after `timeout` s."""
    return wait_until(predicate, timeout, what, interval, error=AssertionError)


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory):
    zk = ZooKeeperServer(str(tmp_path_factory.mktemp("zookeeper"))).start()
    yield zk
    zk.stop()


@pytest.fixture(scope="session")
def cluster_factory(zookeeper, tmp_path_factory):
    """make(**flags) -> a started LocalCluster on its own chroot; stopped at session end
    unless the caller stops it first (module fixtures do)."""
    made: list[LocalCluster] = []

    def make(name: str = "cluster", **kwargs) -> LocalCluster:
        directory = str(tmp_path_factory.mktemp(name))
        kwargs.setdefault("start_timeout", 90.0)
        cluster = LocalCluster(directory, zk_quorum=new_chroot(zookeeper.quorum), **kwargs)
        with _LIVE_LOCK:
            _LIVE.append(cluster)
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for c in made:
        stop_cluster(c)


def stop_cluster(cluster: LocalCluster) -> None:
    cluster.stop(timeout=20)
    with _LIVE_LOCK:
        if cluster in _LIVE:
            _LIVE.remove(cluster)


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    """A module's shared cluster: 2 masters, 3 region servers, tiny flush size, default
    (15 s) session timeout -- for tests that kill nothing."""
    c = cluster_factory("shared", flush_size=256 * 1024, max_value_bytes=64 * 1024,
                        balancer_period=3600)
    yield c
    stop_cluster(c)


@pytest.fixture
def connection_for():
    """connection_for(cluster, timeout=30) -> client.Connection; all closed after the test."""
    opened = []

    def make(cluster: LocalCluster, timeout: float = 30.0):
        import client
        conn = client.Connection(cluster.quorum, timeout=timeout)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 -- closing after a failed test must not mask it
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure (setup, call or teardown), attach every live daemon's log tail to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    with _LIVE_LOCK:
        clusters = list(_LIVE)
    lines = int(os.environ.get("MINIHBASE_LOG_LINES", "150"))
    for i, c in enumerate(clusters):
        try:
            report.sections.append((f"daemon logs of cluster {i} ({c.directory})",
                                    c.logs(lines=lines)))
        except Exception as exc:  # noqa: BLE001 -- never hide the real failure
            report.sections.append((f"daemon logs of cluster {i}", f"(could not read: {exc})"))


# ---------------------------------------------------------------------- shared helpers

def region_records(cluster: LocalCluster, table: str):
    """Every RegionRecord of `table` in meta (read straight from ZooKeeper), by start key."""
    from kazoo.exceptions import NoNodeError
    from coordination.znodes import Paths, RegionRecord
    p, zk = Paths(), cluster.zk()
    out = []
    for child in zk.get_children(p.table_meta(table)):
        try:
            out.append(RegionRecord.from_bytes(zk.get(p.region(table, child))[0]))
        except NoNodeError:
            continue  # split/merged between list and read
    return sorted(out, key=lambda r: r.info.start_key)


def serving_regions(cluster: LocalCluster, table: str, *, avoid: str | None = None):
    """The table's region records if every one is OPEN on a live server (other than `avoid`),
    else None: the predicate of "all regions serving"."""
    live = set(cluster.live_regionservers())
    records = region_records(cluster, table)
    if not records:
        return None
    for r in records:
        if r.state != "OPEN" or r.server not in live or r.server == avoid:
            return None
    return records


def server_record(cluster: LocalCluster, name: str):
    from coordination.znodes import Paths, ServerRecord
    return ServerRecord.from_bytes(cluster.zk().get(Paths().live_server(name))[0])


def rs_stub(address: str):
    """A raw gRPC stub on one region server (tests that must bypass the client's checks)."""
    import grpc
    from protos import minihbase_pb2_grpc
    channel = grpc.insecure_channel(address)
    return channel, minihbase_pb2_grpc.RegionServerStub(channel)


def daemon_of(cluster: LocalCluster, server_name: str):
    for d in cluster.regionservers:
        if d.name == server_name:
            return d
    cluster._refresh_names()
    for d in cluster.regionservers:
        if d.name == server_name:
            return d
    raise LookupError(f"no local region server named {server_name}")


class BoundedWriter(threading.Thread):
    """Writes rows `prefix%06d` (one column) until `count` rows or `seconds` elapsed, recording
    which puts were acknowledged and every exception that reached the caller."""

    def __init__(self, conn, table: str, *, prefix: str = "w", count: int = 5000,
                 seconds: float = 60.0, family: bytes = b"cf", value_size: int = 100,
                 pause: float = 0.0, key_fn=None):
        super().__init__(daemon=True, name=f"writer-{prefix}")
        self.table = conn.table(table)
        self.prefix, self.count, self.seconds = prefix, count, seconds
        self.column = family + b":q"
        self.value_size, self.pause = value_size, pause
        self.key_fn = key_fn or (lambda i: f"{self.prefix}{i:06d}".encode())
        self.acked: list[bytes] = []  # appended by this thread only; read after join/stop
        self.errors: list[BaseException] = []
        self.latencies: list[float] = []
        self._stop_event = threading.Event()

    def value_for(self, row: bytes) -> bytes:
        return (row * (self.value_size // max(1, len(row)) + 1))[:self.value_size]

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        for i in range(self.count):
            if self._stop_event.is_set() or time.monotonic() > deadline:
                break
            row = self.key_fn(i)
            t0 = time.monotonic()
            try:
                self.table.put(row, {self.column: self.value_for(row)})
            except Exception as exc:  # noqa: BLE001 -- the test judges what reached the caller
                self.errors.append(exc)
                continue
            self.latencies.append(time.monotonic() - t0)
            self.acked.append(row)
            if self.pause:
                time.sleep(self.pause)

    def stop(self, timeout: float = 90.0) -> None:
        self._stop_event.set()
        self.join(timeout)
        assert not self.is_alive(), "writer did not finish within its bound"


def missing_rows(conn, table: str, rows, column: bytes = b"cf:q", value_for=None) -> list:
    """Rows (of `rows`) not readable with their expected value, checked with a scan."""
    seen = {}
    for key, data in conn.table(table).scan(batch_size=1000):
        seen[key] = data.get(column)
    bad = []
    for r in rows:
        if r not in seen or (value_for is not None and seen[r] != value_for(r)):
            bad.append(r)
    return bad
