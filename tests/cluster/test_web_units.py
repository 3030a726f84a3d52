"""Web UI building blocks without a cluster (docs/web-ui.md): readable row keys, HTML escaping
of everything interpolated, routing (404/500 never take the server down), and the RPC timing
wrapper (counts, errors, slow-call log)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from minihbase import info_http, metrics


def test_row_keys_shown_printable_as_text_and_the_rest_escaped():
    assert info_http.readable_key(b"user123") == "user123"
    assert info_http.readable_key(b"\x00\xffa\\b\n") == "\\x00\\xFFa\\x5Cb\\x0A"
    assert info_http.readable_key(b"") == ""
    html = info_http.key_range(b"", b"<m>")
    assert "(first)" in html and "&lt;m&gt;" in html and "<m>" not in html


def test_everything_interpolated_is_html_escaped():
    page = info_http.page('<t "x">', "<h>", [("a&b", '/x?"y"')],
                          info_http.table(["<th>"], [[info_http.esc("<script>")]]))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;t &quot;x&quot;&gt;" in page and "a&amp;b" in page
    assert '<meta http-equiv="refresh" content="5">' in page


def test_unknown_path_is_404_and_a_failing_page_is_500_then_the_server_still_serves():
    def boom(rest, query):
        raise RuntimeError("broken page")

    server = info_http.InfoHttpServer("127.0.0.1", 0, [
        ("/boom", boom), ("/item", lambda rest, q: info_http.json_response({"item": rest})),
        ("/", lambda rest, q: info_http.html_response("home"))]).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        for path, code in (("/nope", 404), ("/boom", 500)):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path, timeout=5)
            assert err.value.code == code
        with urllib.request.urlopen(base + "/item/a%2Cb%2C1", timeout=5) as f:
            assert b'"item": "a,b,1"' in f.read()  # server names (commas) survive quoting
        with urllib.request.urlopen(base + "/", timeout=5) as f:
            assert f.read() == b"home"
    finally:
        server.stop()


def test_rpc_timing_counts_calls_errors_and_remembers_slow_ones():
    class Req:
        region = "t,,1.abc"

    rpc = metrics.RpcMetrics(slow_seconds=0.0)
    ok = rpc.timed("Get", lambda req, ctx: "row")
    assert ok(Req(), None) == "row"

    def aborting(req, ctx):
        raise RuntimeError("context.abort raises like this")

    with pytest.raises(RuntimeError):
        rpc.timed("Multi", aborting)(Req(), None)
    ops = rpc.by_method()
    assert ops["Get"]["count"] == 1 and ops["Get"]["errors"] == 0
    assert ops["Multi"]["count"] == 1 and ops["Multi"]["errors"] == 1
    slow = rpc.recent_slow()
    assert [s["method"] for s in slow] == ["Multi", "Get"]  # newest first
    assert slow[0]["region"] == "t,,1.abc" and slow[0]["ok"] is False
    registry = metrics.new_registry()
    registry.register(rpc)
    text = metrics.render(registry)[0].decode()
    assert 'minihbase_rpc_latency_seconds_count{method="Get"} 1.0' in text
    assert 'minihbase_rpc_errors_total{method="Multi"} 1.0' in text


def test_master_page_shows_stuck_region_and_recovering_server_with_why_and_how_long():
    """In-process: a master whose meta holds a FAILED_OPEN region and a server in
    SPLITTING_WAL; the page says what each waits for and for how long (facts from
    hmaster.status, the GetClusterStatus code)."""
    import threading
    import time
    import types

    from coordination.znodes import (ENABLED, FAILED_OPEN, OPEN, SPLITTING_WAL, RegionRecord,
                                     ServerState, TableRecord)
    from hmaster.hbck import Problem
    from hmaster.web import InfoServer
    from protos import minihbase_pb2 as pb
    from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor

    now = int(time.time() * 1000)
    desc = TableDescriptor("stuck", (FamilyDescriptor(b"cf"),))
    regions = [RegionRecord(RegionInfo("stuck", b"", b"k\x01", 1), OPEN, "rs-a,1,1", now),
               RegionRecord(RegionInfo("stuck", b"k\x01", b"", 1), FAILED_OPEN, "",
                            now - 65_000, "retry 3 on another server: <disk full>")]
    meta = types.SimpleNamespace(
        tables=lambda: ["stuck"], read_table=lambda t: TableRecord(desc, ENABLED),
        balancer_on=lambda: True, switch_on=lambda name: name != "normalizer",
        decommissioned=lambda: ["rs-a,1,1"],
        regions=lambda t: list(regions), all_regions=lambda: list(regions),
        server_states=lambda: {"rs-b,2,2": ServerState("rs-b,2,2", SPLITTING_WAL, now - 4_000,
                                                        "WAL split and reassignment")})
    servers = types.SimpleNamespace(live=lambda: {"rs-a,1,1"}, load=lambda name: None)
    election = types.SimpleNamespace(active_master_name=lambda: "m,1,1",
                                     backup_masters=lambda: [])
    master = types.SimpleNamespace(
        meta=meta, servers=servers, election=election, cluster_id="cid", active=True,
        name="m,1,1", recovered=threading.Event(), crash=types.SimpleNamespace(
            last_recovery_s={}), zk=None, paths=None,
        hbck_report=(time.time() - 20, [Problem("ORPHAN_REGION_DIR", "stuck",
                                                "/d/x is not a region of stuck in meta")]),
        snapshots=types.SimpleNamespace(describe_all=lambda: [
            pb.SnapshotDescription(name="s1", table="stuck", created_ms=now - 90_000,
                                   regions=2, size_bytes=3 << 20),
            pb.SnapshotDescription(name="bad", problem="manifest failed its checksum")]))
    web = InfoServer(master, "127.0.0.1", 0)
    code, _, page = web._http.dispatch("/")
    assert code == 200
    row = next(x for x in page.split("<tr>") if "rs-a,1,1" in x)
    assert "DECOMMISSIONED" in row
    switches = next(x for x in page.split("<tr>") if "switched off" in x)
    assert "normalizer" in switches and "split" not in switches
    snaps = page.split("<h2>Snapshots", 1)[1]
    assert "s1" in snaps and "1 min 30 s ago" in snaps and "3.0 MiB" in snaps
    assert "manifest failed its checksum" in snaps
    hbck = page.split("<h2>HBCK report", 1)[1]
    assert "checked 20.0 s ago" in hbck and "ORPHAN_REGION_DIR" in hbck and "/d/x is not" in hbck
    code, _, body = web._http.dispatch("/api/snapshots")
    assert code == 200 and [s["name"] for s in json.loads(body)] == ["s1", "bad"]
    rit = page.split("Regions in transition", 1)[1].split("<h2>", 1)[0]
    assert "FAILED_OPEN" in rit and "retry 3 on another server: &lt;disk full&gt;" in rit
    assert "1 min 5 s" in rit and "[k\\x01, " in rit
    dead = page.split("Dead and recovering", 1)[1].split("<h2>", 1)[0]
    assert "rs-b,2,2" in dead and "SPLITTING_WAL" in dead and "WAL split and reassignment" in dead
    assert "4." in dead and " s<" in dead  # for ~4 s
    code, _, body = web._http.dispatch("/api/status")
    doc = json.loads(body)
    assert [r["waiting_for"] for r in doc["regions_in_transition"]] == \
        ["retry 3 on another server: <disk full>"]
    assert {s["name"]: s["waiting_for"] for s in doc["servers"]}["rs-b,2,2"] == \
        "WAL split and reassignment"
