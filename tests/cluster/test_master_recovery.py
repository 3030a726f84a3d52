"""Crash handling, assignment retries, balancing, split and merge coordination, and a new
master resuming half-done work (see docs/coordination.md). The master runs in-process here (so
tests can look inside and seed ZooKeeper first); region servers are FakeRegionServers that speak
the RegionServer contract through real gRPC and real ZooKeeper sessions."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from kazoo.exceptions import ConnectionLoss

from coordination import meta_reader
from coordination import zk as zk_mod
from coordination.znodes import (CLOSED, CRASHED, DEAD, ENABLED, ENABLING, FAILED_OPEN, OFFLINE,
                                 ONLINE, OPEN, OPENING, SPLITTING, SPLITTING_WAL, Paths,
                                 RegionRecord, TableRecord, parse_server_name)
from hmaster import assignment
from hmaster.assignment import KeyedLocks
from hmaster.meta import MetaStore
from hmaster.server import MasterConfig, MasterServer
from minihbase.errors import HBaseError, InvalidArgumentError, OperationNotAllowedError
from protos import minihbase_pb2 as pb
from protos.status import abort_with
from storage import layout
from storage.region import write_region_info
from storage.cell import Cell, CellType
from storage.region_split import write_daughters
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from storage.wal import WAL
from storage.wal_splitter import read_recovered_edits
from tests.cluster.conftest import new_chroot, wait_for
from tests.cluster.master_fakes import FakeRegionServer


@pytest.fixture
def env(zookeeper, tmp_path):
    """(quorum, rootdir, start_master, add_server, zk) with cleanup of everything started."""
    quorum = new_chroot(zookeeper.quorum)
    rootdir = str(tmp_path / "root")
    started_masters, started_servers = [], []
    zk = zk_mod.connect(quorum, session_timeout=10.0)

    def start_master(**kw):
        cfg = MasterConfig(zk=quorum, rootdir=rootdir, bind="127.0.0.1", port=0,
                           advertise="127.0.0.1", info_port=-1, session_timeout=4.0,
                           balancer_period=kw.pop("balancer_period", 300.0))
        m = MasterServer(cfg, on_session_lost=lambda: None).start()
        started_masters.append(m)
        wait_for(m.recovered.is_set, 30, "master recovered")
        return m

    def add_server(cls=FakeRegionServer, **kw):
        s = cls(quorum, rootdir=rootdir, **kw).start()
        started_servers.append(s)
        return s

    yield quorum, rootdir, start_master, add_server, zk
    for m in started_masters:
        m.stop(0)
    for s in started_servers:
        s.stop()
    zk.stop()
    zk.close()


def create(master, name, split_keys=()):
    master.ddl.create(pb.TableSchema(name=name, families=[pb.FamilySchema(name="cf")]),
                      list(split_keys))


def regions(zk, table):
    return meta_reader.list_regions(zk, table)


def test_regions_of_a_vanished_server_reopen_elsewhere_within_3s_after_wal_split(env):
    quorum, rootdir, start_master, add_server, zk = env
    a, b = add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "both servers online")
    create(master, "t", [b"d", b"h", b"p"])
    on_a = [r for r in regions(zk, "t") if r.server == a.name]
    assert on_a, "the create spread regions over both servers"
    # a's WAL holds an unflushed edit of one of its regions, whose directory the create wrote
    victim = on_a[0].info
    assert os.path.isdir(layout.region_dir(rootdir, victim))
    wal = WAL(layout.wal_dir(rootdir, a.name))
    wal.sync(wal.append(victim.name, 7, [Cell(victim.start_key + b"row", b"cf", b"q", 1,
                                              CellType.PUT, b"v")]))
    wal.close()

    a.stop()  # its znode vanishes at once (clean stop, or expiry noticed)
    t0 = time.monotonic()
    wait_for(lambda: all(r.state == OPEN and r.server == b.name for r in regions(zk, "t")),
             10, "every region open on the survivor")
    elapsed = time.monotonic() - t0
    wait_for(lambda: master.meta.read_server_state(a.name).state == DEAD, 5, "server DEAD")
    assert elapsed < 3.0, f"recovery took {elapsed:.2f}s"
    assert master.crash.last_recovery_s[a.name] < 3.0
    # fenced and split: the WAL directory is gone (archived), the edit waits in recovered.edits
    assert not os.path.exists(layout.wal_dir(rootdir, a.name))
    assert not os.path.exists(layout.splitting_wal_dir(rootdir, a.name))
    assert any(n.startswith(a.name) for n in os.listdir(layout.old_wal_dir(rootdir)))
    edits_dir = layout.recovered_edits_dir(layout.region_dir(rootdir, victim))
    (edits_file,) = os.listdir(edits_dir)
    (entry,) = read_recovered_edits(os.path.join(edits_dir, edits_file))
    assert (entry.region, entry.seqid, entry.cells[0].value) == (victim.name, 7, b"v")
    status = master.servers  # the status call shows the dead server with its state
    from hmaster.status import cluster_status
    st = cluster_status(master.meta, status, master.election, master.cluster_id)
    assert {s.name: s.state for s in st.servers} == {a.name: DEAD, b.name: ONLINE}
    assert list(st.regions_in_transition) == []


def test_new_master_resumes_crash_handling_left_in_splitting_wal(env):
    quorum, rootdir, start_master, add_server, zk = env
    survivor = add_server()
    meta = MetaStore(zk, Paths())
    meta.ensure_layout()
    dead = "127.0.0.1,1,1"  # never comes back
    desc = TableDescriptor("r", (FamilyDescriptor(b"cf"),))
    recs = [RegionRecord(RegionInfo("r", s, e, 5), OPEN, dead)
            for s, e in ((b"", b"m"), (b"m", b""))]
    meta.create_table(TableRecord(desc), recs)
    meta.write_server_state(dead, SPLITTING_WAL, "WAL split and reassignment")
    splitting = layout.splitting_wal_dir(rootdir, dead)
    wal = WAL(splitting)  # the old master had fenced it already
    os.makedirs(layout.region_dir(rootdir, recs[1].info))
    wal.sync(wal.append(recs[1].info.name, 3, [Cell(b"x", b"cf", b"q", 1, CellType.PUT, b"1")]))
    wal.close()

    master = start_master()
    assert [(r.state, r.server) for r in regions(zk, "r")] == [(OPEN, survivor.name)] * 2
    assert meta.read_server_state(dead).state == DEAD
    assert not os.path.exists(splitting)
    assert os.listdir(layout.recovered_edits_dir(layout.region_dir(rootdir, recs[1].info)))
    assert master.meta.read_server_state(survivor.name).state == ONLINE


def test_failed_open_is_visible_with_reason_and_retried_when_a_server_joins(env):
    quorum, rootdir, start_master, add_server, zk = env
    add_server(fail_opens=True)
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    create(master, "f")
    (rec,) = regions(zk, "f")
    assert rec.state == FAILED_OPEN and rec.server == ""
    assert rec.waiting_for.startswith("retry #1 in 1s after:")
    assert "cannot open" in rec.waiting_for
    from hmaster.status import cluster_status
    st = cluster_status(master.meta, master.servers, master.election, master.cluster_id)
    (rit,) = st.regions_in_transition
    assert rit.state == FAILED_OPEN and rit.waiting_for == rec.waiting_for
    assert rit.state_since_ms == rec.since_ms
    good = add_server()
    wait_for(lambda: regions(zk, "f")[0].state == OPEN, 10, "open on the new server")
    assert regions(zk, "f")[0].server == good.name


def test_a_region_failing_in_a_batched_open_is_retried_elsewhere_and_the_others_open(env):
    """assign_many sends each server its regions in one OpenRegions call; a region whose open
    fails there fails alone: the others are OPEN, and it opens on another server."""
    quorum, rootdir, start_master, add_server, zk = env
    a, b = add_server(), add_server()
    b.fail_open_keys = a.fail_open_keys  # shared: fails on the first server it is sent to
    a.fail_open_keys.add(b"c")
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "batch", [b"b", b"c", b"d", b"e", b"f"])
    recs = regions(zk, "batch")
    assert [r.state for r in recs] == [OPEN] * 6
    assert not a.fail_open_keys  # it did fail once
    (c,) = [r for r in recs if r.info.start_key == b"c"]
    failed_on = a if c.server == b.name else b
    assert c.info.name not in failed_on.open_names()
    assert {r.info.name for r in recs if r.server == a.name} == a.open_names()
    assert {r.info.name for r in recs if r.server == b.name} == b.open_names()
    # one call per server for the batch (3 regions each); the retry is one more
    assert sorted(a.open_calls + b.open_calls) == [3, 3]
    assert c.info.name in (a.opened + b.opened)


def test_a_server_failing_a_whole_batch_gets_no_further_calls_and_its_regions_open_elsewhere(
        env, monkeypatch):
    """A server whose OpenRegions call fails as a whole (gone, or hung past the deadline) is
    sent no more of its batches and no more best-effort closes after the first unanswered
    one: each would wait out its own deadline. Its regions open on the other server."""
    monkeypatch.setattr(assignment, "OPEN_BATCH", 8)  # the master runs in this process
    quorum, rootdir, start_master, add_server, zk = env
    a, b = add_server(), add_server()
    b.unreachable = True
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "hung", [b"%02d" % i for i in range(1, 32)])  # 16 regions each
    recs = regions(zk, "hung")
    assert [r.state for r in recs] == [OPEN] * len(recs)
    assert {r.server for r in recs} == {a.name}
    assert b.open_calls == [8]
    assert b.close_calls == 1


def test_no_live_server_leaves_regions_offline_saying_so(env):
    quorum, rootdir, start_master, add_server, zk = env
    master = start_master()
    create(master, "lonely")
    (rec,) = regions(zk, "lonely")
    assert rec.state == OFFLINE and rec.waiting_for == "a live region server to open it on"
    s = add_server()
    wait_for(lambda: regions(zk, "lonely")[0].server == s.name, 10, "assigned on join")


def test_balancer_evens_region_counts_when_a_server_joins(env):
    quorum, rootdir, start_master, add_server, zk = env
    first = add_server()
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    create(master, "bal", [b"b", b"c", b"d", b"e", b"f"])
    assert {r.server for r in regions(zk, "bal")} == {first.name}
    second = add_server()
    # OPEN too: a region's record names its new server from OPENING on, before its open
    wait_for(lambda: sorted(sum(r.server == s.name and r.state == OPEN
                                for r in regions(zk, "bal"))
                            for s in (first, second)) == [3, 3], 15, "3 and 3, all OPEN")
    assert master.balancer.balance() == 0  # already even


def _one_region_table(env, table: str, server=FakeRegionServer):
    """A master, one region server and `table` with one region: (master, region record,
    its directory, the server)."""
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server(server)
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    create(master, table)
    (parent,) = regions(zk, table)
    return master, parent, layout.region_dir(rootdir, parent.info), rs


def test_split_swaps_parent_for_daughters_and_janitor_deletes_parent_dir(env):
    zk = env[4]
    master, parent, parent_dir, rs = _one_region_table(env, "s")
    assert os.path.isdir(parent_dir)  # the create wrote it
    left, right = master.splits.split(parent.info.name, b"k")
    after = regions(zk, "s")
    assert [(r.info.start_key, r.info.end_key, r.state, r.server) for r in after] == [
        (b"", b"k", OPEN, rs.name), (b"k", b"", OPEN, rs.name)]
    # no daughter directory holds a reference file, so the janitor removed the parent
    assert not os.path.exists(parent_dir)
    assert zk.get_children(Paths().splits) == []
    with pytest.raises(Exception, match="not inside region"):
        master.splits.split(left.name, b"z")


def test_split_waits_for_daughter_references_before_deleting_parent(env):
    rootdir = env[1]
    master, parent, parent_dir, _ = _one_region_table(env, "sr")
    assert os.path.isdir(parent_dir)  # the create wrote it
    left_info = RegionInfo("sr", b"", b"k", parent.info.region_id + 1)  # what the fake returns
    ref = os.path.join(layout.region_dir(rootdir, left_info), "cf", layout.reference_name(1))
    os.makedirs(os.path.dirname(ref))
    open(ref, "w").close()
    master.splits.split(parent.info.name, b"k")
    (journal,) = master.meta.journals().values()
    assert journal["step"] == "CLEANUP" and os.path.exists(parent_dir)
    os.remove(ref)  # a compaction rewrote the daughter's files
    assert master.splits.janitor() == 1
    assert not os.path.exists(parent_dir)


def test_a_switched_off_catalog_janitor_keeps_parents_until_it_is_run(env):
    master, parent, parent_dir, _ = _one_region_table(env, "cj")
    master.meta.set_switch("catalogjanitor", False)
    master.splits.split(parent.info.name, b"k")  # no daughter holds a reference
    assert os.path.isdir(parent_dir) and master.splits.janitor(forced=False) == 0
    assert master.splits.janitor() == 1 and not os.path.exists(parent_dir)  # catalogjanitor_run


def test_a_server_back_on_its_address_clears_its_earlier_dead_incarnations(env):
    """HBase's cleanPreviousInstance: list_deadservers does not pile up restarts."""
    quorum, rootdir, start_master, add_server, zk = env
    master = start_master()
    meta = master.meta
    wait_for(lambda: master.recovered.is_set(), 10, "master recovered")
    back = add_server()
    host, port, startcode = back.name.split(",")
    earlier, other = f"{host},{port},{int(startcode) - 5}", f"{host},{int(port) + 1},1"
    for name in (earlier, other):
        meta.write_server_state(name, DEAD)
    back.stop()
    again = add_server(port=int(port))
    wait_for(lambda: again.name in master.servers.online(), 10, "restarted server online")
    assert earlier not in meta.server_states() and other in meta.server_states()


