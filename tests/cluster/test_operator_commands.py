"""HBase's operator commands against real daemons and a real ZooKeeper: decommissioning region
servers, the split/merge and catalog janitor switches, assign, rit, dead servers and zk_dump,
through the client, the CLI and the shell."""

from __future__ import annotations

import pytest

from minihbase import errors
from tests.cluster.conftest import daemon_of, wait_for
from tests.cluster.test_client_cluster import cli


def _online(conn) -> list[str]:
    return sorted(x["name"] for x in conn.status()["servers"] if x["state"] == "ONLINE")


def _servers_of(conn, table: str) -> set[str]:
    return {r["server"] for r in conn.regions(table)}


def test_a_decommissioned_server_gets_no_region_until_it_is_recommissioned(cluster,
                                                                            connection_for):
    conn = connection_for(cluster)
    conn.create_table("dc", {"cf": {}}, split_keys=[b"b", b"d", b"f", b"h", b"k"])
    t = conn.table("dc")
    rows = {b"%c%02d" % (c, i): {b"cf:q": b"v%d" % i} for c in b"acegij" for i in range(5)}
    for row, data in rows.items():
        t.put(row, data)
    victim = max(_online(conn), key=lambda s: sum(r["server"] == s for r in conn.regions("dc")))
    assert victim in _servers_of(conn, "dc")

    done = cli(cluster, "decommission_regionservers", victim)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Decommissioned {victim}; ") and "moved off" in done.stdout
    assert victim not in _servers_of(conn, "dc")
    assert dict(t.scan()) == rows  # nothing lost on the way
    assert conn.list_decommissioned_regionservers() == [victim]
    status = cli(cluster, "status").stdout
    assert "ONLINE (decommissioned)" in next(x for x in status.splitlines() if victim in x)

    # New regions, the balancer and moves all leave it out.
    conn.create_table("dc2", {"cf": {}}, split_keys=[b"%d" % i for i in range(1, 6)])
    assert victim not in _servers_of(conn, "dc2")
    conn.balance()
    assert victim not in _servers_of(conn, "dc") | _servers_of(conn, "dc2")
    region = conn.regions("dc")[0]["name"]
    with pytest.raises(errors.OperationNotAllowedError, match="decommissioned"):
        conn.move(region, victim)
    # Never the last server able to take regions: by names, or by a host naming them all.
    others = [s for s in _online(conn) if s != victim]
    with pytest.raises(errors.OperationNotAllowedError, match="no region server"):
        conn.decommission_regionservers(others)
    refused = cli(cluster, "decommission_regionservers", victim.split(",")[0])
    assert refused.returncode == 1 and refused.stderr.startswith("ERROR: decommissioning ")
    unknown = cli(cluster, "decommission_regionservers", "nosuchhost,1")
    assert unknown.returncode == 1 and "no online region server matches" in unknown.stderr

    host, port, _ = victim.split(",")
    conn.recommission_regionserver(f"{host},{port}", [region])  # host,port names it too
    assert conn.list_decommissioned_regionservers() == []
    assert next(r["server"] for r in conn.regions("dc") if r["name"] == region) == victim
    with pytest.raises(errors.InvalidArgumentError, match="names no decommissioned"):
        conn.recommission_regionserver(victim)

    # A decommissioned server that stops is forgotten: restarted, it has a new name.
    other = others[0]
    conn.decommission_regionservers([other], offload=False)
    assert other in _servers_of(conn, "dc") | _servers_of(conn, "dc2")  # nothing moved
    cluster.stop_regionserver(cluster.regionservers.index(daemon_of(cluster, other)))
    wait_for(lambda: conn.list_decommissioned_regionservers() == [], 20,
             "the stopped server's decommission forgotten")
    cluster.add_regionserver()


