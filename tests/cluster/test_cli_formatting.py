"""How the CLI prints (client/formatting.py): HBase's binary escaping, tables, JSON."""

import json
import os
import struct

import pytest

from client import formatting as fmt
from minihbase import errors


def test_binary_bytes_print_as_hbase_tostringbinary():
    assert fmt.binary(b"row-1") == "row-1"
    assert fmt.binary(b"\x00a\xff\n") == "\\x00a\\xFF\\x0A"
    assert fmt.binary(b"back\\slash") == "back\\x5Cslash"


def test_printed_binary_parses_back_to_the_same_bytes():
    for data in (b"", b"plain", bytes(range(256)), b"\\x41 literal"):
        assert fmt.parse_binary(fmt.binary(data)) == data
    assert fmt.parse_binary("a\\x00b") == b"a\x00b"
    assert fmt.parse_binary("trailing\\x4") == b"trailing\\x4"  # incomplete escape stays text
    # raw non-UTF-8 bytes on a command line (argv decodes them with surrogateescape)
    assert fmt.parse_binary(os.fsdecode(b"\xff\x01r")) == b"\xff\x01r"


def test_scan_table_has_hbase_shell_layout():
    text = fmt.scan_table([(b"r1", {b"cf:q": (b"v\x01", 5)}), (b"r2", {b"cf:a": (b"x", 6)})])
    lines = text.splitlines()
    assert lines[0].split() == ["ROW", "COLUMN+CELL"]
    assert lines[1] == " r1  column=cf:q, timestamp=5, value=v\\x01"
    assert lines[0].index("COLUMN+CELL") == lines[1].index("column=")
    assert lines[-1] == "2 row(s)"


def test_get_table_counts_one_row_or_none():
    assert fmt.get_table([]).splitlines()[-1] == "0 row(s)"
    text = fmt.get_table([(b"cf:q", b"v", 7), (b"cf:q", b"old", 3)])
    assert "timestamp=7, value=v" in text and text.endswith("1 row(s)")


def test_json_output_is_valid_and_escapes_binary_like_the_tables():
    doc = json.loads(fmt.to_json(fmt.scan_json([(b"\x00r", {b"cf:q": (b"\xff", 1)})])))
    assert doc == [{"row": "\\x00r", "cells": [{"column": "cf:q", "timestamp": 1,
                                                "value": "\\xFF"}]}]


def test_grid_pads_columns_to_the_widest_cell_and_aligns_headers():
    lines = fmt.grid(["A", "LONG HEADER"], [["xxxxx", 1], ["y", None]]).splitlines()
    assert lines[0] == "A       LONG HEADER"
    assert lines[1] == " xxxxx  1"
    assert lines[2] == " y"
    assert lines[0].index("LONG") == lines[1].index("1")  # the HBase shell's layout


def test_status_text_counts_live_and_dead_servers():
    s = {"active_master": "m,1,1", "backup_masters": ["m2,1,2"], "cluster_id": "x",
         "servers": [{"name": "a,1,1", "state": "ONLINE", "state_since_ms": 0, "regions": 2,
                      "requests_per_second": 1.0, "info_port": 0, "decommissioned": False},
                     {"name": "c,1,1", "state": "ONLINE", "state_since_ms": 0, "regions": 0,
                      "requests_per_second": 0.0, "info_port": 0, "decommissioned": True},
                     {"name": "b,1,1", "state": "DEAD", "state_since_ms": 0, "regions": 0,
                      "requests_per_second": 0.0, "info_port": 0, "decommissioned": False}],
         "regions_in_transition": [], "table_count": 1, "region_count": 2}
    text = fmt.status_text(s)
    assert "2 servers, 1 dead, 1.0000 average load" in text
    assert "no regions in transition" in text
    (line,) = [x for x in text.splitlines() if "c,1,1" in x]
    assert "ONLINE (decommissioned)" in line
    assert "decommissioned" not in "".join(x for x in text.splitlines() if "a,1,1" in x)


