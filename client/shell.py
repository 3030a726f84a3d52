"""`minihbase shell`: an interactive shell that accepts HBase-shell syntax (docs/cli.md).

    hbase> create 't1', {NAME => 'cf', VERSIONS => 3}, SPLITS => ['100', '300']
    hbase> put 't1', 'r1', 'cf:q', 'v'
    hbase> scan 't1', {STARTROW => 'a', LIMIT => 10}

Lines are parsed by client/shell_syntax.py (a tokenizer, never eval) and mapped here onto the
commands shared with the CLI (client/commands.py). An error prints "ERROR: <message>" and the
shell goes on; reading a script (a file argument or a non-terminal stdin) it also goes on,
and the exit code is 1 when any command failed. `exit` / `quit` / end of input leave.
"""

from __future__ import annotations

import sys
import time

from client import commands, help_texts
from client import formatting as fmt
from client.help_texts import TABLE_METHODS
from client.shell_syntax import (Command, Const, ShellSyntaxError, parse_line, shell_text,
                                 unfinished)
from minihbase.errors import InvalidArgumentError
from storage.cell import LATEST_TIMESTAMP
from storage.schema import (ATTRIBUTE_ALIASES, TABLE_ATTRIBUTES, TABLE_DEFAULTS,
                            table_attribute_value)


def help_text(topic: str) -> str:
    """HBase's help 'command' (its help) and help 'group' (the help of each command in it)."""
    if topic in help_texts.GROUPS:
        return help_texts.group_text(topic)
    if help_texts.command(topic) is None:
        raise commands.UsageError(f"unknown command or command group {topic!r}; type 'help' "
                                  f"for the list")
    return help_texts.command_text(topic)


def _s(value, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError as e:
            raise commands.UsageError(f"{what} {shell_text(value)} is not UTF-8 text "
                                      f"(byte {e.start + 1})") from None
    if isinstance(value, Const):
        return value.name
    raise commands.UsageError(f"{what} must be a quoted string, got {shell_text(value)}")


def _b(value, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).encode()
    raise commands.UsageError(f"{what} must be a quoted string, got {shell_text(value)}")


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, bytes, str)):
        raise commands.UsageError(f"{what} must be a number, got {shell_text(value)}")
    try:
        return int(value)
    except ValueError:
        raise commands.UsageError(f"{what} must be a number, got {shell_text(value)}") from None


def _nargs(cmd: Command, low: int, high: int, usage: str) -> None:
    if not low <= len(cmd.args) <= high:
        if len(cmd.args) > high and isinstance(cmd.args[-1], dict):  # HBase's options hash
            raise commands.UsageError(
                f"{cmd.name}: options {', '.join(map(str, cmd.args[-1]))} are not supported "
                f"by minihbase; usage: {usage}")
        raise commands.UsageError(f"wrong number of arguments for {cmd.name}; usage: {usage}")


def _flatten(values) -> list:
    """Ruby's args.flatten.compact: arrays spliced in (at any depth), nils dropped."""
    out = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flatten(v))
        elif v is not None:
            out.append(v)
    return out


def _merge_regions(cmd: Command) -> list[str]:
    """merge_region's regions, as HBase 2.3+ reads them: two or more, as arguments or in one
    array, then an optional force flag (true is refused: no merge of regions not adjacent)."""
    args = _flatten(cmd.args)
    if len(args) > 2 and isinstance(args[-1], bool):
        if args.pop():
            raise commands.UsageError(
                f"{cmd.name} with force (regions that are not adjacent, leaving an overlap) is "
                "not supported: merge a run of adjacent regions")
    if len(args) < 2:
        raise commands.UsageError(
            f"{cmd.name} needs at least 2 regions, got {len(args)}; usage: merge_region "
            "'region a', 'region b'[, ...] or merge_region ['region a', 'region b', ...]")
    return [_s(a, "region") for a in args]


