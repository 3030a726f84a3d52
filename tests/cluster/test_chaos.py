"""BigLinkedList under a scripted chaos monkey (minihbase/linkedlist.py, minihbase/chaos.py;
the long random run is bench/biglinkedlist.py): a generator writes linked rows while regions
split and merge under it, a region server is SIGKILLed and restarted only after its (short,
real) session expired, the active master is SIGKILLed, and a region server is SIGKILLed just
after a split of one of its regions began; Verify must then find every
referenced and every acknowledged row, and the increments and appends applied once.
Bounded: the monkey's plan is fixed, every wait has a timeout; ~30-60 s."""

from __future__ import annotations

import time

from minihbase import chaos, linkedlist
from tests.cluster.conftest import SHORT_SESSION_S, stop_cluster

PLAN = ["split", "kill_regionserver", "merge", "kill_master", "move", "kill_during_split"]


def test_linked_list_survives_kills_splits_and_merges_without_undefined_rows(
        cluster_factory, connection_for):
    cluster = cluster_factory("chaos", session_timeout=SHORT_SESSION_S,
                              flush_size=256 * 1024, balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=30)
        linkedlist.create_table(conn, "itbll", regions=4)
        gen = linkedlist.Generator(connection_for(cluster, timeout=30), "itbll", 0, width=200,
                                   wrap=5, seconds=100, seed=7)
        monkey = chaos.ChaosMonkey(conn, "itbll", cluster, plan=PLAN, duration=100,
                                   pause=(1.0, 1.0), session_timeout=SHORT_SESSION_S,
                                   restart_delay=(SHORT_SESSION_S + 3, SHORT_SESSION_S + 3),
                                   recovery_timeout=60, seed=7)
        gen.start()
        cluster.wait_for(lambda: gen.batches >= 3, 30, "the generator to get going")
        monkey.start()
        monkey.join(200)
        time.sleep(1.0)  # writes go on against the recovered cluster
        gen.stop()
        assert not monkey.is_alive(), "the chaos monkey did not finish its plan"
        assert [a.name for a in monkey.actions] == PLAN
        assert not monkey.failed, [(a.name, a.detail) for a in monkey.failed]
        kill = monkey.actions[PLAN.index("kill_regionserver")]
        assert "after its session expired" in kill.detail, kill.detail
        assert not gen.unexpected, gen.unexpected[:3]

        report = linkedlist.verify(conn, "itbll", [gen])
        print(f"{report.rows_acked} rows acknowledged, {report.rows_found} found, "
              f"{report.unreferenced} unreferenced, {len(gen.errors)} write errors")
        assert report.rows_acked >= 10 * 200
        assert report.undefined == [], report.undefined[:5]
        assert report.lost == [], report.lost[:5]
        assert report.phantom == [], report.phantom[:5]
        assert report.unexpected_unreferenced == [], report.unexpected_unreferenced[:5]
        assert report.counter_problems == []
        assert report.ok
    finally:
        stop_cluster(cluster)


class _FakeTable:
    def __init__(self, rows):
        self.rows = rows

    def scan(self, batch_size=None):
        return iter(sorted(self.rows.items()))


class _FakeConnection:
    """Just enough of client.Connection for Verify and a monkey whose action fails."""

    def __init__(self, rows=None, fail=None):
        self._table, self.fail = _FakeTable(rows or {}), fail

    def table(self, name):
        return self._table

    def flush(self, name):
        raise self.fail


def test_verify_reports_a_lost_row_as_undefined_and_lost_and_a_double_increment():
    """Verify must see data loss, or its PASS means nothing: a <- b <- c were acknowledged,
    the scan lacks b; the counter says 3 for 2 acknowledged batches."""
    import struct

    rows = {b"a": {linkedlist.PREV: b""}, b"c": {linkedlist.PREV: b"b"},  # b -> a is lost
            b"~counter-0": {linkedlist.BATCHES: struct.pack(">q", 3)},
            b"~log-0": {linkedlist.LOG: b"1,2,2,"}}
    gen = linkedlist.Generator(_FakeConnection(), "t", 0)
    gen.acked, gen.batches, gen.tail = {b"a", b"b", b"c"}, 2, {b"c"}
    report = linkedlist.verify(_FakeConnection(rows), "t", [gen])
    assert report.undefined == [b"b"] and report.lost == [b"b"]
    # a was only referenced by the lost b; c, nobody's prev, is the open circle's tail
    assert report.unexpected_unreferenced == [b"a"]
    assert len(report.counter_problems) == 2  # counter 3 > 2, append 2 applied twice
    assert not report.ok


def test_a_failing_action_is_recorded_and_stops_the_monkey():
    from minihbase.errors import ServerUnavailableError

    conn = _FakeConnection(fail=ServerUnavailableError("master at 127.0.0.1:1 unavailable"))
    monkey = chaos.ChaosMonkey(conn, "t", plan=["flush", "flush"], pause=(0, 0), log=str)
    monkey.run()
    assert [(a.name, a.ok) for a in monkey.actions] == [("flush", False)]
    assert "ServerUnavailableError" in monkey.failed[0].detail


class _RegionsConnection:
    """regions() and merge() of client.Connection, for picking what the monkey merges."""

    def __init__(self, regions):
        self._regions, self.merged = regions, []

    def regions(self, table):
        return self._regions

    def merge(self, *names):
        self.merged.append(names)


def test_merge_picks_a_run_of_adjacent_open_regions_around_one_in_transition():
    """A region in transition between two open ones is not a gap the monkey may merge across:
    the master refuses such a merge (not adjacent) and the action merges nothing."""
    def region(start, end, state="OPEN"):
        return {"name": f"t,{start},1.{start or 'first'}", "encoded": start or "first",
                "start_key": start.encode(), "end_key": end.encode(), "state": state,
                "server": "rs1"}

    regions = [region("", "b"), region("b", "d", "OPENING"), region("d", "f"), region("f", "")]
    for seed in range(20):
        conn = _RegionsConnection(regions)
        monkey = chaos.ChaosMonkey(conn, "t", seed=seed, log=str)
        call, _ = monkey._merge_call(chaos.Action("merge", 0.0))
        call()
        assert conn.merged == [("t,d,1.d", "t,f,1.f")], (seed, conn.merged)