def test_zk_dump_text_lists_masters_servers_switches_and_quorum_answers():
    d = {"parent": "/hbase", "cluster_id": "abc", "active_master": "m,1,1",
         "backup_masters": [], "region_servers": ["a,1,1", "b,1,1"], "decommissioned": ["b,1,1"],
         "switches": {"balancer": True, "split": False},
         "quorum": {"h:2181": "Zookeeper version: 3.8\nMode: standalone"}}
    lines = fmt.zk_dump_text(d).splitlines()
    assert lines[0] == "HBase is rooted at /hbase (cluster id abc)"
    assert lines[lines.index("Backup master addresses:") + 1] == " (none)"
    assert lines[lines.index("Decommissioned region servers:") + 1] == " b,1,1"
    assert "Switches: balancer on, split off" in lines
    assert lines[-2:] == ["  Zookeeper version: 3.8", "  Mode: standalone"]


class _FakeTable:
    def scan(self, **kwargs):
        for i in range(250):
            yield b"row%03d" % i, {b"cf:q": (b"v\x00", 7)}


class _FakeConnection:
    def table(self, name):
        return _FakeTable()


def test_scan_command_streams_past_the_first_rows_and_counts_them_all():
    import io

    from client import commands
    buf = io.StringIO()
    commands.scan(_FakeConnection(), commands.Output(False, buf), "t")
    lines = buf.getvalue().splitlines()
    assert lines[0].split() == ["ROW", "COLUMN+CELL"]
    assert lines[-2] == " row249  column=cf:q, timestamp=7, value=v\\x00"
    assert lines[-1] == "250 row(s)"


def test_scan_command_json_is_one_document_even_when_streamed():
    import io

    from client import commands
    buf = io.StringIO()
    commands.scan(_FakeConnection(), commands.Output(True, buf), "t")
    doc = json.loads(buf.getvalue())
    assert len(doc) == 250 and doc[0]["cells"][0]["value"] == "v\\x00"


def test_cli_merge_takes_two_or_more_regions():
    import io

    from client import commands
    from client.cli import build_parser

    a = build_parser().parse_args(["merge", "r1", "r2", "r3"])
    assert (a.region_a, a.region_b, a.more) == ("r1", "r2", ["r3"])
    assert build_parser().parse_args(["merge", "r1", "r2"]).more == []

    class Merger:
        def merge(self, *regions):
            self.merged = regions
    conn, buf = Merger(), io.StringIO()
    commands.merge(conn, commands.Output(False, buf), "r1", "r2", "r3")
    assert conn.merged == ("r1", "r2", "r3") and buf.getvalue() == "Merged r1, r2 and r3\n"



def test_truncate_progress_says_what_truncate_does_not_drop_and_create():
    """The master truncates a disabled table in one step, keeping the table, its families and
    attributes (HBase's truncateTable): the progress line must not claim a drop and a create."""
    import io

    from client import commands

    class Truncator:
        def truncate_table(self, table, preserve_splits=False, progress=None):
            self.truncated = (table, preserve_splits)
    conn, out, err = Truncator(), io.StringIO(), io.StringIO()
    commands.truncate(conn, commands.Output(False, out, err), "t1", preserve_splits=True)
    assert conn.truncated == ("t1", True) and out.getvalue() == "Truncated table t1\n"
    assert err.getvalue() == ("... Truncating 't1' (disable, then truncate keeping its "
                              "region boundaries, enable)\n")
    assert "drop" not in err.getvalue()

def test_global_options_are_accepted_after_the_command():
    from client.cli import build_parser

    after = build_parser().parse_args(["scan", "t1", "--json", "--zk", "h:1", "--timeout", "3"])
    assert (after.json, after.zk, after.timeout) == (True, "h:1", 3.0)
    before = build_parser().parse_args(["--json", "--zk", "h:2", "scan", "t1"])
    assert (before.json, before.zk, before.timeout) == (True, "h:2", 30.0)


def test_describe_lists_the_table_attributes_set_by_name_as_hbase_does():
    d = {"name": "t1", "state": "ENABLED", "families": [], "regions": [],
         "max_filesize": 65536, "memstore_flushsize": 0, "readonly": True,
         "compaction_enabled": False, "split_enabled": True, "merge_enabled": True}
    assert fmt.describe_text(d).splitlines()[1] == (
        "t1, {TABLE_ATTRIBUTES => {COMPACTION_ENABLED => 'false', MAX_FILESIZE => '65536', "
        "READONLY => 'true'}}")
    unset = dict(d, max_filesize=0, readonly=False, compaction_enabled=True)
    assert "TABLE_ATTRIBUTES" not in fmt.describe_text(unset)


