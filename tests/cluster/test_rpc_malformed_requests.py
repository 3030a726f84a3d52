"""Every method of both gRPC services (protos/minihbase.proto) driven, through raw channels, with
requests no client sends, against real daemon processes (1 master, 2 region servers): messages
generated from their descriptors (empty and missing fields, unknown regions, tables and filters,
numbers at the int32/int64/uint64 edges, cell types and timestamps out of range, repeated fields
empty or long, region names of another table) and bytes that are no message at all.

The contract (docs/rpc.md, "Errors"): each bad request gets a minihbase error (status code and
class from protos/status.py, a message naming the problem), never an unhandled exception
(UNKNOWN, or INTERNAL "internal error: ..."); the daemons keep serving, promptly; data written
before reads back intact; and a bad request leaves no traceback in a daemon's log.

What the fuzzing may name: the region commands and the master's calls only reach the scratch
table (a rogue CloseRegion or SplitRegion of a region the master thinks open leaves it unserved,
which is not what this checks); the data calls also reach the guarded table's regions, but never
its rows (every guarded row key starts with b"\\x00guarded", which no generated request holds).

The focused tests first are for what the fuzzing found.
"""

from __future__ import annotations

import os
import random
import time

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from minihbase import errors
from protos import minihbase_pb2 as pb
from protos.status import ERROR_METADATA_KEY, from_rpc_error
from tests.cluster.conftest import serving_regions, stop_cluster, wait_for

GUARDED, SCRATCH = "guarded", "scratch"
GUARDED_ROWS = {b"\x00guarded%02d" % i: {b"cf:q": b"value %d" % i} for i in range(20)}
DATA_CALLS = {"Get", "Multi", "Increment", "Append", "CheckAndMutate", "Scan"}
CLOSING_COMMANDS = {"OpenRegion", "OpenRegions", "CloseRegion", "SplitRegion", "MergeRegions",
                    "Split", "Merge", "Move", "Unassign", "TruncateTable", "DisableTable",
                    "DeleteTable"}
SKIPPED = {"Stop"}  # a valid request of it stops the region server
REQUESTS = 1200  # per service, from one seed: the same requests every run (another seed:
# MINIHBASE_FUZZ_SEED=...)
TIME_BUDGET_S = 15.0  # per service: requests past it are not sent (CI stays bounded)

BYTES = [b"", b"\x00", b"\xff\xfe", b"cf", b"q", b"m", b"r1", b"x" * 33000,
         b"PrefixFilter('r')", b"ValueFilter(=, 'binary:v')", b"garbage(((", b"\xff(",
         b"PageFilter(-1)", b"PageFilter(99999999999999999999)", b"ColumnRangeFilter()",
         b"SingleColumnValueFilter('cf','q',=,'regexstring:[')", b"TimestampsFilter(-5)",
         b"ColumnPaginationFilter(-1,-1)", b"KeyOnlyFilter() AND", b"WHILE SKIP",
         b"FirstKeyOnlyFilter(1)", b"RandomRowFilter(2.0)", b"FuzzyRowFilter('a','b')",
         b"ValueFilter(=, 'unknowncmp:x')", b"QualifierFilter(=, 'binaryprefix:')",
         b"MultiRowRangeFilter()", b"ColumnValueFilter('cf','q',=,'binary:')"]
STRINGS = ["", "cf", "nope", "default", "hbase", "hbase:meta", "a" * 5000, "\x00", "\u00e9\u2603",
           "../../x", "t,,1.abc", ",", ":", "split", "merge", "catalogjanitor", "normalizer",
           "ns:t", "[a-", "*", SCRATCH]
INT64 = [0, 1, -1, 4, 8, 10, 12, 14, 99, 2**31 - 1, -2**31, 2**63 - 1, -2**63]
INT32 = [0, 1, -1, 3, 4, 8, 10, 12, 14, 99, 2**31 - 1, -2**31]
UINT64 = [0, 1, 12345, 2**63, 2**64 - 1]
UINT32 = [0, 1, 2**31, 2**32 - 1]


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
    assert _names(seeded, SCRATCH) == [r["name"] for r in before]
    seeded.table(SCRATCH).put(b"q", {b"cf:q": b"still served"})


# --- every method, generated requests ------------------------------------------------------------