class _LosesLeftDaughter(FakeRegionServer):
    def _write_dirs(self, *infos):
        super()._write_dirs(*infos[1:])  # the left daughter's directory is lost


def test_janitor_keeps_the_parent_of_a_daughter_in_meta_whose_directory_is_gone(env):
    """The parent's files may be the only copy of such a daughter's data (hbck reports it
    MISSING_REGION_DIR): they stay until the daughter's directory is back."""
    rootdir = env[1]
    master, parent, parent_dir, _ = _one_region_table(env, "sl", _LosesLeftDaughter)
    left, _ = master.splits.split(parent.info.name, b"k")
    (journal,) = master.meta.journals().values()
    assert journal["step"] == "CLEANUP" and os.path.isdir(parent_dir)
    assert master.splits.janitor() == 0 and os.path.isdir(parent_dir)
    path = layout.region_dir(rootdir, left)  # restored (here: empty, no references)
    os.makedirs(path)
    write_region_info(layout.region_info_path(path), left)
    assert master.splits.janitor() == 1
    assert not os.path.exists(parent_dir)


def test_merge_of_adjacent_regions_records_one_region(env):
    quorum, rootdir, start_master, add_server, zk = env
    add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "mg", [b"g", b"p"])
    a, b, c = regions(zk, "mg")
    with pytest.raises(Exception, match="not adjacent"):
        master.splits.merge(a.info.name, c.info.name)
    merged = master.splits.merge(b.info.name, a.info.name)  # either order
    after = regions(zk, "mg")
    assert [(r.info.start_key, r.info.end_key, r.state) for r in after] == [
        (b"", b"p", OPEN), (b"p", b"", OPEN)]
    assert after[0].info == merged
    assert len(master.assignment.region_locks) == 0  # retired regions keep no lock