def test_table_attribute_flags_of_create_and_alter():
    from client.cli import _attributes, build_parser

    a = build_parser().parse_args(["create", "t1", "cf", "--readonly", "--split-enabled",
                                   "false", "--memstore-flushsize", "1048576"])
    assert _attributes(a) == {"memstore_flushsize": 1048576, "readonly": True,
                              "split_enabled": False}
    a = build_parser().parse_args(["alter", "t1", "--readonly", "FALSE", "--max-filesize", "0",
                                   "--durability", "skip_wal"])
    assert _attributes(a) == {"max_filesize": 0, "readonly": False, "durability": "SKIP_WAL"}
    assert _attributes(build_parser().parse_args(["alter", "t1", "cf", "--versions", "2"])) == {}


def _subcommands() -> dict:
    import argparse

    from client.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_cli_command_has_a_description_argument_help_and_examples_it_accepts():
    import shlex

    from client import help_texts
    from client.cli import build_parser

    for name, parser in _subcommands().items():
        h = help_texts.cli_help(name)
        assert parser.description.startswith(h.summary), name
        assert h.cli and parser.epilog.startswith("examples:\n  minihbase "), name
        for action in parser._actions:
            assert action.help, f"{name}: {action.dest} has no help"
        for example in h.cli:
            argv = shlex.split(example)
            assert argv[0] == "minihbase" and name in argv, example
            build_parser().parse_args(argv[1:])  # a usage error exits (SystemExit)


