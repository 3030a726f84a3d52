"""The client against real daemons and a real ZooKeeper: data calls across regions, retry
after a region moves under a stale cache, a clear timeout when servers hang, and the CLI's
output, exit codes and one-line errors. Few and focused; cluster behaviour is tested elsewhere."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from minihbase import errors
from minihbase.zookeeper import free_port

SPLITS = [b"100", b"300"]


def cli(cluster, *args, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum,
                           "--timeout", "10", *args], input=input, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def table(cluster):
    import client
    conn = client.Connection(cluster.quorum, timeout=30)
    conn.create_table("cl", {"cf": dict(max_versions=3)}, split_keys=SPLITS)
    # The master balances once, shortly after the servers joined (hmaster JOIN_SETTLE_S); let
    # that happen now, so it cannot undo a test's deliberate region move later.
    time.sleep(1.0)
    conn.balance()
    yield conn.table("cl")
    conn.close()


def test_put_get_delete_and_byte_order_routing(table):
    table.put(b"20000", {b"cf:q": b"v1", b"cf:r": b"\x00\xff"})
    assert table.row(b"20000") == {b"cf:q": b"v1", b"cf:r": b"\x00\xff"}
    assert table.connection.locations.locate("cl", b"20000").info.start_key == b"100"
    table.put(b"20000", {b"cf:q": b"v2"})
    assert table.cells(b"20000", b"cf:q") == [b"v2", b"v1"]
    assert table.row(b"20000", columns=[b"cf:q"]) == {b"cf:q": b"v2"}
    table.delete(b"20000", columns=[b"cf:q"])
    assert table.row(b"20000") == {b"cf:r": b"\x00\xff"}
    table.delete(b"20000")
    assert table.row(b"20000") == {}


def test_batch_then_scans_stream_across_regions_both_ways(table):
    rows = [b"%03d" % i for i in range(0, 450, 3)]
    with table.batch(batch_size=64) as b:
        for r in rows:
            b.put(r, {b"cf:q": b"v" + r})
    scanned = [r for r, _ in table.scan(batch_size=7)]
    assert [r for r in scanned if len(r) == 3 and r.isdigit()] == rows
    assert [r for r, _ in table.scan(reverse=True, batch_size=5)] == scanned[::-1]
    assert [r for r, _ in table.scan(row_start=b"096", row_stop=b"105")] == \
        [b"096", b"099", b"102"]
    assert [r for r, _ in table.scan(row_start=b"303", row_stop=b"294", reverse=True)] == \
        [b"303", b"300", b"297"]
    assert [r for r, _ in table.scan(row_prefix=b"29")] == [b"291", b"294", b"297"]
    assert [r for r, _ in table.scan(row_prefix=b"29", reverse=True, limit=2)] == \
        [b"297", b"294"]
    assert len(list(table.scan(limit=120, batch_size=50))) == 120
    assert table.rows([b"003", b"nope", b"402"]) == [(b"003", {b"cf:q": b"v003"}),
                                                    (b"402", {b"cf:q": b"v402"})]


def test_counter_and_check_and_put_are_atomic_calls(table):
    assert table.counter_inc(b"ctr", b"cf:n", 5) == 5
    assert table.counter_inc(b"ctr", b"cf:n") == 6
    assert table.counter_get(b"ctr", b"cf:n") == 6
    assert table.check_and_put(b"cap", b"cf:q", None, {b"cf:q": b"a"}) is True
    assert table.check_and_put(b"cap", b"cf:q", None, {b"cf:q": b"b"}) is False
    assert table.check_and_put(b"cap", b"cf:q", b"a", {b"cf:q": b"c"}) is True
    assert table.row(b"cap") == {b"cf:q": b"c"}


class _AnswerLost(grpc.RpcError):
    """What a client sees when the server applied a call but the connection broke before the
    answer arrived (the server was killed, the network dropped)."""

    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "connection reset before the answer"

    def trailing_metadata(self):
        return ()


def lose_first_answer(conn, monkeypatch, method: str, via: str = "region_server") -> list:
    """Route the connection's region server (or master) calls through stubs whose `method` is
    applied on the server but whose first answer is lost; returns (nonce_group, nonce) per
    attempt."""
    real = getattr(conn.channels, via)
    sent = []

    class LossyStub:
        def __init__(self, stub):
            self._stub = stub

        def __getattr__(self, name):
            call = getattr(self._stub, name)
            if name != method:
                return call

            def lossy(request, timeout=None):
                sent.append((getattr(request, "nonce_group", None),
                             getattr(request, "nonce", None)))
                answer = call(request, timeout=timeout)  # applied on the server
                if len(sent) == 1:
                    raise _AnswerLost()
                return answer
            return lossy

    monkeypatch.setattr(conn.channels, via, lambda address: LossyStub(real(address)))
    return sent


def test_increment_whose_answer_was_lost_is_retried_without_applying_it_twice(table,
                                                                              monkeypatch):
    """counter_inc sends one nonce with every attempt: the region server recognises the retry
    of an increment it already applied and answers with that result."""
    sent = lose_first_answer(table.connection, monkeypatch, "Increment")
    assert table.counter_inc(b"lost-answer", b"cf:n", 5) == 5
    assert len(sent) == 2 and sent[0] == sent[1] and sent[0][1] != 0, sent
    monkeypatch.undo()
    assert table.counter_get(b"lost-answer", b"cf:n") == 5
    assert table.counter_inc(b"lost-answer", b"cf:n", 5) == 10  # a new call: a new nonce


def test_append_adds_bytes_atomically_once_even_when_its_answer_was_lost(table, cluster,
                                                                         monkeypatch):
    table.put(b"app", {b"cf:a": b"x"})
    assert table.append(b"app", {b"cf:a": b"y", b"cf:b": b"1"}) == {b"cf:a": b"xy",
                                                                    b"cf:b": b"1"}
    sent = lose_first_answer(table.connection, monkeypatch, "Append")
    assert table.append(b"app", {b"cf:a": b"z"}) == {b"cf:a": b"xyz"}
    assert len(sent) == 2 and sent[0] == sent[1] and sent[0][1] != 0, sent
    monkeypatch.undo()
    assert table.row(b"app") == {b"cf:a": b"xyz", b"cf:b": b"1"}
    (value, ts), = table.append(b"app", {b"cf:a": b"!"}, include_timestamp=True).values()
    assert value == b"xyz!" and ts > 0

    # Bad input: an unknown family, an empty row, a result over the value size limit (64 KiB
    # in this cluster) -- each a clear error, and the row keeps its value.
    with pytest.raises(errors.NoSuchColumnFamilyError, match="nope"):
        table.append(b"app", {b"nope:a": b"1"})
    with pytest.raises(errors.InvalidArgumentError):
        table.append(b"", {b"cf:a": b"1"})
    table.put(b"big", {b"cf:a": b"x" * 40_000})
    with pytest.raises(errors.InvalidArgumentError, match="max_value_bytes"):
        table.append(b"big", {b"cf:a": b"y" * 40_000})
    assert len(table.row(b"big")[b"cf:a"]) == 40_000
    assert table.row(b"app")[b"cf:a"] == b"xyz!"

    done = cli(cluster, "append", "cl", "app", "cf:a", "\\x00?")
    assert done.returncode == 0 and done.stdout.strip() == "CURRENT VALUE = xyz!\\x00?", done
    shell = cli(cluster, "shell", input="append 'cl', 'app', 'cf:a', '.'\nt = get_table 'cl'\n"
                                        "t.append 'app', 'cf:b', '2'\n")
    assert "CURRENT VALUE = xyz!\\x00?." in shell.stdout and "CURRENT VALUE = 12" in shell.stdout
    bad = cli(cluster, "append", "cl", "app", "nope:a", "1")
    assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def _store_files(conn, table: str) -> list[int]:
    return [r["store_files"] for r in conn.describe_table(table)["regions"]
            if "store_files" in r]


def test_compactions_are_requested_and_compaction_state_says_when_they_ran(table, cluster):
    """As HBase's Admin: compact and major_compact queue the work on the region servers and
    answer at once; compaction_state is NONE once it has run. --wait waits for it."""
    conn = table.connection
    for i in range(2):
        table.put(b"mc%d" % i, {b"cf:a": b"%d" % i})
        conn.flush("cl")
    conn.compact("cl", major=True)
    cluster.wait_for(lambda: conn.compaction_state("cl") == "NONE" and
                     max(_store_files(conn, "cl")) <= 1, 30, "the major compaction to run")
    state = cli(cluster, "compaction_state", "cl")
    assert state.returncode == 0 and state.stdout.strip() == "NONE", state
    table.put(b"mc2", {b"cf:a": b"2"})
    done = cli(cluster, "major_compact", "cl", "--wait")
    assert done.stdout.strip() == "Major compaction done for cl", done
    cluster.wait_for(lambda: max(_store_files(conn, "cl")) <= 1, 5, "the next load report")
    shell = cli(cluster, "shell", input="compaction_state 'cl'\n")
    assert shell.stdout.startswith("NONE"), shell
    missing = cli(cluster, "compaction_state", "nosuch")
    assert missing.returncode == 1 and "nosuch" in missing.stderr


def test_major_compaction_of_one_family(table, cluster):
    """HBase's major_compact 't1', 'cf': through the CLI, the shell and the client; an unknown
    family is refused once, by the master, naming it."""
    table.put(b"mc", {b"cf:a": b"1"})
    done = cli(cluster, "major_compact", "cl", "cf")
    assert done.returncode == 0, done
    assert done.stdout.strip() == "Major compaction requested for family cf of cl"
    shell = cli(cluster, "shell", input="compact 'cl', 'cf'\n")
    assert "Compaction requested for family cf of cl" in shell.stdout, shell
    bad = cli(cluster, "major_compact", "cl", "nope")
    assert bad.returncode == 1 and "'nope' does not exist in table 'cl'" in bad.stderr, bad
    with pytest.raises(errors.NoSuchColumnFamilyError):
        table.connection.compact("cl", major=True, family="nope")
    assert table.row(b"mc") == {b"cf:a": b"1"}


@pytest.mark.parametrize("method", ["CreateTable", "DisableTable", "EnableTable", "DeleteTable",
                                    "AlterTable"])
def test_ddl_whose_answer_was_lost_with_the_master_is_not_reported_failed(table, monkeypatch,
                                                                          method):
    """The master applied the call and died before answering; the backup that took over
    finished it. The resent call finds the work done: that is success, not TableExistsError
    or 'already disabled' (HBase matches the resend to the first call with a nonce)."""
    conn = table.connection
    name = f"lost_{method.lower()}"
    conn.create_table(name, {"cf": dict(), "cf2": dict()})
    if method in ("EnableTable", "DeleteTable"):
        conn.disable_table(name)
    if method == "CreateTable":
        conn.delete_table(name, disable=True)
    sent = lose_first_answer(conn, monkeypatch, method, via="master")
    {"CreateTable": lambda: conn.create_table(name, {"cf": dict()}),
     "DisableTable": lambda: conn.disable_table(name),
     "EnableTable": lambda: conn.enable_table(name),
     "DeleteTable": lambda: conn.delete_table(name),
     "AlterTable": lambda: conn.alter_table(name, remove=["cf2"])}[method]()
    assert len(sent) == 2
    monkeypatch.undo()
    if method != "DeleteTable":
        conn.delete_table(name, disable=True)
    assert not conn.exists(name)


def test_check_and_put_whose_answer_was_lost_still_reports_it_applied(table, monkeypatch):
    """Taking a lock with check-and-put: if the answer of the call that took it is lost, the
    retry must report True (its nonce), not fail the check on its own put."""
    sent = lose_first_answer(table.connection, monkeypatch, "CheckAndMutate")
    assert table.check_and_put(b"lock-row", b"cf:owner", None, {b"cf:owner": b"me"}) is True
    assert len(sent) == 2 and sent[0] == sent[1] and sent[0][1] != 0, sent
    monkeypatch.undo()
    assert table.check_and_put(b"lock-row", b"cf:owner", None, {b"cf:owner": b"you"}) is False


def test_cli_ttl_forever_and_a_family_alone_as_the_empty_qualifier(cluster):
    """`--ttl FOREVER` removes a TTL (alter keeps the options it is not given); as in HBase, a
    put or increment naming only a family writes its empty qualifier, `cf:`."""
    def family_line(table):
        got = cli(cluster, "describe", table)
        return next(line for line in got.stdout.splitlines() if "NAME => 'cf'" in line)

    assert cli(cluster, "create", "ttlt", "cf", "--ttl", "1 DAY").returncode == 0
    assert cli(cluster, "alter", "ttlt", "cf", "--versions", "5").returncode == 0
    assert "TTL => '86400 SECONDS (1 DAY)'" in family_line("ttlt")
    # HBase 2's shell reads TTL text as its PrettyPrinter prints it (valueFromHumanReadable)
    shell = cli(cluster, "shell", input="alter 'ttlt', NAME => 'cf', TTL => '2 DAYS 3 HOURS'\n")
    assert shell.returncode == 0, shell.stderr
    assert "TTL => '183600 SECONDS (2 DAYS 3 HOURS)'" in family_line("ttlt")
    shell = cli(cluster, "shell", input="create 'ttls', {NAME => 'cf', TTL => "
                                         "'86400 SECONDS (1 DAY)'}\n")
    assert shell.returncode == 0, shell.stderr
    assert "TTL => '86400 SECONDS (1 DAY)'" in family_line("ttls")
    assert cli(cluster, "alter", "ttlt", "cf", "--ttl", "forever").returncode == 0
    assert "TTL => 'FOREVER'" in family_line("ttlt") and "VERSIONS => '5'" in family_line("ttlt")
    bad = cli(cluster, "alter", "ttlt", "cf", "--ttl", "soon")
    assert bad.returncode == 2 and "TTL 'soon' is not seconds, FOREVER or an interval" in \
        bad.stderr

    shell = cli(cluster, "shell", input="put 'ttlt', 'r', 'cf', 'v'\nincr 'ttlt', 'r2', 'cf'\n"
                                         "scan 'ttlt'\n")
    assert shell.returncode == 0, shell.stderr
    assert "COUNTER VALUE = 1" in shell.stdout
    assert "r   column=cf:, timestamp=" in shell.stdout and "value=v" in shell.stdout
    assert "r2  column=cf:, timestamp=" in shell.stdout
    for name in ("ttlt", "ttls"):
        assert cli(cluster, "disable", name).returncode == 0
        assert cli(cluster, "drop", name).returncode == 0


def test_cli_region_and_info_commands(cluster, table):
    """The shell's list_regions, get_splits, locate_region, is_disabled, version and whoami
    are CLI commands too (with --json for scripts); version needs no cluster."""
    regions = cli(cluster, "--json", "list_regions", "cl")
    assert regions.returncode == 0 and regions.stdout.count('"name": "cl,') == 3
    assert "Total number of splits = 3" in cli(cluster, "get_splits", "cl").stdout
    located = json.loads(cli(cluster, "--json", "locate_region", "cl", "150").stdout)
    assert (located["start_key"], located["end_key"], located["state"]) == ("100", "300", "OPEN")
    assert cli(cluster, "is_disabled", "cl").stdout.strip() == "false"
    offline = subprocess.run([sys.executable, "-m", "client.cli", "--zk", "127.0.0.1:1",
                              "version"], capture_output=True, text=True, timeout=30)
    assert offline.returncode == 0 and offline.stdout.startswith("minihbase ")


def test_a_tables_max_filesize_splits_it_at_its_own_size(cluster, connection_for):
    """HBase's MAX_FILESIZE: a table's own split size, under the servers' --split-size (10 GiB
    here); describe shows it, and alter changes or unsets it (the regions reopen with it)."""
    created = cli(cluster, "shell", input="create 'small', 'cf', {MAX_FILESIZE => 65536}\n"
                                           "describe 'small'\n")
    assert "small, {TABLE_ATTRIBUTES => {MAX_FILESIZE => '65536'}}" in created.stdout, created
    conn = connection_for(cluster)
    t = conn.table("small")
    with t.batch(batch_size=100) as b:
        for i in range(400):
            b.put(b"r%04d" % i, {b"cf:q": b"x" * 500})
    conn.flush("small")
    cluster.wait_for(lambda: len([r for r in conn.regions("small") if r["state"] == "OPEN"]) > 1,
                     60, "the 200 KB table to split at its 64 KiB MAX_FILESIZE")
    assert len(list(t.scan())) == 400
    too_small = cli(cluster, "alter", "small", "--max-filesize", "1000")
    assert too_small.returncode == 2, too_small.stderr  # a wrong argument: a usage error
    assert "--max-filesize: must be at least 65536 bytes" in too_small.stderr
    conn.truncate_table("small")  # keeps the whole descriptor, as HBase's truncate
    assert conn.describe_table("small")["max_filesize"] == 65536 and not list(t.scan())
    assert cli(cluster, "alter", "small", "--max-filesize", "0").returncode == 0
    assert conn.describe_table("small")["max_filesize"] == 0
    assert "TABLE_ATTRIBUTES" not in cli(cluster, "describe", "small").stdout
    conn.delete_table("small", disable=True)


def test_a_readonly_table_refuses_writes_from_client_cli_and_shell_until_altered_back(
        cluster, connection_for):
    """HBase's READONLY => true: every mutation is refused at once (not retried) with an error
    naming the table, from the client, the CLI (exit 1, one line) and the shell, while reads
    work; describe shows the attributes set, and alter back to false allows writes again."""
    shell = cli(cluster, "shell", input=(
        "create 'ro', 'cf', {MEMSTORE_FLUSHSIZE => '1048576', COMPACTION_ENABLED => false, "
        "SPLIT_ENABLED => false}\n"
        "put 'ro', 'r1', 'cf:q', 'before'\n"
        "alter 'ro', READONLY => 'true'\n"
        "describe 'ro'\n"
        "put 'ro', 'r2', 'cf:q', 'v'\n"
        "get 'ro', 'r1'\n"))
    refused = ("table 'ro' is read-only (READONLY => true): mutation refused; alter 'ro', "
               "READONLY => 'false' allows writes")
    assert shell.returncode == 1 and shell.stderr == f"ERROR: standard input, line 5: {refused}\n"
    assert ("ro, {TABLE_ATTRIBUTES => {COMPACTION_ENABLED => 'false', MEMSTORE_FLUSHSIZE => "
            "'1048576', READONLY => 'true', SPLIT_ENABLED => 'false'}}") in shell.stdout, shell
    assert "value=before" in shell.stdout  # reads still work

    conn = connection_for(cluster, timeout=20)
    t = conn.table("ro")
    started = time.monotonic()
    for write in (lambda: t.put(b"r3", {b"cf:q": b"v"}), lambda: t.counter_inc(b"r3", b"cf:n"),
                  lambda: t.check_and_put(b"r1", b"cf:q", b"before", {b"cf:q": b"v"})):
        with pytest.raises(errors.TableReadOnlyError, match="table 'ro' is read-only"):
            write()
    with pytest.raises(errors.TableReadOnlyError):
        with t.batch() as b:
            b.put(b"r4", {b"cf:q": b"v"})
    assert time.monotonic() - started < 10  # refused, not retried until the 20 s timeout
    put = cli(cluster, "put", "ro", "r5", "cf:q", "v")
    assert put.returncode == 1 and put.stderr == f"ERROR: {refused}\n", put
    compact = cli(cluster, "major_compact", "ro")
    assert compact.returncode == 0 and "skipped: the table has COMPACTION_ENABLED => false" \
        in compact.stdout, compact
    split = cli(cluster, "split", "ro")
    assert split.returncode == 1 and "table 'ro' has SPLIT_ENABLED => false" in split.stderr

    assert cli(cluster, "alter", "ro", "--readonly", "false").returncode == 0
    t.put(b"r1", {b"cf:q": b"after"})
    assert t.row(b"r1") == {b"cf:q": b"after"}
    described = json.loads(cli(cluster, "describe", "ro", "--json").stdout)
    assert {k: described[k] for k in ("readonly", "memstore_flushsize", "compaction_enabled",
                                      "split_enabled", "max_filesize")} == {
        "readonly": False, "memstore_flushsize": 1 << 20, "compaction_enabled": False,
        "split_enabled": False, "max_filesize": 0}
    conn.delete_table("ro", disable=True)


def test_happybase_table_prefix_names_tables_for_happybases_calls(cluster, table):
    """happybase's Connection(table_prefix=..., table_prefix_separator=...): its table calls
    name tables without the prefix; with ':' as the separator the prefix is a namespace."""
    import client

    with client.Connection(cluster.quorum, timeout=30, table_prefix="app") as app, \
            client.Connection(cluster.quorum, timeout=30) as plain:
        app.create_table("users", {"cf": {}})
        assert "app_users" in plain.tables() and "users" in app.tables()
        assert "cl" in plain.tables() and "cl" not in app.tables()
        app.table("users").put(b"r", {b"cf:q": b"v"})
        assert plain.table("app_users").row(b"r") == {b"cf:q": b"v"}
        assert app.table("app_users", use_prefix=False).row(b"r") == {b"cf:q": b"v"}
        app.compact_table("users", major=True)
        app.disable_table("users")
        assert not app.is_table_enabled("users") and plain.is_table_disabled("app_users")
        app.enable_table("users")
        app.delete_table("users", disable=True)
        assert "app_users" not in plain.tables()

        plain.create_namespace("tenant")
        with client.Connection(cluster.quorum, timeout=30, table_prefix=b"tenant",
                               table_prefix_separator=b":") as tenant:
            tenant.create_table("t", {"cf": {}})
            assert tenant.tables() == ["t"] and "tenant:t" in plain.tables()
            tenant.delete_table("t", disable=True)
        plain.delete_namespace("tenant")


def test_balance_switch_from_the_shell_and_the_cli(cluster):
    shell = cli(cluster, "shell", input="balancer_enabled\nbalance_switch false\nbalance\n"
                                         "balancer_enabled\nbalance_switch 'yes'\n")
    assert shell.stdout.split("\n")[0] == "true", shell.stdout
    assert "Previous balancer state : true" in shell.stdout
    assert "false: the balancer is switched off (balance_switch true turns it on)" in shell.stdout
    assert "\nfalse\n" in shell.stdout
    assert "balance_switch takes true or false" in shell.stderr + shell.stdout
    on = cli(cluster, "--json", "balance_switch", "on")
    assert on.returncode == 0 and '"previous": false' in on.stdout
    assert cli(cluster, "balancer_enabled").stdout.strip() == "true"
    assert cli(cluster, "balance").stdout.startswith("Balancer ran: ")


def test_region_names_as_hbase_prints_them_work_and_wrong_ones_are_unknown(cluster, table):
    """HBase prints region names with a trailing "." and users paste them back; a full name
    whose id does not match the region is unknown to every command, not half-matched."""
    conn = table.connection
    loc = conn.locations.locate("cl", b"150")
    conn.flush(loc.name + ".")
    conn.compact(loc.name.rsplit(".", 1)[1] + ".")  # the encoded name alone, dotted
    conn.move(loc.name + ".")
    cluster.wait_for(lambda: _moved(conn, loc), 60, "region to reopen elsewhere")
    table_name, start, rest = loc.name.split(",")
    wrong = f"{table_name},{start},1{rest}"  # another region id, the same encoded name
    for name in (wrong, loc.name.rpartition(".")[0] + ".", "cl,,nonsense"):
        for call in (conn.flush, conn.move, conn.split, lambda n: conn.merge(n, n)):
            with pytest.raises(errors.InvalidArgumentError, match="unknown region"):
                call(name)
    table.put(b"1509", {b"cf:q": b"served"})  # nothing was split, merged or closed
    assert table.row(b"1509") == {b"cf:q": b"served"} and len(conn.regions("cl")) == 3


def test_an_increment_retried_after_a_clean_move_is_not_applied_twice(cluster, table):
    """The increment's answer was lost and the balancer (here: move) moved its region before
    the client's retry: the region's close hands its nonces to the next server, which answers
    the retry instead of counting again (a crash hands them over through the WAL split)."""
    from protos import minihbase_pb2 as pb
    from tests.cluster.conftest import rs_stub

    conn = table.connection

    def increment_where_served():
        loc = conn.locations.locate("cl", b"150")
        channel, stub = rs_stub(loc.address)
        try:
            return stub.Increment(pb.IncrementRequest(
                region=loc.name, row=b"150-ctr", family=b"cf", qualifier=b"n", amount=5,
                nonce_group=99, nonce=4242), timeout=10).value
        finally:
            channel.close()
    assert increment_where_served() == 5
    loc = conn.locations.locate("cl", b"150")
    conn.move(loc.name)
    cluster.wait_for(lambda: _moved(conn, loc), 60, "region to reopen elsewhere")
    assert increment_where_served() == 5  # the retry, on the region's new server
    assert table.counter_get(b"150-ctr", b"cf:n") == 5


def test_stale_location_after_region_move_is_retried_transparently(cluster, table):
    conn = table.connection
    table.put(b"150", {b"cf:q": b"before"})
    loc = conn.locations.locate("cl", b"150")
    stale = conn.locations._tables["cl"]
    conn.move(loc.name)
    cluster.wait_for(lambda: _moved(conn, loc), 60, "region to reopen elsewhere")
    conn.locations._tables["cl"] = stale  # as if the watch had not fired yet
    loads = conn.locations.loads
    table.put(b"150", {b"cf:q": b"after"})  # first attempt: NotServingRegion at the old server
    assert table.row(b"150") == {b"cf:q": b"after"}
    assert conn.locations.locate("cl", b"150").server != loc.server
    assert conn.locations.loads > loads

    conn.locations._tables["cl"] = stale  # a batch with a stale region is re-grouped and resent
    with table.batch(batch_size=10) as b:
        for r in (b"151", b"152", b"050", b"350"):
            b.put(r, {b"cf:q": b"batched"})
    assert [v[b"cf:q"] for _, v in table.scan(row_start=b"151", row_stop=b"153")] == \
        [b"batched", b"batched"]

    # a row rejected outright (unknown family) must not make the batch drop the rows that
    # only needed a resend (a stale location): they are written, then the rejection raised
    conn.locations._tables["cl"] = stale
    with pytest.raises(errors.NoSuchColumnFamilyError, match="1 row.* not written"):
        with table.batch(batch_size=10) as b:
            b.put(b"160", {b"cf:q": b"resent"})
            b.put(b"061", {b"nope:q": b"rejected"})
    assert table.row(b"160") == {b"cf:q": b"resent"}
    assert table.row(b"061") == {}

    conn.locations._tables["cl"] = stale  # rows(): a row whose first Get fails is retried
    assert table.rows([b"160", b"050"]) == [(b"160", {b"cf:q": b"resent"}),
                                            (b"050", {b"cf:q": b"batched"})]

    # a scan whose next region is stale: the open it sends ahead while the caller reads the
    # first region's rows fails at the old server, and the scan resumes after the last row
    expected = [r for r, _ in table.scan(batch_size=7)]
    assert {b"050", b"150", b"350"} <= set(expected)
    conn.locations._tables["cl"] = stale
    assert [r for r, _ in table.scan(batch_size=7)] == expected


def test_retries_waiting_out_their_back_off_go_on_as_soon_as_the_region_reopens(cluster,
                                                                                   table):
    """A put, a batch and a scan whose region stays closed for 8.5 s: their back-off has
    grown to 10 s by then (attempts at 0, 0.1, ... 4.1, 8.1 s, the next at 18.1 s), but the
    table's meta watch cuts the pause short, so each finishes right after the reopen."""
    import client
    admin = table.connection
    region = admin.locations.locate("cl", b"350").name
    admin.unassign(region)
    user = client.Connection(cluster.quorum, timeout=40)
    t = user.table("cl")
    done: dict[str, float] = {}
    failed: list = []

    def run(name, fn):
        try:
            fn()
            done[name] = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failed.append((name, exc))

    def batch():
        with t.batch() as b:
            b.put(b"351", {b"cf:q": b"batched"})

    ops = {"put": lambda: t.put(b"350", {b"cf:q": b"reopened"}), "batch": batch,
           "scan": lambda: list(t.scan(row_start=b"350", row_stop=b"352"))}
    threads = [threading.Thread(target=run, args=item) for item in ops.items()]
    try:
        for th in threads:
            th.start()
        time.sleep(8.5)
        assert not done and not failed, (done, failed)
        admin.assign(region)
        cluster.wait_for(lambda: _open(admin, b"350"), 30, "the region to reopen")
        opened = time.monotonic()
        for th in threads:
            th.join(40)
        assert not failed
        late = {name: round(at - opened, 2) for name, at in done.items()}
        assert set(late) == set(ops) and max(late.values()) < 3.0, late
        assert t.row(b"351") == {b"cf:q": b"batched"}
    finally:
        admin.assign(region)
        user.close()


