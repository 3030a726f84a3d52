"""Region server data path over real gRPC, with a real ZooKeeper (conftest.py's session one) and
an in-process server object.

Process-level scenarios (SIGTERM, fenced WAL, session expiry) are in
test_regionserver_process.py; both use the helpers here.
"""

from __future__ import annotations

import os
import struct
import time

import grpc
import pytest

from coordination.znodes import Paths, ServerRecord
from minihbase import errors
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.status import from_rpc_error
from regionserver.server import RegionServer, ServerConfig
from storage import layout
from storage.cell import LATEST_TIMESTAMP
from storage.region import write_region_info
from storage.schema import RegionInfo
from tests.cluster.conftest import wait_for

PUT = 4


# --- helpers shared with test_regionserver_process.py -------------------------------------------

def server_config(zookeeper, rootdir, zk_parent: str, **overrides) -> ServerConfig:
    """A config for an in-process server on loopback, any free port, no info server, under
    its own parent znode (so tests share the session ZooKeeper of conftest.py)."""
    kw = dict(zk=zookeeper.quorum, rootdir=str(rootdir), bind="127.0.0.1", port=0,
              advertise="127.0.0.1", info_port=-1, zk_parent=zk_parent)
    kw.update(overrides)
    return ServerConfig(**kw)


def stub_for(port: int, rootdir: str) -> pb_grpc.RegionServerStub:
    """A stub that remembers the server's root directory, where open_region first writes the
    region's directory (as the master's create does: servers refuse a region without one)."""
    stub = pb_grpc.RegionServerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    stub.rootdir = rootdir
    return stub


def call(fn, req, timeout: float = 10.0):
    """Make an RPC; return the response, or the minihbase exception the server raised."""
    try:
        return fn(req, timeout=timeout)
    except grpc.RpcError as e:
        return from_rpc_error(e)


def schema(table: str = "t", families=("cf",)) -> pb.TableSchema:
    return pb.TableSchema(name=table, families=[pb.FamilySchema(name=f, max_versions=3)
                                                for f in families])


def region_pb(table="t", start=b"", end=b"", region_id=1) -> pb.RegionInfo:
    return pb.RegionInfo(table=table, start_key=start, end_key=end, region_id=region_id,
                         name=RegionInfo(table, start, end, region_id).name)


def write_dir(stub, info: pb.RegionInfo) -> pb.RegionInfo:
    """Write a new region's (empty) directory and .regioninfo, as the master does before it
    assigns one."""
    ri = RegionInfo(info.table, info.start_key, info.end_key, info.region_id)
    path = layout.region_dir(stub.rootdir, ri)
    os.makedirs(path, exist_ok=True)
    write_region_info(layout.region_info_path(path), ri)
    return info


def open_region(stub, table="t", start=b"", end=b"", families=("cf",), region_id=1) -> str:
    info = write_dir(stub, region_pb(table, start, end, region_id))
    stub.OpenRegion(pb.OpenRegionRequest(region=info, schema=schema(table, families)),
                    timeout=30)
    return info.name


def put_cell(row: bytes, qualifier: bytes, value: bytes, family=b"cf",
             ts=LATEST_TIMESTAMP) -> pb.Cell:
    return pb.Cell(row=row, family=family, qualifier=qualifier, timestamp=ts, type=PUT,
                   value=value)


def multi(stub, region: str, rows: dict[bytes, dict[bytes, bytes]], family=b"cf"):
    muts = [pb.RowMutation(row=r, cells=[put_cell(r, q, v, family) for q, v in cols.items()])
            for r, cols in rows.items()]
    return call(stub.Multi, pb.MultiRequest(regions=[pb.RegionMutations(region=region,
                                                                         mutations=muts)]))


def get_row(stub, region: str, row: bytes) -> dict[bytes, bytes]:
    resp = call(stub.Get, pb.GetRequest(region=region, row=row))
    if isinstance(resp, Exception):
        raise resp
    return {c.qualifier: c.value for c in resp.result.cells}


