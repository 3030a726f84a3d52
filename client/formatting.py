"""How the CLI and the shell print things: readable tables by default, JSON with --json.

Binary bytes print as HBase prints them (Bytes.toStringBinary, minihbase.bytes_text), and
JSON output uses the same text form for rows, columns and values.
"""

from __future__ import annotations

import json
import time

from minihbase.bytes_text import binary, parse_binary  # noqa: F401 - the CLI's names
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
    """HBase's describe line: {NAME => 'cf', VERSIONS => '1', ...}."""
    ttl = "FOREVER" if not f.get("ttl") else f"{f['ttl']} SECONDS"
    return (f"{{NAME => '{f['name']}', VERSIONS => '{f['max_versions']}', MIN_VERSIONS => "
            f"'{f['min_versions']}', TTL => '{ttl}', BLOOMFILTER => '{f['bloom']}', "
            f"COMPRESSION => '{f['compression']}', BLOCKSIZE => '{f['block_size']}', "
            f"BLOCKCACHE => '{str(f.get('block_cache', True)).lower()}', "
            f"IN_MEMORY => '{str(f.get('in_memory', False)).lower()}', "
            f"KEEP_DELETED_CELLS => '{f.get('keep_deleted_cells', 'FALSE')}', "
            f"DATA_BLOCK_ENCODING => '{f.get('data_block_encoding', 'NONE')}'}}")


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
    if attributes:
        lines.append(f"{d['name']}, {{TABLE_ATTRIBUTES => {{{attributes}}}}}")
    lines.append("COLUMN FAMILIES DESCRIPTION")
    lines += [family_text(f) for f in d["families"]]
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
        lines.append(f"{cleanable} of these orphaned region directories will be deleted by the "
                     f"master's cleaner once untouched, and seen orphaned by it, for its "
                     f"--orphan-grace (10 minutes by default); the others are left in place")
    for p in report["removed"]:
        lines.append(f"Deleted orphaned region directory {p['path']} ({p['bytes']} bytes)")
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
             [[x["name"], x["state"], when(x["state_since_ms"]), x["regions"],
               x["requests_per_second"]] for x in s["servers"]]),
    ]
    rit = s["regions_in_transition"]
    lines.append("")
    if rit:
        lines.append(f"REGIONS IN TRANSITION ({len(rit)})")
        lines.append(regions_table(rit))
    else:
        lines.append("no regions in transition")
    return "\n".join(lines)