def _open(conn, row: bytes) -> bool:
    conn.locations.invalidate("cl")
    try:
        return bool(conn.locations.locate("cl", row))
    except errors.RegionOfflineError:
        return False


def _stale_locations(cluster, conn, row: bytes):
    """Move the region holding `row` and return the cache entry from before the move."""
    loc = conn.locations.locate("cl", row)
    stale = conn.locations._tables["cl"]
    conn.move(loc.name)
    cluster.wait_for(lambda: _moved(conn, loc), 60, "region to reopen elsewhere")
    return stale


def test_a_full_batch_is_written_even_if_nobody_sends_again(cluster, table):
    """happybase users fill a batch to a multiple of batch_size and drop it: the last full
    buffer went out in the background and must be resent there when its region moved."""
    conn = table.connection
    conn.locations._tables["cl"] = _stale_locations(cluster, conn, b"170")
    b = table.batch(batch_size=2)
    b.put(b"170", {b"cf:q": b"bg"})
    b.put(b"171", {b"cf:q": b"bg"})  # full: sent in the background, NotServingRegion first
    assert len(b) == 0
    del b
    cluster.wait_for(lambda: table.row(b"171") == {b"cf:q": b"bg"}, 20, "the resend")
    assert table.row(b"170") == {b"cf:q": b"bg"}