def scan_all(stub, region: str, max_rows=2, **spec) -> list[pb.Result]:
    out = []
    resp = stub.Scan(pb.ScanRequest(region=region, spec=pb.ScanSpec(**spec), max_rows=max_rows),
                     timeout=10)
    out.extend(resp.results)
    while resp.more_in_region:
        resp = stub.Scan(pb.ScanRequest(scanner_id=resp.scanner_id, max_rows=max_rows),
                         timeout=10)
        out.extend(resp.results)
    return out


@pytest.fixture
def server(zookeeper, tmp_path):
    cfg = server_config(zookeeper, tmp_path / "root", "/hbase-data", info_port=0,
                        session_timeout=6, scanner_lease=1.0, max_value_bytes=1000,
                        report_period=0.2)
    rs = RegionServer(cfg).start()
    try:
        yield rs
    finally:
        rs.stop()


@pytest.fixture
def stub(server):
    return stub_for(server.port, server.config.rootdir)


# --- scenarios ---------------------------------------------------------------------------------

def test_registers_ephemeral_znode_that_vanishes_on_clean_stop(zookeeper, tmp_path):
    from coordination.zk import connect

    cfg = server_config(zookeeper, tmp_path, "/hbase-reg")
    rs = RegionServer(cfg).start()
    watcher = connect(zookeeper.quorum)
    try:
        path = Paths("/hbase-reg").live_server(rs.name)
        data, stat = watcher.get(path)
        rec = ServerRecord.from_bytes(data)
        assert (rec.host, rec.port) == ("127.0.0.1", rs.port)
        assert stat.ephemeralOwner != 0
        rs.stop()
        assert rs.wait(5) == 0
        assert watcher.exists(path) is None  # at once, not after the session timeout
    finally:
        rs.stop()
        watcher.stop()


def test_put_get_scan_increment_check_and_mutate_through_grpc(stub):
    region = open_region(stub)
    resp = multi(stub, region, {b"r1": {b"a": b"1", b"b": b"2"}, b"r2": {b"a": b"3"}})
    assert [r.ok for r in resp.results] == [True]
    assert get_row(stub, region, b"r1") == {b"a": b"1", b"b": b"2"}
    assert get_row(stub, region, b"nope") == {}

    rows = scan_all(stub, region, max_rows=1)
    assert [r.cells[0].row for r in rows] == [b"r1", b"r2"]

    inc = pb.IncrementRequest(region=region, row=b"c", family=b"cf", qualifier=b"n", amount=5)
    assert call(stub.Increment, inc).value == 5
    assert call(stub.Increment, inc).value == 10
    assert get_row(stub, region, b"c")[b"n"] == struct.pack(">q", 10)

    cam = pb.CheckAndMutateRequest(region=region, row=b"r2", family=b"cf", qualifier=b"a",
                                   expected=b"3", mutation=pb.RowMutation(
                                       row=b"r2", cells=[put_cell(b"r2", b"a", b"4")]))
    assert call(stub.CheckAndMutate, cam).processed is True
    assert call(stub.CheckAndMutate, cam).processed is False  # value is now 4
    absent = pb.CheckAndMutateRequest(region=region, row=b"r3", family=b"cf", qualifier=b"a",
                                      expect_absent=True, mutation=pb.RowMutation(
                                          row=b"r3", cells=[put_cell(b"r3", b"a", b"x")]))
    assert call(stub.CheckAndMutate, absent).processed is True
    assert get_row(stub, region, b"r2") == {b"a": b"4"}
    assert get_row(stub, region, b"r3") == {b"a": b"x"}


def test_scan_batches_split_wide_rows_and_respect_limit(stub):
    region = open_region(stub)
    multi(stub, region, {b"w": {b"q%02d" % i: b"v" for i in range(5)},
                         b"x": {b"a": b"1"}, b"y": {b"a": b"2"}})
    results = scan_all(stub, region, max_rows=2, batch=2)
    assert [(r.cells[0].row, len(r.cells), r.partial) for r in results] == [
        (b"w", 2, True), (b"w", 2, True), (b"w", 1, False), (b"x", 1, False),
        (b"y", 1, False)]
    limited = scan_all(stub, region, max_rows=10, limit=2)
    assert [r.cells[0].row for r in limited] == [b"w", b"x"]
    # The last response of a region already says so: no extra round trip.
    resp = stub.Scan(pb.ScanRequest(region=region, spec=pb.ScanSpec(), max_rows=10), timeout=10)
    assert len(resp.results) == 3 and not resp.more_in_region


