"""The commands shared by the `minihbase` CLI and `minihbase shell` (docs/cli.md).

Each command takes a Connection, an Output and plain Python arguments (table names as str,
rows/columns/values as bytes), does its work through the client API, and prints either a
readable table or, with --json, one JSON document on stdout. Progress of long operations goes
to stderr. Errors are raised (HBaseError, ValueError, UsageError); the callers turn them into
one "ERROR: ..." line and an exit code.
"""

from __future__ import annotations

import itertools
import re
import sys
import time

from client import formatting as fmt
from client.shell_syntax import Const
from minihbase.errors import HBaseError, RegionOfflineError, TableNotFoundError
from storage.cell import LATEST_TIMESTAMP
from storage.schema import canonical_table_name


class UsageError(Exception):
    """The command was called with the wrong arguments (exit code 2)."""


class Output:
    def __init__(self, as_json: bool = False, out=None, err=None):
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def result(self, text: str | None, data) -> None:
        if self.as_json:
            print(fmt.to_json(data), file=self.out)
        elif text:
            print(text, file=self.out)
        self.out.flush()

    def progress(self, message: str) -> None:
        print(f"... {message}", file=self.err)
        self.err.flush()

    def confirm(self, question: str) -> bool:
        """Ask `question` (y/n) before a command acts on many things (disable_all...): at a
        terminal; elsewhere the caller must have said yes (the shell reads the answer from
        the script's next line, the CLI takes --yes)."""
        if not sys.stdin.isatty():
            raise UsageError(f"{question}? needs an answer: run it at a terminal, or pass "
                             "--yes")
        print(f"{question} (y/n)? ", end="", file=self.chatter, flush=True)
        return sys.stdin.readline().strip().lower() in ("y", "yes")  # "" at end of input

    @property
    def chatter(self):
        """Where listings and questions go: stdout, as the HBase shell prints them, except
        with --json, whose stdout holds only JSON."""
        return self.err if self.as_json else self.out


# HBase shell family attributes -> client option names.
FAMILY_OPTIONS = {"VERSIONS": "max_versions", "MIN_VERSIONS": "min_versions", "TTL": "ttl",
                  "BLOOMFILTER": "bloom", "COMPRESSION": "compression",
                  "BLOCKSIZE": "block_size", "BLOCKCACHE": "block_cache",
                  "IN_MEMORY": "in_memory", "KEEP_DELETED_CELLS": "keep_deleted_cells",
                  "DATA_BLOCK_ENCODING": "data_block_encoding"}


def family_options(attrs: dict) -> dict:
    """{VERSIONS => 3, TTL => '1 DAY', ...} -> {max_versions: 3, ttl: 86400, ...}; TTL text
    is read as HBase's shell reads it (formatting.ttl_seconds)."""
    out = {}
    for key, value in attrs.items():
        if key == "NAME":
            continue
        option = FAMILY_OPTIONS.get(str(key).upper())
        if option is None:
            raise UsageError(f"unknown column family attribute {key!r}; known: "
                             f"{', '.join(sorted(FAMILY_OPTIONS))}")
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, Const):  # a bare word: IN_MEMORY => yes
            value = value.name
        if option == "ttl" and isinstance(value, str):  # TTL => '1 DAY' (HBase 2's shell)
            try:
                value = fmt.ttl_seconds(value)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        out[option] = value
    return out


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- table admin -------------------------------------------------------------------------------

def add_family(families: dict, name: str, options: dict) -> None:
    """Collect create's families; one named twice is an error, as in HBase (not silently
    merged into the first)."""
    if name in families:
        raise UsageError(f"create: family {name!r} is given twice")
    families[name] = options


def create(conn, out: Output, table: str, families: dict, splits=None,
           attributes: dict | None = None) -> None:
    """attributes: table attributes by field name (max_filesize, readonly...)."""
    if not families:
        raise UsageError("create needs at least one column family: create 't1', 'cf'")
    table = canonical_table_name(table)  # "default:t1" is created (and named) as "t1"
    conn.create_table(table, families, split_keys=splits or None, progress=out.progress,
                      **(attributes or {}))
    n = len(splits or []) + 1
    out.result(f"Created table {table} ({n} region{'s' if n > 1 else ''})",
               {"created": table, "regions": n})