def test_a_rejected_row_does_not_take_its_region_neighbours_down(cluster, table):
    with pytest.raises(errors.NoSuchColumnFamilyError, match="1 row.* not written"):
        with table.batch(batch_size=10) as b:
            b.put(b"180", {b"cf:q": b"kept"})
            b.put(b"181", {b"nope:q": b"rejected"})
            b.put(b"182", {b"cf:q": b"kept"})
            b.delete(b"183", columns=[])  # nothing to delete: no mutation at all (happybase)
    assert table.row(b"180") == {b"cf:q": b"kept"} and table.row(b"182") == {b"cf:q": b"kept"}
    assert table.row(b"181") == {}
    table.delete(b"180", columns=[])
    assert table.row(b"180") == {b"cf:q": b"kept"}
    with pytest.raises(errors.InvalidArgumentError, match="must not be empty"):
        table.batch().put(b"", {b"cf:q": b"v"})  # refused at once, as Table.put does


def test_reversed_prefix_scan_with_a_limit_returns_the_rows_asked_for(table):
    """The reversed prefix scan starts at the prefix's successor (user2 for user1), which the
    server counts against the limit when it exists, and the client drops."""
    conn = table.connection
    conn.create_table("revp", {"cf": dict()})
    t = conn.table("revp")
    for row in (b"user10", b"user11", b"user2"):
        t.put(row, {b"cf:q": row})
    assert [r for r, _ in t.scan(row_prefix=b"user1", reverse=True, limit=1)] == [b"user11"]
    assert [r for r, _ in t.scan(row_prefix=b"user1", reverse=True, limit=2)] == \
        [b"user11", b"user10"]
    assert [r for r, _ in t.scan(row_prefix=b"user1", reverse=True)] == [b"user11", b"user10"]
    conn.delete_table("revp", disable=True)


def _open_scanners(cluster) -> list[int]:
    """Server-side scanners open on each region server (its /api/server)."""
    import json
    import urllib.request
    counts = []
    for d in cluster.regionservers:
        with urllib.request.urlopen(f"http://127.0.0.1:{d.info_port}/api/server",
                                    timeout=10) as f:
            counts.append(json.load(f)["open_scanners"])
    return counts


def test_a_scan_abandoned_early_leaves_no_scanner_open_on_any_server(cluster, table):
    """A scan sends the next region's open ahead; a caller that stops iterating right after
    must not leave that scanner open on its server until the lease expires (60 s)."""
    conn = table.connection
    conn.create_table("leak", {"cf": dict()}, split_keys=[b"m"])
    t = conn.table("leak")
    t.put(b"a", {b"cf:q": b"1"})  # the first region answers its open at once, all done
    with t.batch(batch_size=100) as b:
        for i in range(50):
            b.put(b"n%03d" % i, {b"cf:q": b"2"})
    for _ in range(10):
        rows = t.scan(batch_size=10)
        assert next(rows)[0] == b"a"
        rows.close()  # the next region's open is on its way, or done
    cluster.wait_for(lambda: sum(_open_scanners(cluster)) == 0, 10,
                     "every abandoned scanner to be closed")
    conn.delete_table("leak", disable=True)


