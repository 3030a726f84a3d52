"""The balancer's plan (pure; no cluster needed): region counts per server end up within one
of each other, with the fewest moves (see docs/coordination.md, "Balancer")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from coordination.znodes import OPEN, RegionRecord
from hmaster.balancer import plan_moves
from storage.schema import RegionInfo


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
