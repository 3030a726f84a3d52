"""The cluster as users meet it: the project's images on a private Docker network, driven by the
client from the host. Containers are really killed (docker kill = SIGKILL) and really restarted.

The tests share one cluster and run in file order: data across all servers, a snapshot cloned
across containers, a region server killed, the active master killed, then every container
stopped and started again.
"""

import json
import threading
import time
import urllib.request

import pytest

from client import Connection
from minihbase import errors

pytestmark = pytest.mark.docker

TABLE = "usertable"
CLONE = "usertable_clone"
SPLITS = [b"row-1", b"row-2", b"row-3", b"row-4", b"row-5"]


def _row(i: int) -> bytes:
    return f"row-{i % 6}-{i:06d}".encode()


@pytest.fixture(scope="module")
def conn(docker_cluster):
    c = Connection(docker_cluster.quorum, timeout=60)
    yield c
    c.close()


def test_ddl_and_data_across_regions_on_every_server(docker_cluster, conn):
    conn.create_table(TABLE, {"cf": dict(max_versions=3)}, split_keys=SPLITS)
    docker_cluster.wait_for(lambda: docker_cluster.all_open_on_live_servers(TABLE), 60,
                            "all regions open")
    servers = {r.server for r in docker_cluster.regions(TABLE)}
    assert servers == set(docker_cluster.live_servers()), "regions should span all 3 servers"

    table = conn.table(TABLE)
    with table.batch(batch_size=100) as b:
        for i in range(600):
            b.put(_row(i), {b"cf:v": str(i).encode()})
    assert table.row(_row(42)) == {b"cf:v": b"42"}
    scanned = list(table.scan())
    assert len(scanned) == 600
    assert [r for r, _ in scanned] == sorted(_row(i) for i in range(600))
    table.delete(_row(7))
    assert table.row(_row(7)) == {}


def test_happybase_reaches_the_data_through_the_thrift_gateway_container(docker_cluster,
                                                                          conn):
    """HBase users' other client: happybase on the host, the gateway in its container."""
    import happybase

    hb = happybase.Connection("127.0.0.1", docker_cluster.thrift_port, timeout=60_000)
    try:
        assert TABLE.encode() in hb.tables()
        table = hb.table(TABLE)
        assert table.row(_row(1)) == conn.table(TABLE).row(_row(1)) != {}
        table.put(b"row-9-via-thrift", {b"cf:q": b"happybase"})
        assert conn.table(TABLE).row(b"row-9-via-thrift") == {b"cf:q": b"happybase"}
        assert len(list(table.scan(row_prefix=b"row-1-", batch_size=50))) == \
            conn.table(TABLE).count(row_prefix=b"row-1-")
        table.delete(b"row-9-via-thrift")  # the later tests count the table's 599 rows
        assert conn.table(TABLE).row(b"row-9-via-thrift") == {}
    finally:
        hb.close()


def test_snapshot_and_clone_link_files_across_containers(docker_cluster, conn):
    """Each region server links its regions' files into the shared volume's .hbase-snapshot,
    and the master links them into the clone's region directories, which other containers
    open: hard links between files that different containers wrote."""
    conn.snapshot(TABLE, "usertable_snap")
    conn.clone_snapshot("usertable_snap", CLONE)
    clone = conn.table(CLONE)
    assert len(list(clone.scan())) == 599
    clone.put(_row(42), {b"cf:v": b"clone only"})
    assert conn.table(TABLE).row(_row(42)) == {b"cf:v": b"42"}
    conn.delete_snapshot("usertable_snap")  # the clone keeps its own links
    assert clone.row(_row(43)) == {b"cf:v": b"43"}


def test_master_web_ui_is_reachable_from_the_host(docker_cluster, conn):
    """The UI port is published unchanged, so the page the master advertises opens from the
    host (as http://localhost:16010 does with docker-compose)."""
    record = docker_cluster.active_master_record()
    base = f"http://127.0.0.1:{record.info_port}"
    with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
        assert r.status == 200
    with urllib.request.urlopen(f"{base}/", timeout=10) as r:
        page = r.read().decode()
    assert TABLE in page and record.name in page
    with urllib.request.urlopen(f"{base}/api/table/{TABLE}", timeout=10) as r:
        regions = json.load(r)["regions"]
    assert len(regions) == len(SPLITS) + 1


