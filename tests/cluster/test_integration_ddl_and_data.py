"""DDL lifecycle, data calls across a pre-split table spread over every server, byte-order
routing, and bad input -- against real daemons and a real ZooKeeper (one shared cluster)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minihbase import errors
from tests.cluster.conftest import rs_stub, server_record, serving_regions


def _cli(cluster, *args, input=None, timeout=60):
    """The minihbase CLI (or its shell, with `input` as the script) against `cluster`."""
    return subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum, *args],
                          input=input, capture_output=True, text=True, timeout=timeout)


def wait_serving(cluster, table, timeout=60):
    return cluster.wait_for(lambda: serving_regions(cluster, table), timeout,
                            f"every region of {table} to be OPEN")


def test_ddl_lifecycle_create_alter_disable_enable_drop(cluster, connection_for):
    conn = connection_for(cluster)
    conn.create_table("ddl_t", {"cf": dict(max_versions=3)})
    assert "ddl_t" in [t.decode() if isinstance(t, bytes) else t for t in conn.tables()]
    wait_serving(cluster, "ddl_t")
    t = conn.table("ddl_t")
    t.put(b"r1", {b"cf:a": b"1"})
    assert t.row(b"r1") == {b"cf:a": b"1"}

    conn.alter_table("ddl_t", add={"cf2": dict()})
    wait_serving(cluster, "ddl_t")
    t.put(b"r1", {b"cf2:b": b"2"})
    assert t.row(b"r1") == {b"cf:a": b"1", b"cf2:b": b"2"}

    conn.disable_table("ddl_t")
    with pytest.raises(errors.TableNotEnabledError):
        conn.table("ddl_t").row(b"r1")
    conn.enable_table("ddl_t")
    wait_serving(cluster, "ddl_t")
    assert conn.table("ddl_t").row(b"r1") == {b"cf:a": b"1", b"cf2:b": b"2"}, \
        "data must survive disable/enable"

    # A removed family takes its cells with it (flushed and unflushed): adding it back
    # starts empty, as in HBase.
    conn.flush("ddl_t")
    t.put(b"r2", {b"cf2:b": b"unflushed"})
    conn.alter_table("ddl_t", remove=["cf2"])
    wait_serving(cluster, "ddl_t")
    conn.alter_table("ddl_t", add={"cf2": dict()})
    wait_serving(cluster, "ddl_t")
    assert t.row(b"r1") == {b"cf:a": b"1"} and t.row(b"r2") == {}

    conn.delete_table("ddl_t", disable=True)
    assert "ddl_t" not in [t.decode() if isinstance(t, bytes) else t for t in conn.tables()]
    with pytest.raises(errors.TableNotFoundError):
        conn.table("ddl_t").row(b"r1")


def test_namespaces_hold_tables_and_only_an_empty_one_is_dropped(cluster, connection_for):
    """HBase's namespaces: a table ns:name needs its namespace; "default:t" is the table t;
    "default" and "hbase" always exist and cannot be dropped; a namespace with tables cannot."""
    conn = connection_for(cluster)
    with pytest.raises(errors.NamespaceNotFoundError, match="create_namespace 'ns8' first"):
        conn.create_table("ns8:t", {"cf": {}})
    conn.create_namespace("ns8")
    with pytest.raises(errors.NamespaceExistsError):
        conn.create_namespace("ns8")
    conn.create_table("ns8:t", {"cf": {}}, split_keys=[b"m"])
    t = conn.table("ns8:t")
    t.put(b"a", {b"cf:q": b"1"})
    t.put(b"z", {b"cf:q": b"2"})
    assert dict(t.scan()) == {b"a": {b"cf:q": b"1"}, b"z": {b"cf:q": b"2"}}
    assert "ns8:t" in conn.tables() and conn.list_namespace_tables("ns8") == ["t"]
    assert {"default", "hbase", "ns8"} <= set(conn.list_namespaces())
    with pytest.raises(errors.NamespaceNotEmptyError, match="has 1 table"):
        conn.delete_namespace("ns8")

    conn.create_table("default:plain8", {"cf": {}})
    conn.table("plain8").put(b"r", {b"cf:q": b"v"})
    assert conn.table("default:plain8").row(b"r") == {b"cf:q": b"v"}
    assert "plain8" in conn.tables() and "default:plain8" not in conn.tables()
    with pytest.raises(errors.TableExistsError):
        conn.create_table("plain8", {"cf": {}})
    with pytest.raises(errors.InvalidArgumentError, match="reserved for system tables"):
        conn.create_table("hbase:x", {"cf": {}})
    with pytest.raises(errors.NamespaceNotEmptyError, match="reserved"):
        conn.delete_namespace("default")
    with pytest.raises(errors.InvalidArgumentError, match="invalid table name"):
        conn.create_table("a:b:c", {"cf": {}})

    conn.delete_table("ns8:t", disable=True)
    conn.delete_table("default:plain8", disable=True)
    conn.delete_namespace("ns8")
    assert "ns8" not in conn.list_namespaces() and "plain8" not in conn.tables()
    with pytest.raises(errors.NamespaceNotFoundError):
        conn.list_namespace_tables("ns8")


def test_happybase_documented_create_table_with_block_cache_disabled(cluster, connection_for):
    """happybase's own create_table example; BLOCKCACHE => false in the shell and describe."""
    conn = connection_for(cluster)
    conn.create_table("mytable", {"cf1": dict(max_versions=10),
                                  "cf2": dict(max_versions=1, block_cache_enabled=False),
                                  "cf3": dict(),
                                  "cf4": dict(in_memory=True)})  # happybase's in_memory too
    families = conn.families("mytable")
    assert [families[f]["block_cache"] for f in (b"cf1", b"cf2", b"cf3")] == [True, False, True]
    assert [families[f]["in_memory"] for f in (b"cf1", b"cf4")] == [False, True]
    t = conn.table("mytable")
    t.put(b"row-key", {b"cf1:col1": b"value1", b"cf2:col2": b"value2"})
    conn.flush("mytable")
    assert t.row(b"row-key", columns=[b"cf2:col2"]) == {b"cf2:col2": b"value2"}
    shell = _cli(cluster, "shell",
                 input="alter 'mytable', NAME => 'cf1', BLOCKCACHE => 'false'\n"
                       "alter 'mytable', NAME => 'cf3', IN_MEMORY => true\ndescribe 'mytable'\n")
    assert shell.stdout.count("BLOCKCACHE => 'false'") == 2, shell.stdout + shell.stderr
    assert shell.stdout.count("IN_MEMORY => 'true'") == 2
    assert "VERSIONS => '10'" in shell.stdout  # alter kept cf1's other options
    with pytest.raises(errors.InvalidArgumentError, match="block_cache_enabled must be true or"):
        conn.create_table("badcache", {"cf": dict(block_cache_enabled="sometimes")})
    conn.delete_table("mytable", disable=True)


