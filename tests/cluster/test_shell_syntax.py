"""The shell's tokenizer/parser (client/shell_syntax.py) and its mapping onto commands
(client/shell.py), for every everyday HBase-shell form. No cluster: a recording connection."""

import contextlib
import io
import json
import re

import pytest

from client.shell import Shell, execute
from client.shell_syntax import (Command, Const, ShellSyntaxError, parse, parse_line, tokenize,
                                 unfinished)
from client import commands
from minihbase import errors


@pytest.mark.parametrize("line, expected", [
    ("create 't1', 'cf'", Command("create", [b"t1", b"cf"])),
    ("create 't1', {NAME => 'cf', VERSIONS => 3, TTL => 60}, SPLITS => ['100','300']",
     Command("create", [b"t1", {"NAME": b"cf", "VERSIONS": 3, "TTL": 60},
                        {"SPLITS": [b"100", b"300"]}])),
    ("list", Command("list", [])),
    ("describe 't1'", Command("describe", [b"t1"])),
    ("put 't1','r1','cf:q','v'", Command("put", [b"t1", b"r1", b"cf:q", b"v"])),
    ("put 't1', 'r1', 'cf:q', 'v', 1700000000000",
     Command("put", [b"t1", b"r1", b"cf:q", b"v", 1700000000000])),
    ("get 't1','r1'", Command("get", [b"t1", b"r1"])),
    ("get 't1','r1', 'cf:q'", Command("get", [b"t1", b"r1", b"cf:q"])),
    ("get 't1','r1', {COLUMN => 'cf:q', VERSIONS => 2}",
     Command("get", [b"t1", b"r1", {"COLUMN": b"cf:q", "VERSIONS": 2}])),
    ("scan 't1', {STARTROW => 'a', STOPROW => 'b', LIMIT => 10, COLUMNS => ['cf:a', 'cf:b'],"
     " REVERSED => true, ROWPREFIXFILTER => 'x'}",
     Command("scan", [b"t1", {"STARTROW": b"a", "STOPROW": b"b", "LIMIT": 10,
                              "COLUMNS": [b"cf:a", b"cf:b"], "REVERSED": True,
                              "ROWPREFIXFILTER": b"x"}])),
    ("delete 't1','r1','cf:q'", Command("delete", [b"t1", b"r1", b"cf:q"])),
    ("deleteall 't1','r1'", Command("deleteall", [b"t1", b"r1"])),
    ("count 't1'", Command("count", [b"t1"])),
    ("alter 't1', 'delete' => 'cf'", Command("alter", [b"t1", {"delete": b"cf"}])),
    ("alter 't1', NAME => 'cf', VERSIONS => 5",
     Command("alter", [b"t1", {"NAME": b"cf", "VERSIONS": 5}])),
    ("major_compact 't1';", Command("major_compact", [b"t1"])),
    ("status 'detailed'", Command("status", [b"detailed"])),
    ("exit", Command("exit", [])),
    ("get('t1', 'r1')", Command("get", [b"t1", b"r1"])),
])
def test_everyday_hbase_shell_forms_parse(line, expected):
    assert parse(line) == expected


def test_double_quoted_strings_take_hbase_style_binary_escapes():
    assert parse('put "t1", "r\\x00\\xFF\\x7f", "cf:q", "a\\tb\\\\"').args[1:] == \
        [b"r\x00\xff\x7f", b"cf:q", b"a\tb\\"]


def test_double_quoted_octal_and_unicode_escapes_give_ruby_s_bytes():
    assert parse(r'put "\1\18\101\0"').args == [b"\x01\x018A\x00"]  # octal: 1 to 3 digits
    assert parse(r'put "caf\u00e9", "\u{e9 20AC}"').args == ["café".encode(), "é€".encode()]
    for bad, message in [(r'put "\u00g"', "need 4 hex digits"),
                         (r'put "\u{d800}"', "d800 is not a Unicode character")]:
        with pytest.raises(ShellSyntaxError, match=message):
            parse(bad)


def test_double_quoted_unknown_escapes_drop_the_backslash_as_in_ruby():
    """Ruby: "\\q" == "q" and "\\8" == "8"; a backslash before a line break joins the lines
    (both dropped). The backslash used to be kept, so "r\\q" wrote row r\\q, not rq."""
    assert parse(r'put "r\q", "\8\9", "a\/b", "\é"').args == [b"rq", b"89", b"a/b", "é".encode()]
    assert parse('put "ab\\\ncd", "x\\\r\ny"').args == [b"abcd", b"xy"]
    assert parse(r"put 'r\q'").args == [b"r\\q"]  # single-quoted: kept
    with pytest.raises(ShellSyntaxError, match=r"unsupported escape \\c at column 6: write"):
        parse(r'put "\cA"')


def test_single_quoted_strings_are_literal_as_in_ruby():
    assert parse(r"get 't1', 'a\x00'").args[1] == b"a\\x00"
    assert parse(r"get 't1', 'it\'s'").args[1] == b"it's"


def test_numbers_booleans_nil_constants_and_comments():
    cmd = parse("x 1, -2, 3.5, 1_000, true, false, nil, FOREVER # trailing comment")
    assert cmd.args == [1, -2, 3.5, 1000, True, False, None, Const("FOREVER")]


def test_blank_and_comment_lines_are_no_commands():
    assert parse("") is None and parse("   ") is None and parse("# just a comment") is None


@pytest.mark.parametrize("line, message", [
    ("put 't1', 'r1", "unterminated string"),
    ("scan 't1', {STARTROW => }", "expected a value"),
    ("scan 't1' {LIMIT => 1}", "expected ','"),
    ("get 't1' @", "unexpected character"),
    ("'t1'", "must start with a command name"),
    ('get "t1", "\\xZZ"', "bad \\x escape"),
])
def test_malformed_lines_raise_a_syntax_error_naming_the_problem(line, message):
    with pytest.raises(ShellSyntaxError, match=message.replace("\\", "\\\\")
                       .replace("(", "\\(").replace("{", "\\{")):
        parse(line)


@pytest.mark.parametrize("text, goes_on", [
    ("create 't1',", True),                               # a trailing comma
    ("create 't1', {NAME => 'cf',", True),                # inside an open hash
    ("get 't1', 'r1', {COLUMN => ['cf:a',", True),        # ... and array
    ("create 't1', {NAME =>", True),                      # after =>
    ("t =", True),
    ("put 't1', 'r1', \\", True),                        # a backslash ends the line
    ("create 't1', # the families follow\n", True),
    ("create 't1', 'cf'", False),
    ("put 't1', 'r1'", False),                            # complete (a usage error, later)
    ("scan 't1', {STARTROW => 'a'\nput 't1', 'r', 'cf:q', 'v'", False),  # wrong before the end
    ("count 't1', FILTER => \"", True),                   # in a string: it takes the break
    ("put 't1', 'r1', 'cf:q', 'it's'\nget 't1'", False),  # a stray quote ends at the next
    ("get 't1' @", False),
    ("", False),
])
def test_a_command_goes_on_over_lines_while_ruby_would_read_on(text, goes_on):
    assert unfinished(text) is goes_on