def test_decommission_spreads_the_offloaded_regions_over_the_other_servers(cluster,
                                                                          connection_for):
    """graceful_stop's first step: the drained server's regions go to the least-loaded servers
    one by one, as HBase's RegionMover spreads them, not all to the one that was least loaded
    when the offload began."""
    conn = connection_for(cluster)
    conn.create_table("spread", {"cf": {}}, split_keys=[b"%d" % i for i in range(1, 12)])
    conn.balance()

    def load() -> dict[str, int]:
        counts = {s: 0 for s in _online(conn)}
        for table in conn.tables():
            for r in conn.regions(table):
                if r["server"] in counts:
                    counts[r["server"]] += 1
        return counts

    before = load()
    assert max(before.values()) - min(before.values()) <= 1, before
    victim = max(before, key=before.get)
    moved = conn.decommission_regionservers([victim])["moved"]
    try:
        assert moved == before[victim] >= 4
        after = {s: n for s, n in load().items() if s != victim}
        assert max(after.values()) - min(after.values()) <= 1, (before, after)
    finally:
        conn.recommission_regionserver(victim)


def test_merge_region_merges_three_regions_with_data_in_each_losing_no_row(cluster,
                                                                         connection_for):
    """HBase 2.3+'s merge_region ['E1', 'E2', 'E3'] (encoded names, any order) on real
    daemons: every row of the three parents -- flushed to HFiles or only in a memstore,
    closed and flushed by the merge -- is read back through the merged region's references,
    and still after a major compaction rewrote them."""
    conn = connection_for(cluster)
    conn.create_table("m3", {"cf": {}}, split_keys=[b"g", b"p", b"t"])
    t = conn.table("m3")
    rows = {b"%c%02d" % (c, i): {b"cf:q": b"v%c%d" % (c, i)} for c in b"ahqu" for i in range(8)}
    for row, data in sorted(rows.items())[:20]:
        t.put(row, data)
    conn.flush("m3")
    for row, data in sorted(rows.items())[20:]:
        t.put(row, data)  # these only in the memstores when the merge closes the regions
    names = [r["name"] for r in conn.regions("m3")]
    encoded = [n.rsplit(".", 1)[1] for n in names]
    refused = cli(cluster, "merge", names[0], names[2])
    assert refused.returncode == 1 and "are not adjacent" in refused.stderr, refused.stderr
    with pytest.raises(errors.InvalidArgumentError, match="force .* is not supported"):
        conn.merge(names[0], names[2], force=True)
    shell = cli(cluster, "shell", input=f"merge_region {[encoded[2], encoded[0], encoded[1]]}\n")
    assert shell.returncode == 0, shell.stderr
    assert [(r["start_key"], r["end_key"]) for r in conn.regions("m3")] == [
        (b"", b"t"), (b"t", b"")]
    assert dict(t.scan()) == rows
    for row, data in rows.items():
        assert t.row(row) == data
    conn.compact("m3", major=True, wait=True)
    assert dict(t.scan()) == rows


