"""Requests no client sends, through raw gRPC channels, against real daemon processes (1 master,
2 region servers): each gets a minihbase error (status code and class from protos/status.py, a
message naming the problem), never an unhandled exception, and leaves no traceback in a
daemon's log; the daemons keep serving and the data written before reads back intact.
"""

from __future__ import annotations

import grpc
import pytest

from minihbase import errors
from protos import minihbase_pb2 as pb
from protos.status import ERROR_METADATA_KEY, from_rpc_error
from tests.cluster.conftest import stop_cluster

GUARDED, SCRATCH = "guarded", "scratch"
GUARDED_ROWS = {b"\x00guarded%02d" % i: {b"cf:q": b"value %d" % i} for i in range(20)}


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    c = cluster_factory("fuzz", masters=1, regionservers=2, flush_size=256 * 1024,
                        max_value_bytes=64 * 1024, balancer_period=3600)
    yield c
    stop_cluster(c)


@pytest.fixture(scope="module")
def seeded(cluster):
    """The guarded table (two regions, GUARDED_ROWS) and the scratch table (three regions)."""
    import client
    conn = client.Connection(cluster.quorum, timeout=30)
    conn.create_table(GUARDED, {"cf": {}}, split_keys=[b"m"])
    conn.create_table(SCRATCH, {"cf": {}}, split_keys=[b"g", b"p"])
    table = conn.table(GUARDED)
    for row, columns in GUARDED_ROWS.items():
        table.put(row, columns)
    conn.master_call("Flush", pb.TableActionRequest(table=GUARDED))  # in hfiles and memstore
    table.put(b"\x00guarded00", {b"cf:q": b"value 0"})
    yield conn
    conn.close()


def raw_call(address: str, service: str, method: str, request: bytes, timeout: float = 30.0):
    """Send `request` (bytes) as is; (status code, details, minihbase-error class name)."""
    with grpc.insecure_channel(address) as channel:
        fn = channel.unary_unary(f"/minihbase.{service}/{method}")
        try:
            fn(request, timeout=timeout)
            return grpc.StatusCode.OK, "", ""
        except grpc.RpcError as e:
            name = dict(e.trailing_metadata() or ()).get(ERROR_METADATA_KEY, "")
            return e.code(), e.details() or "", name


def addresses(cluster, service: str) -> list[str]:
    if service == "Master":
        return [cluster.master_daemon().address]
    return [d.address for d in cluster.regionservers]


def log_sizes(cluster) -> dict[str, int]:
    return {d.log_path: len(open(d.log_path, "rb").read()) for d in cluster.all_daemons()}


def tracebacks_since(sizes: dict[str, int]) -> str:
    out = []
    for path, size in sizes.items():
        with open(path, "rb") as f:
            f.seek(size)
            text = f.read().decode(errors="replace")
        if "Traceback" in text:
            out.append(f"--- {path}\n{text[-6000:]}")
    return "\n".join(out)


# --- request bytes that are no message -----------------------------------------------------------

# (what, bytes): field 1 of every request below is a string (a region, table or namespace name)
NOT_A_MESSAGE = [("a string field that is not UTF-8", b"\x0a\x02\xff\xfe"),
                 ("a length past the end", b"\x0a\x05ab"),
                 ("an invalid tag", b"\xff\xff\xff")]


@pytest.mark.parametrize("service, method", [
    ("RegionServer", "Get"), ("RegionServer", "FlushRegion"), ("RegionServer", "CloseRegion"),
    ("Master", "DescribeTable"), ("Master", "Move"), ("Master", "CreateNamespace")])
def test_request_bytes_that_are_not_the_message_are_invalid_argument(cluster, seeded, service,
                                                                      method):
    sizes = log_sizes(cluster)
    message = pb.DESCRIPTOR.services_by_name[service].methods_by_name[method].input_type
    for what, data in NOT_A_MESSAGE:
        for address in addresses(cluster, service):
            code, details, name = raw_call(address, service, method, data)
            assert (code, name) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgumentError"), \
                (what, code, details)
            assert details.startswith("malformed request: ") and message.full_name in details, \
                details
    assert "bad UTF-8" in raw_call(addresses(cluster, service)[0], service, method,
                                   NOT_A_MESSAGE[0][1])[1]
    assert tracebacks_since(sizes) == ""
    # the client raises the class the server named
    with grpc.insecure_channel(addresses(cluster, service)[0]) as channel:
        with pytest.raises(grpc.RpcError) as e:
            channel.unary_unary(f"/minihbase.{service}/{method}")(b"\xff\xff\xff", timeout=10)
    assert isinstance(from_rpc_error(e.value), errors.InvalidArgumentError)
    assert seeded.table(GUARDED).row(b"\x00guarded05") == GUARDED_ROWS[b"\x00guarded05"]