def test_a_command_over_several_lines_parses_as_one_with_comments_between():
    text = ("create 'tsdb-uid',   # OpenTSDB's create_table.sh\n"
            "  {NAME => 'id', COMPRESSION => 'GZ'},\n"
            "  {NAME => 'name', BLOOMFILTER => 'ROW'}")
    assert parse(text) == Command("create", [b"tsdb-uid", {"NAME": b"id", "COMPRESSION": b"GZ"},
                                             {"NAME": b"name", "BLOOMFILTER": b"ROW"}])
    assert parse("put 't1', 'r1', \\\n 'cf:q', 'v'").args == [b"t1", b"r1", b"cf:q", b"v"]
    # an error names the line it is on, numbered as in the script
    with pytest.raises(ShellSyntaxError, match="expected ',' at line 8, column 3, got 'put'"):
        parse_line("scan 't1', {STARTROW => 'a'\n  put 't1'", first_line=7)
    with pytest.raises(ShellSyntaxError, match="expected ',' at column 11"):
        parse("scan 't1' {LIMIT => 1}")  # one line: just the column, as before
    # HBase's own help writes count's FILTER as a string over two lines
    assert parse("count 't1', FILTER => \"\n    (QualifierFilter (>=, 'binary:xyz'))\"") == \
        Command("count", [b"t1", {"FILTER": b"\n    (QualifierFilter (>=, 'binary:xyz'))"}])


def test_a_script_runs_a_command_continued_over_lines_and_names_its_first_line(rec):
    from client.shell import _run_lines

    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    _run_lines(shell, [b"create 't1',\r\n", b"  {NAME => 'cf', VERSIONS => 3},\n",
                       b"  'cf2'\n", b"get 't1', 'r1', {COLUMN => 'cf:q',\n",
                       b"                  VERSIONS => 2}\n", b"scan 't1', {LIMIT => 1\n",
                       b"put 't1', 'r', 'cf:q', 'v'\n", b"count 't1', FILTER => \"\n",
                       b"  KeyOnlyFilter()\"\n", b"get 't1', 'r1', [\n"], "s.hb")
    assert [c[0] for c in rec.calls] == ["create", "get", "count"]
    assert rec.calls[0][1][1] == {"cf": {"max_versions": 3}, "cf2": {}}
    assert rec.calls[1][1][2:4] == ([b"cf:q"], 2)
    assert rec.calls[2][2]["row_filter"] == b"\n  KeyOnlyFilter()"
    assert err.getvalue().splitlines() == [
        "ERROR: s.hb, line 6: expected ',' at line 7, column 1, got 'put'",
        "ERROR: s.hb, line 10: the script ended inside this command (an open string, '{', '[' "
        "or '(', or a ',' or '\\' at the end of its last line)"]
    assert shell.failed == 2


def test_numregions_split_keys_are_hbase_region_splitter_s():
    # HBase's RegionSplitter: key i is i * (key space // n), the last region taking the slop
    assert commands.presplit_keys(10, "HexStringSplit") == [
        b"19999999", b"33333332", b"4ccccccb", b"66666664", b"7ffffffd", b"99999996",
        b"b333332f", b"ccccccc8", b"e6666661"]
    assert commands.presplit_keys(15, "HexStringSplit")[::7] == [b"11111111", b"88888888"]
    assert commands.presplit_keys(7, "DecimalStringSplit") == [
        b"14285714", b"28571428", b"42857142", b"57142856", b"71428570", b"85714284"]
    assert [k.hex() for k in commands.presplit_keys(7, "UniformSplit")] == [
        "2492492492492492", "4924924924924924", "6db6db6db6db6db6", "9249249249249248",
        "b6db6db6db6db6da", "db6db6db6db6db6c"]


def test_ruby_code_is_rejected_not_evaluated():
    with pytest.raises(ShellSyntaxError, match="unexpected character '`'"):
        tokenize("put 't1', `rm -rf /`")
    with pytest.raises(ShellSyntaxError):
        parse("put 't1', 'r' + 'x'")
    assert parse("system('ls')") == Command("system", [b"ls"])  # just an unknown command


class Recorder:
    """Stands in for commands.*: records the call instead of talking to a cluster."""

    def __init__(self, monkeypatch):
        self.calls = []
        for name in ("create", "list_tables", "describe", "alter", "disable", "enable", "drop",
                     "put", "get", "scan", "delete", "deleteall", "count", "status", "balance",
                     "split", "merge", "flush", "compact", "incr", "get_counter", "move",
                     "deleteall_prefix", "alter_status"):
            monkeypatch.setattr(commands, name, self._record(name))

    def _record(self, name):
        def call(conn, out, *args, **kwargs):
            self.calls.append((name, args, kwargs))
        return call


@pytest.fixture
def rec(monkeypatch):
    return Recorder(monkeypatch)


def run(line):
    execute(parse(line), conn=None, out=commands.Output(out=io.StringIO(), err=io.StringIO()))


def test_create_maps_families_attributes_and_splits(rec):
    run("create 't1', {NAME => 'cf', VERSIONS => 3, TTL => 60}, 'cf2', SPLITS => ['100','300']")
    assert rec.calls == [("create", ("t1", {"cf": {"max_versions": 3, "ttl": 60}, "cf2": {}},
                                     [b"100", b"300"], {}), {})]


def test_get_with_column_hash_and_versions(rec):
    run("get 't1', 'r1', {COLUMN => ['cf:a', 'cf:b'], VERSIONS => 4}")
    assert rec.calls == [("get", ("t1", b"r1", [b"cf:a", b"cf:b"], 4),
                          {"time_range": None, "row_filter": None, "formatter": None})]


def test_get_timestamp_is_one_exact_version_and_timerange_is_half_open(rec):
    """HBase shell: TIMESTAMP => ts is Get.setTimestamp (the version at exactly ts, [ts, ts+1)),
    TIMERANGE => [a, b] is [a, b)."""
    run("get 't1', 'r1', {COLUMN => 'cf:q', TIMESTAMP => 20, VERSIONS => 3}")
    run("get 't1', 'r1', {TIMERANGE => [10, 30]}")
    assert [kw["time_range"] for _, _, kw in rec.calls] == [(20, 21), (10, 30)]


def test_scan_limit_zero_means_no_limit_and_timestamp_an_exact_version(rec):
    run("scan 't1', {LIMIT => 0, TIMESTAMP => 5}")
    run("scan 't1', {LIMIT => -1, TIMERANGE => [1, 9]}")
    assert [(kw["limit"], kw["time_range"]) for _, _, kw in rec.calls] == [(None, (5, 6)),
                                                                         (None, (1, 9))]