def list_tables(conn, out: Output, regex: str | None = None) -> None:
    """Every table, or (as the HBase shell's `list 'abc.*'`) those whose whole name matches."""
    pattern = _pattern(regex, "list")
    tables = conn.list_tables()
    names = set(_matching([t["name"] for t in tables], pattern))
    tables = [t for t in tables if t["name"] in names]
    out.result(fmt.list_text(tables),
               [{"name": t["name"], "state": t["state"], "regions": len(t["regions"]),
                 "families": [f["name"] for f in t["families"]]} for t in tables])


def create_namespace(conn, out: Output, name: str, properties: dict[str, str]) -> None:
    conn.create_namespace(name, properties)
    out.result(f"Created namespace {name}", {"created": name, "properties": properties})


def alter_namespace(conn, out: Output, name: str, set_: dict[str, str],
                    unset: list[str]) -> None:
    conn.alter_namespace(name, set_, unset)
    out.result(f"Altered namespace {name}", {"altered": name, "set": set_, "unset": unset})


def drop_namespace(conn, out: Output, name: str) -> None:
    conn.delete_namespace(name)
    out.result(f"Dropped namespace {name}", {"dropped": name})


def list_namespace(conn, out: Output, regex: str | None = None) -> None:
    pattern = _pattern(regex, "list_namespace")
    names = _matching(conn.list_namespaces(), pattern)
    out.result(fmt.grid(["NAMESPACE"], [[n] for n in names]) + "\n" + fmt.rows_count(len(names)),
               names)


def list_namespace_tables(conn, out: Output, namespace: str) -> None:
    tables = conn.list_namespace_tables(namespace)
    out.result(fmt.grid(["TABLE"], [[t] for t in tables]) + "\n" + fmt.rows_count(len(tables)),
               tables)


def describe_namespace(conn, out: Output, namespace: str) -> None:
    properties = conn.namespace_properties(namespace)  # NamespaceNotFoundError
    tables = conn.list_namespace_tables(namespace)
    attrs = "".join(f", {k} => '{v}'" for k, v in sorted(properties.items()))
    out.result(f"DESCRIPTION\n{{NAME => '{namespace}'{attrs}}}\n{len(tables)} table(s)",
               {"name": namespace, "properties": properties, "tables": tables})


def _pattern(regex: str | None, what: str) -> re.Pattern | None:
    """`what`'s regex compiled (None: no regex), before the cluster is asked: an invalid one is
    a usage error."""
    if regex is None:
        return None
    try:
        return re.compile(regex)
    except re.error as exc:
        raise UsageError(f"{what}: invalid regex {regex!r}: {exc}") from None


def _matching(names: list[str], pattern: re.Pattern | None) -> list[str]:
    """The names that the HBase shell's `list 'abc.*'` shows: all, or those the pattern
    matches whole."""
    return names if pattern is None else [n for n in names if pattern.fullmatch(n)]


def snapshot(conn, out: Output, table: str, name: str, skip_flush: bool = False) -> None:
    conn.snapshot(table, name, skip_flush=skip_flush)
    out.result(f"Took snapshot {name} of table {table}", {"snapshot": name, "table": table})


def list_snapshots(conn, out: Output, regex: str | None = None,
                   table_regex: str | None = None) -> None:
    """Every snapshot, or those whose whole name matches `regex`; list_table_snapshots: those
    of the tables whose whole name matches `table_regex`."""
    patterns = _pattern(regex, "list_snapshots"), _pattern(table_regex, "list_snapshots")
    snaps = conn.list_snapshots()
    names = _snapshot_names(snaps, *patterns)
    snaps = [s for s in snaps if s["name"] in names]
    out.result(fmt.snapshots_text(snaps), snaps)


def _snapshot_names(snaps: list[dict], pattern, table_pattern) -> set[str]:
    names = set(_matching([s["name"] for s in snaps], pattern))
    if table_pattern is not None:  # a damaged snapshot names no table: never matched by one
        tables = set(_matching([s["table"] for s in snaps if s["table"]], table_pattern))
        names &= {s["name"] for s in snaps if s["table"] in tables}
    return names


def delete_snapshot(conn, out: Output, name: str) -> None:
    conn.delete_snapshot(name)
    out.result(f"Deleted snapshot {name}", {"deleted": name})


