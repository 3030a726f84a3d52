"""How the CLI prints (client/formatting.py): HBase's binary escaping, tables, JSON."""

import json
import os

from client import formatting as fmt


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
                      "requests_per_second": 1.0, "info_port": 0},
                     {"name": "b,1,1", "state": "DEAD", "state_since_ms": 0, "regions": 0,
                      "requests_per_second": 0.0, "info_port": 0}],
         "regions_in_transition": [], "table_count": 1, "region_count": 2}
    text = fmt.status_text(s)
    assert "1 servers, 1 dead, 2.0000 average load" in text
    assert "no regions in transition" in text


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