def test_scan_options_map_to_the_scan_command(rec):
    run("scan 't1', {STARTROW => 'a', STOPROW => 'b', LIMIT => 10, COLUMNS => ['cf:q'], "
        "REVERSED => true}")
    run("scan 't1', {RAW => true, VERSIONS => 10}")
    _, args, kw = rec.calls[0]
    assert args == ("t1",)
    assert kw == dict(start=b"a", stop=b"b", prefix=None, columns=[b"cf:q"], limit=10,
                      reverse=True, versions=None, time_range=None, row_filter=None, raw=False,
                      formatter=None)
    assert (rec.calls[1][2]["raw"], rec.calls[1][2]["versions"]) == (True, 10)


def test_filter_goes_with_scan_get_and_count_as_hbase_filter_language(rec):
    run("""scan 't1', {FILTER => "PrefixFilter('r') AND ValueFilter(=, 'binary:x')"}""")
    run("""get 't1', 'r1', {FILTER => "KeyOnlyFilter()"}""")
    run("""count 't1', {FILTER => "FirstKeyOnlyFilter()", INTERVAL => 10}""")
    assert [kw["row_filter"] for _, _, kw in rec.calls] == [
        b"PrefixFilter('r') AND ValueFilter(=, 'binary:x')", b"KeyOnlyFilter()",
        b"FirstKeyOnlyFilter()"]


def test_count_takes_hbase_s_older_bare_interval(rec):
    run("count 't1', 100000")  # HBase's count: an Integer is the INTERVAL
    assert rec.calls[0][1][:2] == ("t1", 100000)
    with pytest.raises(commands.UsageError, match="count options must be a hash"):
        run("count 't1', '100'")


@pytest.mark.parametrize("line", ["count 't1', INTERVAL => 0", "count 't1', {INTERVAL => -5}",
                                  "count 't1', 0"])
def test_a_count_interval_below_one_is_a_usage_error_not_taken_as_one(line):
    """HBase's count reports at `count % interval == 0`, so INTERVAL => 0 has no meaning there
    (Ruby's ZeroDivisionError); it used to be taken as 1 here, a report for every row."""
    with pytest.raises(commands.UsageError,
                       match=r"count: INTERVAL must be at least 1 \(progress every .*\), got -?\d"):
        run(line)  # refused before the cluster is asked: there is none (conn=None)


def test_client_count_names_a_bad_interval():
    from client.table import Table

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=f"interval must be a whole number >= 1, got {bad}"):
            Table("t1", None).count(interval=bad)


def test_alter_delete_forms_and_put_timestamp(rec):
    run("alter 't1', 'delete' => 'cf'")
    run("alter 't1', NAME => 'cf', METHOD => 'delete'")
    run("put 't1', 'r1', 'cf:q', 'v', 42")
    removed = {"add": {}, "remove": ["cf"], "attributes": {}, "report_regions": True}
    assert rec.calls[0] == ("alter", ("t1",), removed)
    assert rec.calls[1] == ("alter", ("t1",), removed)
    assert rec.calls[2] == ("put", ("t1", b"r1", b"cf:q", b"v", 42), {})


def test_get_takes_several_columns_as_arguments(rec):
    run("get 't1', 'r1', 'cf:a', 'cf:b'")
    assert rec.calls == [("get", ("t1", b"r1", [b"cf:a", b"cf:b"], 1),
                          {"time_range": None, "row_filter": None, "formatter": None})]


def test_list_takes_an_optional_regex(rec):
    run("list")
    run("list 'user.*'")
    assert [a for _, a, _ in rec.calls] == [(None,), ("user.*",)]


def test_list_keeps_the_tables_whose_whole_name_matches():
    class Conn:
        def list_tables(self):
            return [{"name": n, "state": "ENABLED", "regions": [], "families": []}
                    for n in ("users", "user_events", "orders")]

    out = io.StringIO()
    commands.list_tables(Conn(), commands.Output(out=out, err=io.StringIO(), as_json=True),
                         "user.*")
    assert [t["name"] for t in json.loads(out.getvalue())] == ["users", "user_events"]
    with pytest.raises(commands.UsageError, match="invalid regex"):
        commands.list_tables(Conn(), commands.Output(out=out, err=io.StringIO()), "(")


def test_usage_errors_name_the_command_and_its_usage(rec):
    with pytest.raises(commands.UsageError, match="usage: put 't1'"):
        run("put 't1', 'r1'")
    with pytest.raises(commands.UsageError, match="unsupported option.*CACHE_BLOCKS"):
        run("scan 't1', {CACHE_BLOCKS => false}")
    with pytest.raises(commands.UsageError, match="unknown command 'frobnicate'"):
        run("frobnicate 't1'")
    with pytest.raises(commands.UsageError, match="METHOD => 'delete' needs NAME"):
        run("alter 't1', METHOD => 'delete'")
    with pytest.raises(commands.UsageError, match="SPLITS must be a list"):
        run("create 't1', 'cf', SPLITS => 'abc'")
    with pytest.raises(commands.UsageError, match="family 'cf' is given twice"):
        run("create 't1', 'cf', {NAME => 'cf', VERSIONS => 2}")


@pytest.mark.parametrize("options, message", [
    ({"ttl": 0}, "ttl must be between 1 and"),
    ({"block_size": 0}, "block_size must be between 1024 and"),
    ({"max_versions": 0}, "max_versions must be between 1 and"),
    ({"max_versions": 1.7}, "must be a whole number"),
    ({"versions": True}, "must be a whole number"),
    ({"ttl": "ten"}, "must be a whole number"),
])
def test_family_options_that_hbase_refuses_are_refused_not_defaulted(options, message):
    """On the wire 0 means "the default": without these checks TTL 0 became FOREVER,
    block size 0 became 64 KiB and 1.7 versions became 1."""
    from client import protocol
    from minihbase.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=message):
        protocol.family_schema("cf", options)
    assert protocol.family_schema("cf", {"ttl": "60", "versions": 3}).ttl_seconds == 60


def test_shell_reports_errors_on_one_line_and_goes_on(rec):
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    assert shell.run_line("put 't1', 'r1") is True
    assert shell.run_line("put 't1', 'r1', 'cf:q', 'v'") is True
    assert shell.run_line("exit") is False
    assert err.getvalue().startswith("ERROR: unterminated string")
    assert len(err.getvalue().splitlines()) == 1
    assert shell.failed == 1 and rec.calls[0][0] == "put"


def _dispatched_commands() -> set[str]:
    """Every command name the shell's dispatcher compares a command with (`n == "put"`,
    `n in ("exit", "quit")`, `cmd.name == "help"` ...), read from client/shell.py itself."""
    import ast
    import inspect

    from client import shell

    names = set(shell.SNAPSHOT_COMMANDS) | set(shell.ADMIN_COMMANDS)
    for node in ast.walk(ast.parse(inspect.getsource(shell))):
        if isinstance(node, ast.Compare) and ast.unparse(node.left) in ("n", "cmd.name"):
            for const in ast.walk(node.comparators[0]):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    names.add(const.value)
    return names