def test_split_and_merge_switches_the_catalog_janitor_assign_rit_and_zk_dump(cluster,
                                                                              connection_for):
    conn = connection_for(cluster)
    conn.create_table("sw", {"cf": {}}, split_keys=[b"m"])
    t = conn.table("sw")
    for i in range(20):
        t.put(b"r%02d" % i, {b"cf:q": b"v"})
    off = cli(cluster, "splitormerge_switch", "split", "off")
    assert off.returncode == 0 and off.stdout.strip() == "true"  # the state before
    assert cli(cluster, "splitormerge_enabled", "SPLIT").stdout.strip() == "false"
    assert conn.splitormerge_enabled("MERGE") is True
    refused = cli(cluster, "split", "sw", "r05")
    assert refused.returncode == 1
    assert refused.stderr.startswith("ERROR: split of region sw,") and \
        "split switch is off" in refused.stderr
    assert len(conn.regions("sw")) == 2
    a, b = (r["name"] for r in conn.regions("sw"))
    assert conn.splitormerge_switch("MERGE", False) is True
    with pytest.raises(errors.OperationNotAllowedError, match="merge switch is off"):
        conn.merge(a, b)
    shell = cli(cluster, "shell", input="splitormerge_switch 'MERGE', true\n"
                                        "splitormerge_switch 'SPLIT', true\n")
    assert shell.returncode == 0, shell.stderr
    conn.merge(a, b)
    conn.split("sw", b"r05")
    assert [r["start_key"] for r in conn.regions("sw")] == [b"", b"r05"]
    assert dict(t.scan()) == {b"r%02d" % i: {b"cf:q": b"v"} for i in range(20)}

    assert conn.catalogjanitor_switch(False) is True
    assert cli(cluster, "catalogjanitor_enabled").stdout.strip() == "false"
    ran = cli(cluster, "catalogjanitor_run")
    assert ran.returncode == 0 and ran.stdout.startswith("Catalog janitor cleaned ")
    conn.catalogjanitor_switch(True)

    region = conn.regions("sw")[0]
    conn.assign(region["name"])  # an open region stays where it is
    assert conn.regions("sw")[0]["server"] == region["server"]
    assert cli(cluster, "rit").stdout.strip() == "no regions in transition"
    assert cli(cluster, "list_deadservers").stdout.splitlines()[0] == "SERVERNAME"
    assert cli(cluster, "clear_deadservers", "nosuch,1,1").stdout.splitlines() == [
        "Some dead server clear failed", "nosuch,1,1"]
    listed = cli(cluster, "list_decommissioned_regionservers").stdout.splitlines()
    assert listed == ["DECOMMISSIONED REGION SERVERS", "0 row(s)"]

    dump = cli(cluster, "zk_dump")
    assert dump.returncode == 0, dump.stderr
    lines = dump.stdout.splitlines()
    assert f"Active master address: {conn.status()['active_master']}" in lines
    servers = lines[lines.index("Region servers:") + 1:lines.index(
        "Decommissioned region servers:")]
    assert sorted(s.strip() for s in servers) == _online(conn)
    assert "Switches: balancer on, split on, merge on, catalogjanitor on, normalizer on" in lines
    assert any(x.strip().startswith("Mode: ") for x in lines)


def test_namespace_properties_and_quotas_on_tables_regions_and_splits(cluster,
                                                                       connection_for):
    conn = connection_for(cluster)
    quota = "hbase.namespace.quota."
    conn.create_namespace("q", {quota + "maxtables": "2", quota + "maxregions": "4",
                                "owner": "ops"})
    conn.create_table("q:a", {"cf": {}}, split_keys=[b"m"])
    with pytest.raises(errors.QuotaExceededError, match="holds 2 and allows 4"):
        conn.create_table("q:b", {"cf": {}}, split_keys=[b"d", b"h"])
    assert not conn.exists("q:b")
    conn.create_table("q:b", {"cf": {}})
    with pytest.raises(errors.QuotaExceededError, match="holds 2 table"):
        conn.create_table("q:c", {"cf": {}})
    t = conn.table("q:b")
    for row in (b"a", b"k", b"x"):
        t.put(row, {b"cf:q": b"v"})
    conn.split("q:b", b"k")  # the 4th region
    refused = cli(cluster, "split", "q:b", "x")
    assert refused.returncode == 1 and refused.stderr.startswith("ERROR: split of region q:b,")
    assert "adds 1 region(s) to namespace 'q', which holds 4 and allows 4" in refused.stderr
    assert len(conn.regions("q:b")) == 2

    described = cli(cluster, "describe_namespace", "q")
    assert described.stdout.splitlines()[:3] == [
        "DESCRIPTION", f"{{NAME => 'q', {quota}maxregions => '4', {quota}maxtables => '2', "
        "owner => 'ops'}", "2 table(s)"]
    assert cli(cluster, "alter_namespace", "q", "--unset", quota + "maxregions").returncode == 0
    conn.split("q:b", b"x")
    assert len(conn.regions("q:b")) == 3 and dict(t.scan()) == {
        r: {b"cf:q": b"v"} for r in (b"a", b"k", b"x")}
    shell = cli(cluster, "shell", input="alter_namespace 'q', {METHOD => 'set', "
                                        f"'{quota}maxtables' => '0'}}\n")
    assert "must be a whole number from 1 to 9223372036854775807, got '0'" in shell.stderr
    with pytest.raises(errors.InvalidArgumentError, match="has no property 'nope'"):
        conn.alter_namespace("q", unset=["nope"])
    assert conn.namespace_properties("q") == {quota + "maxtables": "2", "owner": "ops"}
    assert conn.namespace_properties("default") == {}

    # Over its caps (lowered below usage) the namespace keeps its tables: truncate grows
    # nothing, so it works; a restore that would add regions is refused.
    conn.snapshot("q:b", "q_b3")
    conn.alter_namespace("q", {quota + "maxtables": "1", quota + "maxregions": "2"})
    conn.truncate_table("q:b", preserve_splits=True)
    assert len(conn.regions("q:b")) == 3 and list(t.scan()) == []
    conn.truncate_table("q:b")
    assert len(conn.regions("q:b")) == 1
    conn.disable_table("q:b")
    with pytest.raises(errors.QuotaExceededError, match="restore of snapshot 'q_b3' refused"):
        conn.restore_snapshot("q_b3")
    conn.alter_namespace("q", unset=[quota + "maxregions"])
    conn.restore_snapshot("q_b3")
    conn.enable_table("q:b")
    assert dict(t.scan()) == {r: {b"cf:q": b"v"} for r in (b"a", b"k", b"x")}