def test_keep_deleted_cells_table_reads_deleted_cells_before_the_delete_after_major_compaction(
        cluster, connection_for):
    """KEEP_DELETED_CELLS => true through the client, a delete, a major compaction on the
    region servers, then a read with a time range that ends before the delete; the shell's
    alter/describe and a wrong value, as HBase users write them."""
    conn = connection_for(cluster)
    conn.create_table("kdc_t", {"cf": dict(max_versions=3, keep_deleted_cells=True),
                                "plain": dict(max_versions=3)})
    families = conn.families("kdc_t")
    assert [families[f]["keep_deleted_cells"] for f in (b"cf", b"plain")] == ["TRUE", "FALSE"]
    t = conn.table("kdc_t")
    t.put(b"r", {b"cf:q": b"old", b"plain:q": b"old"}, timestamp=100)
    t.delete(b"r", timestamp=200)  # a DeleteFamily at 200 in each family
    conn.compact("kdc_t", major=True, wait=True)  # flushes first
    assert t.row(b"r") == {}
    assert t.get_cells(b"r", time_range=(0, 200)) == [(b"cf:q", b"old", 100)]
    assert [d for _, d in t.scan(raw=True)] == [[(b"cf:", b"", 200, "DeleteFamily"),
                                                 (b"cf:q", b"old", 100, "Put")]]
    shell = _cli(cluster, "shell",
                 input="alter 'kdc_t', NAME => 'plain', KEEP_DELETED_CELLS => 'TTL'\n"
                       "describe 'kdc_t'\n"
                       "alter 'kdc_t', NAME => 'plain', KEEP_DELETED_CELLS => 'maybe'\n")
    assert "KEEP_DELETED_CELLS => 'TRUE'" in shell.stdout, shell.stdout + shell.stderr
    assert "KEEP_DELETED_CELLS => 'TTL'" in shell.stdout
    assert "KEEP_DELETED_CELLS must be one of FALSE, TRUE, TTL" in shell.stderr
    with pytest.raises(errors.InvalidArgumentError, match="KEEP_DELETED_CELLS must be one of"):
        conn.create_table("badkdc", {"cf": dict(keep_deleted_cells="maybe")})
    conn.delete_table("kdc_t", disable=True)