def _stub_commands(monkeypatch) -> list:
    """Every command of client/commands.py (those taking a connection) records its call."""
    import inspect

    calls = []
    for name, fn in vars(commands).items():
        if inspect.isfunction(fn) and next(iter(inspect.signature(fn).parameters)) == "conn":
            monkeypatch.setattr(commands, name,
                                lambda conn, out, *a, _name=name, **k: calls.append(_name))
    return calls


def test_every_dispatched_command_has_help_whose_examples_the_shell_runs(monkeypatch):
    from client import help_texts

    dispatched = _dispatched_commands()
    assert {"put", "scan", "create", "alter", "snapshot", "help", "exit", "desc"} <= dispatched
    assert {n for n in dispatched if help_texts.command(n) is None} == set()
    assert {help_texts.ALIASES.get(n, n) for n in dispatched} == set(help_texts.COMMANDS)
    _stub_commands(monkeypatch)
    for name, h in help_texts.COMMANDS.items():
        assert h.group in help_texts.GROUPS and h.summary.endswith("."), name
        assert h.examples, f"{name} has no example"
        err = io.StringIO()
        shell = Shell("unused:1", 1.0, out=io.StringIO(), err=err, connect=lambda: None)
        used = set()
        for example in h.examples:  # in one shell: `t = get_table 't1'`, then `t.put ...`
            used |= {help_texts.ALIASES.get(c.name, c.name) for c in parse_line(example)}
            shell.run_line(example)
        assert (err.getvalue(), shell.failed) == ("", 0), name
        assert name in used, f"no example of {name} uses it"


def test_help_lists_the_commands_by_hbase_group_and_needs_no_cluster():
    out, err = io.StringIO(), io.StringIO()

    def no_cluster():
        raise AssertionError("help connected to a cluster")

    shell = Shell("unused:1", 1.0, out=out, err=err, connect=no_cluster)
    shell.run_line("help")
    text = out.getvalue()
    groups = [line.split(": ")[1] for line in text.splitlines() if "Group name:" in line]
    assert groups == ["general", "ddl", "namespace", "dml", "tools", "snapshots"]
    dml = text.split("Group name: dml")[1].split("Group name:")[0]
    assert "Commands: append, count, delete, deleteall, get, get_counter" in dml
    assert "SHELL USAGE:" in text and err.getvalue() == ""


def test_help_for_a_command_shows_what_it_does_its_options_and_examples():
    from client.shell import help_text

    scan = help_text("scan")
    assert scan.startswith("Read the rows of a table")
    assert "ROWPREFIXFILTER => 'user1'" in scan and "RAW => true" in scan
    assert "Examples:\n  hbase> scan 't1'\n" in scan
    assert "create 't1'" not in scan
    assert "NUMREGIONS => 16, SPLITALGO => 'HexStringSplit'" in help_text("create")
    assert "KEEP_DELETED_CELLS => true" in help_text("alter")  # the family attributes too
    assert help_text("desc") == help_text("describe")
    assert help_text("balance") == help_text("balancer")
    assert "locate_region" in help_text("get_table")  # a table reference's methods


def test_help_for_a_group_shows_each_of_its_commands_and_unknown_names_are_errors():
    from client.shell import help_text

    ddl = help_text("ddl")
    assert ddl.startswith("Command: alter\n") and "Command: create\n" in ddl
    assert "Command: put" not in ddl and "hbase> list 'user.*'" in ddl
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    shell.run_line("help 'nosuch'")
    assert err.getvalue() == ("ERROR: unknown command or command group 'nosuch'; type 'help' "
                              "for the list\n")
    assert shell.failed == 1 and out.getvalue() == ""


def test_table_references_parse_and_run_their_commands_on_the_table(rec, monkeypatch):
    """HBase's `t = get_table 't1'` (or `t = create ...`) then `t.put ...`: a method of a table
    reference is the shell command with the table first; nothing else can be assigned."""
    assert parse("t = get_table 't1'") == Command("get_table", [b"t1"], assign="t")
    assert parse("t.get('r1', 'cf:q')") == Command("get", [b"r1", b"cf:q"], target="t")
    monkeypatch.setattr(commands, "get_table", rec._record("get_table"))
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    for line in ("t = get_table 't1'", "t.put 'r1', 'cf:q', 'v'", "u = create 't2', 'cf'",
                 "u.scan {LIMIT => 2}", "t.split", "x.get 'r1'", "n = list", "t.count"):
        shell.run_line(line)
    assert [(name, args[0]) for name, args, _ in rec.calls] == [
        ("get_table", "t1"), ("put", "t1"), ("create", "t2"), ("scan", "t2"), ("count", "t1")]
    assert rec.calls[1][1][1:] == (b"r1", b"cf:q", b"v", None)
    errors = err.getvalue()
    assert "a table has no method 'split'" in errors
    assert "'x' is not a table reference; make one with x = get_table 't1'" in errors
    assert "only a table reference can be assigned" in errors and shell.failed == 3


@pytest.mark.parametrize("line, message", [
    ("get 't1', 'r', {TIMESTAMP => -1}", "TIMESTAMP must be between 0 and 9223372036854775807"),
    ("scan 't1', {TIMERANGE => [-5, 9]}", "TIMERANGE min must be between 0 and"),
    ("put 't1', 'r', 'cf:q', 'v', 99999999999999999999999", "timestamp must be between 0 and"),
    ("delete 't1', 'r', 'cf:q', -3", "timestamp must be between 0 and"),
    ("merge_region 'a', 'b', true", "merge_region with force .* is not supported"),
    ("alter 't1', METHOD => 'table_att', PRIORITY => 5",
     "unsupported table attribute.*PRIORITY; supported: COMPACTION_ENABLED, "
     "DURABILITY, MAX_FILESIZE"),
    ("alter 't1', READONLY => true, OWNER => 'me'", "unsupported table attribute.*OWNER"),
    ("create 't1', 'cf', {REGION_REPLICATION => 2}", "create: unsupported table attribute"),
    ("alter 't1', DURABILITY => 'LATER'", "DURABILITY must be one of USE_DEFAULT, SKIP_WAL"),
    ("alter 't1', METHOD => 'table_att_unset', NAME => 'OWNER'",
     "table_att_unset: unsupported table attribute.*OWNER"),
    ("alter 't1', METHOD => 'table_att_unset'", "table_att_unset needs NAME"),
    ("alter 't1', READONLY => 'yes'", "READONLY must be true or false, got 'yes'"),
    ("create 't1', 'cf', {MEMSTORE_FLUSHSIZE => 'big'}",
     "MEMSTORE_FLUSHSIZE must be a whole number of bytes, got 'big'"),
    ("alter 't1', METHOD => 'table_att'", "table_att' needs a table attribute"),
    ("alter 't1', METHOD => 'bogus', NAME => 'cf'", "unknown METHOD 'bogus'"),
    ("alter 't1', {VERSIONS => 3}", "a hash needs NAME => 'cf'"),
    # a bare hash of attributes minihbase does not build names them and the supported ones
    ("alter 't1', OWNER => 'me'",
     "a hash needs NAME => 'cf' .*, got OWNER; supported table attributes: COMPACTION_ENABLED"),
])
def test_out_of_range_timestamps_force_merge_and_bad_table_attributes_are_usage_errors(
        rec, line, message):
    with pytest.raises(commands.UsageError, match=message):
        run(line)
    assert rec.calls == []