def test_killed_regionserver_loses_no_acknowledged_write(docker_cluster, conn):
    table = conn.table(TABLE)
    acknowledged: list[bytes] = []
    stop = threading.Event()

    def writer():
        i = 10_000
        deadline = time.monotonic() + 90
        while not stop.is_set() and time.monotonic() < deadline and i < 60_000:
            row = _row(i)
            try:
                table.put(row, {b"cf:w": b"x"})
                acknowledged.append(row)
            except errors.HBaseError:
                pass  # not acknowledged: may or may not be there
            i += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(2)
    victim_alias, victim = next(iter(docker_cluster.regionservers.items()))
    victim.get_wrapped_container().kill()  # SIGKILL
    killed_at = time.monotonic()
    docker_cluster.wait_for(lambda: len(docker_cluster.live_servers()) == 2, 60,
                            "the killed server's session to expire")
    docker_cluster.wait_for(lambda: docker_cluster.all_open_on_live_servers(TABLE), 60,
                            "regions reassigned")
    recovery = time.monotonic() - killed_at
    time.sleep(2)
    stop.set()
    thread.join(30)
    print(f"\n[docker] killed {victim_alias}: all regions serving again {recovery:.1f}s after "
          f"the kill (session timeout {docker_cluster.session_timeout}s); "
          f"{len(acknowledged)} writes acknowledged during the test")
    after = {r.server for r in docker_cluster.regions(TABLE)}
    assert len(after) == 2
    assert not any(s.startswith(victim_alias + ",") for s in after)
    missing = [r for r in acknowledged if table.row(r) != {b"cf:w": b"x"}]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    assert len(list(table.scan(columns=[b"cf:v"]))) == 599


def test_killed_active_master_backup_takes_over(docker_cluster, conn):
    active = docker_cluster.active_master()
    alias = next(a for a in docker_cluster.masters if active.startswith(a + ","))
    docker_cluster.masters[alias].get_wrapped_container().kill()
    took = docker_cluster.wait_for(
        lambda: docker_cluster.active_master() not in (None, active), 60, "a backup master")
    print(f"\n[docker] backup master active {took:.1f}s after killing {alias}")
    conn.create_table("after_failover", {"cf": {}})
    t = conn.table("after_failover")
    t.put(b"r", {b"cf:q": b"v"})
    assert t.row(b"r") == {b"cf:q": b"v"}


def test_a_zookeeper_frozen_past_the_session_timeout_and_the_cluster_heals(docker_cluster,
                                                                           conn):
    """A laptop asleep: ZooKeeper frozen longer than the sessions last. When it resumes every
    session has expired, every daemon aborts (exit status non-zero, as HBase's) and Docker's
    on-failure policy starts it again; the cluster serves again with nothing lost, the Thrift
    gateway included -- no make up needed."""
    import happybase

    daemons = [c.get_wrapped_container() for c in
               [*docker_cluster.masters.values(), *docker_cluster.regionservers.values()]]
    running = [c for c in daemons if (c.reload() or c.status) == "running"]
    zk = docker_cluster.zookeeper.get_wrapped_container()
    zk.pause()
    time.sleep(docker_cluster.session_timeout + 7)
    zk.unpause()
    healed = docker_cluster.wait_for(
        lambda: all((c.reload() or c.attrs["RestartCount"]) >= 1 for c in running)
        and docker_cluster.active_master() is not None
        and len(docker_cluster.live_servers()) == 2
        and docker_cluster.all_open_on_live_servers(TABLE), 150, "the cluster to heal")
    print(f"\n[docker] ZooKeeper frozen {docker_cluster.session_timeout + 7}s: every daemon "
          f"restarted and all regions serving {healed:.1f}s after it resumed")
    with Connection(docker_cluster.quorum, timeout=60) as fresh:
        assert len(list(fresh.table(TABLE).scan(columns=[b"cf:v"]))) == 599
        fresh.table("after_failover").put(b"r2", {b"cf:q": b"healed"})
    hb = happybase.Connection("127.0.0.1", docker_cluster.thrift_port, timeout=60_000)
    try:
        assert hb.table("after_failover").row(b"r2") == {b"cf:q": b"healed"}
    finally:
        hb.close()


def test_every_container_restarted_on_same_volumes_keeps_all_data(docker_cluster, conn):
    containers = docker_cluster.containers()
    for c in reversed(containers):  # region servers first (clean handover), ZooKeeper last
        c.reload()
        if c.status == "running":
            c.stop(timeout=20)
    for c in containers:
        c.start()
    docker_cluster.wait_for(
        lambda: docker_cluster.active_master() is not None
        and len(docker_cluster.live_servers()) == 3
        and docker_cluster.all_open_on_live_servers(TABLE), 120, "cluster serving again")
    with Connection(docker_cluster.quorum, timeout=60) as fresh:  # closed: no reconnect loop
        rows = dict(fresh.table(TABLE).scan(columns=[b"cf:v"]))  # after the cluster is gone
        cloned = dict(fresh.table(CLONE).scan())
    assert len(rows) == 599
    assert rows[_row(42)] == {b"cf:v": b"42"}
    assert len(cloned) == 599 and cloned[_row(42)] == {b"cf:v": b"clone only"}