def _hfile_encodings(cluster, table: str) -> list[str]:
    """The data block encoding each store file of `table` was written with, read from disk."""
    import glob
    import os

    from storage import layout
    from storage.hfile import HFileReader

    out = []
    pattern = os.path.join(layout.table_dir(cluster.rootdir, table), "*", "*", "*.hfile")
    for path in sorted(glob.glob(pattern)):
        with HFileReader(path) as r:
            out.append(r.info.data_block_encoding)
    return out


def test_fast_diff_table_created_through_the_client_reads_back_after_flush(
        cluster, connection_for):
    """DATA_BLOCK_ENCODING => 'FAST_DIFF' through the client: the region servers write
    FAST_DIFF files on flush and serve gets and scans from them; describe shows it; the shell's
    alter takes PREFIX and refuses 'ZIP' naming the allowed values."""
    conn = connection_for(cluster)
    conn.create_table("enc_t", {"cf": dict(max_versions=2, data_block_encoding="fast_diff")},
                      split_keys=[b"user/0100"])
    assert conn.families("enc_t")[b"cf"]["data_block_encoding"] == "FAST_DIFF"
    t = conn.table("enc_t")
    with t.batch(timestamp=10) as b:
        for i in range(200):
            b.put(b"user/%04d" % i, {b"cf:a": b"a%d" % i, b"cf:b": b"b%d" % i})
    t.put(b"user/0007", {b"cf:a": b"newer"}, timestamp=20)
    t.delete(b"user/0008", columns=[b"cf:b"])
    conn.flush("enc_t")
    assert _hfile_encodings(cluster, "enc_t") == ["FAST_DIFF", "FAST_DIFF"]
    assert t.row(b"user/0150") == {b"cf:a": b"a150", b"cf:b": b"b150"}
    assert t.row(b"user/0007") == {b"cf:a": b"newer", b"cf:b": b"b7"}
    assert t.row(b"user/0008") == {b"cf:a": b"a8"}
    rows = list(t.scan(row_start=b"user/0095", row_stop=b"user/0105"))
    assert [k for k, _ in rows] == [b"user/%04d" % i for i in range(95, 105)]
    assert rows[5][1] == {b"cf:a": b"a100", b"cf:b": b"b100"}
    assert sum(1 for _ in t.scan()) == 200
    shell = _cli(cluster, "shell",
                 input="alter 'enc_t', NAME => 'cf', DATA_BLOCK_ENCODING => 'PREFIX'\n"
                       "describe 'enc_t'\n"
                       "alter 'enc_t', NAME => 'cf', DATA_BLOCK_ENCODING => 'ZIP'\n")
    assert "DATA_BLOCK_ENCODING => 'PREFIX'" in shell.stdout, shell.stdout + shell.stderr
    assert ("DATA_BLOCK_ENCODING must be one of NONE, PREFIX, FAST_DIFF, got 'ZIP'"
            in shell.stderr), shell.stderr
    wait_serving(cluster, "enc_t")
    conn.compact("enc_t", major=True, wait=True)  # rewrites the FAST_DIFF files as PREFIX
    assert _hfile_encodings(cluster, "enc_t") == ["PREFIX", "PREFIX"]
    assert t.row(b"user/0007") == {b"cf:a": b"newer", b"cf:b": b"b7"}
    assert sum(1 for _ in t.scan()) == 200
    conn.delete_table("enc_t", disable=True)


