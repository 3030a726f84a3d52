"""The Thrift gateway (thriftserver/, docs/thrift.md) as HBase users meet it: the real
happybase library, over real sockets, against a gateway process in front of a real cluster
(ZooKeeper, a master, region servers). Also the scanner registry's leases, on their own."""

from __future__ import annotations

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from thriftpy2.rpc import make_client

happybase = pytest.importorskip("happybase")  # a dev dependency: always there under make test

from minihbase.local_cluster import REPO_ROOT  # noqa: E402
from minihbase.zookeeper import free_port  # noqa: E402
from tests.cluster.conftest import stop_cluster, wait_for  # noqa: E402
from thriftserver.idl import hbase  # noqa: E402
from thriftserver.scanners import INVALID, Scanners  # noqa: E402


@pytest.fixture(scope="module")
def gw(cluster_factory):
    """A cluster with one Thrift gateway (the local cluster's own)."""
    c = cluster_factory("thrift", masters=1, regionservers=2, thrift_servers=1,
                        session_timeout=6, flush_size=256 * 1024, balancer_period=3600)
    yield c
    stop_cluster(c)


@pytest.fixture
def hb(gw):
    conns = []

    def connect(port=None, **kwargs):
        conn = happybase.Connection("127.0.0.1", port or gw.thrift_servers[0].port, **kwargs)
        conns.append(conn)
        return conn

    yield connect
    for conn in conns:
        conn.close()


@pytest.fixture
def native(gw, connection_for):
    return connection_for(gw)