def test_scanner_lease_expires_and_id_becomes_unknown(server, stub):
    region = open_region(stub)
    multi(stub, region, {b"r%d" % i: {b"a": b"v"} for i in range(5)})
    resp = stub.Scan(pb.ScanRequest(region=region, spec=pb.ScanSpec(), max_rows=1), timeout=10)
    assert resp.more_in_region and len(server.scanners) == 1
    time.sleep(2.5)  # lease is 1 s; the reaper runs every 0.25 s
    assert len(server.scanners) == 0
    err = call(stub.Scan, pb.ScanRequest(scanner_id=resp.scanner_id, max_rows=1))
    assert isinstance(err, errors.UnknownScannerError)
    assert str(resp.scanner_id) in str(err)


def test_bad_input_gets_precise_errors_and_server_keeps_serving(stub):
    region = open_region(stub)
    multi(stub, region, {b"keep": {b"a": b"safe"}})

    def one(row, family=b"cf", value=b"v", region_name=region):
        resp = multi(stub, region_name, {row: {b"q": value}}, family=family)
        if isinstance(resp, Exception):
            return resp
        r = resp.results[0]
        if r.ok:  # an invalid row is rejected on its own (the region is fine)
            (r,) = r.rejected
        return errors.__dict__[r.error_class](r.error_message)

    e = one(b"")
    assert isinstance(e, errors.InvalidArgumentError) and "must not be empty" in str(e)
    e = one(b"x" * 32768)
    assert isinstance(e, errors.InvalidArgumentError) and "32768 bytes" in str(e) \
        and "32767" in str(e)
    e = one(b"r", value=b"v" * 1001)
    assert isinstance(e, errors.InvalidArgumentError) and "1001 bytes" in str(e) \
        and "1000" in str(e)
    e = one(b"r", family=b"nope")
    assert isinstance(e, errors.NoSuchColumnFamilyError) and "'nope'" in str(e)
    e = one(b"r", region_name="t,00,1.unknown")
    assert isinstance(e, errors.NotServingRegionError) and "t,00,1.unknown" in str(e)
    e = call(stub.Get, pb.GetRequest(region="t,00,1.unknown", row=b"r"))
    assert isinstance(e, errors.NotServingRegionError)
    e = call(stub.Get, pb.GetRequest(region=region, row=b""))
    assert isinstance(e, errors.InvalidArgumentError) and "must not be empty" in str(e)
    e = call(stub.Get, pb.GetRequest(region=region, row=b"r", columns=[pb.Column(
        family=b"zz", whole_family=True)]))
    assert isinstance(e, errors.NoSuchColumnFamilyError)
    e = call(stub.Increment, pb.IncrementRequest(region=region, row=b"r", family=b"zz",
                                                 qualifier=b"n", amount=1))
    assert isinstance(e, errors.NoSuchColumnFamilyError)
    for low, high in ((-5, -1), (-5, 0), (3, -1)):  # HBase's TimeRange refuses them
        tr = pb.TimeRange(min=low, max=high)
        for e in (call(stub.Get, pb.GetRequest(region=region, row=b"keep", time_range=tr)),
                  call(stub.Scan, pb.ScanRequest(region=region, spec=pb.ScanSpec(
                      time_range=tr)))):
            assert isinstance(e, errors.InvalidArgumentError), e
            assert f"[{low}, {high}): timestamps must not be negative" in str(e)
    for start, end in ((b"m", b"a"), (b"m", b"m")):  # an empty or inverted key range
        e = call(stub.OpenRegion, pb.OpenRegionRequest(region=region_pb("t", start, end, 9),
                                                       schema=schema()))
        assert isinstance(e, errors.InvalidArgumentError) and "is not below end key" in str(e)
    # 32767 bytes is the largest legal row key; the valid row written first is intact.
    assert multi(stub, region, {b"k" * 32767: {b"q": b"ok"}}).results[0].ok
    assert get_row(stub, region, b"keep") == {b"a": b"safe"}
    assert get_row(stub, region, b"k" * 32767) == {b"q": b"ok"}