class RequestMaker:
    """Requests of any message type, from its descriptor: each field absent or given a value
    from a list of awkward ones (or a random one), repeated fields empty, short or long,
    messages nested three deep. Region name fields are mostly real names (`regions`), so the
    requests get past the region lookup."""

    def __init__(self, rnd: random.Random, regions: list[str], servers: list[str]):
        self.rnd, self.regions, self.servers = rnd, regions or [""], servers

    def message(self, desc, depth: int = 0):
        rnd, msg = self.rnd, getattr(pb, desc.name)()
        for f in desc.fields:
            if rnd.random() < 0.25:
                continue  # absent (proto3: the default)
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                for _ in range(rnd.choice((0, 1, 3))):
                    getattr(msg, f.name)[self.string(f)] = self.string(f)
            elif f.is_repeated:
                n = rnd.choice((0, 1, 2, 3, 40))
                if f.message_type is None:
                    getattr(msg, f.name).extend(self.scalar(f) for _ in range(n))
                elif depth < 3:
                    for _ in range(n):
                        getattr(msg, f.name).add().CopyFrom(
                            self.message(f.message_type, depth + 1))
            elif f.message_type is not None:
                if depth < 3:
                    getattr(msg, f.name).CopyFrom(self.message(f.message_type, depth + 1))
            else:
                setattr(msg, f.name, self.scalar(f))
        return msg

    def string(self, f) -> str:
        rnd = self.rnd
        if f.name.startswith("region") and rnd.random() < 0.75:
            return rnd.choice(self.regions)
        if f.name in ("table", "name") and rnd.random() < 0.5:
            return rnd.choice((SCRATCH, "hbase:meta", "nope"))
        if rnd.random() < 0.2:
            return "".join(chr(rnd.choice((rnd.randrange(32, 127), rnd.randrange(0x10FFFF))))
                           for _ in range(rnd.randrange(12))).encode(
                               "utf-8", "ignore").decode()  # no lone surrogates
        return rnd.choice(STRINGS + self.regions + self.servers)

    def scalar(self, f):
        rnd, t = self.rnd, f.type
        if t == F.TYPE_STRING:
            return self.string(f)
        if t == F.TYPE_BYTES:
            if f.name == "family" and rnd.random() < 0.5:
                return b"cf"
            return rnd.choice(BYTES) if rnd.random() < 0.8 else rnd.randbytes(rnd.randrange(16))
        if t == F.TYPE_BOOL:
            return rnd.random() < 0.5
        if t == F.TYPE_DOUBLE:
            return rnd.choice((0.0, -1.0, 1e308, float("nan"), float("inf")))
        edges, bits, signed = {F.TYPE_INT64: (INT64, 64, True), F.TYPE_INT32: (INT32, 32, True),
                               F.TYPE_UINT64: (UINT64, 64, False),
                               F.TYPE_UINT32: (UINT32, 32, False)}[t]
        if rnd.random() < 0.8:
            return rnd.choice(edges)
        return rnd.randrange(-2**(bits - 1), 2**(bits - 1)) if signed else rnd.randrange(2**bits)


def _names(conn, table: str) -> list[str]:
    return [r["name"] for r in conn.regions(table)]


def _allowed(service: str, method: str, request: bytes) -> bool:
    if service == "RegionServer" and method in DATA_CALLS:
        return b"\x00guarded" not in request  # its regions, yes; its rows, never
    return GUARDED.encode() not in request


@pytest.mark.parametrize("service", ["RegionServer", "Master"])
def test_every_rpc_answers_generated_requests_with_minihbase_errors(cluster, seeded, service,
                                                                     tmp_path):
    conn = seeded
    servers = cluster.live_regionservers()
    guarded, scratch = _names(conn, GUARDED), _names(conn, SCRATCH)
    methods = [m for m in pb.DESCRIPTOR.services_by_name[service].methods
               if m.name not in SKIPPED]
    rnd = random.Random(f"fuzz {service} " + os.environ.get("MINIHBASE_FUZZ_SEED", ""))
    # scratch[2:] only for the calls taking a region out of service: the other regions stay
    # served, for the data calls to reach past the region lookup
    makers = {"data": RequestMaker(rnd, guarded + scratch[:2], servers),
              "closing": RequestMaker(rnd, scratch[2:], servers),
              "other": RequestMaker(rnd, guarded + scratch, servers)}
    sizes = log_sizes(cluster)
    unhandled, answered = [], {}
    end = time.monotonic() + TIME_BUDGET_S
    for _ in range(REQUESTS):
        if time.monotonic() > end:
            break
        method = rnd.choice(methods)
        if rnd.random() < 0.1:  # now and then, bytes that are no message
            request = rnd.randbytes(rnd.randrange(40))
        else:
            kind = ("data" if method.name in DATA_CALLS else
                    "closing" if method.name in CLOSING_COMMANDS else "other")
            msg = makers[kind].message(method.input_type)
            if method.name == "ExportSnapshot" and msg.copy_to.startswith("/"):
                msg.copy_to = str(tmp_path / "export")  # a rogue export writes only here
            request = msg.SerializeToString()
        if not _allowed(service, method.name, request):
            continue
        for address in addresses(cluster, service):  # a region's server, and another one
            code, details, name = raw_call(address, service, method.name, request)
            answered.setdefault(method.name, set()).add(code.name)
            if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
                        grpc.StatusCode.DEADLINE_EXCEEDED) or (code != grpc.StatusCode.OK
                                                               and not name):
                unhandled.append((method.name, code.name, details[:300], request[:300]))
    assert not unhandled, "\n".join(map(str, unhandled))
    # the budget let every method run, and the requests got past the lookups
    assert len(answered) == len(methods), sorted(answered)
    assert sum("OK" in codes for codes in answered.values()) >= len(methods) // 2, answered

    # every daemon alive and answering promptly
    assert all(d.is_alive() for d in cluster.all_daemons())
    status = conn.master_call("GetClusterStatus", pb.Empty())
    assert len(status.servers) == 2
    for address in addresses(cluster, "RegionServer"):
        with grpc.insecure_channel(address) as channel:
            channel.unary_unary("/minihbase.RegionServer/GetServerLoad")(b"", timeout=5)
    # the guarded table served, its rows intact
    wait_for(lambda: serving_regions(cluster, GUARDED), 30, "guarded regions open")
    got = dict(conn.table(GUARDED).scan(row_prefix=b"\x00guarded"))
    assert got == GUARDED_ROWS
    assert tracebacks_since(sizes) == ""
