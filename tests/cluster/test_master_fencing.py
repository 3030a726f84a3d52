"""A zombie master -- frozen past its ZooKeeper session while a backup took over, then resumed
-- must not change where regions are served (docs/coordination.md, "Fencing the master").

Real processes: the active master is SIGSTOPped until the backup is active. Its threads would
send the region commands they prepared before the freeze in the moments after SIGCONT, before
kazoo reports the session lost; the tests deliver exactly those requests (its name as the
sender) while it is still frozen, since the moment of a SIGCONT cannot be aimed at a thread
between its meta write and its RPC.
"""

from __future__ import annotations

import signal
import time

import grpc

from coordination import meta_reader
from coordination.znodes import Paths
from hmaster.assignment import LOST_MARGIN_S
from hmaster.server import MasterConfig, MasterServer
from minihbase import chaos
from minihbase.errors import StaleMasterError
from protos import minihbase_pb2 as pb
from protos.schema import region_info_to_pb, table_to_pb
from protos.status import from_rpc_error
from tests.cluster.conftest import (SHORT_SESSION_S, rs_stub, server_record, serving_regions,
                                    stop_cluster)


def _call(fn, request, timeout: float = 30.0):
    try:
        return fn(request, timeout=timeout)
    except grpc.RpcError as e:
        return from_rpc_error(e)


def _stub(cluster, name: str):
    rec = server_record(cluster, name)
    return rs_stub(f"{rec.host}:{rec.port}")


def _open_on(stub) -> set[str]:
    return {r.region for r in stub.GetServerLoad(pb.Empty(), timeout=10).regions}


def test_commands_a_frozen_master_prepared_are_refused_once_a_backup_took_over(
        cluster_factory, connection_for):
    """Before the fence, the zombie's OpenRegion opened a second copy of the region (a put
    sent to it was acknowledged and never readable) and its CloseRegion took the region out of
    service while meta said OPEN, for good."""
    cluster = cluster_factory("zombie", session_timeout=SHORT_SESSION_S, balancer_period=3600)
    zombie = None
    channels = []
    try:
        conn = connection_for(cluster)
        conn.create_table("z", {"cf": {}})
        rec = cluster.wait_for(lambda: serving_regions(cluster, "z"), 30, "z serving")[0]
        conn.table("z").put(b"r1", {b"cf:q": b"v1"})
        desc = meta_reader.read_table(cluster.zk(), "z", Paths()).descriptor
        zombie = cluster.master_daemon(active=True)
        zombie.signal(signal.SIGSTOP)
        cluster.wait_for(lambda: cluster.active_master() not in (None, zombie.name), 30,
                         "the backup master to take over")

        other = next(s for s in cluster.live_regionservers() if s != rec.server)
        channel, ghost = _stub(cluster, other)
        channels.append(channel)
        err = _call(ghost.OpenRegion, pb.OpenRegionRequest(
            region=region_info_to_pb(rec.info), schema=table_to_pb(desc), server=other,
            master=zombie.name))
        assert isinstance(err, StaleMasterError), err
        assert zombie.name in str(err) and cluster.active_master() in str(err)
        batch = pb.OpenRegionsRequest(server=other, master=zombie.name)
        batch.regions.add(region=region_info_to_pb(rec.info), schema=table_to_pb(desc))
        err = _call(ghost.OpenRegions, batch)
        assert isinstance(err, StaleMasterError), err
        assert rec.info.name not in _open_on(ghost)

        channel, home = _stub(cluster, rec.server)
        channels.append(channel)
        err = _call(home.CloseRegion, pb.CloseRegionRequest(
            region=rec.info.name, flush=True, server=rec.server, master=zombie.name))
        assert isinstance(err, StaleMasterError), err
        err = _call(home.SplitRegion, pb.SplitRegionRequest(
            region=rec.info.name, server=rec.server, master=zombie.name))
        assert isinstance(err, StaleMasterError), err
        assert rec.info.name in _open_on(home)
        assert conn.table("z").row(b"r1") == {b"cf:q": b"v1"}

        # the active master's own commands are obeyed
        conn.move(rec.info.encoded_name, other)
        moved = cluster.wait_for(lambda: serving_regions(cluster, "z"), 30, "z serving")[0]
        assert moved.server == other and rec.info.name in _open_on(ghost)
        assert conn.table("z").row(b"r1") == {b"cf:q": b"v1"}
    finally:
        if zombie is not None:
            zombie.signal(signal.SIGCONT)
            zombie.wait(30)
        for channel in channels:
            channel.close()
        stop_cluster(cluster)
    assert zombie.exit_code() == 3  # resumed, it found its session gone and exited