def test_truncate_deletes_every_row_and_keeps_the_schema(cluster, connection_for):
    """truncate_preserve keeps the families and the region boundaries; truncate (here from
    the CLI) keeps the families and leaves one region, as in the HBase shell."""
    conn = connection_for(cluster)
    conn.create_table("trunc", {"cf": dict(max_versions=3, ttl=86400, compression="ZSTD"),
                                "cg": dict()}, split_keys=[b"g", b"p"])
    t = conn.table("trunc")
    for row in (b"a", b"h", b"q"):
        t.put(row, {b"cf:q": b"v", b"cg:q": b"w"})
    families = conn.describe_table("trunc")["families"]

    conn.truncate_table("trunc", preserve_splits=True)
    assert list(t.scan()) == []
    desc = conn.describe_table("trunc")
    assert desc["families"] == families and desc["state"] == "ENABLED"
    assert [(r["start_key"], r["end_key"]) for r in desc["regions"]] == \
        [(b"", b"g"), (b"g", b"p"), (b"p", b"")]
    t.put(b"h", {b"cf:q": b"after"})
    assert t.row(b"h") == {b"cf:q": b"after"}

    conn.disable_table("trunc")  # truncate takes a disabled table too
    out = _cli(cluster, "truncate", "trunc", timeout=120)
    assert out.returncode == 0 and "Truncated table trunc" in out.stdout, out.stderr
    desc = conn.describe_table("trunc")
    assert desc["families"] == families and len(desc["regions"]) == 1
    assert list(conn.table("trunc").scan()) == []
    shell = _cli(cluster, "shell", input="put 'trunc', 'x', 'cf:q', 'v'\ncount 'trunc'\n"
                                         "truncate_preserve 'trunc'\ncount 'trunc'\n",
                 timeout=120)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.count("1 row(s)") == 1 and shell.stdout.count("0 row(s)") == 1 \
        and "Truncated table trunc" in shell.stdout, shell.stdout
    missing = _cli(cluster, "truncate", "no_such_table")
    assert missing.returncode == 1 and "no_such_table" in missing.stderr \
        and "Traceback" not in missing.stderr
    conn.delete_table("trunc", disable=True)