def _start_gateway(gw, *flags):
    """Another gateway process, with `flags`; (process, port)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "thriftserver.main", "--zk", gw.quorum, "--bind", "127.0.0.1",
         "--port", str(port), "--info-port", "-1", *flags],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def listening():
        assert process.poll() is None, process.communicate()[0]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_for(listening, 30, "the gateway to listen")
    return process, port


def _stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    out = process.communicate(timeout=30)[0]
    assert process.returncode == 0, out
    return out


def test_table_lifecycle_through_happybase(hb, native):
    conn = hb()
    conn.create_table("hb_ddl", {"cf": dict(max_versions=5, time_to_live=3600,
                                            bloom_filter_type="ROWCOL", in_memory=True),
                                 "cf2": dict(block_cache_enabled=True)})
    assert b"hb_ddl" in conn.tables()
    families = conn.table("hb_ddl").families()
    assert families[b"cf"]["max_versions"] == 5
    assert families[b"cf"]["time_to_live"] == 3600
    assert families[b"cf"]["bloom_filter_type"] == b"ROWCOL"
    assert families[b"cf"]["in_memory"] is True
    assert families[b"cf2"]["block_cache_enabled"] is True
    assert families[b"cf2"]["time_to_live"] == 2**31 - 1  # forever, as HBase's Thrift says
    # what the gateway created is what the cluster holds
    assert native.families("hb_ddl")[b"cf"]["ttl"] == 3600
    assert conn.is_table_enabled("hb_ddl")
    conn.disable_table("hb_ddl")
    assert not conn.is_table_enabled("hb_ddl")
    assert native.is_table_disabled("hb_ddl")
    conn.enable_table("hb_ddl")
    conn.delete_table("hb_ddl", disable=True)
    assert b"hb_ddl" not in conn.tables()
    assert not native.exists("hb_ddl")
    assert conn.table("hb_ddl").regions() == []  # HBase's answer for an unknown table


def test_reads_and_writes_agree_with_the_native_client(hb, native):
    native.create_table("hb_rw", {"cf": {"max_versions": 3}, "cf2": {}})
    conn = hb()
    t = conn.table("hb_rw")
    t.put(b"r1", {b"cf:a": b"1", b"cf:b": b"2", b"cf2:x": b"y"}, timestamp=1000)
    t.put(b"r1", {b"cf:a": b"1-new"}, timestamp=2000)
    native.table("hb_rw").put(b"r2", {b"cf:a": b"native"})
    assert native.table("hb_rw").row(b"r1") == {b"cf:a": b"1-new", b"cf:b": b"2",
                                                b"cf2:x": b"y"}
    assert t.row(b"r2") == {b"cf:a": b"native"}
    assert t.row(b"r1", columns=[b"cf"]) == {b"cf:a": b"1-new", b"cf:b": b"2"}
    assert t.row(b"r1", columns=[b"cf:a"], include_timestamp=True) == {
        b"cf:a": (b"1-new", 2000)}
    # a read's timestamp means "strictly older than it" (HBase's TimeRange [0, ts))
    assert t.row(b"r1", columns=[b"cf:a"], timestamp=2000) == {b"cf:a": b"1"}
    assert t.cells(b"r1", b"cf:a", versions=5, include_timestamp=True) == [
        (b"1-new", 2000), (b"1", 1000)]
    assert t.cells(b"r1", b"cf:a", timestamp=2000) == [b"1"]
    assert t.rows([b"r2", b"nope", b"r1"], columns=[b"cf:a"]) == [
        (b"r2", {b"cf:a": b"native"}), (b"r1", {b"cf:a": b"1-new"})]
    assert t.row(b"nope") == {}
    # deletes: one column (every version), then the whole row
    t.delete(b"r1", columns=[b"cf:a"])
    assert t.row(b"r1") == {b"cf:b": b"2", b"cf2:x": b"y"}
    t.delete(b"r1")
    assert native.table("hb_rw").row(b"r1") == {}


def test_scans_cross_regions_with_happybase_options(hb, native):
    native.create_table("hb_scan", {"cf": {}}, split_keys=[b"row100", b"row200"])
    conn = hb()
    t = conn.table("hb_scan")
    with t.batch(batch_size=50) as b:
        for i in range(300):
            b.put(b"row%03d" % i, {b"cf:n": b"%d" % i, b"cf:z": b"z"})
    keys = [b"row%03d" % i for i in range(300)]
    assert [k for k, _ in t.scan(batch_size=7)] == keys  # 43 scannerGetList pages
    assert [k for k, _ in t.scan(row_start=b"row150", row_stop=b"row250")] == keys[150:250]
    assert [k for k, _ in t.scan(row_prefix=b"row19")] == keys[190:200]
    assert [k for k, _ in t.scan(reverse=True, limit=5)] == keys[:-6:-1]
    assert [k for k, _ in t.scan(row_start=b"row105", reverse=True, limit=3)] == [
        b"row105", b"row104", b"row103"]
    assert [k for k, _ in t.scan(filter=b"ValueFilter(=, 'binary:123')")] == [b"row123"]
    assert [d for _, d in t.scan(row_prefix=b"row001", columns=[b"cf:n"])] == [
        {b"cf:n": b"1"}]
    # scan_batching splits a row's cells over items; sorted_columns answers a list
    parts = list(t.scan(row_prefix=b"row002", scan_batching=1))
    assert parts == [(b"row002", {b"cf:n": b"2"}), (b"row002", {b"cf:z": b"z"})]
    assert list(t.scan(row_prefix=b"row003", sorted_columns=True)) == [
        (b"row003", {b"cf:n": b"3", b"cf:z": b"z"})]
    # the same through the raw Thrift calls other clients use
    client = conn.client
    sid = client.scannerOpenWithStop(b"hb_scan", b"row098", b"row102", [b"cf:n"], {})
    got = []
    while True:
        rows = client.scannerGetList(sid, 3)
        if not rows:
            break
        got += [r.row for r in rows]
    client.scannerClose(sid)
    assert got == keys[98:102]
    before = client.getRowOrBefore(b"hb_scan", b"row200a", b"cf")
    assert sorted(c.value for c in before) == [b"200", b"z"]


def test_a_scan_in_row_parts_resumed_after_a_region_move_returns_no_cell_twice(hb, native):
    """TScan.batchSize splits wide rows into parts; when the region moves mid-row the scan
    resumes inside that row without handing back the parts already returned (HBase 2's
    client drops the cells up to the last one it returned)."""
    from Hbase_thrift import TScan

    native.create_table("hb_parts", {"cf": {}})
    client = hb(timeout=90_000).client
    t = hb().table("hb_parts")
    with t.batch() as b:
        for r in range(3):
            b.put(b"w%d" % r, {b"cf:q%02d" % i: b"v" for i in range(10)})
    sid = client.scannerOpenWithScan(b"hb_parts", TScan(batchSize=3, caching=1), {})
    items = client.scannerGetList(sid, 2)  # w0's q00-q02 and q03-q05
    region = native.regions("hb_parts")[0]
    native.move(region["name"])
    wait_for(lambda: native.regions("hb_parts")[0]["server"] not in ("", region["server"]),
             30, "the region to move")
    while True:
        more = client.scannerGetList(sid, 5)
        if not more:
            break
        items += more
    cells = [(item.row, column) for item in items for column in item.columns]
    assert cells == [(b"w%d" % r, b"cf:q%02d" % i) for r in range(3) for i in range(10)]

def test_a_scan_failing_mid_way_gives_happybase_its_error_not_an_invalid_scanner_id(hb,
                                                                                   native):
    """A scan that fails between two pages (its table disabled under it) answers the page
    with the error; happybase then closes the scanner in its `finally`, and that close must
    not replace the scan's error with IllegalArgument "scanner ID is invalid" (in HBase the
    failed scanner stays open until closed)."""
    from Hbase_thrift import IOError as ThriftIOError

    native.create_table("hb_fails", {"cf": {}})
    t = hb().table("hb_fails")
    with t.batch() as b:
        for r in range(30):
            b.put(b"r%02d" % r, {b"cf:q": b"v"})
    rows = t.scan(batch_size=10)
    assert [next(rows)[0] for _ in range(10)] == [b"r%02d" % r for r in range(10)]
    native.disable_table("hb_fails")
    with pytest.raises(ThriftIOError) as failed:
        list(rows)
    assert b"table 'hb_fails' is disabled" in failed.value.message


def test_a_scan_whose_start_and_stop_row_are_equal_returns_that_row(hb, native):
    """HBase's Thrift1 server builds its scans with Scan's deprecated setStartRow/setStopRow
    (and new Scan(start, stop)), which keep the old rule: equal start and stop rows make a get
    scan of that row, not an empty range."""
    from Hbase_thrift import TScan

    native.create_table("hb_getscan", {"cf": {}})
    conn = hb()
    t = conn.table("hb_getscan")
    for key in (b"a", b"b", b"c"):
        t.put(key, {b"cf:q": key})
    assert [k for k, _ in t.scan(row_start=b"b", row_stop=b"b")] == [b"b"]
    assert [k for k, _ in t.scan(row_start=b"b", row_stop=b"b", reverse=True)] == [b"b"]
    assert [k for k, _ in t.scan(row_start=b"bb", row_stop=b"bb")] == []
    client = conn.client
    sid = client.scannerOpenWithStop(b"hb_getscan", b"c", b"c", [], {})
    assert [r.row for r in client.scannerGetList(sid, 10)] == [b"c"]
    sid = client.scannerOpenWithScan(b"hb_getscan", TScan(startRow=b"a", stopRow=b"a",
                                                           reversed=True), {})
    assert [r.row for r in client.scannerGetList(sid, 10)] == [b"a"]

def test_counters_append_and_check_and_put(hb):
    from Hbase_thrift import Mutation, TAppend  # loaded by happybase

    conn = hb()
    conn.create_table("hb_atomic", {"cf": {}})
    t = conn.table("hb_atomic")
    assert t.counter_inc(b"c", b"cf:n") == 1
    assert t.counter_inc(b"c", b"cf:n", value=41) == 42
    assert t.counter_dec(b"c", b"cf:n", value=2) == 40
    assert t.counter_get(b"c", b"cf:n") == 40
    client = conn.client
    put = Mutation(column=b"cf:v", value=b"first")
    assert client.checkAndPut(b"hb_atomic", b"r", b"cf:v", None, put, {}) is True
    assert client.checkAndPut(b"hb_atomic", b"r", b"cf:v", None, put, {}) is False
    assert client.checkAndPut(b"hb_atomic", b"r", b"cf:v", b"first",
                              Mutation(column=b"cf:v", value=b"second"), {}) is True
    assert t.row(b"r") == {b"cf:v": b"second"}
    cells = client.append(TAppend(table=b"hb_atomic", row=b"r", columns=[b"cf:v"],
                                  values=[b"+more"]))
    assert [c.value for c in cells] == [b"second+more"]


def test_increment_of_a_non_counter_is_an_io_error_not_retried(gw, hb):
    # HBase's region server: DoNotRetryIOException "Field is not a long", so IOError with
    # canRetry false, not IllegalArgument (atomicIncrement declares both)
    from Hbase_thrift import IOError as ThriftIOError, TIncrement

    conn = hb()
    conn.create_table("hb_notlong", {"cf": {}})
    t = conn.table("hb_notlong")
    t.put(b"r", {b"cf:n": b"abc"})
    with pytest.raises(ThriftIOError, match="holds 3 bytes, not an 8-byte counter"):
        t.counter_inc(b"r", b"cf:n")
    with pytest.raises(ThriftIOError, match="not an 8-byte counter"):
        conn.client.increment(TIncrement(table=b"hb_notlong", row=b"r", column=b"cf:n",
                                         ammount=1))
    assert t.row(b"r") == {b"cf:n": b"abc"}
    # happybase's IDL has no canRetry; HBase's own (the gateway's) has
    client = make_client(hbase.Hbase, "127.0.0.1", gw.thrift_servers[0].port)
    try:
        with pytest.raises(hbase.IOError) as err:
            client.atomicIncrement(b"hb_notlong", b"r", b"cf:n", 1)
    finally:
        client.close()
    assert err.value.canRetry is False


def test_a_counter_wraps_past_the_long_range_as_in_hbase(hb, native):
    # HBase adds with Java long arithmetic: 2**63 - 1 + 1 is -2**63, through Thrift and the
    # native client alike
    conn = hb()
    conn.create_table("hb_wrap", {"cf": {}})
    t = conn.table("hb_wrap")
    t.counter_set(b"r", b"cf:n", 2**63 - 1)
    assert t.counter_inc(b"r", b"cf:n") == -2**63
    assert t.counter_dec(b"r", b"cf:n") == 2**63 - 1
    n = native.table("hb_wrap")
    assert n.counter_inc(b"r", b"cf:n", 2) == -2**63 + 1
    assert n.counter_inc(b"r", b"cf:n", -2) == 2**63 - 1
    assert n.counter_get(b"r", b"cf:n") == t.counter_get(b"r", b"cf:n") == 2**63 - 1


def test_check_and_put_puts_mput_even_when_it_says_delete(hb):
    # HBase's checkAndPut builds a Put from mput's column and value and never reads isDelete
    from Hbase_thrift import Mutation

    conn = hb()
    conn.create_table("hb_cap_delete", {"cf": {}})
    t = conn.table("hb_cap_delete")
    client = conn.client
    t.put(b"r", {b"cf:v": b"old"})
    as_delete = Mutation(isDelete=True, column=b"cf:v", value=b"new")
    assert client.checkAndPut(b"hb_cap_delete", b"r", b"cf:v", b"old", as_delete, {}) is True
    assert t.row(b"r") == {b"cf:v": b"new"}
    no_value = Mutation(isDelete=True, column=b"cf:w")
    assert client.checkAndPut(b"hb_cap_delete", b"r", b"cf:w", None, no_value, {}) is True
    assert t.row(b"r") == {b"cf:v": b"new", b"cf:w": b""}
    assert client.checkAndPut(b"hb_cap_delete", b"r", b"cf:v", b"old", as_delete, {}) is False


def test_get_region_info_of_a_bare_row_at_a_boundary_is_the_region_holding_it(hb, native):
    # HBase 2 reverse-scans hbase:meta from the row; its meta comparator sorts "t,row" after
    # the meta row "t,row,<region id>..." of a region starting at row, so that region answers
    native.create_table("hb_reginfo", {"cf": {}}, split_keys=[b"m"])
    client = hb().client
    for search in (b"hb_reginfo,m", b"hb_reginfo,m,99999999999999", b"hb_reginfo,p"):
        info = client.getRegionInfo(search)
        assert (info.startKey, info.endKey) == (b"m", b""), search
    for search in (b"hb_reginfo,", b"hb_reginfo,a", b"hb_reginfo,l\xff"):
        info = client.getRegionInfo(search)
        assert (info.startKey, info.endKey) == (b"", b"m"), search
    assert info.name.startswith(b"hb_reginfo,,")


def test_bad_input_is_a_thrift_exception_and_the_connection_keeps_serving(hb):
    from Hbase_thrift import AlreadyExists, IllegalArgument, IOError as ThriftIOError

    conn = hb()
    conn.create_table("hb_bad", {"cf": {}})
    t = conn.table("hb_bad")
    with pytest.raises(ThriftIOError, match="TableNotFoundError: table 'missing'"):
        conn.table("missing").row(b"r")
    with pytest.raises(ThriftIOError, match="column family 'nope' does not exist"):
        t.put(b"r", {b"nope:q": b"v"})
    with pytest.raises(IllegalArgument, match="row key must not be empty"):
        t.put(b"", {b"cf:q": b"v"})
    with pytest.raises(IllegalArgument, match="row key"):
        t.put(b"k" * 40_000, {b"cf:q": b"v"})
    with pytest.raises(AlreadyExists, match="hb_bad"):
        conn.create_table("hb_bad", {"cf": {}})
    with pytest.raises(IllegalArgument, match="names no qualifier"):
        t.put(b"r", {b"cf": b"v"})
    with pytest.raises(IllegalArgument, match=INVALID):
        conn.client.scannerGetList(12345, 1)
    with pytest.raises(ThriftIOError, match="TableNotDisabledError"):
        conn.delete_table("hb_bad")  # enabled tables are not dropped
    with pytest.raises(ThriftIOError):  # a bad filter fails the scanner's open
        list(t.scan(filter=b"NoSuchFilter()"))
    t.put(b"r", {b"cf:q": b"still fine"})  # same connection, after all of that
    assert t.row(b"r") == {b"cf:q": b"still fine"}


def test_create_table_naming_a_family_twice_is_refused_not_merged(hb, native):
    # happybase turns {"cf": ..., "cf:": ...} into two ColumnDescriptors named b"cf:"; HBase's
    # createTable answers IllegalArgument ("Family 'cf' already exists"), it does not keep one
    from Hbase_thrift import ColumnDescriptor, IllegalArgument

    conn = hb()
    with pytest.raises(IllegalArgument, match="'cf' is named more than once"):
        conn.client.createTable(b"hb_dupfam", [ColumnDescriptor(name=b"cf:", maxVersions=5),
                                               ColumnDescriptor(name=b"cf")])
    assert not native.exists("hb_dupfam")


def test_framed_compact_gateway_and_a_malformed_client_end_only_that_connection(gw, hb):
    process, port = _start_gateway(gw, "--framed", "--compact")
    try:
        conn = hb(port=port, transport="framed", protocol="compact")
        conn.create_table("hb_framed", {"cf": {}})
        conn.table("hb_framed").put(b"r", {b"cf:q": b"v"})
        with socket.create_connection(("127.0.0.1", port), timeout=5) as bad:
            bad.sendall(b"\x7f\xff\xff\xff" + os.urandom(64))  # a 2 GB frame of garbage
            bad.settimeout(10)
            assert bad.recv(1) == b""  # the gateway hung up on it
        assert conn.table("hb_framed").row(b"r") == {b"cf:q": b"v"}
        assert b"hb_framed" in hb(port=port, transport="framed", protocol="compact").tables()
    finally:
        out = _stop(process)
    assert "closed a client connection after a malformed message" in out
    assert "Traceback" not in out


def _message(name: bytes, body: bytes) -> bytes:
    """A binary-protocol call of `name` with `body` as its argument struct's bytes."""
    return (struct.pack(">Ii", 0x80010001, len(name)) + name + struct.pack(">i", 1) + body)


