"""The web UIs and /metrics against a live local cluster (docs/web-ui.md): a created table
appears with its regions on the master's pages and API after real writes; the region servers'
pages and metrics count those operations; a SIGKILLed server shows as dead, then its regions
appear on the other servers.

One module cluster (1 master + 1 backup, 3 region servers, 4 s sessions so a kill is noticed
quickly); every page is fetched over real HTTP from the ports published in ZooKeeper.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.cluster.conftest import SHORT_SESSION_S, serving_regions, stop_cluster

TABLE = "webt"
SPLITS = [b"m", b"\x00\xffbin"]  # unprintable bytes must show escaped


def fetch(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def text_of(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded."""
    import html
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def fetch_json(url: str):
    code, body = fetch(url)
    assert code == 200, f"{url}: {code} {body}"
    return json.loads(body)


def metric(text: str, name: str, **labels) -> float:
    """Value of one sample in Prometheus text (labels must match exactly those given)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    raise AssertionError(f"no sample {name}{labels} in metrics")


@pytest.fixture(scope="module")
def web_cluster(cluster_factory):
    c = cluster_factory("web", regionservers=3, masters=2, session_timeout=SHORT_SESSION_S,
                        flush_size=256 * 1024, balancer_period=3600)
    yield c
    stop_cluster(c)


def master_ui(cluster) -> str:
    from coordination.znodes import MasterRecord, Paths
    rec = MasterRecord.from_bytes(cluster.zk().get(Paths().master)[0])
    return f"http://127.0.0.1:{rec.info_port}"


def rs_ui(cluster, name: str) -> str:
    from tests.cluster.conftest import server_record
    return f"http://127.0.0.1:{server_record(cluster, name).info_port}"


@pytest.fixture(scope="module")
def loaded_table(web_cluster):
    import client
    conn = client.Connection(web_cluster.quorum, timeout=30)
    try:
        conn.create_table(TABLE, {"cf": {}, "meta": {"max_versions": 3,
                                                     "keep_deleted_cells": "TTL",
                                                     "data_block_encoding": "FAST_DIFF"}},
                          split_keys=SPLITS, max_filesize=1 << 30)
        t = conn.table(TABLE)
        with t.batch() as b:
            for i in range(60):
                for prefix in (b"a", b"z", b"\x00\x01"):  # one per region
                    b.put(prefix + b"%03d" % i, {b"cf:q": b"v%d" % i})
        for i in range(20):
            assert t.row(b"a%03d" % i) == {b"cf:q": b"v%d" % i}
        conn.flush(TABLE)
        assert t.row(b"z001") == {b"cf:q": b"v1"}  # served from a store file now
        status = conn.status()
    finally:
        conn.close()
    return status


def test_master_page_lists_created_table_servers_and_regions(web_cluster, loaded_table):
    import client
    base = master_ui(web_cluster)
    code, page = fetch(base + "/")
    assert code == 200
    assert '<meta http-equiv="refresh" content="5">' in page
    assert f'<a href="/table/{TABLE}">{TABLE}</a>' in page
    for name in web_cluster.live_regionservers():
        assert name in page
    assert loaded_table["backup_masters"][0] in page  # the standby is named
    balancer = '<div class="label">balancer</div><div class="value">{}</div>'
    assert balancer.format("on") in page
    with client.Connection(web_cluster.quorum, timeout=30) as conn:
        conn.balance_switch(False)
        try:
            assert balancer.format("off (balance_switch)") in fetch(base + "/")[1]
        finally:
            conn.balance_switch(True)

    code, tpage = fetch(base + f"/table/{TABLE}")
    assert code == 200 and "<script" not in tpage
    tpage = text_of(tpage)
    assert "[(first), \\x00\\xFFbin)" in tpage  # unprintable bytes escaped, readable ends
    assert "[\\x00\\xFFbin, m)" in tpage and "[m, (last))" in tpage
    assert "cf" in tpage and "meta" in tpage
    assert "keep deleted cells" in tpage  # every family option is shown
    assert "meta30foreverROWNONE64.0 KiByesnoTTLFAST_DIFF" in tpage  # (text of its table row)
    assert "cf10foreverROWNONE64.0 KiByesnoFALSENONE" in tpage
    assert "Table attributesMAX_FILESIZE => '1073741824'Families" in tpage


def test_api_table_matches_meta_and_counts_real_operations(web_cluster, loaded_table):
    base = master_ui(web_cluster)

    def reported():  # load reports arrive every second
        doc = fetch_json(base + f"/api/table/{TABLE}")
        regions = doc["regions"]
        if sum(r.get("write_requests", 0) for r in regions) >= 180 and \
                sum(r.get("store_files", 0) for r in regions) >= 3:
            return doc
        return None

    doc = web_cluster.wait_for(reported, 20, "load reports with the writes")
    assert doc["state"] == "ENABLED"
    assert [f["name"] for f in doc["families"]] == ["cf", "meta"]
    ranges = [(r["start_key"], r["end_key"]) for r in doc["regions"]]
    assert ranges == [("", "\\x00\\xFFbin"), ("\\x00\\xFFbin", "m"), ("m", "")]
    records = serving_regions(web_cluster, TABLE)
    assert {r.info.name: r.server for r in records} == \
        {r["name"]: r["server"] for r in doc["regions"]}
    assert sum(r["read_requests"] for r in doc["regions"]) >= 21

    # the API shows what the CLI's `status` shows (same GetClusterStatus code path)
    api = fetch_json(base + "/api/status")
    assert {s["name"]: s["state"] for s in api["servers"]} == \
        {s["name"]: s["state"] for s in loaded_table["servers"]}
    assert api["active_master"] == loaded_table["active_master"]

    metrics = fetch(base + "/metrics")[1]
    assert metric(metrics, "minihbase_master_regions") >= 3
    assert metric(metrics, "minihbase_master_servers", state="ONLINE") == 3
    assert metric(metrics, "minihbase_master_active") == 1
    assert metric(metrics, "minihbase_rpc_latency_seconds_count", method="CreateTable") == 1
    assert metric(metrics, "minihbase_rpc_latency_seconds_count", method="RegionServerReport") > 0


def test_region_server_page_and_metrics_after_writes(web_cluster, loaded_table):
    records = serving_regions(web_cluster, TABLE)
    host = records[-1].server  # serves [m, end): the "z" rows
    base = rs_ui(web_cluster, host)
    code, page = fetch(base + "/")
    assert code == 200 and host in page
    page = text_of(page)
    assert "[m, (last))" in page and "block cache hit ratio" in page
    assert "Multi" in page  # requests by operation
    doc = fetch_json(base + "/api/server")
    mine = [r for r in doc["regions"] if r["table"] == TABLE]
    assert mine and all(r["state"] == "OPEN" for r in mine)
    assert doc["wal"]["syncs"] >= 1 and doc["operations"]["Multi"]["count"] >= 1

    text = fetch(base + "/metrics")[1]
    assert metric(text, "minihbase_rpc_latency_seconds_count", method="Multi") >= 1
    assert metric(text, "minihbase_wal_sync_seconds_count") >= 1
    assert metric(text, "minihbase_regionserver_regions") == len(doc["regions"])
    assert metric(text, "minihbase_regionserver_memstore_limit_bytes") == \
        doc["memstore_limit_bytes"] == 1 << 30  # the default global memstore size
    z = records[-1].info.name
    assert metric(text, "minihbase_region_write_requests_total", table=TABLE, region=z) >= 60
    assert metric(text, "minihbase_region_flush_seconds_count", table=TABLE, region=z) >= 1
    assert metric(text, "minihbase_region_flush_seconds_sum", table=TABLE, region=z) > 0
    assert metric(text, "minihbase_block_cache_hits_total") + \
        metric(text, "minihbase_block_cache_misses_total") >= 1
    assert fetch(base + "/health")[0] == 200


def test_health_and_backup_master_page(web_cluster):
    from coordination.znodes import Paths
    assert json.loads(fetch(master_ui(web_cluster) + "/health")[1])["role"] == "active"
    zk = web_cluster.zk()
    backup = zk.get_children(Paths().backup_masters)[0]
    from coordination.znodes import MasterRecord
    rec = MasterRecord.from_bytes(zk.get(Paths().backup_master(backup))[0])
    assert rec.info_port
    base = f"http://127.0.0.1:{rec.info_port}"
    code, body = fetch(base + "/health")
    assert code == 200 and json.loads(body)["role"] == "backup"
    code, page = fetch(base + "/")
    assert code == 200 and "Backup master" in page and web_cluster.active_master() in page
    # the link to the active master's UI goes through the host the browser used (loopback here)
    assert f'href="{master_ui(web_cluster)}/"' in page


def test_killed_server_shows_dead_then_its_regions_elsewhere(web_cluster, loaded_table):
    base = master_ui(web_cluster)
    victim = serving_regions(web_cluster, TABLE)[0].server
    index = next(i for i, d in enumerate(web_cluster.regionservers) if d.name == victim)
    web_cluster.kill_regionserver(index, signal.SIGKILL)

    def shown_gone():
        doc = fetch_json(base + "/api/status")
        st = {s["name"]: s["state"] for s in doc["servers"]}
        return st.get(victim) not in (None, "ONLINE") and st.get(victim)

    web_cluster.wait_for(shown_gone, 30, f"{victim} shown as not ONLINE")

    def moved():
        doc = fetch_json(base + f"/api/table/{TABLE}")
        rs = doc["regions"]
        if all(r["state"] == "OPEN" and r["server"] and r["server"] != victim for r in rs):
            return doc
        return None

    doc = web_cluster.wait_for(moved, 45, "regions reopened on other servers")
    assert victim not in {r["server"] for r in doc["regions"]}
    web_cluster.wait_for(
        lambda: {s["name"]: s["state"] for s in fetch_json(base + "/api/status")["servers"]}
        .get(victim) == "DEAD", 30, f"{victim} DEAD")
    page = fetch(base + "/")[1]
    dead_section = page.split("Dead and recovering region servers", 1)[1]
    dead_section = dead_section.split("<h2>", 1)[0]
    assert victim in dead_section and "DEAD" in dead_section
    tpage = fetch(base + f"/table/{TABLE}")[1]
    assert victim not in tpage
    metrics = fetch(base + "/metrics")[1]
    assert metric(metrics, "minihbase_master_crash_recovery_seconds_count") >= 1
    assert metric(metrics, "minihbase_master_servers", state="DEAD") >= 1


def test_restarted_servers_recoveries_leave_the_metrics_with_their_dead_entries(
        cluster_factory):
    """A region server restarted on its address replaces its earlier incarnation, whose DEAD
    entry the master drops (HBase's cleanPreviousInstance). Its recovery's gauge
    (crash_recovery_last_seconds{server=...}) went with it only in the status: the master kept
    one per incarnation it ever recovered, so every rolling restart grew /metrics for good.
    The summary still counts every recovery."""
    cluster = cluster_factory("rsrestarts", regionservers=2, masters=1,
                              session_timeout=SHORT_SESSION_S, balancer_period=3600)
    try:
        base = master_ui(cluster)
        restarts = 3
        for i in range(restarts):
            old = cluster.stop_regionserver(1)
            cluster.wait_for(
                lambda: {s["name"]: s["state"] for s in fetch_json(base + "/api/status")
                         ["servers"]}.get(old.name) == "DEAD", 60, f"{old.name} DEAD")
            new = cluster.restart(old)
            cluster.wait_for(
                lambda: old.name not in {s["name"] for s in fetch_json(base + "/api/status")
                                         ["servers"]}, 30, f"{old.name} dropped for {new.name}")

        def unlisted_gauges():  # the master's chore (every 5 s) forgets them
            metrics = fetch(base + "/metrics")[1]
            gauges = re.findall(
                r'^minihbase_master_crash_recovery_last_seconds\{server="([^"]+)"', metrics,
                re.M)
            listed = {s["name"] for s in fetch_json(base + "/api/status")["servers"]}
            return set(gauges) - listed, metrics

        deadline = time.monotonic() + 20
        while unlisted_gauges()[0] and time.monotonic() < deadline:
            time.sleep(0.5)
        unlisted, metrics = unlisted_gauges()
        assert not unlisted, f"gauges of servers the status no longer lists: {unlisted}"
        assert metric(metrics, "minihbase_master_crash_recovery_seconds_count") == restarts
    finally:
        stop_cluster(cluster)