def test_put_get_scan_delete_across_presplit_table_spanning_all_servers(cluster,
                                                                         connection_for):
    conn = connection_for(cluster)
    splits = [b"b", b"d", b"f", b"h", b"j"]
    conn.create_table("span", {"cf": dict(max_versions=3)}, split_keys=splits)
    records = wait_serving(cluster, "span")
    assert len(records) == 6
    servers = {r.server for r in records}
    assert servers == set(cluster.live_regionservers()), \
        f"6 regions should span all 3 servers, got {sorted(servers)}"

    t = conn.table("span")
    rows = [f"{c}{i:03d}".encode() for c in "abcdefghijk" for i in range(20)]
    with t.batch(batch_size=50) as b:
        for r in rows:
            b.put(r, {b"cf:q": r + b"-v1", b"cf:other": b"x"})
    for r in rows[::17]:
        assert t.row(r) == {b"cf:other": b"x", b"cf:q": r + b"-v1"}

    # Full scan: every row exactly once, in byte order, across all six regions.
    scanned = [k for k, _ in t.scan(batch_size=7)]
    assert scanned == sorted(rows)
    # Range scans crossing region boundaries, both directions; limit; prefix.
    assert [k for k, _ in t.scan(row_start=b"c010", row_stop=b"g005")] == \
        [r for r in sorted(rows) if b"c010" <= r < b"g005"]
    assert [k for k, _ in t.scan(row_start=b"g005", row_stop=b"c010", reverse=True)] == \
        [r for r in sorted(rows, reverse=True) if b"c010" < r <= b"g005"]
    assert len(list(t.scan(row_start=b"a", limit=33))) == 33
    assert [k for k, _ in t.scan(row_prefix=b"j")] == [r for r in sorted(rows)
                                                        if r.startswith(b"j")]
    assert dict(t.scan(columns=[b"cf:q"], row_prefix=b"e01"))[b"e010"] == {b"cf:q": b"e010-v1"}

    # Versions, column delete, row delete.
    t.put(b"e005", {b"cf:q": b"e005-v2"})
    assert [v for v in t.cells(b"e005", b"cf:q", versions=3)] [:2] == [b"e005-v2", b"e005-v1"]
    t.delete(b"e005", columns=[b"cf:q"])
    assert t.row(b"e005") == {b"cf:other": b"x"}
    for r in (b"a000", b"f019", b"k019"):
        t.delete(r)
        assert t.row(r) == {}
    assert len(list(t.scan())) == len(rows) - 3

    # Counters and check-and-put on rows in different regions.
    assert t.counter_inc(b"a-counter", b"cf:n", 5) == 5
    assert t.counter_inc(b"k-counter", b"cf:n") == 1
    assert t.counter_get(b"a-counter", b"cf:n") == 5
    assert t.check_and_put(b"h001", b"cf:q", b"h001-v1", {b"cf:q": b"swapped"}) is True
    assert t.check_and_put(b"h001", b"cf:q", b"h001-v1", {b"cf:q": b"again"}) is False
    assert t.row(b"h001", columns=[b"cf:q"]) == {b"cf:q": b"swapped"}


def test_row_20000_routes_to_second_region_in_byte_order(cluster, connection_for):
    """With regions ['', '100'), ['100', '300'), ['300', ''), b'20000' sorts between b'100'
    and b'300' (bytes, not numbers), so it lives in the second region."""
    conn = connection_for(cluster)
    conn.create_table("route", {"cf": dict()}, split_keys=[b"100", b"300"])
    records = wait_serving(cluster, "route")
    assert [(r.info.start_key, r.info.end_key) for r in records] == \
        [(b"", b"100"), (b"100", b"300"), (b"300", b"")]
    t = conn.table("route")
    t.put(b"20000", {b"cf:q": b"v"})
    assert t.row(b"20000") == {b"cf:q": b"v"}

    # Ask each region's server directly: only the second region holds the row.
    from protos import minihbase_pb2 as pb
    found = []
    for r in records:
        rec = server_record(cluster, r.server)
        channel, stub = rs_stub(f"{rec.host}:{rec.port}")
        try:
            try:
                resp = stub.Get(pb.GetRequest(region=r.info.name, row=b"20000"), timeout=10)
                found.append(bool(resp.result.cells))
            except Exception as exc:  # the other regions must refuse the row (out of range)
                from protos.status import from_rpc_error
                assert isinstance(from_rpc_error(exc), errors.NotServingRegionError), exc
                found.append(False)
        finally:
            channel.close()
    assert found == [False, True, False]

    # The describe output (library and CLI) shows the ranges and where each region is served.
    desc = conn.describe_table("route")
    text = str(desc)
    assert "100" in text and "300" in text
    cli = _cli(cluster, "describe", "route")
    assert cli.returncode == 0, cli.stderr
    assert "100" in cli.stdout and "300" in cli.stdout
    assert records[1].server in cli.stdout or records[1].server.split(",")[1] in cli.stdout


def _write_reference_data(conn, table):
    t = conn.table(table)
    rows = {f"ref{i:04d}".encode(): f"value-{i}".encode() for i in range(300)}
    with t.batch(batch_size=100) as b:
        for r, v in rows.items():
            b.put(r, {b"cf:q": v})
    return rows