_STRING_FIELD_1 = bytes([11]) + struct.pack(">h", 1)  # T_STRING, field id 1


@pytest.mark.parametrize("what,data", [
    ("a negative string length", _message(b"getRow", _STRING_FIELD_1 + struct.pack(">i", -5))),
    ("a 2 GB string", _message(b"getRow", _STRING_FIELD_1 + struct.pack(">i", 2**31 - 1))),
    ("a negative name length", struct.pack(">Ii", 0x80010001, -100) + b"x" * 50),
    ("structs nested 5,000 deep", _message(b"getRow", (bytes([12]) + b"\x00\x01") * 5000)),
    ("random bytes", bytes(random.Random(7).randrange(256) for _ in range(4096))),
])
def test_a_malformed_message_ends_only_its_own_connection(gw, hb, what, data):
    with socket.create_connection(("127.0.0.1", gw.thrift_servers[0].port), timeout=10) as bad:
        bad.sendall(data)
        bad.shutdown(socket.SHUT_WR)  # what was sent is all there is
        assert bad.recv(100) == b""  # the gateway hung up, answering nothing
    assert isinstance(hb().tables(), list)  # and the gateway serves on


def test_an_unknown_method_is_answered_not_dropped(gw):
    with socket.create_connection(("127.0.0.1", gw.thrift_servers[0].port), timeout=10) as c:
        c.sendall(_message(b"noSuchMethod", b"\x00"))
        reply = c.recv(200)
    assert reply.startswith(struct.pack(">I", 0x80010003))  # an EXCEPTION message
    assert b"noSuchMethod" in reply