def test_merge_of_three_adjacent_regions_in_any_order_records_one_region(env):
    """HBase 2.3+ merges N regions in one procedure (HBASE-22777); a gap, a region named twice
    or a lone region is refused before anything changes."""
    quorum, rootdir, start_master, add_server, zk = env
    s1, s2 = add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "m3", [b"g", b"p", b"t"])
    a, b, c, d = regions(zk, "m3")
    for run, message in (([a, b, d], r"not adjacent: m3,67,\d+\.\w+ ends at 'p'"),
                         ([a, a], "named twice"), ([b], "at least 2 regions, got 1")):
        with pytest.raises(InvalidArgumentError, match=message):
            master.splits.merge(*[r.info.name for r in run])
    assert regions(zk, "m3") == [a, b, c, d] and zk.get_children(Paths().splits) == []
    merged = master.splits.merge(c.info.name, a.info.name, b.info.name)
    after = regions(zk, "m3")
    assert [(r.info.start_key, r.info.end_key, r.state) for r in after] == [
        (b"", b"t", OPEN), (b"t", b"", OPEN)]
    assert after[0].info == merged and merged.region_id > a.info.region_id
    (request,) = s1.merges + s2.merges
    assert [i.start_key for i in request.regions] == [b"", b"g", b"p"]
    assert not request.region_a  # a region server older than `regions` refuses, never
    assert len(master.assignment.region_locks) == 0  # merges only two of three
    wait_for(lambda: zk.get_children(Paths().splits) == [], 10, "the janitor's pass")
    for parent in (a, b, c):
        assert not os.path.exists(layout.region_dir(rootdir, parent.info))


class _FailsMerge(FakeRegionServer):
    def MergeRegions(self, request, context):
        abort_with(context, OSError("disk full"))


def test_a_failed_merge_of_three_regions_reopens_all_three(env):
    quorum, rootdir, start_master, add_server, zk = env
    add_server(cls=_FailsMerge), add_server(cls=_FailsMerge)
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "f3", [b"g", b"p"])
    before = regions(zk, "f3")
    with pytest.raises(HBaseError, match="OSError: disk full"):
        master.splits.merge(*[r.info.name for r in before])
    wait_for(lambda: [(r.info, r.state) for r in regions(zk, "f3")] ==
             [(r.info, OPEN) for r in before], 20, "all three parents open again")
    assert zk.get_children(Paths().splits) == []
    assert len(master.assignment.region_locks) == 0


def test_merge_requests_of_old_and_new_clients(env):
    """An older client's MergeRequest names region_a and region_b; a newer one's `regions`
    (any number). A resend with the same nonce is answered done, not merged again."""
    import grpc

    from protos import minihbase_pb2_grpc as pb_grpc

    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    create(master, "wire", [b"d", b"g", b"m"])
    a, b, c, d = regions(zk, "wire")
    old = pb.MergeRequest(region_a=b.info.name, region_b=a.info.name)
    new = pb.MergeRequest(regions=[c.info.name, d.info.name], nonce=4242)
    with grpc.insecure_channel(f"127.0.0.1:{master.port}") as channel:
        stub = pb_grpc.MasterStub(channel)
        stub.Merge(old, timeout=30)
        stub.Merge(new, timeout=30)
        stub.Merge(new, timeout=30)
    assert [(r.info.start_key, r.info.end_key) for r in regions(zk, "wire")] == [
        (b"", b"g"), (b"g", b"")]