def _assert_intact(cluster, conn, table, rows):
    for d in cluster.all_daemons():
        assert d.is_alive(), f"{d.role}-{d.index} died after bad input; see its log"
    got = {k: v[b"cf:q"] for k, v in conn.table(table).scan(row_prefix=b"ref")}
    assert got == rows


BAD_CLIENT_CALLS = [
    ("unknown table", lambda conn: conn.table("no_such_table").put(b"r", {b"cf:q": b"v"}),
     errors.TableNotFoundError, "no_such_table"),
    ("unknown family", lambda conn: conn.table("bad_in").put(b"r", {b"nope:q": b"v"}),
     errors.NoSuchColumnFamilyError, "nope"),
    ("unknown family in a get", lambda conn: conn.table("bad_in").row(b"r", [b"nope:q"]),
     errors.NoSuchColumnFamilyError, "'nope' does not exist in table 'bad_in'"),
    ("unknown family in a scan", lambda conn: list(conn.table("bad_in").scan(
        columns=[b"nope"])), errors.NoSuchColumnFamilyError, "in table 'bad_in'"),
    ("empty row key", lambda conn: conn.table("bad_in").put(b"", {b"cf:q": b"v"}),
     errors.InvalidArgumentError, "row"),
    ("row key over 32767 bytes", lambda conn: conn.table("bad_in").put(b"r" * 32768,
                                                                        {b"cf:q": b"v"}),
     errors.InvalidArgumentError, "32767"),
    ("value over the maximum", lambda conn: conn.table("bad_in").put(b"r", {b"cf:q": b"v" *
                                                                           (64 * 1024 + 1)}),
     errors.InvalidArgumentError, "value"),
    ("invalid table name", lambda conn: conn.create_table("bad name!", {"cf": dict()}),
     errors.InvalidArgumentError, "bad name!"),
    ("existing table", lambda conn: conn.create_table("bad_in", {"cf": dict()}),
     errors.TableExistsError, "bad_in"),
    ("drop enabled table", lambda conn: conn.delete_table("bad_in", disable=False),
     errors.TableNotDisabledError, "bad_in"),
]


@pytest.mark.parametrize("what,call,error,named", BAD_CLIENT_CALLS,
                         ids=[c[0] for c in BAD_CLIENT_CALLS])
def test_bad_input_is_a_clear_error_and_daemons_keep_serving(cluster, connection_for, what,
                                                             call, error, named):
    conn = connection_for(cluster, timeout=20)
    if "bad_in" not in [t.decode() if isinstance(t, bytes) else t for t in conn.tables()]:
        conn.create_table("bad_in", {"cf": dict()}, split_keys=[b"m"])
        wait_serving(cluster, "bad_in")
    rows = _write_reference_data(conn, "bad_in")
    with pytest.raises(error) as info:
        call(conn)
    assert named.lower() in str(info.value).lower(), \
        f"{what}: the message should name {named!r}: {info.value}"
    _assert_intact(cluster, conn, "bad_in", rows)