def test_a_row_larger_than_a_scan_response_comes_whole_unless_parts_are_asked(cluster, table):
    """The server sends a row over its ~2 MB response size in partial results; a scan without
    scan_batching yields it once, whole (HBase's client assembles partial results), and the
    rows around it as usual; with scan_batching the parts come as asked."""
    conn = table.connection
    conn.create_table("widerow", {"cf": dict()})
    t = conn.table("widerow")
    value = b"w" * (60 << 10)  # the shared cluster's max value is 64 KiB
    wide = {b"cf:c%03d" % i: value for i in range(100)}  # ~6 MB: three responses or more
    t.put(b"a", {b"cf:q": b"1"})
    for i in range(0, 100, 25):
        t.put(b"b", dict(list(wide.items())[i:i + 25]))
    t.put(b"c", {b"cf:q": b"3"})
    for _ in range(2):  # from the memstore, then from an HFile
        got = list(t.scan(batch_size=10))
        assert [r for r, _ in got] == [b"a", b"b", b"c"]
        assert got[1][1] == wide
        assert [r for r, _ in t.scan(row_start=b"b", limit=1)] == [b"b"]
        assert [r for r, _ in t.scan(reverse=True)] == [b"c", b"b", b"a"]
        parts = [cols for r, cols in t.scan(scan_batching=40) if r == b"b"]
        assert [len(p) for p in parts] == [40, 40, 20]
        conn.flush("widerow")
    # the region moves mid-row: the scan resumes in the row, no cell twice, none missing
    for batching, sizes in ((None, [1, 100, 1]), (40, [1, 40, 40, 20, 1])):
        rows = t.scan(scan_batching=batching, as_cells=True)
        got = [next(rows)]
        conn.move(conn.locations.locate("widerow", b"b").name)
        got += list(rows)
        assert [len(cells) for _, cells in got] == sizes, batching
        assert {c for r, cells in got if r == b"b" for c, _, _ in cells} == set(wide)
    conn.delete_table("widerow", disable=True)


def _moved(conn, old):
    conn.locations.invalidate("cl")
    try:
        return conn.locations.locate("cl", b"150").server not in ("", old.server)
    except errors.RegionOfflineError:
        return False


def test_cli_data_commands_print_tables_and_json(cluster, table):
    assert cli(cluster, "put", "cl", "r\\x00", "cf:q", "v\\xFF").returncode == 0
    got = cli(cluster, "get", "cl", "r\\x00")
    assert got.returncode == 0 and "value=v\\xFF" in got.stdout and "1 row(s)" in got.stdout
    js = cli(cluster, "--json", "scan", "cl", "--prefix", "r\\x00")
    assert js.returncode == 0
    assert '"row": "r\\\\x00"' in js.stdout and '"value": "v\\\\xFF"' in js.stdout
    # --prefix replaces --start and --stop, as the shell's ROWPREFIXFILTER (HBase's
    # setRowPrefixFilter) replaces STARTROW and STOPROW; the CLI used to refuse the pair
    for argv in (["--start", "zzz"], ["--stop", "a", "--start", "r\\x01"]):
        both = cli(cluster, "--json", "scan", "cl", "--prefix", "r\\x00", *argv)
        assert (both.returncode, both.stdout) == (0, js.stdout), both.stderr
    assert "cl" in cli(cluster, "list").stdout
    shell = cli(cluster, "shell", input="put 'cl', 'sh1', 'cf:q', 'x'\nget 'cl', 'sh1'\n"
                "count 'cl', INTERVAL => 1000000\nexit\n")
    assert shell.returncode == 0, shell.stderr
    assert "value=x" in shell.stdout and "row(s)" in shell.stdout


def test_shell_runs_a_create_written_over_several_lines_as_opentsdb_s_script(cluster):
    # OpenTSDB's create_table.sh pipes such a create into `hbase shell`
    shell = cli(cluster, "shell", input=(
        "create 'ml_uid',\n"
        "  {NAME => 'id', COMPRESSION => 'GZ', BLOOMFILTER => 'ROW'},  # ids\n"
        "  {NAME => 'name', VERSIONS => 2}\n"
        "put 'ml_uid', 'r1', \\\n  'name:q', 'v'\n"
        "get 'ml_uid', 'r1', {COLUMN => 'name:q',\n  VERSIONS => 2}\n"))
    assert shell.returncode == 0, shell.stderr
    assert "Created table ml_uid" in shell.stdout and "value=v" in shell.stdout
    described = json.loads(cli(cluster, "--json", "describe", "ml_uid").stdout)
    families = {f["name"]: f for f in described["families"]}
    assert families["id"]["compression"] == "GZ" and families["name"]["max_versions"] == 2


def test_status_simple_and_detailed_show_load_per_server_and_region(cluster, table):
    table.put(b"st1", {b"cf:q": b"v"})
    regions = {r["name"] for r in table.regions()}

    def detailed():
        p = cli(cluster, "status", "detailed")
        assert p.returncode == 0, p.stderr
        return p.stdout, {line.strip().strip('"') for line in p.stdout.splitlines()
                          if line.strip().startswith('"')}
    # the table's regions, each under the server hosting it (a region split or moved by an
    # earlier test shows once its server's next load report reaches the master)
    cluster.wait_for(lambda: regions <= detailed()[1], 20, "status to list every region")
    out = detailed()[0]
    assert out.count("numberOfOnlineRegions=") == 3  # one line per server
    assert "writeRequestsCount=" in out and "walSizeMB=" in out
    shell = cli(cluster, "shell", input="status 'simple'\nstatus 'nope'\n")
    assert shell.stdout.count("numberOfOnlineRegions=") == 3
    assert "readRequestsCount" not in shell.stdout
    assert "status format must be one of summary, simple, detailed, not 'nope'" in shell.stderr
    js = json.loads(cli(cluster, "--json", "status").stdout)
    assert regions <= {r["name"] for s in js["servers"] for r in s["region_loads"]}