def test_region_locks_serialise_one_key_and_keep_nothing_once_released():
    locks, inside, overlaps = KeyedLocks(), [], []

    def worker(key):
        for _ in range(200):
            with locks.hold(key):
                inside.append(key)
                if inside.count(key) > 1:
                    overlaps.append(key)
                assert locks.busy(key)
                inside.remove(key)

    threads = [threading.Thread(target=worker, args=(k,)) for k in "aabbc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == [] and len(locks) == 0 and not locks.busy("a")


def test_new_master_rolls_back_a_split_that_never_reached_meta(env):
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server()
    meta = MetaStore(zk, Paths())
    meta.ensure_layout()
    desc = TableDescriptor("half", (FamilyDescriptor(b"cf"),))
    parent = RegionRecord(RegionInfo("half", b"", b"", 9), SPLITTING, rs.name, 0,
                          f"RS.SplitRegion on {rs.name}")
    meta.create_table(TableRecord(desc), [parent])
    meta.write_server_state(rs.name, ONLINE)
    journal = {"kind": "split", "table": "half", "parents": [parent.info.to_dict()],
               "server": rs.name, "split_key": "", "step": SPLITTING, "children": []}
    zk.create(Paths().split_journal(parent.info.encoded_name), json.dumps(journal).encode())
    start_master()
    (rec,) = regions(zk, "half")
    assert (rec.info, rec.state, rec.server) == (parent.info, OPEN, rs.name)
    assert zk.get_children(Paths().splits) == []


def test_a_region_being_split_is_neither_closed_nor_reopened_by_assignment(env):
    """After a failover, until splits.resume ends it, a SPLITTING parent is still open on its
    server: a disable (unassign) must not mark it closed, nor a move or an enable open it
    on a second server."""
    quorum, rootdir, start_master, add_server, zk = env
    rs, other = add_server(), add_server()
    master = start_master()
    create(master, "busy")
    (rec,) = regions(zk, "busy")
    splitting = master.meta.set_region(rec, SPLITTING, waiting_for="RS.SplitRegion")
    opened = len(other.opened) + len(rs.opened)
    assert master.assignment.unassign(splitting, final_state=CLOSED).state == SPLITTING
    assert master.assignment.assign(splitting).state == SPLITTING
    assert master.assignment.move(splitting, other.name).state == SPLITTING
    (now,) = regions(zk, "busy")
    assert (now.state, now.server) == (SPLITTING, rec.server)
    assert len(other.opened) + len(rs.opened) == opened
    assert not any(rec.info.name in s.closed for s in (rs, other))


def test_region_stuck_in_transition_is_redriven_by_the_repair_chore(env):
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server()
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    create(master, "stuck")
    (rec,) = regions(zk, "stuck")
    # as if a close had failed on a live server long ago and nobody retried it
    master.meta.commit([master.meta.put_region_op(RegionRecord(
        rec.info, "CLOSING", rs.name, 1, f"retry of RS.CloseRegion on {rs.name}: boom"))])
    assert master.assignment.repair(min_age_s=10) == 1
    wait_for(lambda: regions(zk, "stuck")[0].state == OPEN, 10, "re-driven to OPEN")
    assert rs.closed == [rec.info.name] and rs.opened.count(rec.info.name) == 2


def test_split_racing_its_servers_crash_is_abandoned_not_half_applied(env):
    """The crash procedure takes the SPLITTING parent over (WAL split, reopen elsewhere); the
    split's own meta swap then finds the parent's version changed and backs off."""
    import threading

    quorum, rootdir, start_master, add_server, zk = env
    doomed = add_server()
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    create(master, "race")
    (parent,) = regions(zk, "race")
    survivor = add_server()
    wait_for(lambda: survivor.name in master.servers.online(), 10, "survivor online")
    wait_for(lambda: regions(zk, "race")[0].state == OPEN, 10, "settled after balancing")
    (parent,) = regions(zk, "race")
    host = doomed if parent.server == doomed.name else survivor
    other = survivor if host is doomed else doomed
    host.split_gate = threading.Event()
    outcome = {}

    def split():
        try:
            outcome["result"] = master.splits.split(parent.info.name, b"k")
        except Exception as e:  # noqa: BLE001
            outcome["error"] = e
    t = threading.Thread(target=split)
    t.start()
    wait_for(lambda: regions(zk, "race")[0].state == SPLITTING, 10, "parent SPLITTING")
    host.vanish()
    wait_for(lambda: [(r.info, r.state, r.server) for r in regions(zk, "race")] ==
             [(parent.info, OPEN, other.name)], 10, "parent reopened on the other server")
    host.split_gate.set()
    t.join(30)
    # the split fails either way: its RPC is cut when the server is declared dead, or (if the
    # reply got through) its versioned meta swap is refused
    assert "error" in outcome, outcome
    assert [(r.info, r.state, r.server) for r in regions(zk, "race")] == [
        (parent.info, OPEN, other.name)]
    assert zk.get_children(Paths().splits) == []
    # the swap itself, with the version the split read before the crash took the parent over
    from minihbase.errors import RegionOfflineError
    stale = RegionRecord(parent.info, SPLITTING, host.name)
    _, version_now = master.meta.read_region_versioned("race", parent.info.encoded_name)
    journal = {"kind": "split", "table": "race", "parents": [parent.info.to_dict()],
               "server": host.name, "split_key": "", "step": SPLITTING, "children": []}
    master.meta.commit([master.meta.journal_op(parent.info.encoded_name, journal, create=True)])
    left, right = write_daughters(rootdir, parent.info,  # ids beside the cut split's
                                  TableDescriptor("race", (FamilyDescriptor(b"cf"),)), b"k",
                                  parent.info.region_id + 2)
    unborn = [layout.region_dir(rootdir, d) for d in (left, right)]
    assert all(os.path.isdir(p) for p in unborn)
    with pytest.raises(RegionOfflineError, match="abandoned"):
        master.splits._commit_split(parent.info.encoded_name, journal, stale, version_now - 1,
                                    left, right)
    # what split() does next: nothing to roll back, the crash procedure has the parent
    assert master.splits._rollback(journal, parent.info.encoded_name) == []
    assert [(r.info, r.state) for r in regions(zk, "race")] == [(parent.info, OPEN)]
    assert zk.get_children(Paths().splits) == []
    assert not any(os.path.exists(p) for p in unborn), "the abandoned daughters were kept"


def _unflushed_edit(rootdir, server, info) -> None:
    """An acknowledged edit of `info` that only `server`'s WAL holds."""
    os.makedirs(layout.region_dir(rootdir, info), exist_ok=True)
    wal = WAL(layout.wal_dir(rootdir, server))
    wal.sync(wal.append(info.name, 7, [Cell(info.start_key + b"row", b"cf", b"q", 1,
                                            CellType.PUT, b"v")]))
    wal.close()


def test_server_restarted_on_the_same_address_gets_its_old_regions_only_after_the_wal_split(
        env):
    """kill -9 of a region server, restarted at once on the same host:port (a container
    restart): the old incarnation's znode lives until its session expires, and calls addressed
    to it reach the new process. The master must crash-handle the old one as soon as the new
    one joins, so every region is reopened from its split WAL."""
    from minihbase.zookeeper import free_port
    quorum, rootdir, start_master, add_server, zk = env
    port = free_port()
    old = add_server(port=port)
    master = start_master()
    wait_for(lambda: master.servers.online() == [old.name], 10, "the server online")
    create(master, "t", [b"b", b"c", b"d"])
    hosted = regions(zk, "t")
    assert {r.server for r in hosted} == {old.name}
    for r in hosted:
        _unflushed_edit(rootdir, old.name, r.info)
    old.server.stop(0)  # the process is gone; its znode stays until the session expires
    time.sleep(0.5)
    new = add_server(port=port)
    wait_for(lambda: (master.meta.read_server_state(old.name) or None) is not None
             and master.meta.read_server_state(old.name).state == DEAD, 20,
             "the old incarnation handled as crashed (before its session expired)")
    wait_for(lambda: all(r.state == OPEN and r.server == new.name for r in regions(zk, "t")),
             20, "every region open on the new incarnation")
    for r in hosted:
        edits = layout.recovered_edits_dir(layout.region_dir(rootdir, r.info))
        assert os.listdir(edits), f"{r.info.name} reopened without its WAL split"
    assert old.zk is not None, "the old session was still alive: no expiry was waited for"


class _DiesDuringSplit(FakeRegionServer):
    """The process dies while splitting, before its flush: the znode lives until the session
    expires, and the parent's edits are only in its WAL."""

    def SplitRegion(self, request, context):
        threading.Thread(target=self.server.stop, args=(0,)).start()
        time.sleep(1)
        return super().SplitRegion(request, context)


class _GatedMerge(FakeRegionServer):
    gate: threading.Event | None = None

    def MergeRegions(self, request, context):
        if self.gate is not None:
            self.gate.wait(30)
        return super().MergeRegions(request, context)


def _wait_dead(master, name):
    wait_for(lambda: (master.meta.read_server_state(name) or None) is not None
             and master.meta.read_server_state(name).state == DEAD, 20, f"{name} DEAD")


def test_split_whose_server_dies_mid_call_leaves_the_parent_to_the_crash_procedure(env):
    """The rollback must not reassign the parent itself: its edits are only in the dead
    server's WAL, which only the crash procedure splits."""
    quorum, rootdir, start_master, add_server, zk = env
    host = add_server(cls=_DiesDuringSplit)
    master = start_master()
    wait_for(lambda: master.servers.online() == [host.name], 10, "the server online")
    create(master, "t")
    (parent,) = regions(zk, "t")
    other = add_server()
    wait_for(lambda: other.name in master.servers.online(), 10, "a second server online")
    _unflushed_edit(rootdir, host.name, parent.info)
    with pytest.raises(Exception):
        master.splits.split(parent.info.name, b"k")
    (rec,) = regions(zk, "t")
    assert rec.server == host.name, f"rolled back away from its server: {rec}"
    host.vanish()  # the session expires
    _wait_dead(master, host.name)
    wait_for(lambda: [(r.info, r.state, r.server) for r in regions(zk, "t")] ==
             [(parent.info, OPEN, other.name)], 20, "the parent reopened on the other server")
    edits = layout.recovered_edits_dir(layout.region_dir(rootdir, parent.info))
    assert os.listdir(edits), "the parent reopened without its WAL split"


def test_merge_abandoned_by_one_parents_crash_reopens_the_other_parent(env):
    quorum, rootdir, start_master, add_server, zk = env
    s1, s2 = add_server(cls=_GatedMerge), add_server(cls=_GatedMerge)
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "both servers online")
    create(master, "t", [b"m"])
    a, b = regions(zk, "t")
    if a.server == b.server:
        pytest.skip("the create put both regions on one server")
    by_name = {s1.name: s1, s2.name: s2}
    host_a, host_b = by_name[a.server], by_name[b.server]
    host_a.gate = threading.Event()
    outcome = {}

    def merge():
        try:
            outcome["merged"] = master.splits.merge(a.info.name, b.info.name)
        except Exception as e:  # noqa: BLE001
            outcome["error"] = e
    t = threading.Thread(target=merge)
    t.start()
    wait_for(lambda: all(r.state == "MERGING" for r in regions(zk, "t")), 10, "both MERGING")
    host_b.vanish()  # b's server crashes while a's server writes the merged region
    wait_for(lambda: master.meta.read_region("t", b.info.encoded_name).state != "MERGING", 20,
             "the crash procedure to take b over")
    host_a.gate.set()
    t.join(30)
    assert "error" in outcome, outcome
    _wait_dead(master, host_b.name)
    wait_for(lambda: [(r.info, r.state) for r in regions(zk, "t")] ==
             [(a.info, OPEN), (b.info, OPEN)], 20, "both parents open again")
    assert zk.get_children(Paths().splits) == []