def test_bad_input_sent_straight_to_daemons_is_rejected_by_them(cluster, connection_for):
    """The same bad values bypassing the client's own checks: the region server and master
    answer with the precise error class, and keep serving."""
    from protos import minihbase_pb2 as pb
    from protos import minihbase_pb2_grpc
    from protos.status import error_from_name, from_rpc_error
    import grpc

    conn = connection_for(cluster, timeout=20)
    if "bad_in" not in [t.decode() if isinstance(t, bytes) else t for t in conn.tables()]:
        conn.create_table("bad_in", {"cf": dict()}, split_keys=[b"m"])
    records = wait_serving(cluster, "bad_in")
    rows = _write_reference_data(conn, "bad_in")
    region = records[0]
    rec = server_record(cluster, region.server)
    channel, stub = rs_stub(f"{rec.host}:{rec.port}")

    def mutation(row, family=b"cf", value=b"v"):
        return pb.RowMutation(row=row, cells=[pb.Cell(row=row, family=family, qualifier=b"q",
                                                      timestamp=2**63 - 1, type=4,
                                                      value=value)])

    cases = [
        (mutation(b""), errors.InvalidArgumentError),
        (mutation(b"a" * 32768), errors.InvalidArgumentError),
        (mutation(b"a1", value=b"v" * (64 * 1024 + 1)), errors.InvalidArgumentError),
        (mutation(b"a1", family=b"nope"), errors.NoSuchColumnFamilyError),
    ]
    try:
        for m, error in cases:
            try:
                resp = stub.Multi(pb.MultiRequest(regions=[pb.RegionMutations(
                    region=region.info.name, mutations=[m])]), timeout=10)
                result = resp.results[0]
                assert result.ok and len(result.rejected) == 1, \
                    f"region server accepted {m.row[:20]!r}"  # the row alone is rejected
                got = error_from_name(result.rejected[0].error_class,
                                      result.rejected[0].error_message)
            except grpc.RpcError as exc:
                got = from_rpc_error(exc)
            assert isinstance(got, error), f"expected {error.__name__}, got {got!r}"
        with pytest.raises(grpc.RpcError) as info:
            stub.Get(pb.GetRequest(region="no_such_table,,1.abc", row=b"x"), timeout=10)
        assert isinstance(from_rpc_error(info.value), errors.NotServingRegionError)
    finally:
        channel.close()

    master = cluster.master_daemon(active=True)
    mchannel = grpc.insecure_channel(master.address)
    try:
        mstub = minihbase_pb2_grpc.MasterStub(mchannel)
        for name in ("bad name!", "", "a" * 300, ".hidden"):
            with pytest.raises(grpc.RpcError) as info:
                mstub.CreateTable(pb.CreateTableRequest(schema=pb.TableSchema(
                    name=name, families=[pb.FamilySchema(name="cf")])), timeout=10)
            assert isinstance(from_rpc_error(info.value), errors.InvalidArgumentError), name
        with pytest.raises(grpc.RpcError) as info:
            mstub.DeleteTable(pb.TableName(name="bad_in"), timeout=10)
        assert isinstance(from_rpc_error(info.value), errors.TableNotDisabledError)
    finally:
        mchannel.close()
    _assert_intact(cluster, conn, "bad_in", rows)


def test_clone_table_schema_copies_schema_and_boundaries_but_no_data(cluster, connection_for):
    """HBase 2's clone_table_schema: families, table attributes and (unless false) the region
    boundaries of an existing table, in a new empty table."""
    conn = connection_for(cluster)
    conn.create_table("schema_src", {"cf": dict(max_versions=3, ttl=3600, in_memory=True),
                                     "cg": dict(bloom="ROWCOL", compression="GZ")},
                      split_keys=[b"g", b"p"], max_filesize=1 << 20, merge_enabled=False,
                      memstore_flushsize=1 << 21)
    conn.table("schema_src").put(b"a", {b"cf:q": b"v"})
    conn.clone_table_schema("schema_src", "schema_copy")
    src, copy = conn.describe_table("schema_src"), conn.describe_table("schema_copy")
    assert copy["families"] == src["families"] and copy["max_filesize"] == 1 << 20
    assert (copy["merge_enabled"], copy["memstore_flushsize"]) == (False, 1 << 21)
    assert sorted(r["start_key"] for r in copy["regions"]) == [b"", b"g", b"p"]
    assert list(conn.table("schema_copy").scan()) == []
    with pytest.raises(errors.TableExistsError, match="schema_copy"):
        conn.clone_table_schema("schema_src", "schema_copy")
    with pytest.raises(errors.TableNotFoundError, match="no_such_src"):
        conn.clone_table_schema("no_such_src", "schema_other")
    shell = _cli(cluster, "shell",
                 input="clone_table_schema 'schema_src', 'schema_one', false\n")
    assert "Created table schema_one with the schema of schema_src (one region)" in shell.stdout
    assert len(conn.regions("schema_one")) == 1
    assert conn.families("schema_one") == conn.families("schema_src")