def test_cli_help_shows_the_shell_commands_summary_and_where_the_shell_help_is(capsys):
    import re

    import pytest

    from client.cli import main
    from client.shell import help_text

    with pytest.raises(SystemExit) as exit_:
        main(["merge", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    assert help_text("merge_region").splitlines()[0] in text
    assert re.search(r"region_a\s+a region's full or encoded name", text)
    assert "examples:\n  minihbase merge " in text
    assert text.rstrip().endswith("in minihbase shell: help 'merge_region'")


def test_ttl_prints_as_hbase_pretty_printer_does():
    assert fmt.ttl_text(None) == "FOREVER" and fmt.ttl_text((1 << 31) - 1) == "FOREVER"
    assert fmt.ttl_text(1) == "1 SECOND" and fmt.ttl_text(59) == "59 SECONDS"
    assert fmt.ttl_text(60) == "60 SECONDS (1 MINUTE)"
    assert fmt.ttl_text(86400) == "86400 SECONDS (1 DAY)"
    assert fmt.ttl_text(90061) == "90061 SECONDS (1 DAY 1 HOUR 1 MINUTE 1 SECOND)"
    assert fmt.ttl_text(2 * 86400 + 7200 + 62) == \
        "180062 SECONDS (2 DAYS 2 HOURS 1 MINUTE 2 SECONDS)"  # HBase says 2 SECOND: its bug


def _family(**changed) -> dict:
    f = {"name": "cf", "max_versions": 1, "min_versions": 0, "ttl": None, "bloom": "ROW",
         "compression": "NONE", "block_size": 65536, "block_cache": True, "in_memory": False,
         "keep_deleted_cells": "FALSE", "data_block_encoding": "NONE"}
    return dict(f, **changed)


def test_describe_prints_families_in_hbase_2s_order_and_spelling():
    assert fmt.family_text(_family()) == (
        "{NAME => 'cf', BLOOMFILTER => 'ROW', IN_MEMORY => 'false', VERSIONS => '1', "
        "KEEP_DELETED_CELLS => 'FALSE', DATA_BLOCK_ENCODING => 'NONE', COMPRESSION => 'NONE', "
        "TTL => 'FOREVER', MIN_VERSIONS => '0', BLOCKCACHE => 'true', BLOCKSIZE => '65536'}")
    assert "TTL => '86400 SECONDS (1 DAY)'" in fmt.family_text(_family(ttl=86400))
    d = {"name": "t1", "state": "ENABLED", "families": [_family(), _family(name="cf2")],
         "regions": []}
    lines = fmt.describe_text(d).splitlines()
    assert lines[:3] == ["Table t1 is ENABLED", "t1", "COLUMN FAMILIES DESCRIPTION"]
    assert lines[4:8] == ["", lines[5], "", "2 row(s)"] and "'cf2'" in lines[5]
    with_size = fmt.describe_text(dict(d, max_filesize=65536)).splitlines()
    assert with_size[1] == "t1, {TABLE_ATTRIBUTES => {MAX_FILESIZE => '65536'}}"


def test_hbck_counts_directories_too_new_to_judge_apart_from_inconsistencies():
    report = {"checked_ms": 0, "problems": [], "removed": [], "too_new": 1}
    lines = fmt.hbck_text(report).splitlines()
    assert lines[0].endswith("no inconsistencies found")
    assert lines[1].startswith("1 directory not named by meta changed too recently to judge")
    assert "too recently" not in fmt.hbck_text(dict(report, too_new=0))


def test_shell_converters_show_values_as_bytes_methods_do():
    convert = fmt.converter
    assert convert("toLong")(b"\x00" * 7 + b"\x2a") == "42"
    assert convert("toInt")(b"\x00\x00\x01\x00rest") == "256"  # Bytes.toInt: the first 4
    assert convert("c(org.apache.hadoop.hbase.util.Bytes).toInt")(b"\xff\xff\xff\xfe") == "-2"
    assert convert("toString")("é".encode()) == "é"
    assert convert("toStringBinary")("é".encode()) == "\\xC3\\xA9"
    assert convert("toBoolean")(b"\x01") == "true" and convert("toHex")(b"\x0a") == "0a"
    assert convert("toDouble")(struct.pack(">d", 1.5)) == "1.5"
    assert convert("nosuch") is None
    with pytest.raises(errors.InvalidArgumentError, match="toLong needs a value of 8 bytes, not 3"):
        convert("toLong")(b"abc")
    with pytest.raises(errors.InvalidArgumentError, match="only org.apache.hadoop.hbase.util"):
        convert("c(com.example.Mine).toLong")
    assert fmt.split_converter(b"cf:q:toLong")[0] == b"cf:q"
    assert fmt.split_converter(b"cf:a:b") == (b"cf:a:b", None)  # a qualifier with a colon
    assert fmt.split_converter(b"cf:q") == (b"cf:q", None)


def test_normalize_takes_the_table_filter_as_options(monkeypatch):
    from client import commands
    from client.cli import build_parser, run

    calls = []
    monkeypatch.setattr(commands, "normalize", lambda conn, out, **kw: calls.append(kw))
    for argv in (["normalize"], ["normalize", "--tables", "t1", "ns:t2"],
                 ["normalize", "--regex", "ns:.*", "--namespace", "ns"], ["normalize",
                                                                        "--regex", ""]):
        run(build_parser().parse_args(argv), None, commands.Output())
    assert calls == [{}, {"table_names": ["t1", "ns:t2"]}, {"regex": "ns:.*", "namespace": "ns"},
                     {"regex": ""}]


@pytest.mark.parametrize("argv, message", [
    (["put", "t", "r", "cf:q", "v", "--ts", "-5"], "argument --ts: must be between 0 and"),
    (["get", "t", "r", "--ts", "-1"], "argument --ts: must be between 0 and"),
    (["delete", "t", "r", "cf:q", "--ts", "99999999999999999999"], "argument --ts"),
    (["deleteall", "t", "r", "--ts", "-1"], "argument --ts: must be between 0 and"),
    (["scan", "t", "--limit", "0"], "argument --limit: must be between 1 and"),
    (["scan", "t", "--versions", "0"], "argument --versions: must be between 1 and"),
    (["get", "t", "r", "--versions", "0"], "argument --versions: must be between 1 and"),
    (["create", "t", "cf", "--versions", "0"], "argument --versions: must be between 1 and"),
    (["alter", "t", "cf", "--ttl", "0"], "argument --ttl: must be between 1 and"),
    (["alter", "t", "cf", "--ttl", "1 FORTNIGHT"], "argument --ttl: TTL '1 FORTNIGHT' is not"),
    (["create", "t", "cf", "--block-size", "5"], "argument --block-size: must be between 1024"),
    (["create", "t", "cf", "--min-versions", "-1"], "argument --min-versions: must be between"),
    (["create", "t", "cf", "--max-filesize", "100"],
     "argument --max-filesize: must be at least 65536 bytes (or 0"),
    (["alter", "t", "--normalizer-target-region-count", "-5"],
     "argument --normalizer-target-region-count: must be between 0 and"),
    (["incr", "t", "r", "cf:c", "99999999999999999999"], "argument amount: must be between"),
    (["deleteall", "t", "--prefix", "p", "--cache", "0"], "argument --cache: must be between 1"),
    (["count", "t", "--interval", "0"], "argument --interval: must be between 1 and"),
    (["create", "t", "cf", "--splits", ""], "argument --splits: a split key must not be empty"),
    (["create", "t", "cf", "--splits", "b", "a", "b"],
     "argument --splits: split key 'b' is given twice"),
    (["create", "t", "cf", "--splits", "a", "a\\x00", "a\\x00"], "split key 'a\\x00' is given"),
    (["create", "t", "cf", "--splits", "k" * 40000], "argument --splits: a split key is a row"),
])
def test_an_argument_out_of_range_is_a_usage_error_exit_2_before_the_cluster_is_asked(
        capsys, argv, message):
    """docs/cli.md: exit 2 for usage errors (a wrong or missing argument). `put --ts -5` used
    to exit 1 (the client refused it) while `scan --limit 0` exited 2."""
    from client.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--zk", "127.0.0.1:1", *argv])  # no cluster there: it must not be asked
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("ERROR: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_cli_ttl_takes_hbase_s_interval_text_and_forever():
    from client.cli import _family_opts, build_parser

    def ttl(text):
        return _family_opts(build_parser().parse_args(["alter", "t", "cf", "--ttl", text]))

    assert ttl("1 DAY") == {"ttl": 86400}
    assert ttl("2 DAYS 3 HOURS") == {"ttl": 183600}
    assert ttl("86400 SECONDS (1 DAY)") == {"ttl": 86400}
    assert ttl("600") == {"ttl": 600}
    assert ttl("forever") == {"ttl": None}


def test_cli_deleteall_takes_a_row_or_a_prefix(monkeypatch):
    import io

    from client import cli, commands

    calls = []
    monkeypatch.setattr(commands, "deleteall", lambda conn, out, *a: calls.append(("row", a)))
    monkeypatch.setattr(commands, "deleteall_prefix",
                        lambda conn, out, *a: calls.append(("prefix", a)))

    def run(*argv):
        cli.run(cli.build_parser().parse_args(list(argv)), None, commands.Output(out=io.StringIO()))

    run("deleteall", "t1", "r\\x00", "cf:q", "--ts", "5")
    run("deleteall", "t1", "--prefix", "u\\x00")
    run("deleteall", "t1", "cf", "--prefix", "u", "--cache", "500", "--ts", "9")
    assert calls == [("row", ("t1", b"r\x00", b"cf:q", 5)),
                     ("prefix", ("t1", b"u\x00", None, None, 100)),
                     ("prefix", ("t1", b"u", b"cf", 9, 500))]
    for argv, message in [(("deleteall", "t1"), "needs a row, or --prefix"),
                          (("deleteall", "t1", "r", "cf:q", "--prefix", "u"), "takes no row")]:
        with pytest.raises(commands.UsageError, match=message):
            run(*argv)


@pytest.mark.parametrize("argv, message", [
    (["deleteall", "t1"], "deleteall needs a row, or --prefix P"),
    (["deleteall", "t1", "r", "cf:q", "--prefix", "u"], "deleteall --prefix takes no row"),
    (["deleteall", "t1", "--prefix", ""], "ROWPREFIXFILTER must not be empty"),
    (["create", "t1", "cf", "cf"], "create: family 'cf' is given twice"),
    (["alter", "t1"], "alter needs a family to add/modify or one to delete"),
    (["list", "t[1"], "list: invalid regex 't[1'"),
    (["list_namespace", "ns("], "list_namespace: invalid regex 'ns('"),
    (["list_snapshots", "s[1"], "list_snapshots: invalid regex 's[1'"),
    (["list_table_snapshots", "t[1"], "invalid regex 't[1'"),
    (["disable_all", "t[1"], "disable_all: invalid regex 't[1'"),
    (["delete_all_snapshot", "s[1"], "delete_all_snapshot: invalid regex 's[1'"),
])
def test_a_usage_error_found_by_the_command_exits_2_before_zookeeper_is_contacted(
        capsys, argv, message):
    """The checks a command makes of its arguments (shared with the shell, in client/commands)
    run before the connection is made: `deleteall t1` with no row exited 1 with ZooKeeper's
    "cannot reach" error, after waiting --timeout for it, instead of 2 naming the mistake."""
    import time

    from client.cli import main

    started = time.monotonic()
    code = main(["--zk", "127.0.0.1:1", "--timeout", "5", *argv])  # no ZooKeeper there
    err = capsys.readouterr().err
    assert (code, err.startswith("ERROR: ")) == (2, True) and message in err, err
    assert "ZooKeeper" not in err and time.monotonic() - started < 2