def clone_snapshot(conn, out: Output, name: str, table: str) -> None:
    table = canonical_table_name(table)  # named as the table is: 'default:t2' is t2
    conn.clone_snapshot(name, table, progress=out.progress)
    out.result(f"Cloned snapshot {name} to table {table}", {"snapshot": name, "table": table})


def export_snapshot(conn, out: Output, name: str, copy_to: str) -> None:
    done = conn.export_snapshot(name, copy_to)
    out.result(f"Exported snapshot {name} to {copy_to}: {done['files']} file(s), "
               f"{done['bytes']} bytes", {"snapshot": name, "copy_to": copy_to, **done})


def restore_snapshot(conn, out: Output, name: str) -> None:
    table = conn.restore_snapshot(name, progress=out.progress)
    state = "disabled: enable it to serve it" if conn.is_table_disabled(table) else "enabled"
    out.result(f"Restored table {table} from snapshot {name} ({state})",
               {"snapshot": name, "table": table})


def _for_all(out: Output, names: list[str], what: str, verb: str, action) -> None:
    """The HBase shell's disable_all and kin: list the matches, ask, then act on each; a
    failure does not stop the others, and the command fails at the end naming them."""
    done_key = {"Disable": "disabled", "Enable": "enabled", "Drop": "dropped",
                "Delete": "deleted"}[verb]
    if not names:
        out.result(f"No {what} matched", {done_key: [], "failed": {}, "confirmed": None})
        return
    print("\n".join(names), file=out.chatter)
    if not out.confirm(f"{verb} the above {len(names)} {what}"):
        out.result("Nothing done", {done_key: [], "failed": {}, "confirmed": False})
        return
    failed = {}
    for name in names:
        try:
            action(name)
        except HBaseError as exc:
            failed[name] = str(exc)
    done = [n for n in names if n not in failed]
    out.result(f"{len(done)} {what} successfully {done_key}",
               {done_key: done, "failed": failed, "confirmed": True})
    if failed:
        raise HBaseError(f"{len(failed)} of {len(names)} {what} could not be {done_key}: "
                         + "; ".join(f"{n}: {e}" for n, e in failed.items()))


def tables_all(conn, out: Output, command: str, regex: str) -> None:
    """disable_all / enable_all / drop_all 'regex': the tables whose whole name matches."""
    verb = command.removesuffix("_all")
    pattern = _pattern(regex, command)
    act = getattr(conn, {"disable": "disable_table", "enable": "enable_table",
                         "drop": "delete_table"}[verb])
    _for_all(out, _matching(conn.tables(), pattern), "tables", verb.capitalize(), act)


def delete_snapshots(conn, out: Output, command: str, regex: str | None,
                     table_regex: str | None = None) -> None:
    """delete_all_snapshot 'regex' / delete_table_snapshots 'table regex'[, 'regex']."""
    patterns = _pattern(regex, command), _pattern(table_regex, command)
    names = _snapshot_names(conn.list_snapshots(), *patterns)
    _for_all(out, sorted(names), "snapshots", "Delete", conn.delete_snapshot)


def describe(conn, out: Output, table: str) -> None:
    d = conn.describe_table(table)
    out.result(fmt.describe_text(d), d)


def _live_regions(conn, table: str) -> list[dict]:
    """The table's regions in key order, without split or merge parents on their way out."""
    return [r for r in conn.regions(table) if r["state"] not in ("SPLIT", "MERGED")]


def list_regions(conn, out: Output, table: str) -> None:
    """The HBase shell's list_regions: each region, its key range and server."""
    regions = _live_regions(conn, table)
    out.result(fmt.regions_table(regions) + "\n" + fmt.rows_count(len(regions)), regions)


def get_splits(conn, out: Output, table: str) -> None:
    """The HBase shell's get_splits: the start keys of every region but the first."""
    keys = [r["start_key"] for r in _live_regions(conn, table) if r["start_key"]]
    out.result("\n".join([f"Total number of splits = {len(keys) + 1}"]
                         + [fmt.binary(k) for k in keys]), [fmt.binary(k) for k in keys])


def locate_region(conn, out: Output, table: str, row: bytes) -> None:
    """The HBase shell's locate_region: the region holding `row` and where it is served."""
    for r in _live_regions(conn, table):
        if r["start_key"] <= row and (not r["end_key"] or row < r["end_key"]):
            out.result(fmt.regions_table([r]), r)
            return
    raise RegionOfflineError(f"no region of table {table!r} holds row {fmt.binary(row)!r} "
                             "right now (split or merge in progress?)")