def test_crash_procedure_failing_before_it_records_crashed_is_retried_by_the_chore(
        env, monkeypatch):
    """A ZooKeeper error at the procedure's first write leaves servers/<name> ONLINE for a
    server whose znode is gone: the chore must still find and finish it."""
    quorum, rootdir, start_master, add_server, zk = env
    a, b = add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "both servers online")
    create(master, "t", [b"m"])
    on_a = [r for r in regions(zk, "t") if r.server == a.name]
    assert on_a
    real = master.meta.write_server_state
    failed = []

    def lose_connection_once(name, state, *rest):
        if name == a.name and state == CRASHED and not failed:
            failed.append(state)
            raise ConnectionLoss()
        return real(name, state, *rest)

    monkeypatch.setattr(master.meta, "write_server_state", lose_connection_once)
    a.vanish()
    wait_for(lambda: failed, 10, "the crash procedure to hit the error")
    time.sleep(0.5)
    assert master.meta.read_server_state(a.name).state == ONLINE
    master._resume_crashes()
    _wait_dead(master, a.name)
    wait_for(lambda: all(r.state == OPEN and r.server == b.name for r in regions(zk, "t")), 20,
             "the dead server's regions reopened")


def test_a_failing_recovery_step_does_not_skip_the_ones_after_it(env, monkeypatch):
    """A new master whose split/merge resumption fails (a table dropped meanwhile, a ZooKeeper
    error) still assigns the regions the old master left waiting, at once."""
    from hmaster.split_merge import SplitMergeCoordinator

    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server()
    meta = MetaStore(zk, Paths())
    meta.ensure_layout()
    desc = TableDescriptor("waiting", (FamilyDescriptor(b"cf"),))
    waiting = RegionRecord(RegionInfo("waiting", b"", b"", 9), OFFLINE, "",
                           int(time.time() * 1000), "assignment after create")
    meta.create_table(TableRecord(desc), [waiting])

    def resume_fails(self):
        raise RuntimeError("injected: resuming split journals failed")

    monkeypatch.setattr(SplitMergeCoordinator, "resume", resume_fails)
    start_master()
    # (the repair chore would only re-drive it after 10 s)
    (rec,) = regions(zk, "waiting")
    assert (rec.state, rec.server) == (OPEN, rs.name)


def test_regions_left_closed_in_an_enabled_table_are_reopened_by_the_chore(env):
    """An enable whose assignments failed (a lost ZooKeeper connection) used to mark the table
    ENABLED and leave regions CLOSED for good. repair() reopens them under the table's DDL
    lock, and leaves a disabled table's closed regions (and a table busy with DDL) alone."""
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    create(master, "stuck_closed", [b"m"])
    create(master, "off", [])
    master.ddl.disable("off")
    wait_for(lambda: all(r.state == OPEN for r in regions(zk, "stuck_closed")), 30, "open")
    long_ago = int(time.time() * 1000) - 60_000
    with master.ddl.table_lock("stuck_closed"):  # DDL at work on the table: it is left to it
        master.meta.commit([master.meta.put_region_op(RegionRecord(r.info, CLOSED, "", long_ago,
                                                                   ""))
                            for r in regions(zk, "stuck_closed")])
        master.assignment.repair(try_table_lock=master.ddl.try_table_lock)
        time.sleep(0.5)
        assert {r.state for r in regions(zk, "stuck_closed")} == {CLOSED}
    master.assignment.repair(try_table_lock=master.ddl.try_table_lock)
    wait_for(lambda: all(r.state == OPEN for r in regions(zk, "stuck_closed")), 30,
             "the closed regions of the enabled table to reopen")
    assert {r.state for r in regions(zk, "off")} == {CLOSED}


