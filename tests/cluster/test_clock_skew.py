"""A region server whose clock is off (HBase's hbase.master.maxclockskew), with real processes:
the skewed server runs under libfaketime (LD_PRELOAD), its wall clock moved, its monotonic
clock left alone -- as a host whose NTP is off.

Without the check, a server 10 minutes ahead stamped its cells 10 minutes in the future: once
its region moved to a server with the right time, a later put of the same cell stayed hidden
behind the future-dated one and a delete of the row removed nothing (reproduced by hand)."""

from __future__ import annotations

import os

import pytest

from tests.cluster.conftest import region_records, wait_for

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

pytestmark = pytest.mark.skipif(not os.path.exists(FAKETIME_LIB),
                                reason="libfaketime is not installed (apt-get install faketime)")


def skewed(offset: str) -> dict[str, str]:
    """The environment of a process whose wall clock reads `offset` (e.g. "+60s") off."""
    return {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": offset,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory("clockskew", regionservers=1, masters=1, balancer_period=3600)


def _master_log(cluster) -> str:
    with open(cluster.masters[0].log_path, errors="replace") as f:
        return f.read()


def _log(daemon) -> str:
    with open(daemon.log_path, errors="replace") as f:
        return f.read()


@pytest.mark.parametrize("offset, way", [("+60s", "ahead of"), ("-10m", "behind")])
def test_region_server_with_a_skewed_clock_is_refused_and_aborts(cluster, connection_for,
                                                                  offset, way):
    conn = connection_for(cluster)
    table = f"skew_refused_{way.split()[0]}"
    conn.create_table(table, {"cf": {}})
    d = cluster.add_regionserver(wait=False, env=skewed(offset))
    assert d.wait(45), "the skewed region server still runs"
    assert d.exit_code() not in (0, None)
    log = _log(d)
    assert "ABORTING region server" in log
    assert f"s {way} master" in log and "more than --max-clock-skew 30 s" in log, log[-3000:]
    assert "refused: its clock read" in _master_log(cluster)
    # It was never online, so never given a region; the one server left serves them all.
    names = [line.split("ABORTING region server ")[1].split(":")[0]
             for line in log.splitlines() if "ABORTING region server" in line]
    assert names and all(r.server != names[0] for r in region_records(cluster, table))
    conn.table(table).put(b"r", {b"cf:q": b"v"})
    assert conn.table(table).row(b"r") == {b"cf:q": b"v"}


def test_region_server_slightly_skewed_is_served_with_a_warning(cluster, connection_for):
    conn = connection_for(cluster)
    conn.create_table("skew_warned", {"cf": {}})
    d = cluster.add_regionserver(env=skewed("+15s"))
    wait_for(lambda: "more than --warn-clock-skew 10 s" in _master_log(cluster), 20,
             "the master's warning about the skewed clock")
    region = conn.regions("skew_warned")[0]["name"]
    conn.move(region, d.name)
    assert conn.regions("skew_warned")[0]["server"] == d.name
    conn.table("skew_warned").put(b"r", {b"cf:q": b"v"})
    assert conn.table("skew_warned").row(b"r") == {b"cf:q": b"v"}
    assert d.is_alive()