def test_a_happybase_connection_pool_lends_each_connection_to_one_thread(cluster, table):
    import client

    pool = client.ConnectionPool(2, cluster.quorum, timeout=30)
    lent, errors, release = [], [], threading.Event()

    def borrower(i):
        try:
            with pool.connection() as conn:
                with pool.connection() as again:  # nested: the same one (happybase)
                    assert again is conn
                conn.table("cl").put(b"pool%d" % i, {b"cf:q": b"%d" % i})
                lent.append(conn)
                release.wait(30)
        except Exception as e:  # noqa: BLE001 -- reported by the assert below
            errors.append(e)

    threads = [threading.Thread(target=borrower, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        cluster.wait_for(lambda: len(lent) + len(errors) >= 2, 30,
                         "both borrowers to hold a connection")
        with pytest.raises(client.NoConnectionsAvailable, match="pool of 2 within 0.2 s"):
            with pool.connection(timeout=0.2):
                pass
    finally:
        release.set()
        for t in threads:
            t.join(60)
    assert errors == [] and len({id(c) for c in lent}) == 2
    with pool.connection(timeout=5) as conn:  # returned: lent again
        assert conn in lent and conn.table("cl").row(b"pool1") == {b"cf:q": b"1"}
    pool.close()
    with pool.connection() as conn:  # closed ones are reopened on demand
        assert conn not in lent and conn.table("cl").row(b"pool0") == {b"cf:q": b"0"}
    pool.close()


def test_cli_errors_are_one_line_with_exit_codes(cluster, table):
    missing = cli(cluster, "get", "no_such_table", "r")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "ERROR: table 'no_such_table' does not exist"
    usage = cli(cluster, "put", "cl", "r")
    assert usage.returncode == 2 and usage.stderr.startswith("ERROR: ")
    for argv in (["put", "cl", "r", "cf:q", "v", "--ts", "-5"], ["scan", "cl", "--limit", "0"]):
        out_of_range = cli(cluster, *argv)  # a wrong argument, as a missing one: exit 2
        assert out_of_range.returncode == 2, (argv, out_of_range.stderr)
        assert out_of_range.stderr.startswith("ERROR: argument ")
    bad_family = cli(cluster, "put", "cl", "r", "nope:q", "v")
    assert bad_family.returncode == 1 and "Traceback" not in bad_family.stderr
    assert len(bad_family.stderr.strip().splitlines()) == 1
    shell = cli(cluster, "shell", input="get 'no_such_table', 'r'\nlist\n")
    assert shell.returncode == 1
    assert shell.stderr == "ERROR: standard input, line 1: table 'no_such_table' does not exist\n"


def test_cli_reports_unreachable_zookeeper_within_the_timeout():
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "client.cli", "--zk", "127.0.0.1:1",
                        "--timeout", "2", "list"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.startswith("ERROR: cannot reach ZooKeeper at 127.0.0.1:1")
    assert len(p.stderr.strip().splitlines()) == 1
    assert time.monotonic() - start < 10


def _stopped(pid: int) -> bool:
    """SIGSTOP is delivered asynchronously: wait until the kernel reports the process stopped."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")


def test_operation_timeout_when_every_region_server_hangs(cluster_factory):
    import client
    c = cluster_factory("hang", regionservers=1, masters=1)
    conn = client.Connection(c.quorum, timeout=30)
    try:
        conn.create_table("h", {"cf": {}})
        t = conn.table("h")
        t.put(b"r", {b"cf:q": b"v"})
        conn.retry.timeout = 2.0
        rs = c.regionservers[0]
        rs.signal(signal.SIGSTOP)
        try:
            c.wait_for(lambda: _stopped(rs.pid), 10, "the region server to be stopped")
            start = time.monotonic()
            with pytest.raises(errors.OperationTimeoutError, match="get of row 'r'"):
                t.row(b"r")
            assert time.monotonic() - start < 4.0
        finally:
            c.regionservers[0].signal(signal.SIGCONT)
    finally:
        conn.close()
        c.stop(timeout=20)


@pytest.fixture(scope="module")
def big_values(cluster_factory):
    """A cluster taking 16 MiB values, and a connection to it."""
    import client
    c = cluster_factory("bigvalues", regionservers=1, masters=1, max_value_bytes=16 << 20)
    conn = client.Connection(c.quorum, timeout=60)
    yield c, conn
    conn.close()
    c.stop(timeout=20)


def test_a_batch_larger_than_a_message_is_sent_in_parts_and_written_whole(big_values):
    """A batch of valid rows whose bytes pass the region server's 256 MiB message limit
    failed whole ("Received message larger than max", none written): the client sends one
    server's rows in several Multi calls of about MAX_MULTI_BYTES (HBase's per-request heap
    size), so every row is written."""
    _, conn = big_values
    conn.create_table("big", {"cf": dict()})
    t = conn.table("big")
    value = b"v" * (15 << 20)
    rows = 18  # 270 MiB
    assert rows * len(value) > (256 << 20)
    with t.batch(batch_size=1000) as b:
        for i in range(rows):
            b.put(b"r%02d" % i, {b"cf:q": value, b"cf:n": b"%d" % i})
        b.delete(b"r05", columns=[b"cf:n"])  # after its put: one row's order is kept
    got = dict(t.scan(columns=[b"cf:n"]))
    assert got == {b"r%02d" % i: {b"cf:n": b"%d" % i} for i in range(rows) if i != 5}
    assert t.row(b"r17", columns=[b"cf:q"]) == {b"cf:q": value}
    conn.delete_table("big", disable=True)


def test_a_get_of_a_row_over_the_message_limit_says_so_and_a_scan_reads_it(big_values):
    """A Get of a 270 MiB row failed with gRPC's bare RESOURCE_EXHAUSTED ("Sent message
    larger than max"); it now names the row and the limit (--max-row-bytes, HBase's
    RowTooBigException), also once the row is in a file, the CLI prints that in one line, a
    Get of one of its columns answers, and a scan of the row returns it (in parts, put
    together)."""
    c, conn = big_values
    conn.create_table("wide", {"cf": dict()})
    t = conn.table("wide")
    value = b"w" * (15 << 20)
    for i in range(18):
        t.put(b"row", {b"cf:c%02d" % i: value})
    too_big = "row 'row' of table 'wide' holds more than 128 MiB of cells"
    with pytest.raises(errors.RowTooBigError, match=too_big):
        t.row(b"row")
    conn.flush("wide")
    with pytest.raises(errors.RowTooBigError, match=too_big):
        t.row(b"row")
    assert t.row(b"row", columns=[b"cf:c03"]) == {b"cf:c03": value}
    got = cli(c, "get", "wide", "row")
    assert got.returncode == 1 and "Traceback" not in got.stderr
    assert too_big in got.stderr + got.stdout
    (row, cells), = list(t.scan())
    assert row == b"row" and cells == {b"cf:c%02d" % i: value for i in range(18)}
    conn.delete_table("wide", disable=True)


def test_a_put_of_a_row_over_the_message_limit_is_refused_up_front(big_values):
    """One put of a 270 MiB row reached the region server and came back as gRPC's bare
    RESOURCE_EXHAUSTED ("Received message larger than max"), after sending it all. The client
    now refuses it before sending, naming the row and the limit, and so it does for a
    check-and-put, an append and a batch's put (whose other rows are written); the row
    written in several puts is stored whole."""
    _, conn = big_values
    conn.create_table("huge", {"cf": dict()})
    t = conn.table("huge")
    value = b"h" * (15 << 20)
    data = {b"cf:c%02d" % i: value for i in range(18)}
    too_big = r"of row 'big' is 270.0 MiB, over the 255.9 MiB one request to a region server"
    with pytest.raises(errors.InvalidArgumentError, match="put " + too_big):
        t.put(b"big", data)
    with pytest.raises(errors.InvalidArgumentError, match="check-and-put " + too_big):
        t.check_and_put(b"big", b"cf:c00", None, data)
    with pytest.raises(errors.InvalidArgumentError, match="append " + too_big):
        t.append(b"big", data)
    with pytest.raises(errors.InvalidArgumentError, match="put " + too_big):
        with t.batch() as b:
            b.put(b"a", {b"cf:q": b"1"})
            b.put(b"big", data)
    assert dict(t.scan(columns=[b"cf:q"])) == {b"a": {b"cf:q": b"1"}}
    assert t.row(b"big", columns=[b"cf:c00"]) == {}
    for i in range(0, 18, 6):
        t.put(b"big", {c: v for c, v in data.items() if int(c[4:]) in range(i, i + 6)})
    (row, cells), = list(t.scan(row_start=b"big", row_stop=b"big\x00"))
    assert row == b"big" and cells == data
    conn.delete_table("huge", disable=True)


def test_scan_ends_with_a_timeout_when_a_later_region_stays_unreachable(cluster_factory):
    """A scan that resumes in the region before a dead server's keeps getting that far and no
    further (until the session expires, meta points at the dead server, whose calls fail at
    once): the operation timeout still ends it. It used to restart the retry budget on every
    resume, so it went on until the region was back, or forever if it never came back."""
    import client
    from tests.cluster.conftest import daemon_of
    c = cluster_factory("scanhang", regionservers=2, masters=1)
    conn = client.Connection(c.quorum, timeout=30)
    try:
        conn.create_table("scanhang", {"cf": {}}, split_keys=[b"m"])
        t = conn.table("scanhang")
        for row in (b"a", b"b", b"x", b"y"):
            t.put(row, {b"cf:q": row})
        first, second = sorted(conn.regions("scanhang"), key=lambda r: r["start_key"])
        if second["server"] == first["server"]:
            other = next(s["name"] for s in conn.status()["servers"]
                         if s["name"] != first["server"])
            conn.move(second["name"], other)
            c.wait_for(lambda: {r["server"] for r in conn.regions("scanhang")
                                if r["state"] == "OPEN"} == {first["server"], other}, 30,
                       "the second region to move")
            second = next(r for r in conn.regions("scanhang") if r["start_key"] == b"m")
        assert [r for r, _ in t.scan()] == [b"a", b"b", b"x", b"y"]
        daemon_of(c, second["server"]).signal(signal.SIGKILL)
        conn.retry.timeout = 3.0
        start, got = time.monotonic(), []
        with pytest.raises(errors.OperationTimeoutError, match="scan of table 'scanhang'"):
            for row, _ in t.scan(batch_size=1):
                got.append(row)
        assert got == [b"a", b"b"] and time.monotonic() - start < 6.0
    finally:
        conn.close()
        c.stop(timeout=20)


def test_cached_locations_serve_reads_and_writes_while_zookeeper_is_down(tmp_path):
    """ZooKeeper killed (a crash, or `docker compose restart zookeeper`): the client keeps its
    cached locations, so gets and puts to region servers that are fine go on, as with HBase's
    clients. They used to stop, because kazoo fires every watch when the connection drops
    and each watch dropped the cache. Afterwards ZooKeeper comes back and all is current."""
    import client
    from minihbase.local_cluster import LocalCluster
    from minihbase.zookeeper import ZooKeeperServer

    zk = ZooKeeperServer(str(tmp_path / "zk")).start()
    c = LocalCluster(str(tmp_path / "c"), regionservers=1, masters=1, zk_quorum=zk.quorum,
                     start_timeout=90.0)
    conn = None
    try:
        c.start()
        conn = client.Connection(c.quorum, timeout=5)
        conn.create_table("zkdown", {"cf": {}})
        t = conn.table("zkdown")
        t.put(b"before", {b"cf:q": b"1"})
        assert t.row(b"before") == {b"cf:q": b"1"}
        os.killpg(zk.process.pid, signal.SIGKILL)
        zk.process.wait(10)
        c.wait_for(lambda: conn._zk.state == "SUSPENDED", 20, "the client to see ZooKeeper gone")
        time.sleep(0.5)  # kazoo's watch callbacks run on its own thread
        t.put(b"during", {b"cf:q": b"2"})
        assert t.row(b"before") == {b"cf:q": b"1"} and t.row(b"during") == {b"cf:q": b"2"}
        zk = ZooKeeperServer(zk.directory, port=zk.port).start()
        c.wait_for(lambda: conn._zk.state == "CONNECTED", 30, "the client to reconnect")
        t.put(b"after", {b"cf:q": b"3"})
        assert [r for r, _ in t.scan()] == [b"after", b"before", b"during"]
    finally:
        if conn is not None:
            conn.close()
        c.stop(timeout=20)
        zk.stop()


def test_cli_gives_up_on_a_frozen_zookeeper_within_its_timeout(tmp_path):
    """A ZooKeeper that accepts connections but never answers (frozen): the CLI's --timeout
    holds. kazoo's own start() waited for the stuck handshake (11 s for --timeout 3)."""
    from minihbase.zookeeper import ZooKeeperServer

    zk = ZooKeeperServer(str(tmp_path)).start()
    zk.process.send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "client.cli", "--zk", zk.quorum,
                            "--timeout", "3", "list"], capture_output=True, text=True,
                           timeout=60)
        took = time.monotonic() - start
        assert p.returncode == 1 and p.stderr.startswith("ERROR: cannot reach ZooKeeper"), p
        assert took < 6.0, took
    finally:
        zk.process.send_signal(signal.SIGCONT)
        zk.stop()