@pytest.mark.parametrize("line, regions", [
    ("merge_region 'a', 'b'", ("a", "b")),
    ("merge_region 'a', 'b', 'c'", ("a", "b", "c")),
    ("merge_region ['a', 'b', 'c', 'd']", ("a", "b", "c", "d")),
    ("merge_region ['a', 'b']", ("a", "b")),
    ("merge_region 'a', 'b', 'c', false", ("a", "b", "c")),  # force => false: a plain merge
    ("merge_region ['a', 'b', 'c'], false", ("a", "b", "c")),
    ("merge 'a', 'b'", ("a", "b")),
])
def test_merge_region_takes_two_or_more_regions_in_both_hbase_forms(rec, line, regions):
    """HBase 2.3+'s merge_region: regions as arguments or as one array, then an optional
    force flag (merge_region.rb flattens its arguments and takes a trailing true/false)."""
    run(line)
    assert rec.calls == [("merge", regions, {})]


@pytest.mark.parametrize("line, message", [
    ("merge_region ['a', 'b', 'c'], true", "merge_region with force .* is not supported"),
    ("merge_region 'a'", "merge_region needs at least 2 regions, got 1"),
    ("merge_region ['a']", "merge_region needs at least 2 regions, got 1"),
    ("merge_region", "merge_region needs at least 2 regions, got 0"),
    ("merge_region 'a', 3", "region must be a quoted string, got 3"),
    ("merge_region ['a', 'b'], 'c', {X => 1}", "region must be a quoted string"),
])
def test_merge_region_refusals(rec, line, message):
    with pytest.raises(commands.UsageError, match=message):
        run(line)
    assert rec.calls == []


def test_a_write_timestamp_out_of_range_is_refused_by_the_client():
    from client import protocol
    from minihbase.errors import InvalidArgumentError

    assert protocol.cell_timestamp(None) == protocol.cell_timestamp(2**63 - 1)
    for ts in (-1, 2**63):
        with pytest.raises(InvalidArgumentError, match="timestamp must be between 0 and"):
            protocol.put_mutation(b"r", {b"cf:q": b"v"}, ts)


def test_client_table_attributes_are_checked_by_name_and_value():
    """create_table(..., readonly=True, memstore_flushsize=...): a name the client does not
    know, or a value of the wrong kind, is an error naming it, before any call."""
    from client import protocol

    assert protocol.table_attributes({"readonly": True, "max_filesize": None,
                                      "memstore_flushsize": "1048576"}) == {
        "readonly": True, "memstore_flushsize": 1048576}
    with pytest.raises(errors.InvalidArgumentError, match="unknown table attribute 'owner'"):
        protocol.table_attributes({"owner": "me"})
    with pytest.raises(errors.InvalidArgumentError, match="SPLIT_ENABLED must be true or false"):
        protocol.table_attributes({"split_enabled": "maybe"})


def test_max_filesize_is_a_table_attribute_of_create_and_alter(rec):
    """HBase's MAX_FILESIZE (the table's split size): at create, and in alter as a bare table
    attribute, with METHOD => 'table_att', or unset with 'table_att_unset'."""
    run("create 't1', 'cf', {MAX_FILESIZE => '1048576'}")
    run("create 't2', {NAME => 'cf'}, {MAX_FILESIZE => 2097152, SPLITS => ['m']}")
    run("alter 't1', MAX_FILESIZE => '134217728'")
    run("alter 't1', METHOD => 'table_att', MAX_FILESIZE => 65536")
    run("alter 't1', METHOD => 'table_att_unset', NAME => 'MAX_FILESIZE'")
    run("alter 't1', {NAME => 'cf', VERSIONS => 2}, MAX_FILESIZE => 65536")
    assert [c[1][-1] if c[0] == "create" else c[2]["attributes"] for c in rec.calls] == \
        [{"max_filesize": n} for n in (1048576, 2097152, 134217728, 65536, 0, 65536)]
    assert rec.calls[1][1][2] == [b"m"] and rec.calls[-1][2]["add"] == {"cf": {"max_versions": 2}}


def test_every_table_attribute_in_each_form_the_hbase_shell_takes(rec):
    """create's attribute hash (with or without SPLITS), alter's bare attributes and METHOD =>
    'table_att', and 'table_att_unset' of one name or a list: a default unsets one."""
    run("create 't1', {NAME => 'cf'}, {MEMSTORE_FLUSHSIZE => '134217728', READONLY => true}")
    run("create 't1', 'cf', {COMPACTION_ENABLED => false, SPLIT_ENABLED => 'FALSE', "
        "MERGE_ENABLED => 'false', SPLITS => ['m']}")
    run("alter 't1', READONLY => 'true'")
    run("alter 't1', MEMSTORE_FLUSHSIZE => '134217728'")
    run("alter 't1', {METHOD => 'table_att', READONLY => false, COMPACTION_ENABLED => true}")
    run("alter 't1', METHOD => 'table_att_unset', NAME => ['READONLY', 'SPLIT_ENABLED', "
        "'MEMSTORE_FLUSHSIZE']")
    run("alter 't1', DURABILITY => 'async_wal'")
    run("alter 't1', METHOD => 'table_att_unset', NAME => 'DURABILITY'")
    assert [c[1][-1] if c[0] == "create" else c[2]["attributes"] for c in rec.calls] == [
        {"memstore_flushsize": 134217728, "readonly": True},
        {"compaction_enabled": False, "split_enabled": False, "merge_enabled": False},
        {"readonly": True}, {"memstore_flushsize": 134217728},
        {"readonly": False, "compaction_enabled": True},
        {"readonly": False, "split_enabled": True, "memstore_flushsize": 0},
        {"durability": "ASYNC_WAL"}, {"durability": "USE_DEFAULT"}]
    assert rec.calls[1][1][2] == [b"m"]