def test_a_master_whose_command_is_refused_as_stale_aborts(cluster_factory, tmp_path):
    """A master not named by /hbase/master (a backup here, as a zombie would be) that sends a
    region command is refused, and takes the refusal as proof that it must stop."""
    cluster = cluster_factory("stale", balancer_period=3600)
    lost = []
    master = None
    try:
        master = MasterServer(MasterConfig(
            zk=cluster.quorum, rootdir=cluster.rootdir, bind="127.0.0.1", port=0,
            advertise="127.0.0.1", info_port=-1, backup=True),
            on_session_lost=lambda: lost.append(True)).start()
        server = cluster.live_regionservers()[0]
        err = None
        try:
            master.clients.close_region(server, "t,,1.00000000000000000000000000000000")
        except StaleMasterError as e:
            err = e
        assert err is not None and master.name in str(err)
        cluster.wait_for(lambda: lost, 10, "the stale master to abort")
    finally:
        if master is not None:
            master.stop(0)
        stop_cluster(cluster)


def test_a_copy_of_a_region_open_where_meta_does_not_place_it_is_closed(
        cluster_factory, connection_for):
    """Whatever opened it (a stale master before the fence, an open that ended after the master
    gave it up, a tool), a second copy of a region took writes nobody reads: before the master
    reconciled load reports with meta, it stayed open for good."""
    cluster = cluster_factory("ghost", balancer_period=3600)
    channels = []
    try:
        conn = connection_for(cluster)
        conn.create_table("g", {"cf": {}})
        rec = cluster.wait_for(lambda: serving_regions(cluster, "g"), 30, "g serving")[0]
        desc = meta_reader.read_table(cluster.zk(), "g", Paths()).descriptor
        other = next(s for s in cluster.live_regionservers() if s != rec.server)
        channel, ghost = _stub(cluster, other)
        channels.append(channel)
        ghost.OpenRegion(pb.OpenRegionRequest(region=region_info_to_pb(rec.info),
                                              schema=table_to_pb(desc)), timeout=30)
        assert rec.info.name in _open_on(ghost)
        cluster.wait_for(lambda: rec.info.name not in _open_on(ghost), 30,
                         "the master to close the stray copy")
        channel, home = _stub(cluster, rec.server)
        channels.append(channel)
        assert rec.info.name in _open_on(home)
        assert serving_regions(cluster, "g")[0].server == rec.server
        conn.table("g").put(b"r1", {b"cf:q": b"v1"})
        assert conn.table("g").row(b"r1") == {b"cf:q": b"v1"}
    finally:
        for channel in channels:
            channel.close()
        stop_cluster(cluster)