def test_operation_timeout_holds_when_zookeeper_hangs_during_a_meta_read(tmp_path):
    """Locations are not cached and ZooKeeper is frozen: the meta reads are cut off by the
    time the operation has left (not 5 s each), so get and batched put still end in a clear
    OperationTimeoutError within the operation timeout."""
    import client
    from minihbase.zookeeper import ZooKeeperServer

    zk = ZooKeeperServer(str(tmp_path)).start()
    conn = client.Connection(zk.quorum, timeout=6)
    try:
        zk.process.send_signal(signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 10
            while not _stopped(zk.process.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            t = conn.table("anywhere")

            def batch():
                with t.batch() as b:
                    b.put(b"r", {b"cf:q": b"v"})

            for what, call in (("get of row", lambda: t.row(b"r")),
                               ("put of row", lambda: t.put(b"r", {b"cf:q": b"v"})),
                               ("batch on table", batch)):
                start = time.monotonic()
                with pytest.raises(errors.OperationTimeoutError, match=what) as info:
                    call()
                assert "ZooKeeper" in str(info.value)
                assert time.monotonic() - start < 6 + 1.0, what
        finally:
            zk.process.send_signal(signal.SIGCONT)
    finally:
        conn.close()
        zk.stop()


def test_cli_reports_missing_master_within_the_timeout(zookeeper):
    from coordination.zk import connect
    admin = connect(zookeeper.quorum)
    admin.ensure_path("/nomaster/hbase/tables")
    admin.stop()
    admin.close()
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "client.cli", "--zk",
                        zookeeper.quorum + "/nomaster", "--timeout", "2", "list"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("ERROR: list: gave up after")
    assert "no active master" in p.stderr
    assert time.monotonic() - start < 10


def test_shell_scan_with_versions_prints_every_version(cluster, table):
    table.put(b"ver", {b"cf:q": b"one"})
    table.put(b"ver", {b"cf:q": b"two"})
    p = cli(cluster, "shell", input="scan 'cl', {STARTROW => 'ver', STOPROW => 'ves', "
            "VERSIONS => 3}\n")
    assert p.returncode == 0, p.stderr
    assert "value=two" in p.stdout and "value=one" in p.stdout and "1 row(s)" in p.stdout


def test_shell_converters_show_counters_and_text_as_hbase_s_do(cluster, table):
    table.counter_inc(b"conv", b"cf:n", 42)
    table.put(b"conv", {b"cf:t": "é".encode()})
    shell = cli(cluster, "shell", input=(
        "get 'cl', 'conv', {COLUMN => ['cf:n:toLong', 'cf:t']}\n"
        "scan 'cl', {STARTROW => 'conv', STOPROW => 'conw', COLUMNS => ['cf:t'], "
        "FORMATTER => 'toString'}\n"
        "get 'cl', 'conv', 'cf:t:toLong'\n"))
    lines = shell.stdout.splitlines()
    assert re.search(r"^ cf:n +timestamp=\d+, value=42$", "\n".join(lines), re.M)
    assert any(x.startswith(" cf:t ") and x.endswith("value=\\xC3\\xA9") for x in lines)
    assert any(x.startswith(" conv ") and x.endswith("column=cf:t, timestamp=" + x.split(
        "timestamp=")[1].split(",")[0] + ", value=é") for x in lines)
    assert "toLong needs a value of 8 bytes, not 2 (\\xC3\\xA9)" in shell.stderr


def test_raw_scans_show_delete_markers_in_the_client_shell_and_cli(cluster, table):
    table.put(b"raw1", {b"cf:q": b"kept", b"cf:gone": b"x"}, timestamp=5)
    table.delete(b"raw1", columns=[b"cf:gone"], timestamp=6)
    assert dict(table.scan(row_prefix=b"raw")) == {b"raw1": {b"cf:q": b"kept"}}
    assert list(table.scan(row_prefix=b"raw", raw=True)) == [(b"raw1", [
        (b"cf:gone", b"", 6, "DeleteColumn"), (b"cf:gone", b"x", 5, "Put"),
        (b"cf:q", b"kept", 5, "Put")])]
    p = cli(cluster, "shell", input="scan 'cl', {ROWPREFIXFILTER => 'raw', RAW => true}\n")
    assert p.returncode == 0, p.stderr
    assert "column=cf:gone, timestamp=6, type=DeleteColumn" in p.stdout
    assert "column=cf:gone, timestamp=5, value=x" in p.stdout and "1 row(s)" in p.stdout
    p = cli(cluster, "scan", "cl", "--prefix", "raw", "--raw", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["cells"][0] == {
        "column": "cf:gone", "timestamp": 6, "value": "", "type": "DeleteColumn"}


def test_time_ranges_and_limits_follow_hbase_and_happybase(cluster, table):
    for ts in (10, 20, 30):
        table.put(b"tr", {b"cf:q": b"v%d" % ts}, timestamp=ts)
    assert table.row(b"tr", timestamp=0) == {}  # strictly older than 0: nothing
    assert table.row(b"tr", timestamp=25) == {b"cf:q": b"v20"}
    assert table.get_cells(b"tr", [b"cf:q"], versions=3, time_range=(20, 21)) == [
        (b"cf:q", b"v20", 20)]
    assert [(r, d) for r, d in table.scan(row_prefix=b"tr", time_range=(10, 20))] == [
        (b"tr", {b"cf:q": b"v10"})]
    with pytest.raises(errors.InvalidArgumentError, match="limit must be >= 1"):
        list(table.scan(limit=0))
    with pytest.raises(errors.InvalidArgumentError, match="timestamps must be >= 0"):
        table.row(b"tr", timestamp=-1)
    p = cli(cluster, "shell", input="get 'cl', 'tr', {COLUMN => 'cf:q', TIMESTAMP => 20, "
            "VERSIONS => 3}\nget 'cl', 'tr', {TIMESTAMP => 25}\n")
    assert p.returncode == 0, p.stderr
    assert "value=v20" in p.stdout and "value=v10" not in p.stdout
    assert "value=v30" not in p.stdout and "1 row(s)" in p.stdout and "0 row(s)" in p.stdout


def test_shell_reports_a_line_that_is_not_utf8_and_goes_on(cluster, table):
    p = subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum, "--timeout",
                        "10", "shell"], input=b"\xff\xfe 'cl'\nexists 'cl'\n",
                       capture_output=True, timeout=60)
    assert p.returncode == 1
    assert b"standard input, line 1: not UTF-8" in p.stderr and b"Traceback" not in p.stderr
    assert b"Table cl does exist" in p.stdout


def test_a_name_that_is_not_utf8_is_a_usage_error_naming_it_and_binary_rows_still_work(
        cluster, table):
    """A command-line argument that is not UTF-8 reaches Python as a str with lone surrogates:
    a row key or value is sent as the bytes given, a name is refused, saying which."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    base = [sys.executable, "-m", "client.cli", "--zk", cluster.quorum, "--timeout", "10"]
    for argv, bad in ((["describe", b"t\xff"], "'t\\xff'"),
                      (["create", "t9", b"c\xff"], "'c\\xff'"),
                      (["snapshot", "cl", b"s\xff"], "'s\\xff'")):
        p = subprocess.run(base + argv, capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 2, (argv, p.stderr)
        assert p.stderr == f"ERROR: {bad} is not UTF-8 text (byte 2): names of tables, " \
                           f"families, namespaces and snapshots must be\n", p.stderr
    p = subprocess.run(base + ["put", "cl", b"bin\xff", "cf:q", b"v\xfe"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert table.row(b"bin\xff") == {b"cf:q": b"v\xfe"}
    shell = subprocess.run(base + ["shell"], input=b'describe "t\\xff"\nexists "cl"\n',
                           capture_output=True, timeout=60)
    assert shell.returncode == 1
    assert shell.stderr == (b'ERROR: standard input, line 1: table name "t\\xff" is not '
                            b'UTF-8 text (byte 2)\n'), shell.stderr
    assert b"Table cl does exist" in shell.stdout
    with pytest.raises(errors.InvalidArgumentError, match="not UTF-8 text"):
        table.row(b"r", columns=["cf:\udcff"])
    with pytest.raises(errors.InvalidArgumentError, match="not UTF-8 text"):
        table.connection.table(b"t\xff")


def test_an_empty_multi_request_is_answered_not_an_internal_error(cluster, table):
    from protos import minihbase_pb2 as pb
    conn = table.connection
    address = conn.locations.locate("cl", b"a").address
    assert list(conn.channels.region_server(address).Multi(pb.MultiRequest(),
                                                           timeout=10).results) == []


def test_json_scan_of_an_unknown_table_prints_no_partial_document(cluster):
    p = cli(cluster, "--json", "scan", "nosuchtable")
    assert p.returncode == 1 and p.stdout == "", p.stdout
    assert "does not exist" in p.stderr and "Traceback" not in p.stderr
    p = cli(cluster, "get", "cl", "r", "--versions", "-3")
    assert p.returncode == 2 and "--versions: must be between 1 and" in p.stderr, p.stderr


def test_a_closed_connection_fails_at_once_and_says_so(cluster, table):
    import client
    conn = client.Connection(cluster.quorum, timeout=20)
    t = conn.table("cl")
    t.row(b"r")  # locations cached
    conn.close()
    start = time.monotonic()
    for call in (lambda: t.row(b"r"), lambda: t.put(b"r", {b"cf:q": b"v"}),
                 lambda: list(t.scan(limit=1)), conn.tables):
        with pytest.raises(errors.ConnectionClosedError, match="closed"):
            call()
    assert time.monotonic() - start < 2  # not the whole 20 s timeout



def test_a_call_whose_connection_is_closed_under_it_says_so(cluster, table):
    """Another thread's close() lands after a call found its server's stub but before it
    sent: the call raises ConnectionClosedError, not gRPC's "Cannot invoke RPC on closed
    channel" ValueError, and opens no new channel."""
    import client
    def batch(t):
        b = t.batch()
        b.put(b"racing", {b"cf:q": b"v"})
        b.send()

    calls = {"get": lambda t: t.row(b"racing"), "put": lambda t: t.put(b"racing", {b"cf:q": b"v"}),
             "rows": lambda t: t.rows([b"racing", b"racing2"]), "batch": batch,
             "scan": lambda t: list(t.scan(row_prefix=b"racing")),
             "tables": lambda t: t.connection.tables()}
    for name, call in calls.items():
        conn = client.Connection(cluster.quorum, timeout=20)
        t = conn.table("cl")
        t.row(b"racing")  # locations cached
        conn.tables()     # the master's address too
        pool = conn.channels

        def close_first(getter):
            def get(address):
                stub = getter(address)
                conn.close()  # as if another thread closed the connection right now
                return stub
            return get

        pool.region_server = close_first(pool.region_server)
        pool.master = close_first(pool.master)
        with pytest.raises(errors.ConnectionClosedError, match="closed"):
            call(t)
        assert pool.addresses() == [], name


def test_closing_a_connection_ends_its_open_scans_and_waits_for_its_batches(cluster, table):
    import client
    with table.batch(batch_size=100) as b:
        for i in range(40):
            b.put(b"2%02d" % i, {b"cf:q": b"v"})
    conn = client.Connection(cluster.quorum, timeout=20)
    t = conn.table("cl")
    rows = t.scan(row_start=b"200", row_stop=b"240", batch_size=5)
    assert next(rows)[0] == b"200"  # a server scanner is open, its next batch asked for
    b = t.batch(batch_size=3)
    for r in (b"bg1", b"bg2", b"bg3"):  # full: goes out in the background
        b.put(r, {b"cf:q": b"x"})
    conn.close()
    with pytest.raises(errors.ConnectionClosedError, match="closed"):
        for _ in range(10):
            next(rows)
    cluster.wait_for(lambda: sum(_open_scanners(cluster)) == 0, 5,
                     "the closed connection's scanner to be closed")
    assert [r for r, _ in table.rows([b"bg1", b"bg2", b"bg3"])] == [b"bg1", b"bg2", b"bg3"]


def test_cli_reaches_a_cluster_under_another_parent_znode(cluster, table):
    # The shared cluster sits under a chroot: name it as the parent znode instead.
    quorum, chroot = cluster.quorum.split("/", 1)
    parent = f"/{chroot}/hbase"

    def run(*args, env=None, input=None):
        return subprocess.run([sys.executable, "-m", "client.cli", "--zk", quorum,
                               "--timeout", "3", *args], capture_output=True, text=True,
                              timeout=60, env=env, input=input)

    assert "cl" in run("--zk-parent", parent, "list").stdout
    env = dict(os.environ, MINIHBASE_ZK_PARENT=parent)
    shell = run("shell", env=env, input="list\n")
    assert shell.returncode == 0 and "cl" in shell.stdout, shell.stderr
    default = run("list")  # /hbase of the bare quorum holds no cluster
    assert default.returncode == 1
    assert "no active master" in default.stderr or "no minihbase cluster" in default.stderr
    # A parent that does not exist is named as such (not "table does not exist", nor a wait
    # for a master), as HBase's "The node /hbase is not in ZooKeeper".
    for args in (("get", "cl", "r1"), ("list",)):
        wrong = run("--zk-parent", f"/{chroot}/nope", *args)
        assert wrong.returncode == 1
        assert wrong.stderr.strip() == (f"ERROR: no minihbase cluster in ZooKeeper at {quorum}: "
                                        f"/{chroot}/nope does not exist (the master writes it; "
                                        "is --zk-parent right? a cluster's default is /hbase)")


def test_an_unreachable_zookeeper_is_named_with_the_reason(cluster):
    def run(zk):
        return subprocess.run([sys.executable, "-m", "client.cli", "--zk", zk, "--timeout", "2",
                               "list"], capture_output=True, text=True, timeout=60)

    typo = run("no-such-zookeeper-host.invalid:2181")
    assert typo.returncode == 1 and "host 'no-such-zookeeper-host.invalid' does not resolve" \
        in typo.stderr
    closed = run(f"127.0.0.1:{free_port()}")
    assert closed.returncode == 1 and "refused the connection (is ZooKeeper running there?)" \
        in closed.stderr
    assert "Traceback" not in typo.stderr + closed.stderr


def test_get_counter_says_when_there_is_none_and_refuses_other_values(cluster, table):
    missing = cli(cluster, "get_counter", "cl", "no-counter", "cf:n")
    assert missing.returncode == 0
    assert missing.stdout.strip() == "No counter found at specified coordinates"
    assert table.counter_get(b"no-counter", b"cf:n") == 0  # happybase's answer
    table.put(b"not-a-counter\x00", {b"cf:n": b"abc"})
    bad = cli(cluster, "get_counter", "cl", "not-a-counter\\x00", "cf:n")
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("ERROR: 'cf:n' in row 'not-a-counter\\x00' of table 'cl' "
                                  "holds 3 bytes, not an 8-byte counter")
    with pytest.raises(errors.InvalidArgumentError):
        table.counter_get(b"not-a-counter\x00", b"cf:n")
    incr = cli(cluster, "incr", "cl", "not-a-counter\\x00", "cf:n")
    assert incr.returncode == 1 and "'cf:n'" in incr.stderr and "b'" not in incr.stderr


def test_errors_name_binary_rows_as_the_hbase_shell_prints_them(cluster, table):
    big = "x" * (64 * 1024 + 1)  # the shared cluster's max_value_bytes is 64 KiB
    p = cli(cluster, "put", "cl", "r\\x00\\xFF", "cf:q", big)
    assert p.returncode == 1
    assert "row 'r\\x00\\xFF' column 'cf:q' is 65537 bytes" in p.stderr, p.stderr
    assert "b'" not in p.stderr


def test_shell_delete_removes_one_version_and_deleteall_every_older_one(cluster, table):
    """HBase 2.x: `delete` is Delete.addColumn (the version at ts, or the newest), `deleteall`
    with a column is addColumns (every version <= ts)."""
    for ts in (1000, 2000, 3000):
        table.put(b"dv", {b"cf:a": b"v%d" % ts}, timestamp=ts)
    versions = lambda: [ts for _, _, ts in table.get_cells(b"dv", [b"cf:a"], versions=3)]
    shell = cli(cluster, "shell", input="delete 'cl', 'dv', 'cf:a', 2000\n")
    assert shell.returncode == 0, shell.stderr
    assert versions() == [3000, 1000]
    assert cli(cluster, "delete", "cl", "dv", "cf:a").returncode == 0  # the newest
    assert versions() == [1000]
    table.put(b"dv", {b"cf:a": b"again"}, timestamp=4000)
    assert cli(cluster, "deleteall", "cl", "dv", "cf:a", "--ts", "4000").returncode == 0
    assert versions() == []


def test_split_of_a_table_skips_regions_that_cannot_split(cluster, table):
    conn = table.connection
    conn.create_table("sp", {"cf": dict()}, split_keys=[b"m"])
    t = conn.table("sp")
    for r in (b"n1", b"n5", b"n9"):  # the first region stays empty: no split point
        t.put(r, {b"cf:q": b"v"})
    conn.flush("sp")  # split points come from files, as in HBase
    p = cli(cluster, "split", "sp")
    assert p.returncode == 0, p.stderr
    cluster.wait_for(lambda: len([r for r in conn.regions("sp") if r["state"] == "OPEN"]) == 3,
                     30, "the region holding the rows to split")
    assert [r for r, _ in t.scan()] == [b"n1", b"n5", b"n9"]
    conn.create_table("sp_empty", {"cf": dict()})
    p = cli(cluster, "split", "sp_empty")  # not one region could split: that is an error
    assert p.returncode == 1 and "split point" in p.stderr, p.stderr
    for name in ("sp", "sp_empty"):
        conn.delete_table(name, disable=True)


def test_cli_refuses_what_hbase_refuses_and_reads_latest_timestamp(cluster, table):
    dup = cli(cluster, "create", "dupf", "cf", "cf")
    assert dup.returncode == 2 and "'cf' is given twice" in dup.stderr, dup.stderr
    assert not table.connection.exists("dupf")
    table.put(b"tsrow", {b"cf:a": b"v"})
    latest = cli(cluster, "get", "cl", "tsrow", "--ts", "9223372036854775807")
    assert latest.returncode == 0 and "value=v" in latest.stdout, latest.stderr
    negative = cli(cluster, "get", "cl", "tsrow", "--ts", "-1")
    assert negative.returncode == 2 and "--ts: must be between 0 and" in negative.stderr
    shell = cli(cluster, "shell", input="get 'cl', 'tsrow', {TIMERANGE => [3000, 1000]}\n"
                "major_compact 'cl', 'nope'\n")
    assert shell.returncode == 1
    assert "max 1000 is smaller than min 3000" in shell.stderr
    assert "'nope' does not exist in table 'cl'" in shell.stderr


def test_shell_presplits_with_an_algorithm_and_shows_where_regions_are(cluster, table):
    shell = cli(cluster, "shell", input=(
        "create 'hexs', 'cf', {NUMREGIONS => 4, SPLITALGO => 'HexStringSplit'}\n"
        "get_splits 'hexs'\n"
        "list_regions 'hexs'\n"
        "locate_region 'hexs', '90'\n"
        "put 'hexs', '81', 'cf:q', 'x'\n"
        "put 'hexs', '90', 'cf:q', 'y'\n"
        "scan 'hexs', {STARTROW => '0', STOPROW => '1', ROWPREFIXFILTER => '8'}\n"
        "version\n"
        "whoami\n"))
    assert shell.returncode == 0, shell.stderr
    out = shell.stdout
    assert "Total number of splits = 4\n40000000\n80000000\nc0000000\n" in out
    assert "4 row(s)" in out  # list_regions
    located = out.split("4 row(s)")[1]
    assert re.search(r" 80000000 +c0000000 +OPEN", located), out  # the region of row '90'
    assert "column=cf:q, timestamp=" in out and "value=x" in out and "value=y" not in out
    assert "minihbase " in out
    bad = cli(cluster, "shell", input="create 'hexb', 'cf', {NUMREGIONS => 4}\n")
    assert bad.returncode == 1 and "needs SPLITALGO" in bad.stderr
    table.connection.delete_table("hexs", disable=True)


@pytest.fixture(scope="module")
def filtered(cluster):
    """Table `flt`: regions [, b) [b, d) [d, ) on the servers, rows a*, c*, e* in each."""
    import client
    conn = client.Connection(cluster.quorum, timeout=30)
    conn.create_table("flt", {"cf": {}}, split_keys=[b"b", b"d"])
    t = conn.table("flt")
    for key, kind in ((b"a1", b"keep"), (b"a2", b"keep"), (b"c1", b"keep"), (b"c2", b"stop"),
                      (b"e1", b"keep"), (b"e2", b"keep")):
        t.put(key, {b"cf:kind": kind, b"cf:n": key[1:]})
    yield t
    conn.close()


KEEP = "SingleColumnValueFilter('cf', 'kind', =, 'binary:keep')"


def test_filters_run_in_every_region_and_end_the_whole_scan_when_they_say_so(filtered):
    def keys(**kw):
        return [k for k, _ in filtered.scan(**kw)]

    assert keys(filter=KEEP) == [b"a1", b"a2", b"c1", b"e1", b"e2"]
    assert keys(filter=KEEP, reverse=True, limit=3) == [b"e2", b"e1", b"c1"]
    # WHILE stops at c2; the third region's matching rows must not be scanned at all
    assert keys(filter="WHILE " + KEEP) == [b"a1", b"a2", b"c1"]
    assert keys(filter="PageFilter(2)") == [b"a1", b"a2"]  # the first region filled the page
    # As HBase's, a page is filled per region (docs/cli.md): a region with fewer rows than
    # the page does not end the scan, and the next region starts a page of its own
    assert keys(filter="PageFilter(3)") == [b"a1", b"a2", b"c1", b"c2", b"e1", b"e2"]
    assert keys(filter="PageFilter(3)", limit=3) == [b"a1", b"a2", b"c1"]  # a total: limit
    assert dict(filtered.scan(filter="ColumnPrefixFilter('n') AND PrefixFilter('e')")) == {
        b"e1": {b"cf:n": b"1"}, b"e2": {b"cf:n": b"2"}}
    assert filtered.count() == 6 and filtered.count(filter=KEEP) == 5
    assert filtered.get_cells(b"c2", filter="ValueFilter(=, 'binary:stop')") == [
        (b"cf:kind", b"stop", filtered.get_cells(b"c2", [b"cf:kind"])[0][2])]


def test_a_bad_filter_is_an_invalid_argument_and_the_servers_go_on(cluster, filtered):
    with pytest.raises(errors.InvalidArgumentError, match=r"filter \"PrefixFilter\('a'\) "
                       r"PageFilter\(1\)\": unexpected 'PageFilter'"):
        list(filtered.scan(filter="PrefixFilter('a') PageFilter(1)"))
    with pytest.raises(errors.InvalidArgumentError, match="unknown filter 'Nope'"):
        filtered.get_cells(b"a1", filter="Nope()")
    assert filtered.row(b"a1") == {b"cf:kind": b"keep", b"cf:n": b"1"}
    bad = cli(cluster, "scan", "flt", "--filter", "ValueFilter(<, 'substring:x')")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "ERROR: filter \"ValueFilter(<, 'substring:x')\": only = and != compare with a "
        "substring comparator"]


