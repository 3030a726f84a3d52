"""The balancer's plan (pure; no cluster needed): region counts per server end up within one
of each other, with the fewest moves (see docs/coordination.md, "Balancer"). And a run against
real meta in ZooKeeper that a table drop races."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from coordination import zk as zk_mod
from coordination.znodes import OPEN, Paths, RegionRecord, TableRecord
from hmaster.assignment import AssignmentManager
from hmaster.balancer import Balancer, plan_moves
from hmaster.meta import MetaStore
from hmaster.rs_client import RegionServerClients
from hmaster.server_manager import ServerManager
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.cluster.conftest import new_chroot


def _regions(n: int, prefix: str) -> list[RegionRecord]:
    return [RegionRecord(RegionInfo("t", f"{prefix}{i:04d}".encode(), b"", 1), OPEN, prefix)
            for i in range(n)]


def test_new_empty_server_gets_its_share():
    plan = plan_moves({"a": _regions(6, "a"), "b": _regions(6, "b"), "c": []})
    assert len(plan) == 4 and {target for _, target in plan} == {"c"}


def test_balanced_cluster_moves_nothing():
    assert plan_moves({"a": _regions(3, "a"), "b": _regions(2, "b")}) == []
    assert plan_moves({"a": _regions(5, "a")}) == []


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=6))
def test_plan_leaves_counts_within_one_with_minimal_moves(counts):
    servers = {f"s{i}": _regions(n, f"s{i}-") for i, n in enumerate(counts)}
    plan = plan_moves(servers)
    after = {s: len(rs) for s, rs in servers.items()}
    for region, target in plan:
        after[region.server.rstrip("-")] -= 1
        after[target] += 1
    assert max(after.values()) - min(after.values()) <= 1
    total, n = sum(counts), len(counts)
    # the optimum: the total % n busiest servers keep ceil(avg), the others floor(avg)
    targets = [total // n + (i < total % n) for i in range(n)]
    minimal = sum(max(0, c - t) for c, t in zip(sorted(counts, reverse=True), targets))
    assert len(plan) == minimal


def test_a_table_dropped_while_the_balancer_runs_is_skipped_not_an_error(zookeeper):
    """The balancer lists every region, then reads each one's table: a drop committing in
    between made every run of the chore fail ("chore failed", an ERROR with a traceback, in a
    cluster doing nothing wrong) and `balance` answer TableNotFoundError."""
    zk = zk_mod.connect(new_chroot(zookeeper.quorum), session_timeout=10.0)
    assignment = None
    try:
        meta = MetaStore(zk, Paths())
        meta.ensure_layout()
        for name in ("kept", "dropped"):
            meta.create_table(TableRecord(TableDescriptor(name, (FamilyDescriptor(b"cf"),))),
                              [RegionRecord(RegionInfo(name, b"", b"", 1), OPEN, "h,1,1")])
        listed = meta.all_regions

        def all_regions_then_a_drop_commits():
            records = listed()
            meta.delete_table("dropped")  # a drop's meta transaction, just after the listing
            return records

        meta.all_regions = all_regions_then_a_drop_commits
        assignment = AssignmentManager(meta, RegionServerClients(zk, Paths()),
                                       ServerManager(zk, Paths(), meta))
        assert Balancer(meta, assignment).balance() == 0
    finally:
        if assignment is not None:
            assignment.pool.shutdown()
        zk.stop()
        zk.close()