def test_an_error_quoting_a_long_filter_or_name_reaches_the_caller_whole(cluster, seeded):
    """A message travels in a gRPC header, which the peer refuses past 8-16 KiB: the caller
    must still get the error, its message cut in the middle, not RESOURCE_EXHAUSTED."""
    bad_filter = " OR ".join(f"RowFilter(=, 'binary:row{i:05d}')" for i in range(600)) + " OR"
    with pytest.raises(errors.InvalidArgumentError) as e:
        list(seeded.table(GUARDED).scan(filter=bad_filter))
    message = str(e.value)
    assert message.startswith("filter \"RowFilter(=, 'binary:row00000') OR") and \
        "characters cut" in message and message.endswith("found the end"), message
    assert len(message.encode()) < 2100
    address = addresses(cluster, "Master")[0]
    code, details, name = raw_call(address, "Master", "DescribeNamespace",
                                   pb.NamespaceName(name="\u2603" * 20000).SerializeToString())
    assert (code, name) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgumentError"), details
    assert details.startswith("invalid namespace name '\u2603") and "characters cut" in details


def test_a_nonce_sent_with_two_kinds_of_call_is_invalid_argument(cluster, seeded):
    """Split, merge, move, clone and restore match a resend to its first attempt by the nonce
    record; a record another kind of call left is no earlier attempt of this one: neither a
    KeyError on its fields nor "already done" for a clone that never ran."""
    master = seeded.master_call
    regions = {r["start_key"]: r["name"] for r in seeded.regions(SCRATCH)}
    moved, split_nonce = 0x7E57_0001, 0x7E57_0002
    master("Move", pb.MoveRequest(region=regions[b""], nonce=moved))
    master("Split", pb.SplitRequest(region=regions[b"g"], split_key=b"k", nonce=split_nonce))
    address = addresses(cluster, "Master")[0]
    for method, request, kind in [
            ("RestoreSnapshot", pb.RestoreSnapshotRequest(name="s", nonce=moved), "move"),
            ("CloneSnapshot", pb.CloneSnapshotRequest(name="s", table="c", nonce=moved), "move"),
            ("Split", pb.SplitRequest(region=regions[b"p"], nonce=moved), "move"),
            ("Merge", pb.MergeRequest(regions=list(regions.values()), nonce=moved), "move"),
            ("Move", pb.MoveRequest(region=regions[b"p"], nonce=split_nonce), "split")]:
        code, details, name = raw_call(address, "Master", method, request.SerializeToString())
        assert (code, name) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgumentError"), \
            (method, code, details)
        assert f"was already sent with a {kind} call" in details, details
    assert "c" not in seeded.tables()
    assert [r["start_key"] for r in seeded.regions(SCRATCH)] == [b"", b"g", b"k", b"p"]


def test_a_split_key_over_the_row_key_limit_is_refused_by_master_and_region_server(cluster,
                                                                                  seeded):
    """create refuses such a split key; split accepted it, making a region whose name (80 KB
    of hex) every call to it carried, and whose errors no longer fit a gRPC header."""
    before = seeded.regions(SCRATCH)
    with pytest.raises(errors.InvalidArgumentError, match="a split key is a row key"):
        seeded.split(SCRATCH, b"q" * 40000)
    last = before[-1]
    rs = next(d.address for d in cluster.regionservers if d.name == last["server"])
    code, details, name = raw_call(rs, "RegionServer", "SplitRegion", pb.SplitRegionRequest(
        region=last["name"], split_key=b"q" * 40000).SerializeToString())
    assert (code, name) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgumentError"), details
    assert [r["name"] for r in seeded.regions(SCRATCH)] == [r["name"] for r in before]
    seeded.table(SCRATCH).put(b"q", {b"cf:q": b"still served"})