def test_table_ddl_keeps_no_lock_for_tables_that_were_dropped(env):
    """A master that runs for months sees tables with generated names (tmp_<date>, one per
    job) come and go: a table's DDL lock is kept only while a call holds or waits for it, not
    for every table name that ever had DDL."""
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    baseline = len(master.ddl._table_locks)
    for i in range(5):
        name = f"tmp_{i}"
        create(master, name)
        master.ddl.disable(name)
        master.ddl.drop(name)
    # The chores take the locks of the tables they look at for a moment, without waiting.
    wait_for(lambda: len(master.ddl._table_locks) == baseline, 10,
             "the DDL locks of the dropped tables to be forgotten")


def test_a_split_whose_thread_gave_up_is_rolled_back_by_the_live_master(env):
    """ZooKeeper's connection dropped during a split's commit, which applied: the split's
    thread gave up (the outcome was unknown), leaving the journal at SPLITTING. The live
    master's chore (resume_stalled) rolls it back as a new master would, instead of leaving
    the parent SPLITTING until a failover; a journal a split is working on is left alone."""
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server()
    master = start_master()
    create(master, "gaveup")
    (rec,) = regions(zk, "gaveup")
    enc = rec.info.encoded_name
    journal = {"kind": "split", "table": "gaveup", "parents": [rec.info.to_dict()],
               "server": rec.server, "split_key": "", "step": SPLITTING, "children": []}
    with master.splits._working_on(enc):  # as while the split's own thread runs
        master.meta.commit([master.meta.journal_op(enc, journal, create=True),
                            master.meta.put_region_op(RegionRecord(rec.info, SPLITTING,
                                                                   rec.server, 0, ""))])
        assert master.splits.resume_stalled() == 0
        assert [r.state for r in regions(zk, "gaveup")] == [SPLITTING]
    master.splits.resume_stalled()  # (or the chore, every 5 s, got there first)
    wait_for(lambda: [(r.state, r.server) for r in regions(zk, "gaveup")] == [(OPEN, rs.name)],
             30, "the parent to be open again")
    assert zk.get_children(Paths().splits) == []


def _lose_after(master, match):
    """The first commit whose ops satisfy match(ops) is applied, then raises ConnectionLoss:
    what a ZooKeeper connection dropped right after the request looks like."""
    real, fired = master.meta.commit, []

    def commit(ops):
        real(ops)
        if not fired and match(ops):
            fired.append(True)
            raise ConnectionLoss()
    master.meta.commit = commit


def test_dead_entries_of_an_address_serving_again_are_dropped_by_the_chore(env):
    """A whole cluster restarted: the new master declares the old incarnations dead after the
    new ones joined on the same addresses; status must not list them as dead ever after."""
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server()
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    host, port, startcode = parse_server_name(rs.name)
    earlier, elsewhere = f"{host},{port},{startcode - 1000}", f"{host},{port + 1},1"
    lingering = f"{host},{port},{startcode - 500}"  # its session not expired yet
    zk.create(Paths().live_server(lingering), b"{}", ephemeral=True)
    wait_for(lambda: lingering in master.servers.live(), 10, "the master to see it")
    for name in (earlier, elsewhere, lingering):
        master.meta.write_server_state(name, DEAD)

    def dead():
        return {n for n, st in master.meta.server_states().items() if st.state == DEAD}
    master._prune_dead_servers()
    assert dead() == {elsewhere, lingering}  # forgotten now, it would count as live again
    zk.delete(Paths().live_server(lingering))  # its session ends
    wait_for(lambda: lingering not in master.servers.live(), 10, "the master to see it go")
    master._prune_dead_servers()
    assert dead() == {elsewhere}


def test_a_ddl_call_cut_by_a_lost_zookeeper_connection_is_resent_and_finished(env):
    """A call the client can safely send again (create, alter, enable...: it knows what
    "already done" looks like) is resent after OutcomeUnknownError and returns as if nothing
    happened; what the cut call left (a table ENABLING, an alter pending) is finished by the
    chore (finish_interrupted), as a new master would, not left so until a failover."""
    import client

    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    path = master.meta.paths.table("cut")
    _lose_after(master, lambda ops: any(op.kind == "create" and op.path == path for op in ops))
    with client.Connection(quorum, timeout=30) as conn:
        conn.create_table("cut", {"cf": {}, "cf2": {}}, split_keys=[b"m"])  # cut, then resent
        assert master.meta.read_table("cut").state == ENABLED
        assert all(r.state == OPEN for r in regions(zk, "cut"))
        _lose_after(master, lambda ops: any(op.path == path and b"alter_pending" in op.data
                                            for op in ops))
        conn.alter_table("cut", remove=["cf2"])  # its resend finds cf2 gone: done
        wait_for(lambda: master.meta.read_table("cut").alter_pending is None, 30,
                 "the alter finished")
        assert master.meta.read_table("cut").descriptor.family_names() == [b"cf"]


def test_an_alter_cut_half_way_is_finished_before_the_next_alter(env):
    """An alter cut after writing its new descriptor (its master SIGKILLed, or its ZooKeeper
    connection lost) leaves the removed family's files to delete (alter_pending), and the
    caller's resend finds the family gone: done. An alter that comes next -- before the new
    master's resume_alters or the chore got to it -- must finish that first: had it written
    over alter_pending, the files would stay for good and adding the family back would serve
    its old cells (as a local cluster showed after a master was killed mid-alter)."""
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    master.ddl.create(pb.TableSchema(name="readd", families=[pb.FamilySchema(name="cf"),
                                                             pb.FamilySchema(name="cf2")]), [])
    (region,) = regions(zk, "readd")
    cf2_dir = layout.family_dir(layout.region_dir(rootdir, region.info), b"cf2")
    os.makedirs(cf2_dir, exist_ok=True)
    old_hfile = os.path.join(cf2_dir, "0000000000000001.hfile")  # cf2's flushed cells
    with open(old_hfile, "wb") as f:
        f.write(b"old cells")
    path = master.meta.paths.table("readd")
    _lose_after(master, lambda ops: any(op.path == path and b"alter_pending" in op.data
                                        for op in ops))
    with pytest.raises(ConnectionLoss):
        master.ddl.alter("readd", [], ["cf2"])
    assert master.meta.read_table("readd").alter_pending == ("cf2",)
    assert os.path.exists(old_hfile)  # the cut alter deleted nothing yet

    master.ddl.alter("readd", [pb.FamilySchema(name="cf2")], [])  # cf2 back, empty
    assert not os.path.exists(old_hfile)
    rec = master.meta.read_table("readd")
    assert rec.alter_pending is None
    assert rec.descriptor.family_names() == [b"cf", b"cf2"]