def test_the_older_normalizer_target_size_name_is_read_as_the_mb_one(rec):
    """HBase before 2.5 named it NORMALIZER_TARGET_REGION_SIZE (MB too) and still reads that
    key (HBASE-25651); scripts written for it keep working."""
    run("create 't1', 'cf', {NORMALIZER_TARGET_REGION_SIZE => 256}")
    run("alter 't1', NORMALIZER_TARGET_REGION_SIZE => '-1'")
    run("alter 't1', METHOD => 'table_att_unset', NAME => 'NORMALIZER_TARGET_REGION_SIZE'")
    assert [c[1][-1] if c[0] == "create" else c[2]["attributes"] for c in rec.calls] == [
        {"normalizer_target_region_size_mb": n} for n in (256, 0, 0)]


def test_namespace_commands_dispatch(monkeypatch):
    calls = []
    for name in ("create_namespace", "drop_namespace", "list_namespace",
                 "list_namespace_tables", "describe_namespace", "alter_namespace"):
        monkeypatch.setattr(commands, name,
                            lambda conn, out, *args, name=name: calls.append((name, args)))
    for line in ("create_namespace 'ns1'", "list_namespace", "list_namespace 'n.*'",
                 "list_namespace_tables 'ns1'", "describe_namespace 'ns1'",
                 "drop_namespace 'ns1'",
                 "create_namespace 'ns2', {'hbase.namespace.quota.maxtables' => 5}, "
                 "{'a' => 'b', 'c' => true}",
                 "alter_namespace 'ns2', {METHOD => 'set', 'a' => 'c'}",
                 "alter_namespace 'ns2', {METHOD => 'unset', NAME => 'a'}"):
        run(line)
    assert calls == [("create_namespace", ("ns1", {})), ("list_namespace", (None,)),
                     ("list_namespace", ("n.*",)), ("list_namespace_tables", ("ns1",)),
                     ("describe_namespace", ("ns1",)), ("drop_namespace", ("ns1",)),
                     ("create_namespace",
                      ("ns2", {"hbase.namespace.quota.maxtables": "5", "a": "b", "c": "true"})),
                     ("alter_namespace", ("ns2", {"a": "c"}, [])),
                     ("alter_namespace", ("ns2", {}, ["a"]))]
    for bad in ("alter_namespace 'ns2', {METHOD => 'unset', NAME => 'a', 'b' => 'c'}",
                "alter_namespace 'ns2', {METHOD => 'set'}", "alter_namespace 'ns2', {'a' => 'b'}"):
        with pytest.raises(commands.UsageError, match="alter_namespace takes"):
            run(bad)
    with pytest.raises(commands.UsageError, match="must be a hash"):
        run("create_namespace 'ns1', 'x'")


def test_timestamp_latest_is_a_range_matching_nothing_not_an_overflow(rec):
    run("get 't1', 'r1', {TIMESTAMP => 9223372036854775807}")
    assert rec.calls[0][2]["time_range"] == (2**63 - 1, 2**63 - 1)


def test_several_commands_on_a_line_run_in_order_until_one_fails(rec):
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    assert shell.run_line("put 't1', 'r1', 'cf:q', 'v'; get 't1', 'r1' ;") is True
    assert [c[0] for c in rec.calls] == ["put", "get"]
    # parsed whole first: a syntax error anywhere runs nothing of the line
    assert shell.run_line("put 't1', 'r2', 'cf:q', 'v'; get 't1', 'r2") is True
    assert len(rec.calls) == 2 and "unterminated string" in err.getvalue()
    # a usage error stops the rest of the line, as an exception does in Ruby
    assert shell.run_line("get 't1'; put 't1', 'r3', 'cf:q', 'v'") is True
    assert len(rec.calls) == 2 and shell.failed == 2
    assert shell.run_line("put 't1', 'r4', 'cf:q', 'v'; exit; put 't1', 'r5', 'cf:q', 'v'") \
        is False
    assert [c[0] for c in rec.calls] == ["put", "get", "put"]
    with pytest.raises(ShellSyntaxError, match="one command expected, got 2"):
        parse("list; list")


def test_script_errors_name_the_line(rec, tmp_path):
    from client.shell import _run_lines

    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    _run_lines(shell, [b"put 't1', 'r1', 'cf:q', 'v'", b"", b"get 't1'"], "s.hb")
    assert err.getvalue().startswith("ERROR: s.hb, line 3: wrong number of arguments for get")


def test_errors_show_values_in_shell_syntax(rec):
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: None)
    shell.run_line("snapshot 't1', 's1', {SKIP_FLUSH => yes}")
    shell.run_line("snapshot 't1', 's1', {SKIP_FLUSH => 'true'}")
    shell.run_line("clone_snapshot 's1' 't2'")
    shell.run_line("put 't1', 'r1', 'cf:q', \"\\x00\\xff\", [1]")
    lines = err.getvalue().splitlines()
    assert lines[0].endswith("SKIP_FLUSH takes true or false, got yes")
    assert lines[1].endswith("SKIP_FLUSH takes true or false, got 'true'")
    assert lines[2].endswith("expected ',' at column 25, got string 't2'")
    assert lines[3].endswith("got [1]") and not rec.calls


class FakeAdmin:
    """The admin calls disable_all and kin make, on tables in memory (the commands' logic is
    under test here; the calls themselves are tested against real daemons elsewhere)."""

    def __init__(self):
        self.enabled = {"t1": True, "t2": False, "other": True}
        self.snaps = {"s1": "t1", "s2": "t2", "x": "other"}

    def tables(self):
        return sorted(self.enabled)

    def disable_table(self, name):
        if not self.enabled[name]:
            raise errors.TableNotEnabledError(f"table {name!r} is already disabled")
        self.enabled[name] = False

    def delete_table(self, name):
        raise AssertionError("drop_all must not drop anything before the answer")

    def list_snapshots(self):
        return [{"name": n, "table": t} for n, t in sorted(self.snaps.items())]

    def delete_snapshot(self, name):
        del self.snaps[name]


def test_disable_all_lists_asks_and_reports_each_failure(tmp_path):
    from client.shell import _run_lines

    admin = FakeAdmin()
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, out=out, err=err, connect=lambda: admin)
    _run_lines(shell, [b"disable_all 't.*'", b"n", b"disable_all 't.*'", b"y",
                       b"delete_table_snapshots 't.*', 's.*'", b"yes", b"drop_all '.*'"],
               "s.hb")
    text = out.getvalue()
    assert "t1\nt2\nDisable the above 2 tables (y/n)?\nNothing done" in text
    assert "1 tables successfully disabled" in text and admin.enabled == \
        {"t1": False, "t2": False, "other": True}
    assert err.getvalue().splitlines()[0] == (
        "ERROR: s.hb, line 3: 1 of 2 tables could not be disabled: t2: table 't2' is already "
        "disabled")
    assert "2 snapshots successfully deleted" in text and admin.snaps == {"x": "other"}
    assert err.getvalue().splitlines()[1] == (
        "ERROR: s.hb, line 7: Drop the above 3 tables? got no answer: the script ended")
    assert shell.failed == 2