def test_a_region_closed_behind_the_master_s_back_is_reopened(cluster_factory, connection_for):
    """Meta said OPEN, the server no longer served it (a tool's CloseRegion): before the master
    read its reports for missing regions, every call ended in NotServingRegion, for good."""
    cluster = cluster_factory("lost", balancer_period=3600)
    channels = []
    try:
        conn = connection_for(cluster, timeout=60)
        conn.create_table("l", {"cf": {}})
        rec = cluster.wait_for(lambda: serving_regions(cluster, "l"), 30, "l serving")[0]
        conn.table("l").put(b"r1", {b"cf:q": b"v1"})
        time.sleep(max(0.0, rec.since_ms / 1000 + LOST_MARGIN_S - time.time()))
        channel, home = _stub(cluster, rec.server)
        channels.append(channel)
        home.CloseRegion(pb.CloseRegionRequest(region=rec.info.name, flush=True), timeout=30)
        assert rec.info.name not in _open_on(home)
        assert serving_regions(cluster, "l")[0].server == rec.server  # meta: still OPEN there
        started = time.monotonic()
        assert conn.table("l").row(b"r1") == {b"cf:q": b"v1"}  # retried until reopened
        print(f"served again after {time.monotonic() - started:.1f} s")
        reopened = serving_regions(cluster, "l")[0]
        assert reopened.since_ms > rec.since_ms
        channel, where = _stub(cluster, reopened.server)
        channels.append(channel)
        assert rec.info.name in _open_on(where)
    finally:
        for channel in channels:
            channel.close()
        stop_cluster(cluster)


def test_chaos_freezing_the_master_mid_move_leaves_every_region_on_one_server(
        cluster_factory, connection_for):
    """The monkey's freeze_master, three times: each frozen master must exit once resumed, no
    region may end up open on two servers, and every acknowledged write stays readable."""
    cluster = cluster_factory("freeze-master", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=30)
        conn.create_table("fm", {"cf": {}}, split_keys=[b"g", b"p"])
        rows = {f"{c}{i}".encode(): str(i).encode() for c in "ahqz" for i in range(5)}
        for row, value in rows.items():
            conn.table("fm").put(row, {b"cf:q": value})
        plan = ["freeze_master"] * 3
        monkey = chaos.ChaosMonkey(conn, "fm", cluster, plan=plan, duration=150,
                                   pause=(0.5, 0.5), session_timeout=SHORT_SESSION_S,
                                   recovery_timeout=60, seed=3)
        monkey.start()
        monkey.join(200)
        assert not monkey.is_alive(), "the chaos monkey did not finish its plan"
        assert [a.name for a in monkey.actions] == plan
        assert not monkey.failed, [(a.name, a.detail) for a in monkey.failed]
        assert all("exit code 3" in a.detail for a in monkey.actions), monkey.actions
        table = conn.table("fm")
        assert {row: table.row(row) for row in rows} == {
            row: {b"cf:q": value} for row, value in rows.items()}
    finally:
        stop_cluster(cluster)


def test_a_report_from_before_a_region_moved_is_no_stray_copy(cluster_factory,
                                                               connection_for):
    """A region server's last report lists a region it has since closed for a move (or a
    clean stop: it stops reporting, then closes its regions). The master must not take that
    report for a second copy of the region: no "closing that copy" warning (an operator
    reads it as a double assignment) and no close sent for a copy that is not there."""
    cluster = cluster_factory("staleghost", regionservers=2, masters=1, balancer_period=0.5,
                              report_period=3.0)
    try:
        conn = connection_for(cluster)
        conn.balance_switch(False)
        conn.create_table("sg", {"cf": {}}, split_keys=[b"m"])
        cluster.wait_for(lambda: serving_regions(cluster, "sg"), 30, "sg serving")
        for _ in range(4):
            for region in conn.regions("sg"):
                conn.move(region["name"])
            cluster.wait_for(lambda: serving_regions(cluster, "sg"), 30, "sg serving")
            time.sleep(1.5)  # chores (every 0.5 s) meanwhile read the older reports
        conn.table("sg").put(b"r1", {b"cf:q": b"v1"})
        assert conn.table("sg").row(b"r1") == {b"cf:q": b"v1"}
        log = open(cluster.masters[0].log_path).read()
        assert "closing that copy" not in log
    finally:
        stop_cluster(cluster)