def test_an_alter_reopens_a_region_its_crashed_servers_reassignment_is_opening(env):
    """A region server dies while an alter runs: its regions are being opened elsewhere, with
    the descriptor read before the alter wrote its own. The alter's reopen must take those
    too (waiting for the open): skipped, the region serves the old descriptor for good -- a
    family added is refused there, one removed stays open while its files are deleted."""
    quorum, rootdir, start_master, add_server, zk = env
    dying = add_server()
    master = start_master()
    wait_for(lambda: master.servers.online() == [dying.name], 10, "one server online")
    create(master, "t")
    slow = add_server(open_delay=2.0)
    wait_for(lambda: slow.name in master.servers.online(), 10, "the second server online")
    dying.stop()
    (region,) = wait_for(lambda: [r for r in regions(zk, "t") if r.state == OPENING], 10,
                         "the crash reassignment to be opening the region")
    master.ddl.alter("t", [pb.FamilySchema(name="cf2")], [])
    wait_for(lambda: [r.state for r in regions(zk, "t")] == [OPEN], 10, "the region open")
    assert slow.schemas[region.info.name].family_names() == [b"cf", b"cf2"]


def _journal_step(master, step: str):
    """A _lose_after match: the commit that writes a split or merge journal at `step`."""
    splits = master.meta.paths.splits
    return lambda ops: any(op.path.startswith(splits) and
                           json.loads(op.data or b"{}").get("step") == step for op in ops)


@pytest.mark.parametrize("step", [SPLITTING, "OPENING"])
def test_a_split_cut_by_a_lost_zookeeper_connection_is_resent_and_applied_once(env, step):
    """The master lost ZooKeeper right after the commit that starts the split (SPLITTING) or
    the one that swaps the daughters in (OPENING): the client is told nothing went wrong. Its
    resend carries the call's nonce: the master finds the first attempt either undone (rolled
    back here, then split anew) or done (answered at once, not a "split key is a region
    boundary" error, nor a second split)."""
    import client

    master, parent, _, _ = _one_region_table(env, "cutsplit")
    quorum, zk = env[0], env[4]
    _lose_after(master, _journal_step(master, step))
    with client.Connection(quorum, timeout=30) as conn:
        conn.split("cutsplit", b"m")
    wait_for(lambda: zk.get_children(master.meta.paths.splits) == [] and
             all(r.state == OPEN for r in regions(zk, "cutsplit")), 30, "the split settled")
    assert [(r.info.start_key, r.info.end_key) for r in regions(zk, "cutsplit")] == [
        (b"", b"m"), (b"m", b"")]


def _lose_once(obj, name: str):
    """obj.name raises ConnectionLoss on its first call, then works: a master whose ZooKeeper
    connection dropped during a read."""
    real, fired = getattr(obj, name), []

    def cut(*args, **kw):
        if not fired:
            fired.append(True)
            raise ConnectionLoss()
        return real(*args, **kw)
    setattr(obj, name, cut)


def test_reads_and_idempotent_admin_calls_cut_by_a_lost_connection_are_resent(env):
    """A list, describe or status has no outcome to be unknown, and a flush, compaction
    request, balance or assign sent twice does no harm: the client sends them again instead of
    telling the caller to check whether they were applied."""
    import client

    master, parent, _, _ = _one_region_table(env, "idem")
    with client.Connection(env[0], timeout=20) as conn:
        _lose_once(master.meta, "tables")
        assert conn.tables() == ["idem"]
        _lose_once(master.meta, "read_table")
        assert conn.is_table_enabled("idem")
        _lose_once(master.meta, "regions")
        conn.flush("idem")
        _lose_once(master.meta, "regions")
        conn.compact("idem")
        _lose_once(master.meta, "find_region")
        conn.assign(parent.info.name)


def test_a_table_split_resent_after_a_cut_splits_each_region_once(env):
    """`split 't'` splits every region; cut after its first region's swap, then sent again
    (same nonce) once the daughters serve, the call skips those daughters (named by the nonce
    record `<nonce>.<region>`) and splits only the region the first attempt did not reach."""
    import grpc

    from protos import minihbase_pb2_grpc as pb_grpc

    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    create(master, "cuttable", [b"m"])
    _lose_after(master, _journal_step(master, "OPENING"))
    request = pb.SplitRequest(table="cuttable", nonce=777)
    with grpc.insecure_channel(f"127.0.0.1:{master.port}") as channel:
        stub = pb_grpc.MasterStub(channel)
        with pytest.raises(grpc.RpcError, match="may or may not have been applied"):
            stub.Split(request, timeout=30)
        master.splits.resume_stalled()  # (or the chore, every 5 s): daughters opened
        assert [r.state for r in regions(zk, "cuttable")] == [OPEN] * 3
        stub.Split(request, timeout=30)
    assert [(r.info.start_key, r.info.end_key) for r in regions(zk, "cuttable")] == [
        (b"", b"\x00"), (b"\x00", b"m"), (b"m", b"m\x00"), (b"m\x00", b"")]


def test_a_merge_cut_after_its_swap_is_resent_and_answered_done(env):
    """Without the nonce the resend would name two regions that no longer exist."""
    import client

    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    create(master, "cutmerge", [b"m"])
    a, b = regions(zk, "cutmerge")
    _lose_after(master, _journal_step(master, "OPENING"))
    with client.Connection(quorum, timeout=30) as conn:
        conn.merge(a.info.name, b.info.name)
    wait_for(lambda: [(r.info.start_key, r.info.end_key, r.state)
                      for r in regions(zk, "cutmerge")] == [(b"", b"", OPEN)], 30,
             "the merged region open")


def test_a_merge_of_three_regions_cut_after_its_swap_is_resent_and_answered_done(env):
    import client

    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    create(master, "cut3", [b"g", b"m"])
    names = [r.info.name for r in regions(zk, "cut3")]
    _lose_after(master, _journal_step(master, "OPENING"))
    with client.Connection(quorum, timeout=30) as conn:
        conn.merge(*names)
    wait_for(lambda: [(r.info.start_key, r.info.end_key, r.state)
                      for r in regions(zk, "cut3")] == [(b"", b"", OPEN)], 30,
             "the merged region open")


def _two_server_table(env, table: str):
    """A master, two region servers and `table` with one region: (master, its record)."""
    start_master, add_server, zk = env[2], env[3], env[4]
    add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, table)
    (rec,) = regions(zk, table)
    return master, rec


def test_a_move_sent_twice_with_one_nonce_moves_the_region_once(env):
    """A resent untargeted move (its first answer lost) must not move the region on again --
    with two servers, back where it was; a move to the region's own server does nothing, as
    HBase skips it."""
    import client

    quorum, zk = env[0], env[4]
    master, rec = _two_server_table(env, "mv")
    with client.Connection(quorum, timeout=30) as conn:
        request = pb.MoveRequest(region=rec.info.name, nonce=12345)
        conn.master_call("Move", request)
        (moved,) = regions(zk, "mv")
        assert moved.state == OPEN and moved.server != rec.server
        conn.master_call("Move", request)  # the resend
        conn.move(rec.info.name, moved.server)  # already there
    (after,) = regions(zk, "mv")
    assert (after.state, after.server, after.since_ms) == (OPEN, moved.server, moved.since_ms)