def test_the_info_port_reports_health_calls_and_errors_by_method(gw, hb):
    import json
    import urllib.request

    base = f"http://127.0.0.1:{gw.thrift_servers[0].info_port}"
    conn = hb()
    conn.tables()
    with pytest.raises(Exception, match="TableNotFoundError"):
        conn.table("no_such_table").row(b"r")
    with urllib.request.urlopen(base + "/health", timeout=10) as r:
        assert r.status == 200
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        doc = json.load(r)
    assert doc["calls"]["getTableNames"]["count"] >= 1
    assert doc["calls"]["getRowWithColumns"]["errors"] >= 1
    assert doc["connections"] >= 1
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'minihbase_thrift_latency_seconds_count{method="getTableNames"}' in text
    assert 'minihbase_thrift_errors_total{method="getRowWithColumns"}' in text
    assert "minihbase_thrift_connections" in text


def test_a_port_in_use_is_refused_with_one_line(gw):
    busy = gw.thrift_servers[0].port
    result = subprocess.run(
        [sys.executable, "-m", "thriftserver.main", "--zk", gw.quorum, "--bind", "127.0.0.1",
         "--port", str(busy), "--info-port", "-1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{busy}" in result.stderr
    assert "Traceback" not in result.stderr


def _vanish(conn) -> None:
    """The client's host goes away without a word (it crashed and rebooted, or a NAT forgot
    the connection): TCP_REPAIR makes close() send nothing, so the gateway is not told."""
    raw = conn.transport.sock
    raw = getattr(raw, "sock", raw)  # happybase's TSocket, or already the socket
    try:
        raw.setsockopt(socket.IPPROTO_TCP, 19, 1)  # TCP_REPAIR (Linux)
    except OSError as exc:
        pytest.skip(f"TCP_REPAIR needs CAP_NET_ADMIN: {exc}")
    raw.close()


def test_connections_of_vanished_clients_are_closed_and_live_idle_ones_kept(gw):
    """A client that vanished without closing its connection must not hold a thread and one of
    --max-connections forever: over weeks they would fill the gateway. TCP keepalive finds it
    gone; an idle client that is still there keeps its connection (HBase's 60 s idle timeout
    is what this gateway does not do)."""
    import json
    import urllib.request

    info = free_port()
    process, port = _start_gateway(gw, "--info-port", str(info), "--keepalive", "1")

    def connections() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{info}/", timeout=5) as r:
            return json.load(r)["connections"]

    try:
        idle = happybase.Connection("127.0.0.1", port)
        idle.tables()
        gone = [happybase.Connection("127.0.0.1", port) for _ in range(3)]
        for conn in gone:
            conn.tables()
        wait_for(lambda: connections() == 4, 10, "four connections")
        for conn in gone:
            _vanish(conn)
        wait_for(lambda: connections() == 1, 20, "the vanished clients' connections to close")
        time.sleep(4)  # several keepalive periods of silence
        assert idle.tables() is not None and connections() == 1
        idle.close()
    finally:
        _stop(process)


def test_acknowledged_writes_survive_a_region_server_kill_behind_the_gateway(gw, hb, native):
    native.create_table("hb_kill", {"cf": {}})
    conn = hb(timeout=90_000)
    t = conn.table("hb_kill")
    for i in range(50):
        t.put(b"k%03d" % i, {b"cf:v": b"%d" % i})
    host = native.regions("hb_kill")[0]["server"]
    victim = next(d for d in gw.running("regionserver") if d.name == host)
    gw.kill_regionserver(gw.regionservers.index(victim))
    started = time.monotonic()
    for i in range(50, 100):  # waits through the session expiry and the reassignment
        t.put(b"k%03d" % i, {b"cf:v": b"%d" % i})
    assert time.monotonic() - started < 60
    assert [k for k, _ in t.scan()] == [b"k%03d" % i for i in range(100)]
    assert native.table("hb_kill").row(b"k000") == {b"cf:v": b"0"}
    gw.restart(victim)


# -- the scanner registry on its own -------------------------------------------------------

def _rows(closed: list, n: int = 10):
    try:
        for i in range(n):
            yield b"r%d" % i, {}
    finally:
        closed.append(True)


def test_an_idle_scanner_is_closed_after_its_lease_and_its_id_is_invalid():
    now = [0.0]
    scanners = Scanners(lease=60, clock=lambda: now[0])
    closed: list = []
    sid = scanners.open(_rows(closed), sorted_columns=False)
    assert [r for r, _ in scanners.next(sid, 3)[0]] == [b"r0", b"r1", b"r2"]
    now[0] = 59
    assert scanners.expire() == 0  # used 59 s ago: within its lease
    now[0] = 120
    assert scanners.expire() == 1
    assert closed == [True]  # the scan (and its server-side scanner) was closed
    with pytest.raises(ValueError, match=INVALID):
        scanners.next(sid, 1)
    with pytest.raises(ValueError, match=INVALID):
        scanners.close(sid)


def test_scanner_ids_are_not_reused_while_open_and_a_failed_scan_is_dropped():
    scanners = Scanners()
    first = scanners.open(_rows([]), False)
    scanners._next_id = first  # as after 2**31 opens: the counter comes round
    second = scanners.open(_rows([]), False)
    assert second != first

    def failing():
        yield b"r", {}
        raise RuntimeError("region server gone")

    sid = scanners.open(failing(), True)
    with pytest.raises(RuntimeError):
        scanners.next(sid, 5)
    with pytest.raises(ValueError, match=INVALID):
        scanners.next(sid, 1)
    assert len(scanners) == 2
    scanners._next_id = sid  # the counter comes round: not reused before the client closed it
    assert scanners.open(_rows([]), False) != sid
    scanners.close(sid)  # the client's close after the error (happybase's finally) is fine
    with pytest.raises(ValueError, match=INVALID):
        scanners.close(sid)  # ... once


def test_a_scanner_expired_while_a_call_waits_for_it_is_invalid_not_an_empty_page():
    """The lease chore may close a scanner after scannerGetList looked it up but before it
    took the scanner's lock: the call must say the id is invalid, not answer [] (which
    happybase reads as the end of the scan, silently truncating it)."""
    now = [0.0]
    scanners = Scanners(lease=60, clock=lambda: now[0])
    sid = scanners.open(_rows([]), False)
    lookup = scanners._get

    def lookup_then_expire(s):
        scanner = lookup(s)
        now[0] += 120
        assert scanners.expire() == 1  # the chore runs between the lookup and the lock
        return scanner

    scanners._get = lookup_then_expire
    with pytest.raises(ValueError, match=INVALID):
        scanners.next(sid, 3)


def test_stop_lets_a_call_in_flight_answer_before_the_cluster_connection_closes():
    """SIGTERM with a call in flight (HBase's thread-pool server drains its workers): the call
    completes and its caller gets the answer, the cluster connection is closed only after it,
    and idle connections are closed at once."""
    import threading

    from thriftserver.server import GatewayConfig, ThriftGateway

    class SlowConnection:
        def __init__(self):
            self.entered, self.release = threading.Event(), threading.Event()
            self.closed_while_busy = None
            self.busy = False

        def tables(self):
            self.busy = True
            self.entered.set()
            self.release.wait(10)
            self.busy = False
            return ["t1"]

        def close(self):
            self.closed_while_busy = self.busy

    cluster = SlowConnection()
    gateway = ThriftGateway(GatewayConfig(zk="unused", bind="127.0.0.1", port=0, info_port=-1),
                            cluster)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    idle = happybase.Connection("127.0.0.1", gateway.port)
    busy = happybase.Connection("127.0.0.1", gateway.port)
    answer: list = []
    caller = threading.Thread(target=lambda: answer.append(_call(busy.tables)))
    caller.start()
    assert cluster.entered.wait(10)
    stopper = threading.Thread(target=gateway.stop)
    stopper.start()
    time.sleep(0.5)
    with pytest.raises(Exception):  # the idle connection was closed by the stop
        idle.tables()
    cluster.release.set()
    caller.join(10)
    stopper.join(10)
    assert answer == [[b"t1"]]
    assert cluster.closed_while_busy is False


def _call(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 -- the test compares it
        return exc