def test_cli_and_shell_take_hbase_filter_strings(cluster, filtered):
    p = cli(cluster, "scan", "flt", "--filter", "PrefixFilter('c')")
    assert p.returncode == 0, p.stderr
    assert "c1" in p.stdout and "c2" in p.stdout and "a1" not in p.stdout
    assert "2 row(s)" in p.stdout
    shell = cli(cluster, "shell", input=(
        f'scan \'flt\', {{FILTER => "{KEEP} AND KeyOnlyFilter()"}}\n'
        f'count \'flt\', {{FILTER => "{KEEP}"}}\n'
        'get \'flt\', \'a1\', {FILTER => "QualifierFilter(=, \'binary:n\')"}\n'))
    assert shell.returncode == 0, shell.stderr
    assert "5 row(s)" in shell.stdout and "value=keep" not in shell.stdout
    assert "column=cf:n" in shell.stdout and "1 row(s)" in shell.stdout


def test_a_selective_filter_scan_outlasting_the_call_deadline_gets_heartbeats(cluster):
    """One region of 100k rows and a filter that matches only the last: searching takes the
    server longer than a call's deadline (50 ms here), so each call answers within half of it
    with what it found, maybe nothing (HBase's heartbeat), and the scan goes on from there.
    The same without a filter once all rows but the last are deleted."""
    import client
    from client.retry import RetryPolicy

    conn = client.Connection(cluster.quorum, timeout=60)
    conn.create_table("sel", {"cf": {}})
    t = conn.table("sel")
    with t.batch(batch_size=5000) as b:
        for i in range(100_000):
            b.put(b"r%06d" % i, {b"cf:q": b"v"})
    wanted = "RowFilter(=, 'binary:r099999')"
    t0 = time.monotonic()
    assert [k for k, _ in t.scan(filter=wanted)] == [b"r099999"]
    searched = time.monotonic() - t0
    short = client.Connection(cluster.quorum, retry=RetryPolicy(60, rpc_timeout=0.05))
    try:
        assert searched > 0.05, "the search is too quick to need a heartbeat"
        assert [k for k, _ in short.table("sel").scan(filter=wanted)] == [b"r099999"]
        assert short.table("sel").count(filter="PrefixFilter('r09999')") == 10
        # No filter, but every row deleted except the last: as long to search, same heartbeat.
        with t.batch(batch_size=5000) as b:
            for i in range(99_999):
                b.delete(b"r%06d" % i)
        t0 = time.monotonic()
        assert [k for k, _ in t.scan()] == [b"r099999"]
        assert time.monotonic() - t0 > 0.05, "the search is too quick to need a heartbeat"
        assert [k for k, _ in short.table("sel").scan()] == [b"r099999"]
        assert [k for k, _ in short.table("sel").scan(reverse=True)] == [b"r099999"]
    finally:
        short.close()
        conn.delete_table("sel", disable=True)
        conn.close()


def test_scan_takes_happybase_s_arguments_in_happybase_s_order(table):
    """Code written for happybase passes scan()'s arguments positionally in happybase's order
    (row_start, row_stop, row_prefix, columns, filter, timestamp, include_timestamp,
    batch_size, scan_batching, limit, sorted_columns, reverse) and asks for sorted_columns."""
    table.put(b"hb1", {b"cf:b": b"2", b"cf:a": b"1"}, timestamp=5)
    table.put(b"hb2", {b"cf:a": b"3"}, timestamp=5)
    assert list(table.scan(None, None, b"hb", None, "ValueFilter(=, 'binary:1')", 10,
                           True)) == [(b"hb1", {b"cf:a": (b"1", 5)})]
    assert list(table.scan(None, None, b"hb", [b"cf:a"], None, None, False, 1000, None, 1,
                           True, True)) == [(b"hb2", {b"cf:a": b"3"})]
    rows = list(table.scan(row_prefix=b"hb", sorted_columns=True))
    assert [(r, list(d.items())) for r, d in rows] == [
        (b"hb1", [(b"cf:a", b"1"), (b"cf:b", b"2")]), (b"hb2", [(b"cf:a", b"3")])]