def test_a_bare_word_family_flag_is_named_as_typed():
    from client import protocol

    opts = commands.family_options(parse("create 'x', {NAME => 'cf', IN_MEMORY => yes}").args[1])
    with pytest.raises(errors.InvalidArgumentError, match="in_memory must be true or false, "
                                                          "got 'yes'"):
        protocol.family_schema("cf", opts)


def test_with_json_the_listing_and_the_question_stay_off_stdout():
    from client.shell import _run_lines

    admin = FakeAdmin()
    out, err = io.StringIO(), io.StringIO()
    shell = Shell("unused:1", 1.0, as_json=True, out=out, err=err, connect=lambda: admin)
    _run_lines(shell, [b"disable_all 't1'", b"n", b"delete_all_snapshot 'x'", b"y"], "s.hb")
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"disabled": [], "failed": {}, "confirmed": False},
        {"deleted": ["x"], "failed": {}, "confirmed": True}]
    assert err.getvalue() == ("t1\nDisable the above 1 tables (y/n)?\n"
                              "x\nDelete the above 1 snapshots (y/n)?\n")


def _cli_usage_error(argv: list[str]) -> str:
    """What the CLI's argument parser prints (to stderr) when it refuses `argv`."""
    from client import cli

    err = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(err):
        cli.build_parser().parse_args(argv)
    return err.getvalue()


def test_keep_deleted_cells_takes_hbase_values_and_names_the_allowed_ones(rec):
    """KEEP_DELETED_CELLS => true | false | 'TTL' in create/alter; anything else is an error
    that names the option and its values (shell, client and CLI alike)."""
    from client import cli, protocol

    run("create 't1', {NAME => 'cf', KEEP_DELETED_CELLS => true}, "
        "{NAME => 'cg', KEEP_DELETED_CELLS => 'TTL'}")
    run("alter 't1', NAME => 'cf', KEEP_DELETED_CELLS => false")
    assert rec.calls[0][1][1] == {"cf": {"keep_deleted_cells": True},
                                  "cg": {"keep_deleted_cells": "TTL"}}
    assert rec.calls[1][2]["add"] == {"cf": {"keep_deleted_cells": False}}
    kept = [protocol.family_schema("cf", {"keep_deleted_cells": v}).keep_deleted_cells
            for v in (True, False, "ttl", b"TRUE")]
    assert kept == ["TRUE", "FALSE", "TTL", "TRUE"]
    assert protocol.family_dict(protocol.family_schema("cf", {}))["keep_deleted_cells"] == "FALSE"
    opts = commands.family_options(
        parse("create 'x', {NAME => 'cf', KEEP_DELETED_CELLS => 'maybe'}").args[1])
    with pytest.raises(errors.InvalidArgumentError,
                       match="family 'cf': KEEP_DELETED_CELLS must be one of FALSE, TRUE, TTL "
                             r"\(or true/false\), got 'maybe'"):
        protocol.family_schema("cf", opts)
    a = cli.build_parser().parse_args(["create", "t1", "cf", "--keep-deleted-cells", "ttl"])
    assert cli._family_opts(a) == {"keep_deleted_cells": "TTL"}
    err = _cli_usage_error(["create", "t1", "cf", "--keep-deleted-cells", "maybe"])
    assert "--keep-deleted-cells: invalid choice: 'MAYBE'" in err
    assert "'FALSE', 'TRUE', 'TTL'" in err


def test_data_block_encoding_takes_hbase_values_and_names_the_allowed_ones(rec):
    """DATA_BLOCK_ENCODING => 'FAST_DIFF' | 'PREFIX' | 'NONE' in create/alter, any case; 'ZIP',
    DIFF and ROW_INDEX_V1 are errors naming the supported values (shell, client and CLI)."""
    from client import cli, formatting, protocol

    run("create 't1', {NAME => 'cf', DATA_BLOCK_ENCODING => 'FAST_DIFF'}")
    run("alter 't1', NAME => 'cf', DATA_BLOCK_ENCODING => 'prefix'")
    assert rec.calls[0][1][1] == {"cf": {"data_block_encoding": "FAST_DIFF"}}
    assert rec.calls[1][2]["add"] == {"cf": {"data_block_encoding": "prefix"}}
    fs = protocol.family_schema("cf", {"data_block_encoding": "prefix"})
    assert fs.data_block_encoding == "PREFIX"
    assert protocol.family_dict(fs)["data_block_encoding"] == "PREFIX"
    assert protocol.family_dict(protocol.family_schema("cf", {}))["data_block_encoding"] == "NONE"
    assert "DATA_BLOCK_ENCODING => 'PREFIX'" in formatting.family_text(protocol.family_dict(fs))
    opts = commands.family_options(
        parse("create 'x', {NAME => 'cf', DATA_BLOCK_ENCODING => 'ZIP'}").args[1])
    with pytest.raises(errors.InvalidArgumentError,
                       match="family 'cf': DATA_BLOCK_ENCODING must be one of NONE, PREFIX, "
                             "FAST_DIFF, got 'ZIP'"):
        protocol.family_schema("cf", opts)
    with pytest.raises(errors.InvalidArgumentError, match="ROW_INDEX_V1 is not supported"):
        protocol.family_schema("cf", {"data_block_encoding": "ROW_INDEX_V1"})
    a = cli.build_parser().parse_args(["create", "t1", "cf", "--data-block-encoding", "fast_diff"])
    assert cli._family_opts(a) == {"data_block_encoding": "FAST_DIFF"}
    err = _cli_usage_error(["create", "t1", "cf", "--data-block-encoding", "zip"])
    assert "--data-block-encoding: invalid choice: 'ZIP'" in err
    assert "'NONE', 'PREFIX', 'FAST_DIFF'" in err


def test_an_unsupported_options_hash_is_named_not_counted(rec):
    """HBase's append/incr take ATTRIBUTES and VISIBILITY; refused by name, not as a count."""
    with pytest.raises(commands.UsageError, match="append: options ATTRIBUTES are not "
                                                  "supported by minihbase"):
        run("append 't1', 'r2', 'cf:q', 'v', {ATTRIBUTES => {'a' => 'b'}}")
    with pytest.raises(commands.UsageError, match="wrong number of arguments for append"):
        run("append 't1', 'r2', 'cf:q'")
    assert rec.calls == []


def test_switches_take_booleans_quoted_or_not_as_hbase_s_boolean_valueof(monkeypatch):
    calls = []
    monkeypatch.setattr(commands, "splitormerge_switch",
                        lambda conn, out, kind, on: calls.append((kind, on)))
    for line in ("splitormerge_switch 'SPLIT', false", "splitormerge_switch 'MERGE', 'TRUE'",
                 "splitormerge_switch 'SPLIT', 'false'"):
        run(line)
    assert calls == [("SPLIT", False), ("MERGE", True), ("SPLIT", False)]
    with pytest.raises(commands.UsageError, match="takes true or false, got 'yes'"):
        run("splitormerge_switch 'SPLIT', 'yes'")