# HBase's RegionSplitter algorithms for create's NUMREGIONS => n, SPLITALGO => name. As
# HBase's, the i-th split key is i times (key space // n), the last region taking the slop --
# not i * key space // n, which gives other keys (80000000 rather than 7ffffffd for 10
# regions) than the table would have in HBase.
def _hex_splits(n: int) -> list[bytes]:
    return [b"%08x" % (i * (0x100000000 // n)) for i in range(1, n)]


def _decimal_splits(n: int) -> list[bytes]:
    return [b"%08d" % (i * (100000000 // n)) for i in range(1, n)]


def _uniform_splits(n: int) -> list[bytes]:
    return [(i * ((1 << 64) // n)).to_bytes(8, "big") for i in range(1, n)]


SPLIT_ALGORITHMS = {"HexStringSplit": _hex_splits, "DecimalStringSplit": _decimal_splits,
                    "UniformSplit": _uniform_splits}


def presplit_keys(regions: int, algorithm: str) -> list[bytes]:
    """Split keys that make `regions` regions, as HBase's RegionSplitter `algorithm` does."""
    make = SPLIT_ALGORITHMS.get(algorithm)
    if make is None:
        raise UsageError(f"unknown SPLITALGO {algorithm!r}; known: "
                         f"{', '.join(sorted(SPLIT_ALGORITHMS))}")
    if not 2 <= regions <= 10000:
        raise UsageError(f"NUMREGIONS must be between 2 and 10000, got {regions}")
    return make(regions)


def alter(conn, out: Output, table: str, add: dict | None = None, remove=None,
          attributes: dict | None = None, report_regions: bool = False) -> None:
    """attributes: table attributes to set, by field name (a default unsets one: max_filesize
    0 is the servers' split size again). report_regions: print what HBase's shell alter
    prints, "Updating all regions with the new schema..." and then alter_status's lines,
    instead of "Altered table t1" (JSON says {"altered": t1} either way)."""
    add = dict(add or {})
    if add:  # modifying a family keeps the attributes not mentioned
        current = {f["name"]: f for f in conn.describe_table(table)["families"]}
        for name, opts in list(add.items()):
            if name in current:
                base = {k: v for k, v in current[name].items() if k != "name"}
                base.update(opts)
                add[name] = base
    if not add and not remove and not attributes:
        raise UsageError("alter needs a family to add/modify or one to delete, or a table "
                         "attribute")
    conn.alter_table(table, add=add, remove=list(remove or []), **(attributes or {}))
    if not report_regions or out.as_json:
        out.result(f"Altered table {table}", {"altered": table})
        return
    out.result("Updating all regions with the new schema...", None)
    alter_status(conn, out, table)


def alter_status(conn, out: Output, table: str) -> None:
    """HBase's alter_status: "N/M regions updated." (regions neither in transition nor
    closed, of an enabled table), once nothing is left to reopen; then "Done."."""
    s = conn.alter_status(table, progress=out.progress)
    line = (f"{s['updated']}/{s['total']} regions updated." if s["total"]
            else "All regions updated.")
    out.result(f"{line}\nDone.", s)


def disable(conn, out: Output, table: str) -> None:
    conn.disable_table(table, progress=out.progress)
    out.result(f"Disabled table {table}", {"disabled": table})


def enable(conn, out: Output, table: str) -> None:
    conn.enable_table(table, progress=out.progress)
    out.result(f"Enabled table {table}", {"enabled": table})


def drop(conn, out: Output, table: str) -> None:
    conn.delete_table(table)
    out.result(f"Dropped table {table}", {"dropped": table})


def truncate(conn, out: Output, table: str, preserve_splits: bool = False) -> None:
    # HBase's truncateTable: the master swaps the disabled table's regions for empty ones in one
    # step, keeping the table (its families and attributes): nothing is dropped or created.
    out.progress(f"Truncating '{table}' (disable, then truncate "
                 f"{'keeping its region boundaries' if preserve_splits else 'to one region'}"
                 ", enable)")
    conn.truncate_table(table, preserve_splits=preserve_splits, progress=out.progress)
    out.result(f"Truncated table {table}", {"truncated": table,
                                            "preserve_splits": preserve_splits})


def clone_table_schema(conn, out: Output, table: str, new_table: str,
                       preserve_splits: bool = True) -> None:
    new_table = canonical_table_name(new_table)
    conn.clone_table_schema(table, new_table, preserve_splits, progress=out.progress)
    out.result(f"Created table {new_table} with the schema of {table}"
               + ("" if preserve_splits else " (one region)"),
               {"created": new_table, "schema_of": table, "preserve_splits": preserve_splits})


def get_table(conn, out: Output, table: str) -> None:
    """The shell's table reference (t = get_table 't1'): the table must exist."""
    if not conn.exists(table):
        raise TableNotFoundError(f"table {table!r} does not exist")
    out.result(f"Hbase::Table - {table}", {"table": table})


def exists(conn, out: Output, table: str) -> None:
    found = conn.exists(table)
    out.result(f"Table {table} does {'' if found else 'not '}exist", {"exists": found})


def is_enabled(conn, out: Output, table: str) -> None:
    enabled = conn.is_table_enabled(table)
    out.result(str(enabled).lower(), {"enabled": enabled})


def is_disabled(conn, out: Output, table: str) -> None:
    disabled = conn.is_table_disabled(table)
    out.result(str(disabled).lower(), {"disabled": disabled})


def show_filters(conn, out: Output) -> None:
    from storage.filters import filter_names

    names = filter_names()
    out.result("\n".join(names), {"filters": names})


def version(conn, out: Output) -> None:
    from minihbase import __version__
    out.result(f"minihbase {__version__} (HBase shell syntax)", {"version": __version__})


def whoami(conn, out: Output) -> None:
    import getpass
    out.result(getpass.getuser(), {"user": getpass.getuser()})


# -- data --------------------------------------------------------------------------------------

def put(conn, out: Output, table: str, row: bytes, column: bytes, value: bytes,
        ts: int | None = None) -> None:
    conn.table(table).put(row, {column: value}, timestamp=ts)
    out.result(None, {"ok": True})


def get(conn, out: Output, table: str, row: bytes, columns=None, versions: int = 1,
        ts: int | None = None, time_range: tuple[int, int] | None = None,
        row_filter=None, formatter: str | None = None) -> None:
    """ts: cells at or before it (the CLI's --ts); time_range: (min, max), min <= ts < max
    (the shell's TIMESTAMP and TIMERANGE); row_filter: HBase filter language (FILTER);
    a column 'cf:q:toLong' or formatter 'toString': the shell's converters (display)."""
    if ts is not None and ts < 0:
        raise UsageError(f"--ts must be a timestamp >= 0, got {ts}")
    if ts is not None and ts >= LATEST_TIMESTAMP:  # HBase's "latest": no upper bound
        ts = None
    columns, show = _converters(columns, formatter)
    cells = conn.table(table).get_cells(row, columns=columns or None,
                                        versions=1 if versions is None else versions,
                                        timestamp=None if ts is None else ts + 1,
                                        time_range=time_range, filter=row_filter)
    if show is not None:
        cells = [(c, show(c, v), t) for c, v, t in cells]
    out.result(fmt.get_table(cells),
               {"row": fmt.binary(row),
                "cells": [{"column": fmt.binary(c), "timestamp": t, "value": fmt.binary(v)}
                          for c, v, t in cells]})


def scan(conn, out: Output, table: str, start=None, stop=None, prefix=None, columns=None,
         limit=None, reverse=False, versions=None, time_range=None, row_filter=None,
         raw=False, formatter: str | None = None) -> None:
    """Streams: a scan of a big table prints as it goes (widths set by the first rows).
    raw: HBase's RAW scan (delete markers print as type=...); converters as get's. A
    prefix replaces start and stop, as HBase's shell ROWPREFIXFILTER (Scan.setRowPrefixFilter)
    replaces STARTROW and STOPROW."""
    if prefix is not None:
        start = stop = None
    columns, show = _converters(columns, formatter)
    results = conn.table(table).scan(row_start=start, row_stop=stop, row_prefix=prefix,
                                     columns=columns or None, limit=limit, reverse=reverse,
                                     versions=versions, as_cells=True, time_range=time_range,
                                     filter=row_filter, raw=raw)
    if show is not None:  # a raw scan's delete markers have no value to convert
        results = ((row, [(c[0], show(c[0], c[1]), *c[2:]) if len(c) == 3 or c[3] == "Put"
                          else c for c in cells]) for row, cells in results)
    if out.as_json:
        items = iter(results)
        first = next(items, None)  # an unknown table or a timeout fails before any output
        out.out.write("[")
        for i, item in enumerate(items if first is None else itertools.chain([first], items)):
            out.out.write((", " if i else "") + fmt.to_json(fmt.scan_json([item])[0]))
        out.out.write("]\n")
        out.out.flush()
        return
    head, n = [], 0
    for item in results:
        head.append(item)
        if len(head) == 100:
            break
    lines = fmt.scan_table(head).splitlines()[:-1]
    width = max([len(" " + fmt.binary(r)) for r, _ in head] + [len("ROW")])
    print("\n".join(lines), file=out.out)
    n = len(head)
    for row, data in results:  # the rest, streamed with the same column width
        n += 1
        for cell in fmt.cell_list(data):
            print(f"{(' ' + fmt.binary(row)).ljust(width)}  {fmt.column_cell(*cell)}",
                  file=out.out)
    print(fmt.rows_count(n), file=out.out)
    out.out.flush()


def _converters(columns, formatter: str | None):
    """The shell's converters: (the columns to read, show(column, value) or None when there
    is none). A column may name one ('cf:q:toLong',
    'cf:q:c(org.apache.hadoop.hbase.util.Bytes).toInt'); formatter (the shell's FORMATTER)
    applies to the other columns."""
    per, plain = {}, []
    for column in columns or ():
        name, convert = fmt.split_converter(column)
        plain.append(name)
        if convert is not None:
            per[name] = convert
    default = None
    if formatter is not None:
        default = fmt.converter(formatter)
        if default is None:
            raise UsageError(f"FORMATTER must be one of {', '.join(fmt.CONVERTERS)}, got "
                             f"{formatter!r}")

    def show(column: bytes, value: bytes):
        convert = per.get(column, default)
        return value if convert is None else convert(value)
    return plain, (show if per or default is not None else None)


def delete(conn, out: Output, table: str, row: bytes, column: bytes,
           ts: int | None = None) -> None:
    """The HBase shell's delete: ONE version (the newest, or the one at ts); deleteall with a
    column deletes every version <= ts."""
    conn.table(table).delete_version(row, column, timestamp=ts)
    out.result(None, {"ok": True})


def deleteall(conn, out: Output, table: str, row: bytes, column: bytes | None = None,
              ts: int | None = None) -> None:
    conn.table(table).delete(row, columns=None if column is None else [column], timestamp=ts)
    out.result(None, {"ok": True})


DELETE_BATCH = 100  # HBase's deleteall CACHE default: deletes sent per batch
MAX_DELETE_BATCH = 100_000  # a batch and the one in flight are held in memory


def deleteall_prefix(conn, out: Output, table: str, prefix: bytes, column: bytes | None = None,
                     ts: int | None = None, cache: int = DELETE_BATCH) -> None:
    """HBase 2's deleteall 't1', {ROWPREFIXFILTER => 'p', CACHE => n}[, column][, ts]: every
    row starting with `prefix`, as deleteall deletes one (the whole row, or every version of
    a column or family; with ts, those <= ts). As HBase's shell does, it scans the rows and
    deletes them in batches of `cache` rows; only keys are scanned, and at most two batches
    are held at a time, so memory stays bounded whatever the number of rows."""
    if not prefix:
        raise UsageError("deleteall: ROWPREFIXFILTER must not be empty (to delete every row: "
                         f"truncate '{table}')")
    if not 1 <= cache <= MAX_DELETE_BATCH:
        raise UsageError(f"deleteall: CACHE must be between 1 and {MAX_DELETE_BATCH}, got "
                         f"{cache}")
    t = conn.table(table)
    columns = None if column is None else [column]
    n = 0
    with t.batch(timestamp=ts, batch_size=cache) as batch:
        for row, _ in t.scan(row_prefix=prefix,
                             filter=b"FirstKeyOnlyFilter() AND KeyOnlyFilter()"):
            batch.delete(row, columns=columns)
            n += 1
    out.result(f"{n} row(s) deleted", {"ok": True, "rows": n})


def count(conn, out: Output, table: str, interval: int = 1000, row_filter=None) -> None:
    # HBase's count reports at `count % interval == 0`: INTERVAL => 0 divides by zero there
    if interval < 1:
        raise UsageError(f"count: INTERVAL must be at least 1 (progress every that many "
                         f"rows), got {interval}")

    def progress(n, row):
        out.progress(f"Current count: {n}, row: {fmt.binary(row)}")

    n = conn.table(table).count(progress=progress, interval=interval, filter=row_filter)
    out.result(f"{n} row(s)", {"count": n})


def incr(conn, out: Output, table: str, row: bytes, column: bytes, amount: int = 1) -> None:
    value = conn.table(table).counter_inc(row, column, amount)
    out.result(f"COUNTER VALUE = {value}", {"value": value})


def append(conn, out: Output, table: str, row: bytes, column: bytes, value: bytes) -> None:
    """The HBase shell's append: prints the column's value after it."""
    new = conn.table(table).append(row, {column: value})
    (current,) = new.values()
    out.result(f"CURRENT VALUE = {fmt.binary(current)}", {"value": fmt.binary(current)})


def get_counter(conn, out: Output, table: str, row: bytes, column: bytes) -> None:
    value = conn.table(table).counter_value(row, column)
    if value is None:  # the HBase shell's words; JSON says null
        out.result("No counter found at specified coordinates", {"value": None})
    else:
        out.result(f"COUNTER VALUE = {value}", {"value": value})


# -- cluster -----------------------------------------------------------------------------------

def status(conn, out: Output, format: str = "summary") -> None:
    """The HBase shell's status: 'summary' (default), 'simple' or 'detailed'."""
    if format not in fmt.STATUS_FORMATS:
        raise UsageError(f"status format must be one of {', '.join(fmt.STATUS_FORMATS)}, not "
                         f"{format!r}")
    s = conn.status()
    out.result(fmt.status_text(s, format), s)


def hbck(conn, out: Output, clean: bool = False, fail: bool = True) -> None:
    """HBase's HBCK report; with `fail` (the CLI's hbck) it fails (exit 1) when it lists
    inconsistencies, so scripts notice; the shell's chore commands only report, as HBase's."""
    report = conn.hbck(clean=clean)
    out.result(fmt.hbck_text(report), report)
    if fail and report["problems"]:
        raise HBaseError(f"hbck found {fmt.inconsistencies(len(report['problems']))}")


def balance(conn, out: Output) -> None:
    moves = conn.balance()
    if moves is None:
        out.result("false: the balancer is switched off (balance_switch true turns it on)",
                   {"moves": 0, "ran": False})
    else:
        out.result(f"Balancer ran: {moves} region move(s)", {"moves": moves, "ran": True})


def balance_switch(conn, out: Output, on: bool) -> None:
    before = conn.balance_switch(on)
    out.result(f"Previous balancer state : {str(before).lower()}", {"previous": before})


def balancer_enabled(conn, out: Output) -> None:
    _enabled(out, conn.balancer_enabled())


def _enabled(out: Output, on: bool) -> None:
    out.result(str(on).lower(), {"enabled": on})


def split(conn, out: Output, target: str, key: bytes | None = None) -> None:
    conn.split(target, key)
    out.result(f"Split requested for {target}", {"split": target})


def merge(conn, out: Output, *regions: str) -> None:
    conn.merge(*regions)
    names = ", ".join(regions[:-1]) + " and " + regions[-1]
    out.result(f"Merged {names}", {"merged": list(regions)})


def flush(conn, out: Output, target: str) -> None:
    conn.flush(target)
    out.result(f"Flushed {target}", {"flushed": target})


def compact(conn, out: Output, target: str, major: bool = False,
            family: bytes | None = None, wait: bool = False) -> None:
    """HBase's compact / major_compact: requested (queued on the region servers), or with
    wait, done."""
    conn.compact(target, major=major, family=family, wait=wait)
    kind = "Major compaction" if major else "Compaction"
    of = f" family {fmt.binary(family)} of" if family else ""
    if _compactions_off(conn, target):
        out.result(f"{kind} of {target} skipped: the table has COMPACTION_ENABLED => false "
                   "(its region servers ignore the request, as HBase's do)",
                   {"compacted": target, "major": major, "family": family, "done": False,
                    "skipped": "COMPACTION_ENABLED => false"})
        return
    out.result(f"{kind} {'done' if wait else 'requested'} for{of} {target}",
               {"compacted": target, "major": major, "family": family, "done": wait})


def _compactions_off(conn, target: str) -> bool:
    """A table (not a region) named `target` has COMPACTION_ENABLED => false."""
    try:
        return not conn.table_attributes(target)["compaction_enabled"]
    except TableNotFoundError:  # a region name
        return False


def compaction_state(conn, out: Output, table: str) -> None:
    state = conn.compaction_state(table)
    out.result(state, {"table": table, "compaction_state": state})


def move(conn, out: Output, region: str, server: str = "") -> None:
    conn.move(region, server)
    out.result(f"Moved {region}", {"moved": region})


def assign(conn, out: Output, region: str) -> None:
    conn.assign(region)
    out.result(f"Assigned {region}", {"assigned": region})


def unassign(conn, out: Output, region: str) -> None:
    conn.unassign(region)
    out.result(f"Unassigned {region}", {"unassigned": region})


def rit(conn, out: Output) -> None:
    """HBase's rit: the regions in transition, with their state and what they wait for."""
    regions = conn.status()["regions_in_transition"]
    text = fmt.regions_table(regions) if regions else "no regions in transition"
    out.result(text, regions)


def decommission_regionservers(conn, out: Output, servers: list[str], offload: bool) -> None:
    done = conn.decommission_regionservers(servers, offload)
    moved = f"; {done['moved']} region(s) moved off" if offload else ""
    out.result(f"Decommissioned {', '.join(done['servers'])}{moved}", done)


def recommission_regionserver(conn, out: Output, server: str, regions: list[str]) -> None:
    conn.recommission_regionserver(server, regions)
    out.result(f"Recommissioned {server}", {"server": server, "regions": regions})


def list_decommissioned_regionservers(conn, out: Output) -> None:
    _server_list(out, "DECOMMISSIONED REGION SERVERS", conn.list_decommissioned_regionservers())


def list_deadservers(conn, out: Output) -> None:
    _server_list(out, "SERVERNAME", conn.list_deadservers())


def clear_deadservers(conn, out: Output, servers: list[str]) -> None:
    """HBase's output: true, or which servers could not be cleared (unknown, or still being
    recovered)."""
    kept = conn.clear_deadservers(servers)
    text = "\n".join(["Some dead server clear failed", *kept]) if kept else "true"
    out.result(text, {"not_cleared": kept})


def _server_list(out: Output, header: str, names: list[str]) -> None:
    out.result("\n".join([header, *names, f"{len(names)} row(s)"]), names)


def _switched(out: Output, before: bool) -> None:
    out.result(str(before).lower(), {"previous": before})  # HBase's shell: the state before


def splitormerge_switch(conn, out: Output, kind: str, on: bool) -> None:
    _switched(out, conn.splitormerge_switch(kind, on))


def splitormerge_enabled(conn, out: Output, kind: str) -> None:
    _enabled(out, conn.splitormerge_enabled(kind))


def catalogjanitor_switch(conn, out: Output, on: bool) -> None:
    _switched(out, conn.catalogjanitor_switch(on))


def catalogjanitor_enabled(conn, out: Output) -> None:
    _enabled(out, conn.catalogjanitor_enabled())


def catalogjanitor_run(conn, out: Output) -> None:
    cleaned = conn.catalogjanitor_run()
    out.result(f"Catalog janitor cleaned {cleaned} split/merge parent(s)", {"cleaned": cleaned})


def normalizer_switch(conn, out: Output, on: bool) -> None:
    _switched(out, conn.normalizer_switch(on))


def normalizer_enabled(conn, out: Output) -> None:
    _enabled(out, conn.normalizer_enabled())


def normalize(conn, out: Output, **table_filter) -> None:
    """HBase's shell prints true when the normalizer ran, false when it is switched off.
    `table_filter`: Connection.normalize's table_names, regex, namespace."""
    done = conn.normalize(**table_filter)
    text = str(done["ran"]).lower()
    if done["ran"]:
        text += f" ({done['splits']} split(s), {done['merges']} merge(s))"
    out.result(text, done)


def zk_dump(conn, out: Output) -> None:
    dump = conn.zk_dump()
    out.result(fmt.zk_dump_text(dump), dump)


def timed(fn, *args, **kwargs) -> float:
    start = time.monotonic()
    fn(*args, **kwargs)
    return time.monotonic() - start
