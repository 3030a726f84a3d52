"""`minihbase`: the command-line client (docs/cli.md).

    minihbase [--zk HOST:PORT] [--zk-parent /hbase] [--timeout S] [--json] COMMAND ARGS...
    minihbase shell                      # interactive HBase-shell syntax (client/shell.py)

ZooKeeper: --zk, else $MINIHBASE_ZK, else 127.0.0.1:2181; the cluster's parent znode:
--zk-parent, else $MINIHBASE_ZK_PARENT, else /hbase (the daemons' flag of the same name).
Rows, columns and values on the command line may contain "\\xHH" escapes (HBase's
Bytes.toBytesBinary), so anything `scan` prints can be typed back. Output: readable tables,
or one JSON document with --json. Every error is one line "ERROR: <message>" on stderr and
exit code 1 (2 for usage errors: a wrong, missing or out-of-range argument, found before
the cluster is asked); never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from client import commands, help_texts
from client.help_texts import ARGUMENTS
from client.formatting import STATUS_FORMATS, parse_binary, ttl_seconds
from client.protocol import family_number_range
from storage.cell import LATEST_TIMESTAMP, MAX_ROW_LENGTH
from storage.schema import (COMPRESSIONS, DATA_BLOCK_ENCODINGS, DURABILITIES,
                            KEEP_DELETED_CELLS, MIN_MAX_FILESIZE, MIN_MEMSTORE_FLUSHSIZE,
                            TABLE_ATTRIBUTES, TABLE_DEFAULTS)

DEFAULT_ZK = "127.0.0.1:2181"
DEFAULT_PARENT = "/hbase"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage + exits 2)
        print(f"ERROR: {message} (see 'minihbase {self._cmd()}--help')", file=sys.stderr)
        sys.exit(2)

    def _cmd(self) -> str:
        parts = self.prog.split()[1:]
        return " ".join(parts) + " " if parts else ""


def _in_range(number: int, low: int, high: int) -> int:
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {number}")
    return number


def whole(low: int, high: int):
    """An argparse type: a whole number from low to high. A value out of range is a usage
    error (exit 2) found before the cluster is asked, as every other argument error."""
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        return _in_range(number, low, high)
    return parse


def size_or_zero(floor: int):
    """An argparse type for MAX_FILESIZE and MEMSTORE_FLUSHSIZE: 0 (unset) or floor bytes
    and more, as storage.schema.TableDescriptor checks them."""
    check = whole(0, (1 << 63) - 1)

    def parse(text: str) -> int:
        size = check(text)
        if 0 < size < floor:
            raise argparse.ArgumentTypeError(
                f"must be at least {floor} bytes (or 0: the region servers' default), got {size}")
        return size
    return parse


TIMESTAMP = whole(0, LATEST_TIMESTAMP)
POSITIVE = whole(1, (1 << 31) - 1)


def seconds_or_forever(text: str):
    """--ttl: seconds, an interval as HBase's shell takes it ('1 DAY', '2 DAYS 3 HOURS'), or
    FOREVER (no TTL; in alter, removes one)."""
    try:
        seconds = ttl_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds is None:
        return "FOREVER"
    return _in_range(seconds, *family_number_range("ttl_seconds"))


class _SplitKeys(argparse.Action):
    """--splits: the keys as bytes, refused as the master would refuse them (empty, given
    twice, longer than a row key) but as a usage error, before the cluster is asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        keys = [parse_binary(v) for v in values]
        for i, key in enumerate(keys):
            if not key:
                raise argparse.ArgumentError(self, "a split key must not be empty (the first "
                                                   "region starts at the empty key already)")
            if len(key) > MAX_ROW_LENGTH:
                raise argparse.ArgumentError(self, f"a split key is a row key: at most "
                                                   f"{MAX_ROW_LENGTH} bytes, got {len(key)}")
            if key in keys[:i]:
                raise argparse.ArgumentError(self, f"split key '{values[i]}' is given twice")
        setattr(namespace, self.dest, keys)