def test_an_invalid_row_is_rejected_alone_and_its_neighbours_are_written(stub):
    region = open_region(stub, table="pr")
    good = pb.RowMutation(row=b"good1", cells=[pb.Cell(family=b"cf", qualifier=b"q", value=b"1",
                                                       type=4)])
    bad_family = pb.RowMutation(row=b"bad1", cells=[pb.Cell(family=b"nope", qualifier=b"q",
                                                            value=b"x", type=4)])
    empty = pb.RowMutation(row=b"bad2")
    bad_type = pb.RowMutation(row=b"bad3", cells=[pb.Cell(family=b"cf", qualifier=b"q",
                                                          value=b"x", type=99)])
    good2 = pb.RowMutation(row=b"good2", cells=[pb.Cell(family=b"cf", qualifier=b"q",
                                                        value=b"2", type=4)])
    resp = stub.Multi(pb.MultiRequest(regions=[pb.RegionMutations(
        region=region, mutations=[good, bad_family, empty, bad_type, good2])]), timeout=10)
    (r,) = resp.results
    assert r.ok
    assert [(x.index, x.error_class) for x in r.rejected] == [
        (1, "NoSuchColumnFamilyError"), (2, "InvalidArgumentError"),
        (3, "InvalidArgumentError")]
    assert "'nope'" in r.rejected[0].error_message and "no cells" in r.rejected[1].error_message
    assert "unknown cell type 99" in r.rejected[2].error_message
    assert get_row(stub, region, b"good1") == {b"q": b"1"}
    assert get_row(stub, region, b"good2") == {b"q": b"2"}
    assert get_row(stub, region, b"bad1") == {} and get_row(stub, region, b"bad3") == {}


def test_row_outside_region_range_is_not_serving(stub):
    region = open_region(stub, start=b"m", end=b"t")
    e = call(stub.Get, pb.GetRequest(region=region, row=b"a"))
    assert isinstance(e, errors.NotServingRegionError)
    resp = multi(stub, region, {b"z": {b"q": b"v"}, b"n": {b"q": b"v"}})
    assert resp.results[0].error_class == "NotServingRegionError"
    assert get_row(stub, region, b"n") == {}  # a batch is all-or-nothing per region


def test_close_flush_and_reopen_keeps_data(server, stub):
    region = open_region(stub)
    multi(stub, region, {b"r": {b"a": b"1"}})
    stub.FlushRegion(pb.RegionRequest(region=region), timeout=10)
    multi(stub, region, {b"s": {b"a": b"2"}})
    stub.CloseRegion(pb.CloseRegionRequest(region=region, flush=True), timeout=10)
    assert isinstance(call(stub.Get, pb.GetRequest(region=region, row=b"r")),
                      errors.NotServingRegionError)
    open_region(stub)
    assert get_row(stub, region, b"r") == {b"a": b"1"}
    assert get_row(stub, region, b"s") == {b"a": b"2"}
    load = stub.GetServerLoad(pb.Empty(), timeout=10)
    assert load.server == server.name and [r.region for r in load.regions] == [region]
    import json
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{server.info_server.port}/status.json",
                                timeout=5) as f:
        status = json.load(f)
    assert status["server"] == server.name and status["state"] == "RUNNING"
    assert status["load"]["regions"][0]["region"] == region