def _hash(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise commands.UsageError(
            f"{what} must be a hash {{KEY => value}}, got {shell_text(value)}")
    return value


def _columns(value) -> list[bytes]:
    if isinstance(value, list):
        return [_b(v, "column") for v in value]
    return [_b(value, "column")]


def _time_range(spec: dict) -> tuple[int, int] | None:
    """The HBase shell's TIMESTAMP => ts (exactly that version: [ts, ts + 1)) or TIMERANGE =>
    [min, max] (min <= ts < max)."""
    if "TIMESTAMP" in spec and "TIMERANGE" in spec:
        raise commands.UsageError("give either TIMESTAMP or TIMERANGE, not both")
    if "TIMESTAMP" in spec:
        ts = _timestamp(spec["TIMESTAMP"], "TIMESTAMP")
        return ts, min(ts + 1, LATEST_TIMESTAMP)  # no cell is stamped LATEST: matches none
    if "TIMERANGE" in spec:
        bounds = spec["TIMERANGE"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise commands.UsageError(
                f"TIMERANGE must be [min, max], got {shell_text(bounds)}")
        return _timestamp(bounds[0], "TIMERANGE min"), _timestamp(bounds[1], "TIMERANGE max")
    return None


def _table_attributes(spec: dict, into: dict) -> bool:
    """Pops HBase's table attributes (MAX_FILESIZE, READONLY...) from a create or alter hash
    into `into`, by field name and typed; True if the hash held one."""
    found = [k for k in spec if ATTRIBUTE_ALIASES.get(k, k) in TABLE_ATTRIBUTES]
    for given in found:
        value, key = spec.pop(given), ATTRIBUTE_ALIASES.get(given, given)
        if isinstance(value, (bytes, Const)):
            value = _s(value, key)
        try:
            into[TABLE_ATTRIBUTES[key]] = table_attribute_value(key, value)
        except InvalidArgumentError as e:
            raise commands.UsageError(str(e)) from None
    return bool(found)


def _unsupported_attributes(command: str, keys) -> commands.UsageError:
    return commands.UsageError(
        f"{command}: unsupported table attribute(s) {', '.join(map(str, keys))}; supported: "
        f"{', '.join(TABLE_ATTRIBUTES)}")


def _unset_attributes(spec: dict, into: dict) -> None:
    """METHOD => 'table_att_unset', NAME => 'READONLY' (or a list of names): each back to its
    default, which is what an unset attribute is."""
    if "NAME" not in spec:
        raise commands.UsageError("alter: table_att_unset needs NAME => 'MAX_FILESIZE' (or a "
                                  "list of table attributes)")
    names = spec.pop("NAME")
    if spec:
        raise commands.UsageError(f"alter: table_att_unset takes only NAME, got "
                                  f"{', '.join(map(str, spec))}")
    for name in names if isinstance(names, list) else [names]:
        key = _s(name, "table attribute")
        key = ATTRIBUTE_ALIASES.get(key, key)
        if key not in TABLE_ATTRIBUTES:
            raise _unsupported_attributes("alter: table_att_unset", [key])
        into[TABLE_ATTRIBUTES[key]] = TABLE_DEFAULTS[TABLE_ATTRIBUTES[key]]


def _properties(value) -> dict[str, str]:
    """Namespace properties: {'key' => 'value'}, numbers taken as their text."""
    return {_s(k, "property name"): str(v).lower() if isinstance(v, bool)
            else _b(v, f"property {k!r}").decode()
            for k, v in _hash(value, "namespace properties").items()}


def _alter_namespace_spec(value) -> tuple[dict[str, str], list[str]]:
    """HBase's {METHOD => 'set', 'k' => 'v', ...} or {METHOD => 'unset', NAME => 'k'}: the
    properties to set and those to remove."""
    spec = dict(_hash(value, "alter_namespace"))
    method = _s(spec.pop("METHOD", ""), "METHOD")
    if method == "set" and spec:
        return _properties(spec), []
    if method == "unset" and set(spec) == {"NAME"}:
        return {}, [_s(spec["NAME"], "property name")]
    raise commands.UsageError("alter_namespace takes {METHOD => 'set', 'PROPERTY' => 'value'} "
                              "or {METHOD => 'unset', NAME => 'PROPERTY'}")


def _formatter(spec: dict) -> str | None:
    """FORMATTER => 'toString' (Bytes' to* methods; FORMATTER_CLASS may only name Bytes)."""
    cls = _s(spec.get("FORMATTER_CLASS", fmt.BYTES_CLASS), "FORMATTER_CLASS")
    if cls != fmt.BYTES_CLASS:
        raise commands.UsageError(f"FORMATTER_CLASS {cls} is not supported: only "
                                  f"{fmt.BYTES_CLASS}")
    return _s(spec["FORMATTER"], "FORMATTER") if "FORMATTER" in spec else None


def _timestamp(value, what: str) -> int:
    ts = _int(value, what)
    if not 0 <= ts <= LATEST_TIMESTAMP:
        raise commands.UsageError(f"{what} must be between 0 and {LATEST_TIMESTAMP}, got {ts}")
    return ts


def _filter(spec: dict) -> bytes | None:
    """FILTER => "PrefixFilter('a') AND ..." (HBase's filter language, as a string)."""
    return _b(spec["FILTER"], "FILTER") if "FILTER" in spec else None


def _check_keys(h: dict, allowed: set, command: str) -> None:
    unknown = [k for k in h if k not in allowed]
    if unknown:
        raise commands.UsageError(f"{command}: unsupported option(s) {', '.join(map(str, unknown))}"
                                  f"; supported: {', '.join(sorted(allowed))}")


def _alter_spec(args: list) -> tuple[dict, list, dict]:
    """alter's arguments -> (families to add or modify, families to delete, table attributes
    to set by field name: a default unsets one)."""
    add, remove, attributes = {}, [], {}
    for a in args:
        if not isinstance(a, dict):
            add[_s(a, "family name")] = {}
            continue
        a = dict(a)
        method = a.pop("METHOD", None)
        method = None if method is None else _s(method, "METHOD").lower()
        table_att = _table_attributes(a, attributes)
        if method == "table_att_unset":
            _unset_attributes(a, attributes)
        elif "delete" in a:
            remove.append(_s(a["delete"], "family name"))
        elif method == "delete":
            if "NAME" not in a:
                raise commands.UsageError("alter: METHOD => 'delete' needs NAME => 'cf'")
            remove.append(_s(a["NAME"], "family name"))
        elif "NAME" in a and method is None:
            add[_s(a["NAME"], "family name")] = commands.family_options(a)
        elif method not in (None, "table_att"):
            raise commands.UsageError(f"alter: unknown METHOD {method!r}; known: delete, "
                                      "table_att, table_att_unset")
        elif a:
            raise (_unsupported_attributes("alter", a) if table_att or method
                   else commands.UsageError(
                       "alter: a hash needs NAME => 'cf' (a family) or table attributes, got "
                       f"{', '.join(map(str, a))}; supported table attributes: "
                       f"{', '.join(TABLE_ATTRIBUTES)}"))
        elif not table_att:
            raise commands.UsageError("alter: METHOD => 'table_att' needs a table attribute: "
                                      f"{', '.join(TABLE_ATTRIBUTES)}")
    return add, remove, attributes


SNAPSHOT_COMMANDS = ("snapshot", "list_snapshots", "list_table_snapshots", "delete_snapshot",
                     "clone_snapshot", "restore_snapshot", "delete_all_snapshot",
                     "delete_table_snapshots")


def _snapshot_command(cmd: Command, conn, out: commands.Output) -> None:
    n, args = cmd.name, cmd.args
    if n == "snapshot":
        _nargs(cmd, 2, 3, "snapshot 't1', 'snapshot1'[, {SKIP_FLUSH => true}]")
        spec = _hash(args[2], "snapshot options") if len(args) == 3 else {}
        _check_keys(spec, {"SKIP_FLUSH"}, "snapshot")
        skip = spec.get("SKIP_FLUSH", False)
        if not isinstance(skip, bool):
            raise commands.UsageError(
                f"SKIP_FLUSH takes true or false, got {shell_text(skip)}")
        commands.snapshot(conn, out, _s(args[0], "table name"), _s(args[1], "snapshot name"),
                          skip_flush=skip)
    elif n == "list_snapshots":
        _nargs(cmd, 0, 1, "list_snapshots ['regex']")
        commands.list_snapshots(conn, out, _s(args[0], "regex") if args else None)
    elif n == "list_table_snapshots":
        _nargs(cmd, 1, 2, "list_table_snapshots 'table regex'[, 'snapshot regex']")
        commands.list_snapshots(conn, out, _s(args[1], "regex") if len(args) == 2 else None,
                                table_regex=_s(args[0], "table regex"))
    elif n in ("delete_snapshot", "restore_snapshot"):
        _nargs(cmd, 1, 1, f"{n} 'snapshot1'")
        getattr(commands, n)(conn, out, _s(args[0], "snapshot name"))
    elif n == "delete_all_snapshot":
        _nargs(cmd, 1, 1, "delete_all_snapshot 'regex'")
        commands.delete_snapshots(conn, out, n, _s(args[0], "regex"))
    elif n == "delete_table_snapshots":
        _nargs(cmd, 1, 2, "delete_table_snapshots 'table regex'[, 'snapshot regex']")
        commands.delete_snapshots(conn, out, n, _s(args[1], "regex") if len(args) == 2
                                  else None, table_regex=_s(args[0], "table regex"))
    else:
        _nargs(cmd, 2, 2, "clone_snapshot 'snapshot1', 'new_table'")
        commands.clone_snapshot(conn, out, _s(args[0], "snapshot name"),
                                _s(args[1], "table name"))


# HBase's operator commands (tools group): decommissioning, switches, janitor, dead servers.
ADMIN_COMMANDS = ("decommission_regionservers", "recommission_regionserver",
                  "list_decommissioned_regionservers", "splitormerge_switch",
                  "splitormerge_enabled", "catalogjanitor_run", "catalogjanitor_switch",
                  "catalogjanitor_enabled", "assign", "unassign", "rit", "list_deadservers",
                  "clear_deadservers", "zk_dump", "normalize", "normalizer_switch",
                  "normalizer_enabled")


def _names(value, what: str) -> list[str]:
    """One name or a list of names ('s1' or ['s1', 's2'])."""
    return [_s(v, what) for v in value] if isinstance(value, list) else [_s(value, what)]


def _bool(value, command: str) -> bool:
    """true or false, also quoted ('true', as HBase's Boolean.valueOf reads it)."""
    if isinstance(value, (str, bytes)) and _s(value, command).lower() in ("true", "false"):
        return _s(value, command).lower() == "true"
    if not isinstance(value, bool):
        raise commands.UsageError(f"{command} takes true or false, got {shell_text(value)}")
    return value


def _normalize_filter(args: list) -> dict:
    """normalize's hashes (HBase's NormalizeTableFilterParams: TABLE_NAME(S), REGEX,
    NAMESPACE; several are merged, as HBase reads each) -> Connection.normalize's arguments."""
    spec = {}
    for a in args:
        spec.update(_hash(a, "normalize's filter"))
    _check_keys(spec, {"TABLE_NAME", "TABLE_NAMES", "REGEX", "NAMESPACE"}, "normalize")
    names = [name for key in ("TABLE_NAME", "TABLE_NAMES") if key in spec
             for name in _names(spec[key], "table name")]
    given = {"table_names": names or None, "regex": spec.get("REGEX"),
             "namespace": spec.get("NAMESPACE")}
    return {k: v if k == "table_names" else _s(v, k) for k, v in given.items() if v is not None}


def _admin_command(cmd: Command, conn, out: commands.Output) -> None:
    n, args = cmd.name, cmd.args
    if n == "decommission_regionservers":
        _nargs(cmd, 1, 2, "decommission_regionservers 'server' | ['s1', 's2'][, true|false]")
        offload = _bool(args[1], n) if len(args) == 2 else True
        commands.decommission_regionservers(conn, out, _names(args[0], "server"), offload)
    elif n == "recommission_regionserver":
        _nargs(cmd, 1, 2, "recommission_regionserver 'server'[, ['region', ...]]")
        regions = _names(args[1], "region") if len(args) == 2 else []
        commands.recommission_regionserver(conn, out, _s(args[0], "server"), regions)
    elif n in ("splitormerge_switch", "splitormerge_enabled"):
        switch = n == "splitormerge_switch"
        _nargs(cmd, 1 + switch, 1 + switch, f"{n} 'SPLIT'|'MERGE'" + (", true|false" * switch))
        kind = _s(args[0], "switch type")
        if switch:
            commands.splitormerge_switch(conn, out, kind, _bool(args[1], n))
        else:
            commands.splitormerge_enabled(conn, out, kind)
    elif n in ("catalogjanitor_switch", "normalizer_switch"):
        _nargs(cmd, 1, 1, f"{n} true|false")
        getattr(commands, n)(conn, out, _bool(args[0], n))
    elif n == "assign":
        _nargs(cmd, 1, 1, "assign 'region'")
        commands.assign(conn, out, _s(args[0], "region"))
    elif n == "unassign":
        _nargs(cmd, 1, 2, "unassign 'region'[, true]")
        if len(args) == 2:
            _bool(args[1], n)  # HBase's force: nothing is cached in the master to clear
        commands.unassign(conn, out, _s(args[0], "region"))
    elif n == "clear_deadservers":
        servers = [name for a in args for name in _names(a, "server")]
        commands.clear_deadservers(conn, out, servers)
    elif n == "normalize":
        commands.normalize(conn, out, **_normalize_filter(args))
    else:  # rit, zk_dump, list_*, catalogjanitor_run/_enabled, normalizer_enabled
        _nargs(cmd, 0, 0, n)
        getattr(commands, n)(conn, out)


def execute(cmd: Command, conn, out: commands.Output) -> None:
    """Run one parsed shell command."""
    n, args = cmd.name, cmd.args
    if n == "create":
        if not args:
            raise commands.UsageError("usage: create 't1', 'cf1'[, 'cf2'][, SPLITS => [...]]")
        table, families, splits, attributes = _s(args[0], "table name"), {}, [], {}
        for a in args[1:]:
            if isinstance(a, dict):
                a = dict(a)
                _table_attributes(a, attributes)
                if "NUMREGIONS" in a or "SPLITALGO" in a:
                    if "NUMREGIONS" not in a or "SPLITALGO" not in a or "SPLITS" in a:
                        raise commands.UsageError(
                            "create: NUMREGIONS => n needs SPLITALGO => 'HexStringSplit' "
                            "(or 'UniformSplit', 'DecimalStringSplit'), without SPLITS")
                    a = dict(a, SPLITS=commands.presplit_keys(
                        _int(a.pop("NUMREGIONS"), "NUMREGIONS"),
                        _s(a.pop("SPLITALGO"), "SPLITALGO")))
                if "SPLITS" in a:
                    if not isinstance(a["SPLITS"], list):
                        raise commands.UsageError(
                            "SPLITS must be a list ['k1', 'k2'], got "
                            f"{shell_text(a['SPLITS'])}")
                    splits = [_b(k, "split key") for k in a["SPLITS"]]
                    a = {k: v for k, v in a.items() if k != "SPLITS"}
                if a:
                    if "NAME" not in a:
                        raise _unsupported_attributes("create", a)
                    commands.add_family(families, _s(a["NAME"], "family name"),
                                commands.family_options(a))
            else:
                commands.add_family(families, _s(a, "family name"), {})
        commands.create(conn, out, table, families, splits, attributes)
    elif n == "list":
        _nargs(cmd, 0, 1, "list ['regex']")
        commands.list_tables(conn, out, _s(args[0], "regex") if args else None)
    elif n == "list_namespace":
        _nargs(cmd, 0, 1, "list_namespace ['regex']")
        commands.list_namespace(conn, out, _s(args[0], "regex") if args else None)
    elif n == "create_namespace":
        if not args:
            raise commands.UsageError("usage: create_namespace 'ns1'[, {'PROPERTY' => 'value'}]")
        properties = {k: v for a in args[1:] for k, v in _properties(a).items()}
        commands.create_namespace(conn, out, _s(args[0], "namespace"), properties)
    elif n == "alter_namespace":
        _nargs(cmd, 2, 2, "alter_namespace 'ns1', {METHOD => 'set'|'unset', ...}")
        commands.alter_namespace(conn, out, _s(args[0], "namespace"),
                                 *_alter_namespace_spec(args[1]))
    elif n in ("drop_namespace", "list_namespace_tables", "describe_namespace"):
        _nargs(cmd, 1, 1, f"{n} 'ns1'")
        getattr(commands, n)(conn, out, _s(args[0], "namespace"))
    elif n in ("describe", "desc"):
        _nargs(cmd, 1, 1, "describe 't1'")
        commands.describe(conn, out, _s(args[0], "table name"))
    elif n in ("alter", "alter_async"):  # the master's alter reopens the regions: no async
        if len(args) < 2:
            raise commands.UsageError(f"usage: {n} 't1', NAME => 'cf', VERSIONS => 3")
        add, remove, attributes = _alter_spec(args[1:])
        commands.alter(conn, out, _s(args[0], "table name"), add=add, remove=remove,
                       attributes=attributes, report_regions=n == "alter")
    elif n == "alter_status":
        _nargs(cmd, 1, 1, "alter_status 't1'")
        commands.alter_status(conn, out, _s(args[0], "table name"))
    elif n in ("disable", "enable", "drop", "exists", "is_enabled"):
        _nargs(cmd, 1, 1, f"{n} 't1'")
        getattr(commands, n)(conn, out, _s(args[0], "table name"))
    elif n in ("truncate", "truncate_preserve"):
        _nargs(cmd, 1, 1, f"{n} 't1'")
        commands.truncate(conn, out, _s(args[0], "table name"),
                          preserve_splits=n == "truncate_preserve")
    elif n == "is_disabled":
        _nargs(cmd, 1, 1, "is_disabled 't1'")
        commands.is_disabled(conn, out, _s(args[0], "table name"))
    elif n == "put":
        _nargs(cmd, 4, 5, "put 't1', 'r1', 'cf:q', 'value'[, ts]")
        ts = _timestamp(args[4], "timestamp") if len(args) == 5 else None
        commands.put(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                     _b(args[2], "column"), _b(args[3], "value"), ts)
    elif n == "get":
        _nargs(cmd, 2, 1000, "get 't1', 'r1'[, 'cf:q' | 'cf:a', 'cf:b' | {COLUMN => 'cf:q', "
               "VERSIONS => 3}]")
        columns, versions, time_range, row_filter, formatter = [], 1, None, None, None
        if len(args) > 3:  # get 't1', 'r1', 'c1', 'c2' (HBase shell)
            columns = [_b(c, "column") for c in args[2:]]
        elif len(args) == 3:
            spec = args[2]
            if isinstance(spec, dict):
                _check_keys(spec, {"COLUMN", "COLUMNS", "VERSIONS", "TIMESTAMP", "TIMERANGE",
                                   "FILTER", "FORMATTER", "FORMATTER_CLASS"}, "get")
                col = spec.get("COLUMN", spec.get("COLUMNS"))
                columns = [] if col is None else _columns(col)
                versions = _int(spec.get("VERSIONS", 1), "VERSIONS")
                time_range = _time_range(spec)
                row_filter = _filter(spec)
                formatter = _formatter(spec)
            else:
                columns = _columns(spec)
        commands.get(conn, out, _s(args[0], "table name"), _b(args[1], "row"), columns,
                     versions, time_range=time_range, row_filter=row_filter,
                     formatter=formatter)
    elif n == "scan":
        _nargs(cmd, 1, 2, "scan 't1'[, {STARTROW => 'a', STOPROW => 'b', LIMIT => 10}]")
        spec = _hash(args[1], "scan options") if len(args) == 2 else {}
        _check_keys(spec, {"STARTROW", "STOPROW", "LIMIT", "COLUMNS", "COLUMN", "REVERSED",
                           "ROWPREFIXFILTER", "VERSIONS", "CACHE", "TIMESTAMP", "TIMERANGE",
                           "FILTER", "RAW", "FORMATTER", "FORMATTER_CLASS"}, "scan")
        limit = _int(spec["LIMIT"], "LIMIT") if "LIMIT" in spec else 0
        col = spec.get("COLUMNS", spec.get("COLUMN"))

        def opt(key):
            return _b(spec[key], key) if key in spec else None

        commands.scan(conn, out, _s(args[0], "table name"), start=opt("STARTROW"),
                      stop=opt("STOPROW"), prefix=opt("ROWPREFIXFILTER"),
                      columns=None if col is None else _columns(col),
                      limit=limit if limit > 0 else None,  # the HBase shell: <= 0 is none
                      reverse=bool(spec.get("REVERSED", False)),
                      versions=_int(spec["VERSIONS"], "VERSIONS") if "VERSIONS" in spec
                      else None, time_range=_time_range(spec), row_filter=_filter(spec),
                      raw=bool(spec.get("RAW", False)), formatter=_formatter(spec))
    elif n == "delete":
        _nargs(cmd, 3, 4, "delete 't1', 'r1', 'cf:q'[, ts]")
        ts = _timestamp(args[3], "timestamp") if len(args) == 4 else None
        commands.delete(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                        _b(args[2], "column"), ts)
    elif n == "deleteall":
        _nargs(cmd, 2, 4, "deleteall 't1', 'r1' | {ROWPREFIXFILTER => 'p'}[, 'cf:q'][, ts]")
        column = _b(args[2], "column") if len(args) >= 3 and args[2] is not None else None
        ts = _timestamp(args[3], "timestamp") if len(args) == 4 else None
        if isinstance(args[1], dict):  # HBase 2: every row with a prefix
            spec = args[1]
            _check_keys(spec, {"ROWPREFIXFILTER", "CACHE"}, "deleteall")
            if "ROWPREFIXFILTER" not in spec:
                raise commands.UsageError("deleteall: a hash instead of the row needs "
                                          "ROWPREFIXFILTER => 'prefix'")
            commands.deleteall_prefix(
                conn, out, _s(args[0], "table name"), _b(spec["ROWPREFIXFILTER"],
                                                         "ROWPREFIXFILTER"), column, ts,
                _int(spec.get("CACHE", commands.DELETE_BATCH), "CACHE"))
        else:
            commands.deleteall(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                               column, ts)
    elif n == "count":
        _nargs(cmd, 1, 2, "count 't1'[, INTERVAL => 1000]")
        spec = {} if len(args) < 2 else {"INTERVAL": args[1]} if type(args[1]) is int \
            else _hash(args[1], "count options")  # count 't1', 1000: HBase's older form
        _check_keys(spec, {"INTERVAL", "CACHE", "FILTER"}, "count")
        commands.count(conn, out, _s(args[0], "table name"),
                       _int(spec.get("INTERVAL", 1000), "INTERVAL"), row_filter=_filter(spec))
    elif n == "incr":
        _nargs(cmd, 3, 4, "incr 't1', 'r1', 'cf:c'[, amount]")
        amount = _int(args[3], "amount") if len(args) == 4 else 1
        commands.incr(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                      _b(args[2], "column"), amount)
    elif n == "append":
        _nargs(cmd, 4, 4, "append 't1', 'r1', 'cf:q', 'value'")
        commands.append(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                        _b(args[2], "column"), _b(args[3], "value"))
    elif n == "get_counter":
        _nargs(cmd, 3, 3, "get_counter 't1', 'r1', 'cf:c'")
        commands.get_counter(conn, out, _s(args[0], "table name"), _b(args[1], "row"),
                             _b(args[2], "column"))
    elif n == "status":
        _nargs(cmd, 0, 1, "status ['summary' | 'simple' | 'detailed']")
        commands.status(conn, out, _s(args[0], "status format") if args else "summary")
    elif n == "list_regions":
        _nargs(cmd, 1, 1, "list_regions 't1'")
        commands.list_regions(conn, out, _s(args[0], "table name"))
    elif n == "get_splits":
        _nargs(cmd, 1, 1, "get_splits 't1'")
        commands.get_splits(conn, out, _s(args[0], "table name"))
    elif n == "locate_region":
        _nargs(cmd, 2, 2, "locate_region 't1', 'row'")
        commands.locate_region(conn, out, _s(args[0], "table name"), _b(args[1], "row"))
    elif n in ("version", "whoami", "show_filters"):
        _nargs(cmd, 0, 0, n)
        getattr(commands, n)(conn, out)
    elif n in ("balance", "balancer"):
        commands.balance(conn, out)
    elif n in SNAPSHOT_COMMANDS:
        _snapshot_command(cmd, conn, out)
    elif n in ADMIN_COMMANDS:
        _admin_command(cmd, conn, out)
    elif n == "clone_table_schema":
        _nargs(cmd, 2, 3, "clone_table_schema 't1', 't2'[, false]")
        keep = args[2] if len(args) == 3 else True
        if not isinstance(keep, bool):
            raise commands.UsageError(f"clone_table_schema: the third argument keeps the "
                                      f"region boundaries, true or false; got {shell_text(keep)}")
        commands.clone_table_schema(conn, out, _s(args[0], "table name"),
                                    _s(args[1], "table name"), keep)
    elif n in ("disable_all", "enable_all", "drop_all"):
        _nargs(cmd, 1, 1, f"{n} 'regex'")
        commands.tables_all(conn, out, n, _s(args[0], "regex"))
    elif n == "balance_switch":
        _nargs(cmd, 1, 1, "balance_switch true|false")
        commands.balance_switch(conn, out, _bool(args[0], n))
    elif n == "balancer_enabled":
        _nargs(cmd, 0, 0, "balancer_enabled")
        commands.balancer_enabled(conn, out)
    elif n in ("hbck_chore_run", "cleaner_chore_run"):  # HBase 2's names; both report
        _nargs(cmd, 0, 0, n)
        commands.hbck(conn, out, clean=n == "cleaner_chore_run", fail=False)
    elif n == "split":
        _nargs(cmd, 1, 2, "split 't1'[, 'split key']")
        key = _b(args[1], "split key") if len(args) == 2 else None
        commands.split(conn, out, _s(args[0], "table or region"), key)
    elif n in ("merge", "merge_region"):
        commands.merge(conn, out, *_merge_regions(cmd))
    elif n == "flush":
        _nargs(cmd, 1, 1, "flush 't1'")
        commands.flush(conn, out, _s(args[0], "table or region"))
    elif n in ("compact", "major_compact"):
        _nargs(cmd, 1, 2, f"{n} 't1'[, 'cf']")
        family = _b(args[1], "column family") if len(args) == 2 else None
        commands.compact(conn, out, _s(args[0], "table or region"), major=n == "major_compact",
                         family=family)
    elif n == "compaction_state":
        _nargs(cmd, 1, 1, "compaction_state 't1'")
        commands.compaction_state(conn, out, _s(args[0], "table name"))
    elif n == "get_table":
        _nargs(cmd, 1, 1, "t = get_table 't1'")
        commands.get_table(conn, out, _s(args[0], "table name"))
    elif n == "move":
        _nargs(cmd, 1, 2, "move 'region'[, 'server']")
        server = _s(args[1], "server") if len(args) == 2 else ""
        commands.move(conn, out, _s(args[0], "region"), server)
    else:
        raise commands.UsageError(f"unknown command {n!r}; type 'help' for the list")


class Shell:
    """Runs lines against one lazily opened Connection (so `help` works without a cluster).
    Keeps the shell's table references: `t = get_table 't1'` (or `t = create ...`)."""

    def __init__(self, quorum: str, timeout: float, as_json: bool = False, out=None, err=None,
                 connect=None, zk_parent: str = "/hbase"):
        self.quorum, self.timeout, self.zk_parent = quorum, timeout, zk_parent
        self.out = commands.Output(as_json, out, err)
        self.out.confirm = self._confirm
        self.answers = None  # a script's remaining (number, line) pairs, while it runs
        self._connect = connect
        self.conn = None
        self.failed = 0
        self.tables: dict[str, str] = {}  # table references: variable -> table name

    def connection(self):
        if self.conn is None:
            if self._connect is not None:
                self.conn = self._connect()
            else:
                from client.connection import Connection

                self.conn = Connection(self.quorum, timeout=self.timeout,
                                       zk_parent=self.zk_parent)
        return self.conn

    def _on_table(self, cmd: Command) -> Command:
        """t.put 'r1', ... -> put 't1', 'r1', ... for a table reference t."""
        if cmd.target is None:
            return cmd
        table = self.tables.get(cmd.target)
        if table is None:
            raise commands.UsageError(f"{cmd.target!r} is not a table reference; make one "
                                      f"with {cmd.target} = get_table 't1'")
        if cmd.name not in TABLE_METHODS:
            raise commands.UsageError(f"a table has no method {cmd.name!r}; it has "
                                      f"{', '.join(TABLE_METHODS)}")
        return cmd._replace(args=[table.encode()] + cmd.args, target=None)

    def _confirm(self, question: str) -> bool:
        """At a terminal, ask; in a script, as HBase's shell, the next line is the answer."""
        if self.answers is None:
            return commands.Output.confirm(self.out, question)
        print(f"{question} (y/n)?", file=self.out.chatter)
        answer = next(self.answers, None)
        if answer is None:
            raise commands.UsageError(f"{question}? got no answer: the script ended")
        return answer[1].strip().lower() in (b"y", b"yes")

    def run_line(self, line: str, where: str = "", first_line: int = 1) -> bool:
        """Run the commands of one line (or of one command continued over several lines,
        numbered from `first_line`), stopping at the first that fails; False when the shell
        should exit. `where` prefixes error messages (a script's file and line)."""
        err = self.out.err
        try:
            for cmd in parse_line(line, first_line):
                if cmd.name in ("exit", "quit"):
                    return False
                self._run(cmd)
        except (ShellSyntaxError, commands.UsageError) as exc:
            self.failed += 1
            print(f"ERROR: {where}{exc}", file=err)
        except KeyboardInterrupt:
            print("ERROR: interrupted", file=err)
        except Exception as exc:  # noqa: BLE001 - the shell reports and carries on
            self.failed += 1
            print(f"ERROR: {where}{str(exc).strip() or type(exc).__name__}", file=err)
        err.flush()
        return True

    def _run(self, cmd: Command) -> None:
        if cmd.name == "help":
            _nargs(cmd, 0, 1, "help ['command' | 'group']")
            print(help_text(_s(cmd.args[0], "command")) if cmd.args else help_texts.overview(),
                  file=self.out.out)
            return
        cmd = self._on_table(cmd)
        if cmd.assign is not None and cmd.name not in ("get_table", "create"):
            raise commands.UsageError(
                "only a table reference can be assigned: t = get_table 't1' or "
                "t = create 't1', 'cf'")
        start = time.monotonic()
        execute(cmd, self.connection(), self.out)
        if cmd.assign is not None:
            self.tables[cmd.assign] = _s(cmd.args[0], "table name")
        if not self.out.as_json:
            print(f"Took {time.monotonic() - start:.4f} seconds", file=self.out.out)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def run_shell(quorum: str, timeout: float, as_json: bool = False,
              script: str | None = None, zk_parent: str = "/hbase") -> int:
    shell = Shell(quorum, timeout, as_json, zk_parent=zk_parent)
    try:
        if script is not None:
            try:
                with open(script, "rb") as f:
                    lines = f.read().splitlines()
            except OSError as exc:
                print(f"ERROR: cannot read {script}: {exc.strerror}", file=sys.stderr)
                return 1
            _run_lines(shell, lines, script)
        elif sys.stdin.isatty():
            try:
                import readline  # noqa: F401 - line editing and history for input()
            except ImportError:
                pass
            print(f"minihbase shell (ZooKeeper {quorum}); type 'help', 'exit' to leave")
            pending = ""  # a command that goes on over lines, as irb reads it
            while True:
                try:
                    line = input("hbase* " if pending else "hbase> ")
                except EOFError:
                    print()
                    if pending:
                        shell.run_line(pending)  # says what it lacks
                    break
                except KeyboardInterrupt:
                    print()
                    pending = ""
                    continue
                pending = f"{pending}\n{line}" if pending else line
                if unfinished(pending):
                    continue
                line, pending = pending, ""
                if not shell.run_line(line):
                    break
        else:
            _run_lines(shell, sys.stdin.buffer, "standard input")
    finally:
        shell.close()
    return 1 if shell.failed else 0


def _run_lines(shell: Shell, lines, source: str) -> None:
    """Run raw lines (bytes) of a script; a line that is not UTF-8 is an error, not a crash
    (binary row keys are written with backslash-x escapes, as in the HBase shell). A command
    goes on over the lines that follow while it is unfinished (an open '{', a trailing ','),
    as in a script HBase's shell reads; its errors name its first line."""
    shell.answers = numbered = enumerate(lines, 1)  # a y/n question takes the next line
    pending, first = [], 0
    for number, raw in numbered:
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            print(f"ERROR: {source}, line {number}: not UTF-8 text (byte {exc.start + 1}); "
                  'write binary bytes as "\\xHH" escapes', file=shell.out.err)
            shell.failed += 1
            pending = []  # a command it was part of is not run either
            continue
        if not pending:
            first = number
        pending.append(line)
        text = "\n".join(pending)
        if unfinished(text):
            continue
        pending = []
        if not shell.run_line(text, f"{source}, line {first}: ", first):
            break
    if pending:
        print(f"ERROR: {source}, line {first}: the script ended inside this command (an open "
              "string, '{', '[' or '(', or a ',' or '\\' at the end of its last line)",
              file=shell.out.err)
        shell.failed += 1