def _family_flags(p) -> None:
    p.add_argument("--versions", type=whole(*family_number_range("max_versions")),
                   help="max versions per column (default 1)")
    p.add_argument("--min-versions", type=whole(*family_number_range("min_versions")))
    p.add_argument("--ttl", type=seconds_or_forever,
                   help="seconds, an interval as HBase's shell takes it ('1 DAY', '2 DAYS 3 "
                        "HOURS'), or FOREVER (the default; in alter, removes a TTL)")
    p.add_argument("--bloom", choices=["NONE", "ROW", "ROWCOL"])
    p.add_argument("--compression", choices=COMPRESSIONS, type=str.upper)
    p.add_argument("--block-size", type=whole(*family_number_range("block_size")))
    p.add_argument("--block-cache", choices=["true", "false"], type=str.lower,
                   help="cache the family's data blocks on reads (HBase's BLOCKCACHE; true)")
    p.add_argument("--in-memory", choices=["true", "false"], type=str.lower,
                   help="evict the family's cached blocks last (HBase's IN_MEMORY; false)")
    p.add_argument("--keep-deleted-cells", choices=KEEP_DELETED_CELLS, type=str.upper,
                   help="keep deleted cells for reads with a time range before the delete "
                        "(HBase's KEEP_DELETED_CELLS; FALSE, TRUE or TTL)")
    p.add_argument("--data-block-encoding", choices=DATA_BLOCK_ENCODINGS, type=str.upper,
                   help="how keys are encoded in new HFiles' data blocks (HBase's "
                        "DATA_BLOCK_ENCODING; NONE, PREFIX or FAST_DIFF)")


def _family_opts(a) -> dict:
    opts = {"max_versions": a.versions, "min_versions": a.min_versions, "ttl": a.ttl,
            "bloom": a.bloom, "compression": a.compression, "block_size": a.block_size,
            "block_cache": a.block_cache, "in_memory": a.in_memory,
            "keep_deleted_cells": a.keep_deleted_cells,
            "data_block_encoding": a.data_block_encoding}
    opts = {k: v for k, v in opts.items() if v is not None}
    if opts.get("ttl") == "FOREVER":
        opts["ttl"] = None  # no TTL (alter keeps the options not given, so None is not left out)
    return opts


def _attribute_flags(p) -> None:
    """--max-filesize BYTES, --readonly [true|false]...: one flag per table attribute (their
    help: client/help_texts.ARGUMENTS)."""
    for name in TABLE_ATTRIBUTES.values():
        flag = "--" + name.replace("_", "-")
        if name == "durability":
            p.add_argument(flag, choices=DURABILITIES, type=str.upper)
        elif isinstance(TABLE_DEFAULTS[name], bool):
            p.add_argument(flag, nargs="?", const="true", choices=["true", "false"],
                           type=str.lower, metavar="true|false")
        elif name.startswith("normalizer_"):
            p.add_argument(flag, type=whole(0, (1 << 31) - 1), metavar="N")
        else:
            p.add_argument(flag, metavar="BYTES", type=size_or_zero(
                MIN_MAX_FILESIZE if name == "max_filesize" else MIN_MEMSTORE_FLUSHSIZE))


