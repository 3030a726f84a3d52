"""How the CLI and the shell print things: readable tables by default, JSON with --json.

Binary bytes print as HBase prints them (Bytes.toStringBinary, minihbase.bytes_text), and
JSON output uses the same text form for rows, columns and values.
"""

from __future__ import annotations

import json
import re
import struct
import time

from minihbase.bytes_text import binary, parse_binary  # noqa: F401 - the CLI's names
from minihbase.errors import InvalidArgumentError
from storage.schema import table_attributes_text


def jsonable(obj):
    """Bytes become their toStringBinary text; tuples become lists."""
    if isinstance(obj, (bytes, bytearray)):
        return binary(bytes(obj))
    if isinstance(obj, dict):
        return {(binary(k) if isinstance(k, bytes) else k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def to_json(obj) -> str:
    return json.dumps(jsonable(obj), indent=None, sort_keys=False)


def grid(headers: list[str], rows: list[list], indent: str = " ") -> str:
    """A plain text table: header line, then one line per row indented by `indent` (as the
    HBase shell does), columns padded to fit and aligned with their headers."""
    cells = [list(headers)] + [[indent + _text(r[0])] + [_text(v) for v in r[1:]] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip()
                     for r in cells)


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        return binary(v)
    return str(v)


def when(ms: int) -> str:
    if not ms:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"


def rows_count(n: int) -> str:
    return f"{n} row(s)"


# -- data --------------------------------------------------------------------------------------

def cell_text(value: bytes, ts: int | None, kind: str | None = None) -> str:
    """`timestamp=..., value=...`; a raw scan's delete marker shows `type=...` instead."""
    if kind is not None and kind != "Put":
        return f"timestamp={ts}, type={kind}"
    return (f"timestamp={ts}, value={binary(value)}" if ts is not None
            else f"value={binary(value)}")


def column_cell(column: bytes, value: bytes, ts: int | None, kind: str | None = None) -> str:
    """The COLUMN+CELL text of a scan line."""
    return f"column={binary(column)}, {cell_text(value, ts, kind)}"


def cell_list(data) -> list[tuple[bytes, bytes, int | None, str | None]]:
    """A row as [(column, value, ts, type)]: from a cell list ([(column, value, ts)], or with
    a type from a raw scan), or a happybase dict whose values are value or (value, ts)."""
    if isinstance(data, list):
        return [c if len(c) == 4 else (*c, None) for c in data]
    out = []
    for column, v in data.items():
        value, ts = v if isinstance(v, tuple) else (v, None)
        out.append((column, value, ts, None))
    return out


def scan_table(results: list) -> str:
    """HBase shell's scan layout: ROW / COLUMN+CELL, one line per cell (every version)."""
    lines = []
    for row, data in results:
        for cell in cell_list(data):
            lines.append([binary(row), column_cell(*cell)])
    return grid(["ROW", "COLUMN+CELL"], lines) + "\n" + rows_count(len(results))


def get_table(cells: list[tuple[bytes, bytes, int | None]]) -> str:
    """HBase shell's get layout: COLUMN / CELL."""
    lines = [[binary(col), cell_text(value, ts)] for col, value, ts in cells]
    n = len({c for c, _, _ in cells})
    return grid(["COLUMN", "CELL"], lines) + "\n" + rows_count(1 if n else 0)


def scan_json(results: list) -> list:
    out = []
    for row, data in results:
        cells = []
        for column, value, ts, kind in cell_list(data):
            cell = {"column": binary(column), "timestamp": ts, "value": binary(value)}
            if kind is not None:
                cell["type"] = kind
            cells.append(cell)
        out.append({"row": binary(row), "cells": cells})
    return out


# -- admin -------------------------------------------------------------------------------------

def family_text(f: dict) -> str:
    """HBase 2's describe line, its attributes in its order (the one HBase's reference guide
    shows): {NAME => 'cf', BLOOMFILTER => 'ROW', ...}. No REPLICATION_SCOPE: minihbase does
    not replicate."""
    attributes = {"NAME": f["name"], "BLOOMFILTER": f["bloom"],
                  "IN_MEMORY": str(f.get("in_memory", False)).lower(),
                  "VERSIONS": f["max_versions"],
                  "KEEP_DELETED_CELLS": f.get("keep_deleted_cells", "FALSE"),
                  "DATA_BLOCK_ENCODING": f.get("data_block_encoding", "NONE"),
                  "COMPRESSION": f["compression"], "TTL": ttl_text(f.get("ttl")),
                  "MIN_VERSIONS": f["min_versions"],
                  "BLOCKCACHE": str(f.get("block_cache", True)).lower(),
                  "BLOCKSIZE": f["block_size"]}
    return "{" + ", ".join(f"{k} => '{v}'" for k, v in attributes.items()) + "}"


HBASE_FOREVER = (1 << 31) - 1  # HBase's HConstants.FOREVER: the largest TTL, shown as FOREVER


def ttl_text(seconds: int | None) -> str:
    """A TTL as HBase's PrettyPrinter shows it: FOREVER, '59 SECONDS', or '90061 SECONDS
    (1 DAY 1 HOUR 1 MINUTE 1 SECOND)'."""
    if not seconds or seconds >= HBASE_FOREVER:
        return "FOREVER"
    if seconds < 60:
        return _units(seconds, "SECOND")
    parts, rest = [], seconds
    for unit, size in (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60), ("SECOND", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(_units(count, unit))
    return f"{seconds} SECONDS ({' '.join(parts)})"


def _units(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 'S'}"


# HBase's PrettyPrinter interval: what ttl_text prints, '1 DAY', '2 DAYS 3 HOURS', '90 SECONDS'.
_INTERVAL = re.compile(r"((\d+)\s*SECONDS?\s*\()?\s*((\d+)\s*DAYS?)?\s*((\d+)\s*HOURS?)?\s*"
                       r"((\d+)\s*MINUTES?)?\s*((\d+)\s*SECONDS?)?\s*\)?", re.IGNORECASE)


def ttl_seconds(text: str) -> int | None:
    """A TTL typed as text, read as HBase's PrettyPrinter.valueFromHumanReadable reads it
    (what its shell does with TTL => '...'): FOREVER (any case) is None (no TTL), digits are
    seconds, and '1 DAY', '2 DAYS 3 HOURS 4 MINUTES 5 SECONDS' or ttl_text's own
    '86400 SECONDS (1 DAY)' add up their units. Unlike HBase, which reads text it does not
    understand as 0 seconds, such text is a ValueError naming it."""
    text = text.strip()
    if text.upper() == "FOREVER":
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    m = _INTERVAL.fullmatch(text)
    units = m and [m.group(i) for i in (4, 6, 8, 10)]
    if not units or not any(units):
        raise ValueError(f"TTL {text!r} is not seconds, FOREVER or an interval such as "
                         "'1 DAY' or '2 DAYS 3 HOURS 4 MINUTES 5 SECONDS'")
    seconds = sum(int(n) * size for n, size in zip(units, (86400, 3600, 60, 1)) if n)
    if m.group(2) is not None and int(m.group(2)) != seconds:
        raise ValueError(f"TTL {text!r}: {m.group(2)} seconds is not the interval in "
                         f"parentheses ({seconds} seconds)")
    return seconds


def regions_table(regions: list[dict]) -> str:
    rows = []
    for r in regions:
        rows.append([r["encoded"], binary(r["start_key"]), binary(r["end_key"]), r["state"],
                     r["server"], when(r["state_since_ms"]), r["waiting_for"]])
    return grid(["REGION", "START KEY", "END KEY", "STATE", "SERVER", "SINCE", "WAITING FOR"],
                rows)


def describe_text(d: dict) -> str:
    lines = [f"Table {d['name']} is {d['state']}"]
    attributes = table_attributes_text(d)  # HBase's: only those set, by name
    # as HBase 2: the table's name, then its attributes if any
    lines.append(f"{d['name']}, {{TABLE_ATTRIBUTES => {{{attributes}}}}}" if attributes
                 else d["name"])
    lines.append("COLUMN FAMILIES DESCRIPTION")
    for f in d["families"]:
        lines += [family_text(f), ""]
    lines.append(f"{len(d['families'])} row(s)")
    lines.append("")
    lines.append(f"REGIONS ({len(d['regions'])})")
    lines.append(regions_table(d["regions"]))
    return "\n".join(lines)


def list_text(tables: list[dict]) -> str:
    rows = [[t["name"], t["state"], len(t["regions"]),
             ",".join(f["name"] for f in t["families"])] for t in tables]
    return grid(["TABLE", "STATE", "REGIONS", "FAMILIES"], rows) + "\n" + rows_count(len(rows))


def snapshots_text(snaps: list[dict]) -> str:
    rows = [[s["name"], s["table"] or "-", when(s["created_ms"]) if s["created_ms"] else "-",
             s["regions"], s["size_bytes"], "DAMAGED: " + s["problem"] if "problem" in s else ""]
            for s in snaps]
    return grid(["SNAPSHOT", "TABLE", "CREATION TIME", "REGIONS", "BYTES", ""], rows) + "\n" \
        + rows_count(len(rows))


def _directories(n: int) -> str:
    return f"{n} director{'y' if n == 1 else 'ies'}"


def inconsistencies(n: int) -> str:
    return f"{n} inconsistenc{'y' if n == 1 else 'ies'}"


def hbck_text(report: dict) -> str:
    lines = [f"HBCK report, checked {when(report['checked_ms'])}: "
             + (inconsistencies(len(report["problems"])) if report["problems"]
                else "no inconsistencies found")]
    if report["problems"]:
        lines.append(grid(["PROBLEM", "TABLE", "DETAIL"],
                          [[p["kind"], p["table"], p["detail"]] for p in report["problems"]]))
    cleanable = sum(p["cleanable"] for p in report["problems"])
    if cleanable:  # say why they are still there, --clean or not
        lines.append(f"{cleanable} of these orphaned directories will be deleted by the "
                     f"master's cleaner once untouched, and seen orphaned by it, for its "
                     f"--orphan-grace (10 minutes by default); the others are left in place")
    for p in report["removed"]:
        what = ("stale snapshot attempt" if p["kind"] == "STALE_SNAPSHOT_ATTEMPT" else
                "orphaned region directory")
        lines.append(f"Deleted {what} {p['path']} ({p['bytes']} bytes)")
    if report["too_new"]:  # not problems: an operation in flight writes such directories
        lines.append(f"{_directories(report['too_new'])} not named by meta changed too "
                     f"recently to judge yet (an operation may still be writing them); not "
                     f"counted as inconsistencies")
    return "\n".join(lines)


STATUS_FORMATS = ("summary", "simple", "detailed")  # the HBase shell's status 'format'


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f}"


def _server_lines(x: dict, detailed: bool) -> list[str]:
    """HBase's status 'simple' server line (and 'detailed': one line per region under it)."""
    loads = x["region_loads"]
    lookups = x["block_cache_hits"] + x["block_cache_misses"]
    lines = [f"    {x['name']} ({x['state']})",
             f"        requestsPerSecond={x['requests_per_second']}, numberOfOnlineRegions="
             f"{x['regions']}, memstoreSizeMB={_mb(sum(r['memstore_bytes'] for r in loads))}, "
             f"storefileSizeMB={_mb(sum(r['store_bytes'] for r in loads))}, "
             f"numberOfStorefiles={sum(r['store_files'] for r in loads)}, "
             f"walSizeMB={_mb(x['wal_bytes'])}, walSegments={x['wal_segments']}, "
             f"blockCacheHitRatio={x['block_cache_hits'] / lookups if lookups else 0:.2f}"]
    if detailed:
        for r in loads:
            lines.append(f'        "{r["name"]}"')
            lines.append(f"            state={r['state']}, numberOfStorefiles={r['store_files']}"
                         f", storefileSizeMB={_mb(r['store_bytes'])}, memstoreSizeMB="
                         f"{_mb(r['memstore_bytes'])}, readRequestsCount={r['read_requests']}"
                         f", writeRequestsCount={r['write_requests']}")
    return lines


def status_text(s: dict, format: str = "summary") -> str:
    """The HBase shell's `status` (summary, the default), `status 'simple'` (a line of load
    per server) and `status 'detailed'` (and a line per region)."""
    text = _status_summary(s)
    if format == "summary":
        return text
    lines = [text, "", f"{len(s['servers'])} servers (load as last reported):"]
    for x in s["servers"]:
        lines += _server_lines(x, format == "detailed")
    return "\n".join(lines)


def _status_summary(s: dict) -> str:
    live = [x for x in s["servers"] if x["state"] == "ONLINE"]
    dead = [x for x in s["servers"] if x["state"] != "ONLINE"]
    avg = (sum(x["regions"] for x in live) / len(live)) if live else 0.0
    lines = [
        f"active master: {s['active_master'] or '(none)'}; backup masters: "
        f"{len(s['backup_masters'])}" + (f" ({', '.join(s['backup_masters'])})"
                                         if s["backup_masters"] else ""),
        f"{len(live)} servers, {len(dead)} dead, {avg:.4f} average load; "
        f"{s['table_count']} tables, {s['region_count']} regions",
        "",
        grid(["SERVER", "STATE", "SINCE", "REGIONS", "REQUESTS/S"],
             [[x["name"], x["state"] + (" (decommissioned)" if x["decommissioned"] else ""),
               when(x["state_since_ms"]), x["regions"], x["requests_per_second"]]
              for x in s["servers"]]),
    ]
    rit = s["regions_in_transition"]
    lines.append("")
    if rit:
        lines.append(f"REGIONS IN TRANSITION ({len(rit)})")
        lines.append(regions_table(rit))
    else:
        lines.append("no regions in transition")
    return "\n".join(lines)


def zk_dump_text(d: dict) -> str:
    """HBase's zk_dump layout: the root, masters, region servers, then each quorum server."""
    def listed(names):
        return [f" {n}" for n in names] or [" (none)"]
    switches = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in d["switches"].items())
    lines = [f"HBase is rooted at {d['parent']} (cluster id {d['cluster_id'] or 'not set'})",
             f"Active master address: {d['active_master'] or '(none)'}",
             "Backup master addresses:", *listed(d["backup_masters"]),
             "Region servers:", *listed(d["region_servers"]),
             "Decommissioned region servers:", *listed(d["decommissioned"]),
             f"Switches: {switches}", "Quorum Server Statistics:"]
    for server, answer in d["quorum"].items():
        lines += [f" {server}", *(f"  {line}" for line in answer.splitlines())]
    return "\n".join(lines)


# --- the HBase shell's converters: COLUMNS => ['cf:q:toLong'], FORMATTER => 'toString' -------

def _number(code: str, name: str):
    """Bytes.toInt and the like: the value's first bytes (a shorter value is an error)."""
    size = struct.calcsize(code)

    def convert(value: bytes) -> str:
        if len(value) < size:
            raise InvalidArgumentError(f"{name} needs a value of {size} bytes, not "
                                       f"{len(value)} ({binary(value)})")
        return str(struct.unpack_from(code, value)[0])
    return convert


def _boolean(value: bytes) -> str:
    if len(value) != 1:
        raise InvalidArgumentError(f"toBoolean needs a value of 1 byte, not {len(value)} "
                                   f"({binary(value)})")
    return "true" if value[0] else "false"


# Bytes' to* methods, as the shell names them; each shows a value (display only).
CONVERTERS = {"toString": lambda v: v.decode("utf-8", "replace"), "toStringBinary": binary,
              "toHex": bytes.hex, "toInt": _number(">i", "toInt"),
              "toLong": _number(">q", "toLong"), "toShort": _number(">h", "toShort"),
              "toFloat": _number(">f", "toFloat"), "toDouble": _number(">d", "toDouble"),
              "toBoolean": _boolean}
BYTES_CLASS = "org.apache.hadoop.hbase.util.Bytes"


def converter(spec: str):
    """The converter `spec` names: "toLong" or "c(org.apache.hadoop.hbase.util.Bytes).toLong";
    None if it names none (then it is no converter: part of a qualifier)."""
    m = re.fullmatch(r"(?:c\((?P<cls>[\w.$]+)\)\.)?(?P<name>\w+)", spec)
    if m is None or m["name"] not in CONVERTERS:
        return None
    if m["cls"] not in (None, BYTES_CLASS):
        raise InvalidArgumentError(f"converter class {m['cls']} is not supported: only "
                                   f"{BYTES_CLASS}")
    return CONVERTERS[m["name"]]


def split_converter(column: bytes):
    """'cf:q:toLong' -> (b'cf:q', toLong); a column naming no converter -> (column, None)."""
    family, _, rest = column.partition(b":")
    qualifier, sep, spec = rest.partition(b":")
    found = converter(spec.decode("utf-8", "replace")) if sep else None
    return (family + b":" + qualifier, found) if found else (column, None)