def test_split_region_returns_daughters_and_parent_stops_serving(stub):
    region = open_region(stub)
    multi(stub, region, {b"a": {b"q": b"1"}, b"m": {b"q": b"2"}, b"z": {b"q": b"3"}})
    resp = stub.SplitRegion(pb.SplitRegionRequest(region=region, split_key=b"m"), timeout=30)
    assert (resp.left.start_key, resp.left.end_key) == (b"", b"m")
    assert (resp.right.start_key, resp.right.end_key) == (b"m", b"")
    assert isinstance(call(stub.Get, pb.GetRequest(region=region, row=b"a")),
                      errors.NotServingRegionError)
    for d in (resp.left, resp.right):
        stub.OpenRegion(pb.OpenRegionRequest(region=d, schema=schema()), timeout=30)
    assert get_row(stub, resp.left.name, b"a") == {b"q": b"1"}
    assert get_row(stub, resp.right.name, b"z") == {b"q": b"3"}


class _FakeMaster(pb_grpc.MasterServicer):
    def __init__(self):
        self.reports, self.split_requests = [], []

    def RegionServerReport(self, request, context):
        self.reports.append(request.load)
        return pb.Empty()

    def RequestSplit(self, request, context):
        self.split_requests.append(request.region)
        return pb.Empty()


def test_reports_load_and_asks_master_to_split_an_oversized_region(zookeeper, tmp_path):
    from concurrent import futures

    from coordination.zk import connect
    from coordination.znodes import MasterRecord

    master = _FakeMaster()
    grpc_master = grpc.server(futures.ThreadPoolExecutor(4))
    pb_grpc.add_MasterServicer_to_server(master, grpc_master)
    mport = grpc_master.add_insecure_port("127.0.0.1:0")
    grpc_master.start()
    zk = connect(zookeeper.quorum)
    zk.create("/hbase-split/master", MasterRecord("m,1,1", "127.0.0.1", mport).to_bytes(),
              ephemeral=True, makepath=True)
    cfg = server_config(zookeeper, tmp_path, "/hbase-split", report_period=0.2,
                        chore_period=0.2, split_size=100)
    rs = RegionServer(cfg).start()
    try:
        stub = stub_for(rs.port, rs.config.rootdir)
        region = open_region(stub)
        multi(stub, region, {b"r%03d" % i: {b"q": b"v" * 50} for i in range(20)})
        stub.FlushRegion(pb.RegionRequest(region=region), timeout=10)
        deadline = time.monotonic() + 10
        while not master.split_requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert master.split_requests[:1] == [region]
        assert master.reports and master.reports[-1].server == rs.name
        assert [r.region for r in master.reports[-1].regions] == [region]
        time.sleep(0.5)
        assert master.split_requests == [region]  # asked once, not every chore round
    finally:
        rs.stop()
        zk.stop()
        grpc_master.stop(0)


def test_multi_reports_errors_per_region_and_applies_the_good_ones(stub):
    left = open_region(stub, end=b"m", region_id=1)
    right = open_region(stub, start=b"m", region_id=2)
    req = pb.MultiRequest(regions=[
        pb.RegionMutations(region=left, mutations=[pb.RowMutation(
            row=b"a", cells=[put_cell(b"", b"q", b"1")])]),
        pb.RegionMutations(region=right, mutations=[pb.RowMutation(
            row=b"z", cells=[put_cell(b"", b"q", b"2", family=b"bad")])]),
        pb.RegionMutations(region="t,,9.notopen", mutations=[pb.RowMutation(
            row=b"b", cells=[put_cell(b"", b"q", b"3")])]),
    ])
    resp = call(stub.Multi, req)
    assert [(r.region, r.ok, r.error_class) for r in resp.results] == [
        (left, True, ""), (right, True, ""), ("t,,9.notopen", False, "NotServingRegionError")]
    assert [x.error_class for x in resp.results[1].rejected] == ["NoSuchColumnFamilyError"]
    assert get_row(stub, left, b"a") == {b"q": b"1"}


