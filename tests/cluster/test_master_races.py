"""Races and failure paths in the master-side operations of session 11 (a reviewer's
failing tests, kept): truncate vs. the janitor, decommission vs. decommission or an open,
quotas vs. creates, an unassign across a master failover, lost daughters and lost regions."""
from __future__ import annotations

import os
import threading

import pytest

from coordination.znodes import CLOSED, OPEN
from hmaster import ddl as ddl_mod
from minihbase.errors import QuotaExceededError
from protos import minihbase_pb2 as pb
from storage import layout
from storage.schema import RegionInfo
from tests.cluster.conftest import wait_for
from tests.cluster import test_master_recovery
from tests.cluster.test_master_recovery import create, regions

env = test_master_recovery.env  # the fixture: a real master on real ZooKeeper, fake servers


def _cleanup_journal(master, table, children):
    """A finished split of `table` waiting for the janitor (CLEANUP), its children `children`
    (which hold no reference file: compacted), its parent's directory still on disk."""
    parent = RegionInfo(table, b"", b"", 1)
    os.makedirs(layout.region_dir(master.rootdir, parent))
    journal = {"kind": "split", "table": table, "parents": [parent.to_dict()],
               "server": "", "split_key": "", "step": "CLEANUP",
               "children": [c.to_dict() for c in children]}
    master.meta.commit([master.meta.journal_op(parent.encoded_name, journal, create=True)])
    return parent


def test_truncate_succeeds_when_the_janitor_finishes_a_journal_of_the_table_meanwhile(
        env, monkeypatch):
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 1, 10, "server online")
    master.meta.set_switch("catalogjanitor", False)  # the parent stays until a janitor run
    create(master, "t", [b"m"])
    _cleanup_journal(master, "t", [r.info for r in regions(zk, "t")])
    master.ddl.disable("t")

    real = ddl_mod.write_region_dir
    ran = []

    def write_region_dir(*a, **kw):  # truncate writing its new regions' directories ...
        if not ran:  # ... while an operator runs catalogjanitor_run (or the chore runs)
            ran.append(master.splits.janitor())
        return real(*a, **kw)
    monkeypatch.setattr(ddl_mod, "write_region_dir", write_region_dir)

    master.ddl.truncate("t", preserve_splits=True)  # its journal vanished meanwhile: read again
    assert ran == [1]
    assert all(r.state == OPEN for r in regions(zk, "t"))


class _Ctx:
    """Just enough of a grpc ServicerContext for MasterServicer's methods."""
    def set_trailing_metadata(self, md):
        self.md = md

    def abort(self, code, message):
        raise RuntimeError(f"{code}: {message}")

    def time_remaining(self):
        return None


def test_a_split_racing_a_create_does_not_pass_the_namespace_region_quota(env, monkeypatch):
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 1, 10, "server online")
    master.ddl.create_namespace("q", {"hbase.namespace.quota.maxregions": "2"})
    create(master, "q:a")  # 1 region of 2
    real = ddl_mod.write_region_dir
    outcome = []

    def split():
        (parent,) = regions(zk, "q:a")
        try:
            outcome.append(master.splits.split(parent.info.name, b"m"))
        except QuotaExceededError as e:
            outcome.append(e)

    def write_region_dir(*a, **kw):  # create of q:b has passed its quota check (1 + 1 <= 2)
        if not outcome and not hasattr(write_region_dir, "thread"):
            write_region_dir.thread = threading.Thread(target=split)  # a split request
            write_region_dir.thread.start()
            write_region_dir.thread.join(0.5)  # it waits for the create's lock
        return real(*a, **kw)
    monkeypatch.setattr(ddl_mod, "write_region_dir", write_region_dir)

    create(master, "q:b")
    write_region_dir.thread.join(10)
    used = len(regions(zk, "q:a")) + len(regions(zk, "q:b"))
    assert used <= 2, f"namespace q holds {used} regions, its maxregions is 2"
    assert isinstance(outcome[0], QuotaExceededError)


def test_an_unassigned_region_stays_closed_across_a_master_failover(env):
    from hmaster.assignment import UNASSIGNED
    from hmaster.servicer import MasterServicer
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 1, 10, "server online")
    create(master, "t", [b"m"])
    victim = regions(zk, "t")[0]
    MasterServicer(master).Unassign(pb.RegionName(region=victim.info.name), _Ctx())
    closed = [r for r in regions(zk, "t") if r.info.name == victim.info.name][0]
    assert (closed.state, closed.waiting_for) == (CLOSED, UNASSIGNED)
    master.stop(0)
    new = start_master()
    wait_for(new.recovered.is_set, 10, "the new master's recovery (_assign_waiting)")
    (now,) = [r for r in regions(zk, "t") if r.info.name == victim.info.name]
    assert now.state == CLOSED, f"the new master reopened it: {now.state} on {now.server}"