def test_nonce_records_are_pruned_after_their_ttl_unless_their_journal_runs(env):
    master, parent, _, _ = _one_region_table(env, "ttl")
    meta = master.meta
    enc = parent.info.encoded_name
    meta.commit([meta.nonce_op("00000000000000aa", {"state": "done"}, create=True),
                 meta.nonce_op("00000000000000bb", {"state": "running", "journal": enc},
                               create=True),
                 meta.journal_op(enc, {"kind": "split", "step": SPLITTING}, create=True)])
    assert meta.prune_nonces(3600) == 0
    time.sleep(0.05)
    assert meta.prune_nonces(0) == 1  # the running split's record stays
    assert meta.nonce_keys("") == ["00000000000000bb"]
    meta.delete_journal(enc)
    assert meta.prune_nonces(0) == 1 and meta.nonce_keys("") == []


def test_a_truncate_cut_after_its_region_swap_is_finished_by_the_chore(env):
    """The swap's multi-op leaves the table ENABLING (HBase's truncate ends enabled), so a
    call cut right after it is finished by finish_interrupted, not left DISABLED with empty
    regions nobody opens."""
    master, old, _, _ = _one_region_table(env, "trunc")
    zk = env[4]
    master.ddl.disable("trunc")
    path = master.meta.paths.table("trunc")
    _lose_after(master, lambda ops: any(op.path == path for op in ops)
                and any(op.kind == "delete" for op in ops))
    with pytest.raises(ConnectionLoss):
        master.ddl.truncate("trunc", preserve_splits=False)
    (new,) = regions(zk, "trunc")
    assert new.info.region_id > old.info.region_id  # the swap is in meta ...
    assert master.meta.read_table("trunc").state == ENABLING  # ... and says what is left
    master.ddl.finish_interrupted()  # (or the chore, every 5 s)
    wait_for(lambda: master.meta.read_table("trunc").state == ENABLED
             and [r.state for r in regions(zk, "trunc")] == [OPEN], 30, "the truncate finished")


def test_split_and_merge_refused_by_table_attributes_even_after_a_master_failover(env):
    """HBase 2's SPLIT_ENABLED / MERGE_ENABLED => false: a split or merge asked for is refused
    naming the table, and nothing moves; the attributes live in the table's meta znode, so a new
    master refuses too, until an alter allows them."""
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    wait_for(lambda: master.servers.online(), 10, "server online")
    master.ddl.create(pb.TableSchema(name="fixed", families=[pb.FamilySchema(name="cf")],
                                     split_enabled=False, merge_enabled=False), [b"m"])
    a, b = regions(zk, "fixed")
    with pytest.raises(OperationNotAllowedError,
                       match="split of region .* refused: table 'fixed' has SPLIT_ENABLED"):
        master.splits.split(a.info.name, b"g")
    with pytest.raises(OperationNotAllowedError, match="table 'fixed' has MERGE_ENABLED => false"):
        master.splits.merge(a.info.name, b.info.name)
    assert regions(zk, "fixed") == [a, b] and zk.get_children(Paths().splits) == []
    master.stop(0)

    master = start_master()
    assert meta_reader.read_table(zk, "fixed").descriptor.attributes()["split_enabled"] is False
    with pytest.raises(OperationNotAllowedError, match="SPLIT_ENABLED"):
        master.splits.split(a.info.name, b"g")
    master.ddl.alter("fixed", [], [], {"split_enabled": True})
    master.splits.split(regions(zk, "fixed")[0].info.name, b"g")
    assert [r.info.start_key for r in regions(zk, "fixed")] == [b"", b"g", b"m"]
    with pytest.raises(OperationNotAllowedError, match="MERGE_ENABLED"):
        master.splits.merge(*[r.info.name for r in regions(zk, "fixed")[:2]])


def test_startup_resume_leaves_a_split_a_call_is_running_to_its_thread(env):
    """A new master serves calls while it recovers: a split sent meanwhile (a resend after
    the failover, whose nonce record resume rolled back) must not be rolled back under its
    thread by the recovery's resume, which would also drop the resend's nonce record."""
    master, parent, _, rs = _one_region_table(env, "busy")
    zk = env[4]
    rs.split_gate = threading.Event()
    outcome = {}

    def split():
        try:
            outcome["result"] = master.splits.split(parent.info.name, b"m", "00000000000000cc")
        except Exception as e:  # noqa: BLE001
            outcome["error"] = e
    t = threading.Thread(target=split)
    t.start()
    wait_for(lambda: regions(zk, "busy")[0].state == SPLITTING, 10, "parent SPLITTING")
    master.splits.resume()  # what recover() runs, maybe while calls are served
    rs.split_gate.set()
    t.join(30)
    assert "result" in outcome, outcome
    assert master.meta.read_nonce("00000000000000cc", ("split",))["state"] == "done"
    assert [(r.info.start_key, r.info.end_key) for r in regions(zk, "busy")] == [
        (b"", b"m"), (b"m", b"")]


def _region_state(state: str):
    """A _lose_after match: a commit writing a region record in `state`."""
    def match(ops):
        return any(op.data and json.loads(op.data).get("state") == state and
                   "info" in json.loads(op.data) for op in ops)
    return match


@pytest.mark.parametrize("state", ["OPENING", OFFLINE])
def test_a_move_cut_before_its_open_is_resent_and_lands_off_its_first_server(env, state):
    """The master lost ZooKeeper after the move closed the region on its server (OFFLINE) or
    chose the new one (OPENING there): the resend (same nonce) finishes the move off the
    server the first attempt moved it from, not back onto it."""
    import client

    quorum, zk = env[0], env[4]
    master, rec = _two_server_table(env, "mvcut")
    _lose_after(master, _region_state(state))
    with client.Connection(quorum, timeout=30) as conn:
        conn.move(rec.info.name)
    (after,) = regions(zk, "mvcut")
    assert after.state == OPEN and after.server != rec.server, (after, rec.server)


class LoadCountingServer(FakeRegionServer):
    """Answers GetServerLoad with its open regions, counting the calls."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.load_calls = 0

    def GetServerLoad(self, request, context):
        with self.lock:
            self.load_calls += 1
            return pb.ServerLoad(server=self.name, regions=[
                pb.RegionLoad(region=name, table=info.table, state=OPEN)
                for name, info in self.regions.items()])


def test_new_master_asks_a_server_once_for_all_regions_left_opening_on_it(env):
    """A master killed while opening many regions (a crash's reassignment, a create) leaves
    them OPENING; its successor asks the server which it has open. It asked once per region,
    each answer listing every region of the server: O(n^2) with hundreds of regions."""
    quorum, rootdir, start_master, add_server, zk = env
    rs = add_server(LoadCountingServer)
    first = start_master()
    wait_for(lambda: first.servers.online(), 10, "server online")
    create(first, "many", [b"%02d" % i for i in range(1, 30)])
    first.stop(0)
    meta = MetaStore(zk, Paths())
    for r in regions(zk, "many"):  # as the killed master left them: opened, not yet recorded
        meta.set_region(r, OPENING, waiting_for=f"RS.OpenRegion on {rs.name}")
    start_master()
    assert all(r.state == OPEN and r.server == rs.name for r in regions(zk, "many"))
    assert rs.load_calls == 1