def _attributes(a) -> dict:
    """The table attributes given as flags, by field name."""
    given = {name: getattr(a, name) for name in TABLE_ATTRIBUTES.values()
             if getattr(a, name) is not None}
    return {name: v == "true" if isinstance(TABLE_DEFAULTS[name], bool) else v
            for name, v in given.items()}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="minihbase", description="minihbase client: admin and data commands")
    p.add_argument("--zk", default=None,
                   help=f"ZooKeeper quorum (default $MINIHBASE_ZK or {DEFAULT_ZK})")
    p.add_argument("--zk-parent", default=None,
                   help=f"the cluster's parent znode (default $MINIHBASE_ZK_PARENT or "
                        f"{DEFAULT_PARENT})")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="overall timeout of each operation, seconds (default 30)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name):
        h = help_texts.cli_help(name)
        c = sub.add_parser(name, help=h.summary, description=help_texts.cli_description(name),
                           epilog=help_texts.cli_epilog(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        # The global options are accepted after the command too (`minihbase scan t1 --json`);
        # SUPPRESS keeps the value given before the command when they are not repeated.
        c.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
        c.add_argument("--zk", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        c.add_argument("--zk-parent", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        c.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return c

    c = cmd("create")
    c.add_argument("table")
    c.add_argument("families", nargs="+")
    c.add_argument("--splits", nargs="+", default=[], metavar="KEY", action=_SplitKeys)
    _attribute_flags(c)
    _family_flags(c)
    c = cmd("list")
    c.add_argument("regex", nargs="?")
    for name in ("drop_namespace", "list_namespace_tables", "describe_namespace"):
        cmd(name).add_argument("namespace")
    for name in ("create_namespace", "alter_namespace"):
        c = cmd(name)
        c.add_argument("namespace")
        c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       type=_key_value)
        if name == "alter_namespace":
            c.add_argument("--unset", action="append", default=[], metavar="KEY")
    c = cmd("list_namespace")
    c.add_argument("regex", nargs="?")
    c = cmd("describe")
    c.add_argument("table")
    c = cmd("alter")
    c.add_argument("table")
    c.add_argument("family", nargs="?")
    c.add_argument("--delete", action="append", default=[], metavar="FAMILY")
    _attribute_flags(c)
    _family_flags(c)
    for name in ("disable", "enable", "drop", "exists", "is_enabled", "is_disabled",
                 "list_regions", "get_splits", "truncate", "truncate_preserve", "alter_status"):
        cmd(name).add_argument("table")
    c = cmd("snapshot")
    c.add_argument("table")
    c.add_argument("name")
    c.add_argument("--skip-flush", action="store_true",
                   help="leave out what is only in memstores (HBase's SKIP_FLUSH)")
    c = cmd("list_snapshots")
    c.add_argument("regex", nargs="?")
    c = cmd("list_table_snapshots")
    c.add_argument("table_regex")
    c.add_argument("regex", nargs="?")
    for name in ("delete_snapshot", "restore_snapshot"):
        cmd(name).add_argument("name")
    for name in ("disable_all", "enable_all", "drop_all", "delete_all_snapshot"):
        c = cmd(name)
        c.add_argument("regex")
        c.add_argument("--yes", action="store_true", help="do not ask")
    c = cmd("delete_table_snapshots")
    c.add_argument("table_regex")
    c.add_argument("regex", nargs="?")
    c.add_argument("--yes", action="store_true", help="do not ask")
    c = cmd("clone_table_schema")
    c.add_argument("table")
    c.add_argument("new_table")
    c.add_argument("--no-splits", action="store_true", help="one region (HBase's false)")
    c = cmd("clone_snapshot")
    c.add_argument("name")
    c.add_argument("table")
    c = cmd("export_snapshot")
    c.add_argument("name")
    c.add_argument("copy_to")
    c = cmd("locate_region")
    c.add_argument("table")
    c.add_argument("row")
    cmd("version")
    cmd("whoami")
    c = cmd("put")
    for a in ("table", "row", "column", "value"):
        c.add_argument(a)
    c.add_argument("--ts", type=TIMESTAMP)
    filter_help = "HBase filter language, e.g. \"PrefixFilter('a') AND KeyOnlyFilter()\""
    c = cmd("get")
    c.add_argument("table")
    c.add_argument("row")
    c.add_argument("columns", nargs="*")
    c.add_argument("--versions", type=POSITIVE, default=1)
    c.add_argument("--ts", type=TIMESTAMP, help="only cells with timestamp <= this")
    c.add_argument("--filter", help=filter_help)
    c = cmd("scan")
    c.add_argument("table")
    c.add_argument("--start", help="first row (inclusive)")
    c.add_argument("--stop", help="stop row (exclusive)")
    c.add_argument("--prefix", help="only rows starting with this; replaces --start and "
                                    "--stop, as the shell's ROWPREFIXFILTER does")
    c.add_argument("--columns", nargs="+", default=[])
    c.add_argument("--limit", type=POSITIVE)
    c.add_argument("--reverse", action="store_true")
    c.add_argument("--versions", type=POSITIVE)
    c.add_argument("--filter", help=filter_help)
    c.add_argument("--raw", action="store_true",
                   help="HBase's RAW scan: delete markers and the cells they mask too")
    c = cmd("delete")
    c.add_argument("table")
    c.add_argument("row")
    c.add_argument("column")
    c.add_argument("--ts", type=TIMESTAMP)
    c = cmd("deleteall")
    c.add_argument("table")
    c.add_argument("row", nargs="?")
    c.add_argument("column", nargs="?")
    c.add_argument("--ts", type=TIMESTAMP)
    c.add_argument("--prefix", help="every row starting with this instead of one row "
                                    "(the shell's ROWPREFIXFILTER); then the column, if "
                                    "any, follows the table: deleteall t1 cf:q --prefix p")
    c.add_argument("--cache", type=whole(1, commands.MAX_DELETE_BATCH),
                   default=commands.DELETE_BATCH,
                   help=f"with --prefix: rows deleted per batch (HBase's CACHE; default "
                        f"{commands.DELETE_BATCH})")
    c = cmd("count")
    c.add_argument("table")
    c.add_argument("--interval", type=POSITIVE, default=1000, help="progress every N rows")
    c.add_argument("--filter", help="count only the rows this filter returns")
    c = cmd("incr")
    for a in ("table", "row", "column"):
        c.add_argument(a)
    c.add_argument("amount", nargs="?", type=whole(-(1 << 63), (1 << 63) - 1), default=1)
    c = cmd("append")
    for a in ("table", "row", "column", "value"):
        c.add_argument(a)
    c = cmd("get_counter")
    for a in ("table", "row", "column"):
        c.add_argument(a)
    c = cmd("status")
    c.add_argument("format", nargs="?", default="summary", choices=STATUS_FORMATS)
    c = cmd("hbck")
    c.add_argument("--clean", action="store_true",
                   help="also run the master's orphan cleaner now, with its chore's rules "
                        "(docs/coordination.md, 'Consistency check')")
    cmd("balance")
    c = cmd("balance_switch")
    c.add_argument("state", choices=["on", "off", "true", "false"])
    cmd("balancer_enabled")
    c = cmd("split")
    c.add_argument("target")
    c.add_argument("key", nargs="?")
    c = cmd("merge")
    c.add_argument("region_a")
    c.add_argument("region_b")
    c.add_argument("more", nargs="*", metavar="region")
    c = cmd("flush")
    c.add_argument("target")
    for name in ("compact", "major_compact"):
        c = cmd(name)
        c.add_argument("target")
        c.add_argument("family", nargs="?")
        c.add_argument("--wait", action="store_true",
                       help="return once every region has compacted (within --timeout)")
        if name == "compact":
            c.add_argument("--major", action="store_true")
    c = cmd("compaction_state")
    c.add_argument("table")
    c = cmd("move")
    c.add_argument("region")
    c.add_argument("server", nargs="?", default="")
    _admin_parsers(cmd)
    c = cmd("shell")
    c.add_argument("script", nargs="?")
    _describe_arguments(sub)
    return p


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _admin_parsers(cmd) -> None:
    """HBase's operator commands: decommissioning, switches, the janitor, dead servers."""
    c = cmd("decommission_regionservers")
    c.add_argument("servers", nargs="+")
    c.add_argument("--no-offload", action="store_true")
    c = cmd("recommission_regionserver")
    c.add_argument("server")
    c.add_argument("regions", nargs="*")
    for name in ("splitormerge_switch", "splitormerge_enabled"):
        c = cmd(name)
        c.add_argument("kind", type=str.upper, choices=["SPLIT", "MERGE"])
        if name == "splitormerge_switch":
            c.add_argument("state", choices=["on", "off", "true", "false"])
    for name in ("catalogjanitor_switch", "normalizer_switch"):
        cmd(name).add_argument("state", choices=["on", "off", "true", "false"])
    cmd("assign").add_argument("region")
    cmd("unassign").add_argument("region")
    cmd("clear_deadservers").add_argument("servers", nargs="*")
    c = cmd("normalize")  # HBase's NormalizeTableFilterParams
    c.add_argument("--tables", nargs="+", metavar="TABLE")
    c.add_argument("--regex")
    c.add_argument("--namespace")
    for name in ("rit", "list_deadservers", "list_decommissioned_regionservers",
                 "catalogjanitor_run", "catalogjanitor_enabled", "zk_dump",
                 "normalizer_enabled"):
        cmd(name)


def _run_admin(a, conn, out: commands.Output) -> None:
    name = a.command
    if name == "decommission_regionservers":
        commands.decommission_regionservers(conn, out, a.servers, not a.no_offload)
    elif name == "recommission_regionserver":
        commands.recommission_regionserver(conn, out, a.server, a.regions)
    elif name == "splitormerge_switch":
        commands.splitormerge_switch(conn, out, a.kind, a.state in ("on", "true"))
    elif name == "splitormerge_enabled":
        commands.splitormerge_enabled(conn, out, a.kind)
    elif name in ("catalogjanitor_switch", "normalizer_switch"):
        getattr(commands, name)(conn, out, a.state in ("on", "true"))
    elif name in ("assign", "unassign"):
        getattr(commands, name)(conn, out, a.region)
    elif name == "clear_deadservers":
        commands.clear_deadservers(conn, out, a.servers)
    elif name == "normalize":
        given = {"table_names": a.tables, "regex": a.regex, "namespace": a.namespace}
        commands.normalize(conn, out, **{k: v for k, v in given.items() if v is not None})
    else:
        getattr(commands, name)(conn, out)


def _describe_arguments(sub) -> None:
    """Every argument without a help text of its own gets the shared one (by command and
    dest, else by dest: client/help_texts.ARGUMENTS)."""
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if action.help is None:
                action.help = ARGUMENTS.get(f"{name}.{action.dest}", ARGUMENTS.get(action.dest))


def zk_quorum(flag: str | None) -> str:
    return flag or os.environ.get("MINIHBASE_ZK") or DEFAULT_ZK


def zk_parent(flag: str | None) -> str:
    return flag or os.environ.get("MINIHBASE_ZK_PARENT") or DEFAULT_PARENT


def run(a, conn, out: commands.Output) -> None:
    """Dispatch one parsed CLI command."""
    b = parse_binary
    name = a.command
    if name == "create":
        opts = _family_opts(a)
        families: dict = {}
        for f in a.families:
            commands.add_family(families, f, dict(opts))
        commands.create(conn, out, a.table, families, a.splits,
                        _attributes(a))
    elif name in ("list", "list_namespace"):
        (commands.list_tables if name == "list" else commands.list_namespace)(conn, out, a.regex)
    elif name in ("drop_namespace", "list_namespace_tables", "describe_namespace"):
        getattr(commands, name)(conn, out, a.namespace)
    elif name == "create_namespace":
        commands.create_namespace(conn, out, a.namespace, dict(a.set))
    elif name == "alter_namespace":
        commands.alter_namespace(conn, out, a.namespace, dict(a.set), a.unset)
    elif name == "describe":
        commands.describe(conn, out, a.table)
    elif name == "alter":
        add = {a.family: _family_opts(a)} if a.family else {}
        commands.alter(conn, out, a.table, add=add, remove=a.delete,
                       attributes=_attributes(a))
    elif name in ("disable", "enable", "drop", "exists", "is_enabled", "is_disabled",
                  "list_regions", "get_splits", "alter_status"):
        getattr(commands, name)(conn, out, a.table)
    elif name == "locate_region":
        commands.locate_region(conn, out, a.table, b(a.row))
    elif name == "snapshot":
        commands.snapshot(conn, out, a.table, a.name, skip_flush=a.skip_flush)
    elif name in ("list_snapshots", "list_table_snapshots"):
        commands.list_snapshots(conn, out, a.regex, getattr(a, "table_regex", None))
    elif name in ("delete_snapshot", "restore_snapshot"):
        getattr(commands, name)(conn, out, a.name)
    elif name == "clone_snapshot":
        commands.clone_snapshot(conn, out, a.name, a.table)
    elif name == "export_snapshot":
        commands.export_snapshot(conn, out, a.name, a.copy_to)
    elif name == "clone_table_schema":
        commands.clone_table_schema(conn, out, a.table, a.new_table, not a.no_splits)
    elif name in ("disable_all", "enable_all", "drop_all"):
        commands.tables_all(conn, out, name, a.regex)
    elif name in ("delete_all_snapshot", "delete_table_snapshots"):
        commands.delete_snapshots(conn, out, name, a.regex, getattr(a, "table_regex", None))
    elif name in ("version", "whoami"):
        getattr(commands, name)(conn, out)
    elif name in ("truncate", "truncate_preserve"):
        commands.truncate(conn, out, a.table, preserve_splits=name == "truncate_preserve")
    elif name == "put":
        commands.put(conn, out, a.table, b(a.row), b(a.column), b(a.value), a.ts)
    elif name == "get":
        commands.get(conn, out, a.table, b(a.row), [b(c) for c in a.columns], a.versions,
                     a.ts, row_filter=a.filter and b(a.filter))
    elif name == "scan":
        commands.scan(conn, out, a.table, start=a.start and b(a.start),
                      stop=a.stop and b(a.stop), prefix=a.prefix and b(a.prefix),
                      columns=[b(c) for c in a.columns], limit=a.limit, reverse=a.reverse,
                      versions=a.versions, row_filter=a.filter and b(a.filter), raw=a.raw)
    elif name == "delete":
        commands.delete(conn, out, a.table, b(a.row), b(a.column), a.ts)
    elif name == "deleteall":
        _deleteall(a, conn, out)
    elif name == "count":
        commands.count(conn, out, a.table, a.interval, row_filter=a.filter and b(a.filter))
    elif name == "incr":
        commands.incr(conn, out, a.table, b(a.row), b(a.column), a.amount)
    elif name == "append":
        commands.append(conn, out, a.table, b(a.row), b(a.column), b(a.value))
    elif name == "get_counter":
        commands.get_counter(conn, out, a.table, b(a.row), b(a.column))
    elif name == "status":
        commands.status(conn, out, a.format)
    elif name == "hbck":
        commands.hbck(conn, out, a.clean)
    elif name == "balance":
        commands.balance(conn, out)
    elif name == "balance_switch":
        commands.balance_switch(conn, out, a.state in ("on", "true"))
    elif name == "balancer_enabled":
        commands.balancer_enabled(conn, out)
    elif name == "split":
        commands.split(conn, out, a.target, None if a.key is None else b(a.key))
    elif name == "merge":
        commands.merge(conn, out, a.region_a, a.region_b, *a.more)
    elif name == "flush":
        commands.flush(conn, out, a.target)
    elif name in ("compact", "major_compact"):
        commands.compact(conn, out, a.target, major=name == "major_compact" or a.major,
                         family=b(a.family) if a.family else None, wait=a.wait)
    elif name == "compaction_state":
        commands.compaction_state(conn, out, a.table)
    elif name == "move":
        commands.move(conn, out, a.region, a.server)
    else:  # argparse lets only known commands through: the rest are the operator commands
        _run_admin(a, conn, out)


def _deleteall(a, conn, out: commands.Output) -> None:
    """deleteall t1 ROW [COLUMN], or deleteall t1 --prefix P [COLUMN]: with a prefix there is
    no row, so the first argument after the table is the column."""
    b = parse_binary
    if a.prefix is None:
        if a.row is None:
            raise commands.UsageError("deleteall needs a row, or --prefix P for every row "
                                      "starting with P")
        commands.deleteall(conn, out, a.table, b(a.row),
                           None if a.column is None else b(a.column), a.ts)
        return
    if a.column is not None:
        raise commands.UsageError("deleteall --prefix takes no row: give the table, then "
                                  "optionally the column (deleteall t1 cf:q --prefix p)")
    commands.deleteall_prefix(conn, out, a.table, b(a.prefix),
                              None if a.row is None else b(a.row), a.ts, a.cache)


def error_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def not_text_message(exc: UnicodeEncodeError) -> str:
    """An argument that is not UTF-8 reaches Python as a str with lone surrogates (PEP 383):
    fine for row keys, columns and values (sent as the bytes given), not for a name."""
    given = exc.object.encode("utf-8", "surrogateescape") if isinstance(exc.object, str) else b""
    shown = repr(given)[1:] if given else repr(exc.object)
    return (f"{shown} is not UTF-8 text (byte {exc.start + 1}): names of tables, families, "
            f"namespaces and snapshots must be")


def quiet_libraries() -> None:
    """kazoo logs connection drops as warnings; the CLI reports errors itself, in one line."""
    import logging

    for name in ("kazoo", "kazoo.client", "kazoo.protocol.connection", "client.zookeeper"):
        lg = logging.getLogger(name)
        lg.addHandler(logging.NullHandler())
        lg.propagate = False


class _ConnectOnUse:
    """The cluster connection, made when a command first uses it: the checks a command makes of
    its arguments (UsageError, exit 2; in client/commands, shared with the shell) come before
    that, so a usage error is reported at once, whether or not the cluster can be reached."""

    def __init__(self, quorum: str, timeout: float, parent: str):
        self._args = (quorum, timeout, parent)
        self._conn = None

    def __getattr__(self, name):  # only what is not set in __init__: the Connection's API
        if self._conn is None:
            from client.connection import Connection

            quorum, timeout, parent = self._args
            self._conn = Connection(quorum, timeout=timeout, zk_parent=parent)
        return getattr(self._conn, name)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help(sys.stderr)
        return 2
    if not 0 < a.timeout < float("inf"):  # also nan
        print(f"ERROR: --timeout must be a positive number of seconds, got {a.timeout}",
              file=sys.stderr)
        return 2
    quorum, parent = zk_quorum(a.zk), zk_parent(a.zk_parent)
    quiet_libraries()
    if a.command == "shell":
        from client.shell import run_shell

        return run_shell(quorum, a.timeout, a.json, a.script, parent)
    out = commands.Output(a.json)
    if getattr(a, "yes", False):
        out.confirm = lambda question: True
    conn = _ConnectOnUse(quorum, a.timeout, parent)  # version and whoami never connect
    try:
        run(a, conn, out)
        return 0
    except commands.UsageError as exc:
        print(f"ERROR: {error_message(exc)}", file=sys.stderr)
        return 2
    except UnicodeEncodeError as exc:
        print(f"ERROR: {not_text_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ERROR: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - every error is one line, never a traceback
        print(f"ERROR: {error_message(exc)}", file=sys.stderr)
        return 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