def test_normalize_takes_hbase_s_table_filter(monkeypatch):
    calls = []
    monkeypatch.setattr(commands, "normalize",
                        lambda conn, out, **kwargs: calls.append(kwargs))
    for line in ("normalize", "normalize {'TABLE_NAMES' => ['t1', 'ns:t2']}",
                 "normalize TABLE_NAME => 't1'", "normalize REGEX => 'ns:.*'",
                 "normalize {NAMESPACE => 'ns'}",
                 "normalize NAMESPACE => 'ns', REGEX => '.*_big'",
                 "normalize({TABLE_NAMES => 't1', REGEX => ''})",
                 "normalize {REGEX => 'a'}, {NAMESPACE => 'ns'}"):
        run(line)
    assert calls == [{}, {"table_names": ["t1", "ns:t2"]}, {"table_names": ["t1"]},
                     {"regex": "ns:.*"}, {"namespace": "ns"},
                     {"namespace": "ns", "regex": ".*_big"},
                     {"table_names": ["t1"], "regex": ""}, {"regex": "a", "namespace": "ns"}]


@pytest.mark.parametrize("line, message", [
    ("normalize {TABLES => ['t1']}", "normalize: unsupported option(s) TABLES; supported: "
                                     "NAMESPACE, REGEX, TABLE_NAME, TABLE_NAMES"),
    ("normalize 't1'", "normalize's filter must be a hash"),
    ("normalize REGEX => ['a']", "regex must be a quoted string, got ['a']"),
    ("normalize TABLE_NAMES => {'t1' => 1}", "table name must be a quoted string"),
])
def test_normalize_refuses_a_filter_it_cannot_read(monkeypatch, line, message):
    monkeypatch.setattr(commands, "normalize", lambda conn, out, **kwargs: None)
    with pytest.raises(commands.UsageError, match=re.escape(message)):
        run(line)


def test_deleteall_with_rowprefixfilter_deletes_every_row_with_the_prefix_in_batches(rec):
    """HBase 2's deleteall 't1', {ROWPREFIXFILTER => 'p', CACHE => n}[, column][, ts]."""
    run("deleteall 't1', {ROWPREFIXFILTER => 'user1'}")
    run("deleteall 't1', {ROWPREFIXFILTER => \"u\\x00\", CACHE => 1000}, 'cf:q', 42")
    run("deleteall 't1', {ROWPREFIXFILTER => 'u'}, nil, 7")
    run("deleteall 't1', ROWPREFIXFILTER => 'u'")  # the bare trailing hash, as Ruby reads it
    assert rec.calls == [("deleteall_prefix", ("t1", b"user1", None, None, 100), {}),
                         ("deleteall_prefix", ("t1", b"u\x00", b"cf:q", 42, 1000), {}),
                         ("deleteall_prefix", ("t1", b"u", None, 7, 100), {}),
                         ("deleteall_prefix", ("t1", b"u", None, None, 100), {})]


@pytest.mark.parametrize("line, message", [
    ("deleteall 't1', {CACHE => 10}", "a hash instead of the row needs ROWPREFIXFILTER"),
    ("deleteall 't1', {ROWPREFIXFILTER => 'p', LIMIT => 3}",
     "deleteall: unsupported option.*LIMIT; supported: CACHE, ROWPREFIXFILTER"),
    ("deleteall 't1', {ROWPREFIXFILTER => 'p', CACHE => 'many'}", "CACHE must be a number"),
    ("deleteall 't1', {ROWPREFIXFILTER => 'p'}, 'cf:q', -1", "timestamp must be between 0"),
])
def test_deleteall_prefix_refusals(rec, line, message):
    with pytest.raises(commands.UsageError, match=message):
        run(line)
    assert rec.calls == []


def test_an_empty_or_unbounded_deleteall_prefix_is_refused_before_any_scan():
    """HBase's shell would scan and delete the whole table for an empty prefix."""
    for prefix, cache, message in [(b"", 100, "ROWPREFIXFILTER must not be empty.*truncate"),
                                   (b"p", 0, "CACHE must be between 1 and 100000, got 0")]:
        with pytest.raises(commands.UsageError, match=message):
            commands.deleteall_prefix(None, commands.Output(out=io.StringIO()), "t1", prefix,
                                      cache=cache)


@pytest.mark.parametrize("ttl, seconds", [
    ("'1 DAY'", 86400), ("'2 DAYS 3 HOURS'", 2 * 86400 + 3 * 3600),
    ("'86400 SECONDS (1 DAY)'", 86400), ("'90061 SECONDS (1 DAY 1 HOUR 1 MINUTE 1 SECOND)'", 90061),
    ("'5 minutes'", 300), ("'59 SECONDS'", 59), ("'3600'", 3600), ("3600", 3600),
    ("'FOREVER'", None), ("FOREVER", None), ("'forever'", None),
])
def test_ttl_is_read_as_hbase_2_s_shell_reads_it_in_create_and_alter(rec, ttl, seconds):
    """HBase's PrettyPrinter.valueFromHumanReadable: TTL => '1 DAY' and what describe prints."""
    run(f"create 't1', {{NAME => 'cf', TTL => {ttl}}}")
    run(f"alter 't1', NAME => 'cf', TTL => {ttl}")
    assert rec.calls[0][1][1] == {"cf": {"ttl": seconds}}
    assert rec.calls[1][2]["add"] == {"cf": {"ttl": seconds}}


@pytest.mark.parametrize("ttl, message", [
    ("'1 FORTNIGHT'", "TTL '1 FORTNIGHT' is not seconds, FOREVER or an interval"),
    ("''", "TTL '' is not seconds"),
    ("'86400 SECONDS (2 DAYS)'", "86400 seconds is not the interval in parentheses"),
])
def test_ttl_text_hbase_cannot_read_is_an_error_naming_it_not_zero(rec, ttl, message):
    with pytest.raises(commands.UsageError, match=re.escape(message)):
        run(f"alter 't1', NAME => 'cf', TTL => {ttl}")
    assert rec.calls == []


def test_ttl_text_reads_back_what_describe_prints():
    from client import formatting as fmt

    for seconds in (1, 59, 60, 3600, 86400, 90061, 180062, 30 * 86400):
        assert fmt.ttl_seconds(fmt.ttl_text(seconds)) == seconds
    assert fmt.ttl_seconds(fmt.ttl_text(None)) is None


def test_alter_async_is_alter_and_alter_status_names_the_table(rec):
    run("alter_async 't1', NAME => 'cf', VERSIONS => 5")
    run("alter_status 't1'")
    assert rec.calls == [("alter", ("t1",), {"add": {"cf": {"max_versions": 5}}, "remove": [],
                                            "attributes": {}, "report_regions": False}),
                         ("alter_status", ("t1",), {})]
    with pytest.raises(commands.UsageError, match="usage: alter_status 't1'"):
        run("alter_status 't1', 't2'")