def test_unbounded_counts_are_accepted_and_out_of_range_numbers_are_named(table):
    """sys.maxsize (or Java's Integer.MAX_VALUE) as "no limit" / "every version" works, as
    HBase's Integer.MAX_VALUE does; a timestamp or counter past 64 bits is an error naming
    the argument, not protobuf's "Value out of range"."""
    table.put(b"maxsz1", {b"cf:q": b"1"})
    big = sys.maxsize
    assert [r for r, _ in table.scan(row_prefix=b"maxsz", limit=big, batch_size=big,
                                     scan_batching=big, versions=big)] == [b"maxsz1"]
    # reversed by prefix, the server is asked for one row more than the limit
    assert [r for r, _ in table.scan(row_prefix=b"maxsz", reverse=True,
                                     limit=2**31 - 1)] == [b"maxsz1"]
    assert table.cells(b"maxsz1", b"cf:q", versions=big) == [b"1"]
    assert table.get_cells(b"maxsz1", [b"cf:q"], versions=big)[0][1] == b"1"
    with pytest.raises(errors.InvalidArgumentError, match="timestamp"):
        table.row(b"maxsz1", timestamp=2**64)
    with pytest.raises(errors.InvalidArgumentError, match="timestamp"):
        list(table.scan(row_prefix=b"maxsz", time_range=(0, 2**64)))
    for call in (lambda: table.counter_inc(b"maxsz1", b"cf:n", 2**63),
                 lambda: table.counter_set(b"maxsz1", b"cf:n", -2**63 - 1)):
        with pytest.raises(errors.InvalidArgumentError, match="64-bit"):
            call()
    with pytest.raises(TypeError, match="whole number"):
        table.counter_inc(b"maxsz1", b"cf:n", 1.5)  # not silently 1
    assert table.counter_inc(b"maxsz1", b"cf:n", 2**63 - 1) == 2**63 - 1


def test_create_table_names_families_that_are_not_a_dict_of_option_dicts(table):
    conn = table.connection
    with pytest.raises(TypeError, match="families must be a dict"):
        conn.create_table("badfam", ["cf"])  # happybase: a TypeError too
    with pytest.raises(TypeError, match="the options of family 'cf' must be a dict"):
        conn.create_table("badfam", {"cf": "max_versions=3"})
    with pytest.raises(TypeError, match="the options of family 'cf2' must be a dict"):
        conn.alter_table("cl", add={"cf2": 3})
    with pytest.raises(TypeError, match="add must be a dict"):
        conn.alter_table("cl", add=["cf2"])
    assert not conn.exists("badfam")


def test_admin_calls_on_a_closed_or_unopened_connection_say_so_at_once(cluster, table):
    """Calls that read ZooKeeper directly (is_table_enabled, delete_table(disable=True), the
    switches, waits...) used to blame ZooKeeper, retryably: a wait then polled for the whole
    operation timeout. A Connection never opened failed with AttributeError on None."""
    import client
    closed = client.Connection(cluster.quorum, timeout=20)
    closed.tables()
    closed.close()
    unopened = client.Connection(cluster.quorum, timeout=20, autoconnect=False)
    start = time.monotonic()
    for conn in (closed, unopened):
        for call in (lambda: conn.is_table_enabled("cl"), lambda: conn.exists("cl"),
                     lambda: conn.delete_table("cl", disable=True), conn.balancer_enabled,
                     conn.active_master, lambda: conn.wait_for_regions_open("cl"),
                     lambda: conn.table("cl").row(b"r"), conn.tables,
                     lambda: list(conn.table("cl").scan())):
            with pytest.raises(errors.ConnectionClosedError, match="closed"):
                call()
    assert time.monotonic() - start < 2  # not a 20 s poll
    unopened.open()
    assert unopened.is_table_enabled("cl") and unopened.table("cl").row(b"nope") == {}
    unopened.close()

def test_deleteall_with_a_row_prefix_deletes_those_rows_in_every_region_in_batches(cluster,
                                                                                   table):
    """HBase 2's deleteall 't1', {ROWPREFIXFILTER => 'p', CACHE => n}[, column][, ts] (shell)
    and deleteall t1 --prefix p (CLI): the rows are scanned and deleted in batches, across
    regions; rows without the prefix, and cells newer than ts, stay."""
    conn = table.connection
    conn.create_table("dpre", {"cf": dict(max_versions=3)}, split_keys=[b"p2", b"p5"])
    t = conn.table("dpre")
    rows = [b"p%03d" % i for i in range(0, 800, 3)] + [b"o1", b"q1", b"\x00p", b"pz"]
    with t.batch(batch_size=100, timestamp=1000) as b:
        for r in rows:
            b.put(r, {b"cf:a": b"a", b"cf:b": b"b"})
    t.put(b"p003", {b"cf:a": b"newer"}, timestamp=3000)
    prefixed = sum(r.startswith(b"p") for r in rows)
    # cf:a of every p row, versions <= 2000, in batches of 7 rows
    shell = cli(cluster, "shell", input="deleteall 'dpre', {ROWPREFIXFILTER => 'p', "
                                         "CACHE => 7}, 'cf:a', 2000\n")
    assert shell.returncode == 0, shell.stderr
    assert f"{prefixed} row(s) deleted" in shell.stdout
    assert t.row(b"p003") == {b"cf:a": b"newer", b"cf:b": b"b"}
    assert t.row(b"p600") == {b"cf:b": b"b"} and t.row(b"pz") == {b"cf:b": b"b"}
    assert t.row(b"q1") == {b"cf:a": b"a", b"cf:b": b"b"}
    # whole rows with the CLI, several regions: p2xx..p5xx straddle both boundaries
    p = cli(cluster, "--json", "deleteall", "dpre", "--prefix", "p", "--cache", "50")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"ok": True, "rows": prefixed}
    assert [r for r, _ in t.scan()] == [b"\x00p", b"o1", b"q1"]
    empty = cli(cluster, "deleteall", "dpre", "--prefix", "")
    assert empty.returncode == 2 and "truncate 'dpre'" in empty.stderr
    assert [r for r, _ in t.scan()] == [b"\x00p", b"o1", b"q1"]
    conn.delete_table("dpre", disable=True)


def test_alter_async_and_alter_status_count_the_regions_as_hbase_does(cluster, table):
    """alter_status: "N/M regions updated." from the regions' states (neither in transition
    nor closed); it waits while the master still has an alter to finish."""
    from kazoo.client import KazooClient

    from coordination.znodes import Paths, TableRecord

    conn = table.connection
    conn.create_table("alts", {"cf": {}}, split_keys=[b"g", b"p"])
    shell = cli(cluster, "shell", input="alter_async 'alts', NAME => 'cf', TTL => '1 DAY'\n"
                                         "alter_status 'alts'\n")
    assert shell.returncode == 0, shell.stderr
    assert "3/3 regions updated.\nDone.\n" in shell.stdout
    assert conn.describe_table("alts")["families"][0]["ttl"] == 86400
    # alter (not async) prints what HBase's shell prints: it used to say "Altered table alts"
    shell = cli(cluster, "shell", input="alter 'alts', NAME => 'cf', VERSIONS => 2\n")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.startswith("Updating all regions with the new schema...\n"
                                   "3/3 regions updated.\nDone.\nTook "), shell.stdout
    shell = cli(cluster, "--json", "shell", input="alter 'alts', NAME => 'cf', VERSIONS => 3\n")
    assert shell.returncode == 0 and shell.stdout == '{"altered": "alts"}\n', shell.stdout
    assert conn.describe_table("alts")["families"][0]["max_versions"] == 3

    first = conn.regions("alts")[0]
    conn.unassign(first["encoded"])  # closed: not counted as updated (HBase's arithmetic)
    p = cli(cluster, "alter_status", "alts")
    assert p.returncode == 0 and p.stdout == "2/3 regions updated.\nDone.\n", p.stderr
    conn.assign(first["encoded"])

    # An alter a master left half-done (it died after writing the new descriptor): the next
    # chore run reopens the regions; alter_status waits for that, then counts them.
    before = {r["name"]: r["state_since_ms"] for r in conn.regions("alts")}
    zk = KazooClient(hosts=cluster.quorum)
    zk.start(timeout=15)
    try:
        path = Paths().table("alts")
        record = TableRecord.from_bytes(zk.get(path)[0])
        zk.set(path, TableRecord(record.descriptor, record.state, ()).to_bytes())
    finally:
        zk.stop()
        zk.close()
    status = conn.alter_status("alts")  # returns once the master has finished the alter
    assert status == {"total": 3, "in_transition": 0, "closed": 0, "updated": 3,
                      "enabled": True}
    after = {r["name"]: r["state_since_ms"] for r in conn.regions("alts")}
    assert all(after[name] > since for name, since in before.items())  # all reopened

    conn.disable_table("alts")
    p = cli(cluster, "alter_status", "alts")
    assert p.stdout == "All regions updated.\nDone.\n"  # no open region to update
    conn.delete_table("alts")
    missing = cli(cluster, "alter_status", "nosuch")
    assert missing.returncode == 1 and "'nosuch' does not exist" in missing.stderr


def test_batches_refused_by_a_busy_server_are_resent_without_rereading_meta(cluster_factory,
                                                                             connection_for):
    """A region server past its --max-call-queue-bytes answers CallQueueTooBigError: the
    region is where the client thought, only busy, so the resend keeps the cached location
    (as HBase's client keeps it for CallQueueTooBigException and RegionTooBusyException)
    instead of re-reading the table's meta from ZooKeeper for every refused batch."""
    import urllib.request

    from tests.cluster.conftest import stop_cluster

    cluster = cluster_factory("callq", regionservers=1, masters=1,
                              max_call_queue_bytes=64 << 10)
    try:
        conn = connection_for(cluster, timeout=60)
        conn.create_table("busy", {"cf": {}})
        table = conn.table("busy")
        table.put(b"warm", {b"cf:q": b"1"})  # the table's locations are cached from here on
        loads = conn.locations.loads
        rs = cluster.running("regionserver")[0]

        def multi_errors() -> float:
            url = f"http://127.0.0.1:{rs.info_port}/metrics"
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            found = re.search(r'minihbase_rpc_errors_total\{method="Multi"\} (\S+)', text)
            return float(found.group(1)) if found else 0.0

        def writer(w: int) -> None:
            for n in range(20):
                with table.batch() as b:  # ~40 KB a request: two at once pass 64 KiB
                    for i in range(40):
                        b.put(b"w%d-%02d-%02d" % (w, n, i), {b"cf:q": b"v" * 1000})

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert multi_errors() > 0, "no batch was refused: the test proves nothing"
        assert conn.locations.loads == loads, "a refused batch re-read the table's meta"
        assert table.count() == 1 + 6 * 20 * 40
    finally:
        stop_cluster(cluster)