def test_write_requests_past_the_call_queue_bound_are_refused_retryably(zookeeper, tmp_path):
    """The bytes of Multi requests a server handled at once were unbounded: eight clients
    each sending a 100 MB batch took one region server to 1.3-1.9 GB RSS. Past
    --max-call-queue-bytes a request is now answered CallQueueTooBigError (HBase's
    CallQueueTooBigException: RESOURCE_EXHAUSTED, retryable), and taken once the requests
    being handled are done; a request alone is taken however large."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = server_config(zookeeper, tmp_path / "root", "/hbase-callq",
                        max_call_queue_bytes=64 << 10)
    rs = RegionServer(cfg).start()
    pool = ThreadPoolExecutor(1)
    try:
        stub = stub_for(rs.port, cfg.rootdir)
        name = open_region(stub)
        region = rs.online.get(name)
        rows = {b"r%02d" % i: {b"q": b"v" * 1000} for i in range(40)}  # ~40 KB a request
        region._updates.acquire_exclusive()  # as a flush taking its snapshot: writes wait
        try:
            first = pool.submit(multi, stub, name, rows)
            wait_for(lambda: rs.service._multi_bytes > 0, timeout=10, what="first admitted")
            err = multi(stub, name, {b"s": {b"q": b"v" * 30_000}})
            assert isinstance(err, errors.CallQueueTooBigError) and err.retryable
            assert "passes its --max-call-queue-bytes of 65,536: retry later" in str(err)
        finally:
            region._updates.release_exclusive()
        assert all(r.ok for r in first.result(timeout=10).results)
        big = {b"b%03d" % i: {b"q": b"v" * 1000} for i in range(100)}  # alone: taken
        assert all(r.ok for r in multi(stub, name, big).results)
        assert rs.service._multi_bytes == 0
        assert get_row(stub, name, b"r39") == {b"q": b"v" * 1000}
        assert get_row(stub, name, b"b099") == {b"q": b"v" * 1000}
        assert get_row(stub, name, b"s") == {}
    finally:
        pool.shutdown()
        rs.stop()


def test_closing_a_region_closes_its_scanners(server, stub):
    region = open_region(stub)
    multi(stub, region, {b"r%d" % i: {b"a": b"v"} for i in range(5)})
    resp = stub.Scan(pb.ScanRequest(region=region, spec=pb.ScanSpec(), max_rows=1), timeout=10)
    stub.CloseRegion(pb.CloseRegionRequest(region=region, flush=True), timeout=10)
    assert len(server.scanners) == 0
    err = call(stub.Scan, pb.ScanRequest(scanner_id=resp.scanner_id, max_rows=1))
    assert isinstance(err, errors.UnknownScannerError)


def test_hand_encoded_responses_parse_exactly_as_protoc_encodes():
    from hypothesis import given, settings, strategies as st

    from storage.cell import Cell
    from regionserver import wire

    cell = st.builds(Cell, st.binary(min_size=1, max_size=20000), st.sampled_from([b"cf", b"f"]),
                     st.binary(max_size=300), st.integers(-(1 << 63), (1 << 63) - 1),
                     st.sampled_from([4, 8, 10, 12, 14]), st.binary(max_size=20000))

    @settings(max_examples=80, deadline=None)
    @given(st.lists(st.lists(cell, min_size=1, max_size=4), max_size=4),
           st.integers(0, (1 << 64) - 1), st.booleans(), st.booleans())
    def check(rows, scanner_id, more, one_row_object):
        if one_row_object:  # as the storage engine produces them: a result's cells share
            rows = [[c._replace(row=r[0].row) for c in r] for r in rows]  # one row object
        flags = [i % 2 == 0 for i in range(len(rows))]
        want = pb.ScanResponse(scanner_id=scanner_id, more_in_region=more, results=[
            pb.Result(partial=f, cells=[pb.Cell(row=c.row, family=c.family, qualifier=c.qualifier,
                                                timestamp=c.timestamp, type=c.type, value=c.value)
                                        for c in r]) for r, f in zip(rows, flags)])
        got = pb.ScanResponse.FromString(wire.encode_scan_response(scanner_id, rows, flags, more))
        assert got == want
        first = rows[0] if rows else []
        get = pb.GetResponse.FromString(wire.encode_get_response(first))
        assert list(get.result.cells) == (list(want.results[0].cells) if rows else [])

    check()


def test_max_cells_caps_a_response_and_marks_split_rows_partial(stub):
    region = open_region(stub)
    multi(stub, region, {b"w": {b"q%02d" % i: b"v" for i in range(5)}, b"x": {b"a": b"1"}})
    first = stub.Scan(pb.ScanRequest(region=region, spec=pb.ScanSpec(), max_rows=10,
                                     max_cells=3), timeout=10)
    assert [(len(r.cells), r.partial) for r in first.results] == [(3, True)]
    rest = []
    resp = first
    while resp.more_in_region:
        resp = stub.Scan(pb.ScanRequest(scanner_id=first.scanner_id, max_rows=10, max_cells=3),
                         timeout=10)
        rest.extend(resp.results)
    assert [(r.cells[0].row, len(r.cells), r.partial) for r in rest] == [
        (b"w", 2, False), (b"x", 1, False)]


def test_a_quiet_server_flushes_old_edits_and_rolls_its_wal_so_nothing_stays_to_replay(
        zookeeper, tmp_path):
    """HBase's periodic flush and log roll: a few writes, then silence. The region's small
    memstore is flushed once its oldest edit is past the interval, the WAL segment holding
    the writes is rolled and archived, and the rows read back from HFiles."""
    cfg = server_config(zookeeper, tmp_path, "/hbase-quiet", chore_period=0.1,
                        periodic_flush_interval=1.0, wal_roll_period=1.0)
    rs = RegionServer(cfg).start()
    try:
        stub = stub_for(rs.port, rs.config.rootdir)
        region = open_region(stub)
        multi(stub, region, {b"r%d" % i: {b"q": b"v%d" % i} for i in range(5)})
        first_segment = rs.wal.current_segment_path
        oldwals = layout.old_wal_dir(cfg.rootdir)
        wait_for(lambda: os.listdir(oldwals), 15, "the rolled segment to be archived")
        assert os.listdir(oldwals) == [f"{rs.name}.{os.path.basename(first_segment)}"]
        assert rs.online.flushes_periodic == 1
        assert rs.online.get(region).memstore_size() == 0 and rs.wal.segment_count() == 1
        time.sleep(1.5)  # quiet: an empty segment is not rolled, nothing is flushed again
        assert rs.wal.current_segment_path != first_segment and len(os.listdir(oldwals)) == 1
        assert rs.online.flushes_periodic == 1
        assert get_row(stub, region, b"r3") == {b"q": b"v3"}
    finally:
        rs.stop()


def test_too_many_wal_segments_force_flushes_that_release_the_oldest(zookeeper, tmp_path):
    cfg = server_config(zookeeper, tmp_path, "/hbase-walroll", chore_period=0.1,
                        wal_segment_bytes=2048, max_wal_segments=2)
    rs = RegionServer(cfg).start()
    try:
        stub = stub_for(rs.port, rs.config.rootdir)
        region = open_region(stub)
        for i in range(8):  # each batch ~1.2 KiB of WAL: several segments
            multi(stub, region, {b"r%d-%d" % (i, j): {b"q": b"v" * 100} for j in range(10)})
        deadline = time.monotonic() + 10
        while rs.wal.segment_count() > 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rs.online.flushes_forced >= 1
        assert rs.wal.segment_count() <= 2
        assert get_row(stub, region, b"r0-0") == {b"q": b"v" * 100}
    finally:
        rs.stop()


def test_region_whose_closing_flush_fails_aborts_the_server_keeping_its_wal(server, stub,
                                                                             monkeypatch):
    """Disk full while closing a region: the close fails, and the server aborts instead of
    serving on without the region, so that the master splits its WAL before the region opens
    anywhere else (a failed close is otherwise read as 'not serving': closed)."""
    from storage.store import Store

    region = open_region(stub)
    multi(stub, region, {b"r": {b"q": b"acknowledged"}})

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(Store, "write_snapshot", disk_full)
    err = call(stub.CloseRegion, pb.CloseRegionRequest(region=region, flush=True))
    assert isinstance(err, Exception), err
    assert server.wait(10) == 1 and "could not be flushed" in server.abort_reason
    wal_dir = layout.wal_dir(server.config.rootdir, server.name)
    assert any(os.scandir(wal_dir)), "the WAL holding the edit is gone"


def test_commands_meant_for_a_predecessor_on_the_same_address_are_refused(server, stub):
    """A master command names its addressee (host,port,startcode); a server restarted on the
    same address must not close (or open, split) regions for the one before it."""
    region = open_region(stub)
    multi(stub, region, {b"r": {b"q": b"v"}})
    host, port, startcode = server.name.rsplit(",", 2)
    predecessor = f"{host},{port},{int(startcode) - 1}"
    err = call(stub.CloseRegion, pb.CloseRegionRequest(region=region, flush=True,
                                                       server=predecessor))
    assert isinstance(err, errors.ServerUnavailableError) and predecessor in str(err)
    assert get_row(stub, region, b"r") == {b"q": b"v"}  # still open here
    ok = call(stub.CloseRegion, pb.CloseRegionRequest(region=region, flush=True,
                                                      server=server.name))
    assert not isinstance(ok, Exception), ok


def test_close_of_a_region_still_opening_drops_it_when_the_open_ends(server, stub,
                                                                     monkeypatch):
    """The master gives up on a slow open, closes it (best effort) and opens the region
    elsewhere: the slow open must not end with the region served here as well."""
    import threading

    from storage.region import Region

    gate = threading.Event()
    real_open = Region.open.__func__

    def slow_open(cls, *args, **kwargs):
        gate.wait(10)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(Region, "open", classmethod(slow_open))
    info = write_dir(stub, region_pb())
    outcome = []
    opener = threading.Thread(target=lambda: outcome.append(call(
        stub.OpenRegion, pb.OpenRegionRequest(region=info, schema=schema()), timeout=30)))
    opener.start()
    time.sleep(0.3)  # the open is under way
    closed = call(stub.CloseRegion, pb.CloseRegionRequest(region=info.name, flush=False))
    assert not isinstance(closed, Exception), closed
    gate.set()
    opener.join(30)
    assert isinstance(outcome[0], errors.RegionOfflineError), outcome
    err = call(stub.Get, pb.GetRequest(region=info.name, row=b"r"))
    assert isinstance(err, errors.NotServingRegionError), err
    assert info.name not in server.online.states()


def test_a_region_whose_directory_is_gone_is_not_opened_empty(stub):
    """HBase's "region does not exist on disk": a lost directory must not turn into a region
    that serves nothing where data was (nor take new writes over the loss)."""
    import shutil

    region = open_region(stub)
    assert multi(stub, region, {b"r": {b"q": b"v"}}).results[0].ok
    assert not isinstance(call(stub.CloseRegion, pb.CloseRegionRequest(region=region,
                                                                       flush=True)), Exception)
    info = region_pb()
    path = layout.region_dir(stub.rootdir, RegionInfo("t", b"", b"", 1))
    shutil.rmtree(path)
    e = call(stub.OpenRegion, pb.OpenRegionRequest(region=info, schema=schema()), timeout=30)
    assert isinstance(e, errors.CorruptionError) and path in str(e) and "missing" in str(e)
    assert isinstance(call(stub.Get, pb.GetRequest(region=region, row=b"r")),
                      errors.NotServingRegionError)
    assert not os.path.exists(path)  # the refusal created nothing
    other = open_region(stub, table="u")  # the server goes on serving
    assert multi(stub, other, {b"r": {b"q": b"v"}}).results[0].ok
    os.makedirs(path)  # a directory alone (what a WAL split may leave) is not enough
    e = call(stub.OpenRegion, pb.OpenRegionRequest(region=info, schema=schema()), timeout=30)
    assert isinstance(e, errors.CorruptionError) and "holds no .regioninfo" in str(e)
    open(layout.region_info_path(path), "wb").close()  # the operator accepts the loss
    stub.OpenRegion(pb.OpenRegionRequest(region=info, schema=schema()), timeout=30)
    assert get_row(stub, region, b"r") == {}