def test_two_concurrent_decommissions_never_leave_no_server_to_assign_to(env, monkeypatch):
    from hmaster.servicer import MasterServicer
    quorum, rootdir, start_master, add_server, zk = env
    a, b = add_server(), add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    svc = MasterServicer(master)
    real = master.meta.decommission
    other = []

    def second():
        try:
            other.append(svc.DecommissionRegionServers(
                pb.DecommissionRequest(servers=[b.name]), _Ctx()))
        except RuntimeError as e:  # _Ctx.abort: the refusal
            other.append(e)

    def decommission(name):
        if not other:  # a second operator's decommission of b lands between a's check and write
            other.append(threading.Thread(target=second))
            other[0].start()
            other[0].join(0.5)  # it waits for the first one's lock
        return real(name)
    monkeypatch.setattr(master.meta, "decommission", decommission)
    svc.DecommissionRegionServers(pb.DecommissionRequest(servers=[a.name]), _Ctx())
    other[0].join(10)
    assert master.servers.assignable(), "every region server is decommissioned"
    assert "would leave no region server" in str(other[1])


def test_janitor_keeps_the_parent_of_a_lost_daughter_a_wal_split_made_a_directory_for(env):
    """docs: "A daughter still in meta whose directory is missing keeps P (P's files may be its
    only data)". The WAL split of the daughter's server then keeps its edits in a new
    directory holding only recovered.edits -- and the janitor takes that as "no reference"."""
    import shutil
    from storage.cell import Cell, CellType
    from storage.wal import WAL
    from coordination.znodes import DEAD
    quorum, rootdir, start_master, add_server, zk = env
    a = add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 1, 10, "server online")
    master.meta.set_switch("catalogjanitor", False)  # only our janitor runs decide
    create(master, "t")
    (child,) = regions(zk, "t")
    parent = _cleanup_journal(master, "t", [child.info])
    with open(os.path.join(layout.region_dir(rootdir, parent), "the-only-copy"), "w") as f:
        f.write("hfile")
    shutil.rmtree(layout.region_dir(rootdir, child.info))  # the daughter's files are lost
    assert master.splits.janitor() == 0  # kept: as documented
    # the daughter's server dies with an unflushed edit of it in its WAL
    wal = WAL(layout.wal_dir(rootdir, a.name))
    wal.sync(wal.append(child.info.name, 7, [Cell(b"row", b"cf", b"q", 1, CellType.PUT, b"v")]))
    wal.close()
    a.stop()
    wait_for(lambda: (master.meta.read_server_state(a.name) or 0) and
             master.meta.read_server_state(a.name).state == DEAD, 10, "crash handled")
    assert "recovered.edits" in os.listdir(layout.region_dir(rootdir, child.info))
    assert not os.path.exists(layout.region_info_path(layout.region_dir(rootdir, child.info)))
    master.splits.janitor()
    assert os.path.isdir(layout.region_dir(rootdir, parent)), \
        "the parent, maybe the lost daughter's only data, was deleted"


def test_decommission_with_offload_also_moves_a_region_opening_on_the_server(env):
    """A region being opened on b (a crash reassignment, a retry, a daughter) when b is
    decommissioned with offload must not end OPEN on b: offload moves OPENING regions too."""
    from hmaster.servicer import MasterServicer
    from coordination.znodes import OPENING
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    b = add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 2, 10, "servers online")
    create(master, "t")
    (rec,) = regions(zk, "t")
    rec = master.assignment.unassign(rec)  # OFFLINE: to be assigned (after a crash, say)
    b.open_delay = 2.0
    t = threading.Thread(target=master.assignment.assign, args=(rec,),
                         kwargs={"preferred": b.name})
    t.start()
    wait_for(lambda: regions(zk, "t")[0].state == OPENING, 5, "opening on b")
    resp = MasterServicer(master).DecommissionRegionServers(
        pb.DecommissionRequest(servers=[b.name], offload=True), _Ctx())
    t.join()
    (now,) = regions(zk, "t")
    assert b.name in master.meta.decommissioned()
    assert now.server != b.name, f"{now.state} on decommissioned {b.name} (moved={resp.moved})"


def test_a_snapshot_of_a_disabled_table_refuses_a_region_whose_directory_is_gone(env):
    """Region.open refuses a region whose directory is gone (hbck: MISSING_REGION_DIR) rather
    than serve it empty; a snapshot of the disabled table takes it as empty, and a restore from
    that snapshot then makes the loss look like valid, empty data (no longer reported)."""
    import shutil
    quorum, rootdir, start_master, add_server, zk = env
    add_server()
    master = start_master()
    wait_for(lambda: len(master.servers.online()) == 1, 10, "server online")
    create(master, "t", [b"m"])
    master.ddl.disable("t")
    lost = regions(zk, "t")[0].info
    shutil.rmtree(layout.region_dir(rootdir, lost))
    with pytest.raises(Exception):
        master.snapshots.snapshot("t", "s1")