def test_a_region_whose_files_are_gone_is_refused_until_they_are_back(cluster,
                                                                       connection_for):
    import os

    from storage import layout

    conn = connection_for(cluster)
    conn.create_table("lost", {"cf": {}}, split_keys=[b"m"])
    t = conn.table("lost")
    rows = {b"%c%d" % (c, i): {b"cf:q": b"v"} for c in b"ax" for i in range(5)}
    for row, data in rows.items():
        t.put(row, data)
    conn.flush("lost")
    region = next(r for r in conn.regions("lost") if r["start_key"] == b"m")
    path = layout.region_dir_by_name(cluster.rootdir, "lost", region["encoded"])
    os.rename(path, path + ".saved")
    target = next(s for s in _online(conn) if s != region["server"])
    with pytest.raises(errors.RegionOpenFailedError, match="not open .FAILED_OPEN.: .*missing"):
        conn.move(region["name"], target)
    report = cli(cluster, "hbck")
    assert report.returncode == 1 and "MISSING_REGION_DIR" in report.stdout
    assert t.row(b"a1") == {b"cf:q": b"v"}  # the other region serves on
    os.rename(path + ".saved", path)
    conn.assign(region["encoded"])
    assert dict(t.scan()) == rows


def test_an_unassigned_region_stays_closed_until_it_is_assigned(cluster, connection_for):
    """HBase 2's unassign: nothing reopens it behind the admin's back (the repair chore
    reopens other CLOSED regions of enabled tables after 10 s)."""
    import time

    conn = connection_for(cluster)
    conn.create_table("ua", {"cf": {}}, split_keys=[b"m"])
    t = conn.table("ua")
    t.put(b"x", {b"cf:q": b"v"})
    region = next(r for r in conn.regions("ua") if r["start_key"] == b"m")
    done = cli(cluster, "shell", input=f"unassign '{region['encoded']}', true\n")
    assert done.returncode == 0 and f"Unassigned {region['encoded']}" in done.stdout
    impatient = connection_for(cluster, timeout=2)
    with pytest.raises(errors.OperationTimeoutError):
        impatient.table("ua").row(b"x")
    time.sleep(16)  # past the repair chore's 10 s, and one of its 5 s rounds
    (waiting,) = conn.status()["regions_in_transition"]
    assert waiting["state"] == "CLOSED" and "unassigned by an admin" in waiting["waiting_for"]
    again = cli(cluster, "unassign", region["encoded"])
    assert again.returncode == 1 and "is CLOSED, not OPEN" in again.stderr
    conn.assign(region["encoded"])
    assert t.row(b"x") == {b"cf:q": b"v"}
