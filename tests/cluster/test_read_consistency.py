"""Reads under chaos (minihbase/registers.py, docs/chaos.md "Reads under chaos"): one writer per
row puts increasing sequence numbers while readers get and scan, and a scripted chaos monkey
splits, moves, merges, balances, SIGKILLs a region server (restarted after its session
expired), freezes one past its session (the zombie: SIGCONT once its regions serve elsewhere)
and SIGKILLs the active master. No read may be stale, regress, be torn or return a value
never written. Bounded: a fixed plan, every wait with a timeout; ~60-90 s.

The checker's own tests come first: it must flag each kind of violation, or its PASS means
nothing."""

from __future__ import annotations

import time

from minihbase import chaos, registers
from minihbase.registers import COLUMNS, Read, Write, check, value_of
from tests.cluster.conftest import SHORT_SESSION_S, stop_cluster

ROW = b"reg000"


def _read(invoke, complete, seq=None, values=None, kind="get"):
    if values is None and seq is not None:
        values = (value_of(ROW, seq),) * len(COLUMNS)
    return Read(kind, invoke, complete, ROW, values)


def _writes(*spans):
    """Acknowledged writes of seq 1, 2... over the given (invoke, complete) spans."""
    return {ROW: [Write(i + 1, a, b, True) for i, (a, b) in enumerate(spans)]}


def test_checker_passes_a_linearizable_history():
    writes = _writes((0, 1), (2, 3), (4, 5))
    reads = [_read(0.5, 0.6),  # before any acknowledgement: absent is fine
             _read(0.5, 2.5, seq=2),  # overlaps the write of 2: may see it
             _read(1.5, 1.6, seq=1),
             _read(3.5, 4.5, seq=2),  # overlaps the write of 3: 2 is still fine
             _read(5.5, 6, seq=3)]
    report = check(writes, reads)
    assert report.ok, [v.describe(0) for v in report.violations]
    assert (report.writes, report.acked, report.reads) == (3, 3, 5)


def test_checker_flags_a_stale_read_after_an_acknowledged_write():
    report = check(_writes((0, 1), (2, 3)), [_read(3.5, 4, seq=1), _read(0.5, 2, values=None)])
    assert [v.check for v in report.violations] == ["stale"]
    assert "seq 2 was acknowledged" in report.violations[0].detail


def test_checker_flags_an_absent_row_after_an_acknowledged_write_as_stale():
    report = check(_writes((0, 1)), [_read(2, 3, kind="scan")])
    assert [v.check for v in report.violations] == ["stale"]


def test_checker_flags_a_read_going_back_to_an_older_value():
    # The write of 2 is not acknowledged yet, but one read saw it: a later read may not go back.
    writes = {ROW: [Write(1, 0, 1, True), Write(2, 2, 10, False)]}
    report = check(writes, [_read(3, 4, seq=2), _read(5, 6, seq=1)])
    assert [v.check for v in report.violations] == ["regressed"]


def test_checker_flags_torn_rows_and_values_never_written():
    writes = _writes((0, 1), (2, 3))
    torn = _read(1.5, 1.6, values=(value_of(ROW, 1), value_of(ROW, 1), value_of(ROW, 2)))
    partial = _read(1.5, 1.6, values=(value_of(ROW, 1), None, None))
    other_row = _read(1.5, 1.6, values=(value_of(b"reg001", 1),) * len(COLUMNS))
    future = _read(1.2, 1.5, seq=2)  # seq 2's write was invoked at 2, after this read ended
    outside = Read("scan outside its range", 1.2, 1.5, ROW, (value_of(ROW, 1),) * 3)
    report = check(writes, [torn, partial, other_row, future, outside])
    assert [v.check for v in report.violations] == ["torn", "torn", "phantom", "phantom",
                                                    "phantom"]


PLAN = ["flush", "split", "move", "merge", "kill_regionserver", "balance",
        "freeze_regionserver", "kill_master"]
ROWS = 24


def test_reads_are_never_stale_torn_or_phantom_under_moves_splits_merges_kills_and_freezes(
        cluster_factory, connection_for):
    cluster = cluster_factory("registers", session_timeout=SHORT_SESSION_S,
                              flush_size=64 * 1024, balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=30)
        rows = registers.register_rows(ROWS)
        conn.create_table("registers", {"cf": dict()}, split_keys=rows[4::4])  # 6 regions
        wconn = connection_for(cluster, timeout=30)
        writers = [registers.RegisterWriter(wconn.table("registers"), row, seconds=150,
                                            pause=0.02) for row in rows]
        readers = [registers.RegisterReader(connection_for(cluster, timeout=30).table(
            "registers"), rows, seconds=150, seed=i) for i in range(3)]
        monkey = chaos.ChaosMonkey(conn, "registers", cluster, plan=PLAN, duration=150,
                                   pause=(1.0, 1.0), session_timeout=SHORT_SESSION_S,
                                   restart_delay=(SHORT_SESSION_S + 3, SHORT_SESSION_S + 3),
                                   recovery_timeout=60, seed=11)
        origin = time.monotonic()
        for t in writers + readers:
            t.start()
        cluster.wait_for(lambda: all(len(w.writes) >= 5 for w in writers), 30,
                         "every writer to get going")
        monkey.start()
        monkey.join(200)
        time.sleep(1.0)  # reads go on against the recovered cluster
        for t in writers + readers:
            t.stop()
        for t in writers + readers:
            t.join(60)
        assert not any(t.is_alive() for t in writers + readers), "a client thread hung"
        assert not monkey.is_alive(), "the chaos monkey did not finish its plan"
        assert [a.name for a in monkey.actions] == PLAN
        assert not monkey.failed, [(a.name, a.detail) for a in monkey.failed]

        reads = [r for t in readers for r in t.reads]
        report = check({w.row: w.writes for w in writers}, reads)
        during = registers.reads_during(reads, monkey.actions)
        print(f"\n{report.acked} of {report.writes} writes acknowledged, {report.reads} row "
              f"reads ({sum(t.scans for t in readers)} scans), "
              f"{sum(len(t.errors) for t in readers)} read errors; reads per action: {during}")
        for a in monkey.actions:
            print(f"  {a.name}: {a.detail}")
        assert report.ok, [v.describe(origin) for v in report.violations[:10]]
        assert report.acked >= 20 * ROWS
        assert all(n > 0 for n in during.values()), during
    finally:
        stop_cluster(cluster)
