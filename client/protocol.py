"""Translation between the client's happybase-shaped values and protobuf messages.

Columns are named like happybase and the HBase shell: b"cf:q" is one column, b"cf" (no colon)
is the whole family. Messages are built directly (no intermediate objects) because this is the
client's hot path. Results become {b"cf:q": value} dicts in HBase order (or (value, timestamp)
pairs with include_timestamp).
"""

from __future__ import annotations

import operator

from minihbase.bytes_text import quoted
from minihbase.errors import InvalidArgumentError
from protos import minihbase_pb2 as pb
from protos.limits import MAX_ROW_MUTATION_BYTES
from protos.schema import attributes_from_pb
from storage.cell import LATEST_TIMESTAMP, CellType
from storage.schema import (TABLE_ATTRIBUTES, TABLE_DEFAULTS, data_block_encoding_value,
                            keep_deleted_cells_value, table_attribute_value)

PUT = int(CellType.PUT)
DELETE = int(CellType.DELETE)
DELETE_FAMILY_VERSION = int(CellType.DELETE_FAMILY_VERSION)
DELETE_COLUMN = int(CellType.DELETE_COLUMN)
DELETE_FAMILY = int(CellType.DELETE_FAMILY)


def to_bytes(value, what: str) -> bytes:
    """Rows, columns and values are bytes; str is accepted and UTF-8 encoded (happybase only
    takes bytes, but the shell and scripts pass text)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode()
        except UnicodeEncodeError as e:  # lone surrogates: bytes decoded with surrogateescape
            raise InvalidArgumentError(f"{what} {value!r} is not UTF-8 text (character "
                                       f"{e.start + 1}): pass bytes") from None
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


CELL_TYPE_NAMES = {4: "Put", 8: "Delete", 10: "DeleteFamilyVersion", 12: "DeleteColumn",
                   14: "DeleteFamily"}  # what HBase's shell prints as type=


def filter_text(text) -> bytes:
    """A filter in HBase's filter language as bytes for the wire (b"" = none); the region
    servers parse it and answer a bad one with InvalidArgumentError."""
    if text is None:
        return b""
    text = to_bytes(text, "filter")
    if not text.strip():
        raise InvalidArgumentError("filter is empty")
    return text


def row_key(row) -> bytes:
    """A row key to write or read: bytes (or text), not empty."""
    row = to_bytes(row, "row")
    if not row:
        raise InvalidArgumentError("row key must not be empty")
    return row


def split_column(column) -> tuple[bytes, bytes | None]:
    """b"cf:q" -> (b"cf", b"q"); b"cf" -> (b"cf", None) meaning the whole family."""
    column = to_bytes(column, "column")
    family, sep, qualifier = column.partition(b":")
    if not family:
        raise InvalidArgumentError(
            f"column {quoted(column)} has no family: use family:qualifier")
    return family, (qualifier if sep else None)


def qualified_column(column) -> tuple[bytes, bytes]:
    """(family, qualifier) of a column that names one cell's column (a counter, a check): as in
    HBase, b"cf" alone is the empty qualifier, b"cf:"."""
    family, qualifier = split_column(column)
    return family, qualifier or b""


def column_protos(columns) -> list:
    if columns is None:
        return []
    if isinstance(columns, (bytes, str)):
        raise TypeError("columns must be a list of column names, not a single name")
    out = []
    for c in columns:
        family, qualifier = split_column(c)
        if qualifier is None:
            out.append(pb.Column(family=family, whole_family=True))
        else:
            out.append(pb.Column(family=family, qualifier=qualifier))
    return out


def cell_timestamp(timestamp: int | None) -> int:
    """A write's timestamp: None is the server's clock (LATEST_TIMESTAMP, HBase's)."""
    if timestamp is None:
        return LATEST_TIMESTAMP
    ts = int(timestamp)
    if not 0 <= ts <= LATEST_TIMESTAMP:
        raise InvalidArgumentError(
            f"timestamp must be between 0 and {LATEST_TIMESTAMP}, got {ts}")
    return ts


def put_mutation(row: bytes, data: dict, timestamp: int | None,
                 what: str = "put") -> pb.RowMutation:
    """The put of `data` to `row`. InvalidArgumentError when it is larger than one request
    to a region server may be (protos/limits.py): gRPC would refuse it whole."""
    ts = cell_timestamp(timestamp)
    m = pb.RowMutation(row=row)
    add = m.cells.add  # building in place is ~25% cheaper than Cell(...) + list
    size = 0  # about the cells' bytes less their rows'
    for column, value in data.items():
        if type(column) is not bytes:
            column = to_bytes(column, "column")
        family, _, qualifier = column.partition(b":")  # b"cf" alone: b"cf:", as in HBase
        if not family:
            raise InvalidArgumentError(f"column {quoted(column)} has no family: use "
                                       "family:qualifier")
        if type(value) is not bytes:
            value = to_bytes(value, f"value of {quoted(column)}")
        add(row=row, family=family, qualifier=qualifier, timestamp=ts, type=PUT, value=value)
        size += len(column) + len(value)
    if not data:
        raise InvalidArgumentError("put needs at least one column")
    if size + len(data) * (len(row) + 24) > MAX_ROW_MUTATION_BYTES >> 1:  # near: measure it
        check_mutation_size(m, what)
    return m


def check_mutation_size(m: pb.RowMutation, what: str) -> None:
    """InvalidArgumentError naming the row and the limit when `m` cannot fit one request."""
    n = m.ByteSize()
    if n > MAX_ROW_MUTATION_BYTES:
        raise InvalidArgumentError(
            f"{what} of row {quoted(m.row)} is {n / (1 << 20):.1f} MiB, over the "
            f"{MAX_ROW_MUTATION_BYTES / (1 << 20):.1f} MiB one request to a region server may "
            "carry (its message limit): write the row's columns in several puts")


def deletes_nothing(columns) -> bool:
    """delete(row, columns=[]): happybase deletes nothing (None means the whole row)."""
    return columns is not None and not isinstance(columns, (bytes, str)) and not columns


def delete_version_mutation(row: bytes, column, timestamp: int | None) -> pb.RowMutation:
    """HBase's Delete.addColumn (b"cf:q"): the version at `timestamp`, or the newest one
    (None); Delete.addFamilyVersion (b"cf"): every column's version at exactly `timestamp`."""
    ts = cell_timestamp(timestamp)
    family, qualifier = split_column(column)
    if qualifier is None:
        cell = pb.Cell(row=row, family=family, timestamp=ts, type=DELETE_FAMILY_VERSION)
    else:
        cell = pb.Cell(row=row, family=family, qualifier=qualifier, timestamp=ts, type=DELETE)
    return pb.RowMutation(row=row, cells=[cell])


def delete_mutation(row: bytes, columns, timestamp: int | None,
                    families: list[bytes]) -> pb.RowMutation:
    """columns None: the whole row (one DeleteFamily marker per family, HBase's deleteall);
    b"cf": the whole family; b"cf:q": every version of the column (HBase shell `delete`)."""
    ts = cell_timestamp(timestamp)
    cells = []
    if columns is None:
        for family in families:
            cells.append(pb.Cell(row=row, family=family, timestamp=ts, type=DELETE_FAMILY))
    else:
        if isinstance(columns, (bytes, str)):
            raise TypeError("columns must be a list of column names, not a single name")
        for column in columns:
            family, qualifier = split_column(column)
            if qualifier is None:
                cells.append(pb.Cell(row=row, family=family, timestamp=ts, type=DELETE_FAMILY))
            else:
                cells.append(pb.Cell(row=row, family=family, qualifier=qualifier, timestamp=ts,
                                     type=DELETE_COLUMN))
    return pb.RowMutation(row=row, cells=cells)


def cells_to_dict(cells, include_timestamp: bool = False, single_version: bool = True) -> dict:
    """One row's cells -> {b"cf:q": value}, columns in HBase order. With several versions of a
    column (cells come newest first) the newest wins. single_version says the server was asked
    for one version per column, allowing the ~3x faster comprehension on the hot path."""
    if single_version:
        if include_timestamp:
            return {c.family + b":" + c.qualifier: (c.value, c.timestamp) for c in cells}
        return {c.family + b":" + c.qualifier: c.value for c in cells}
    out: dict = {}
    for c in cells:
        key = c.family + b":" + c.qualifier
        if key not in out:
            out[key] = (c.value, c.timestamp) if include_timestamp else c.value
    return out


# The wire's counts (versions, rows per call, cells per result, a scan's limit) are int32: a
# larger one asks for everything, as HBase's Integer.MAX_VALUE does (sys.maxsize as "no limit").
INT32_MAX = (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def wire_count(n: int) -> int:
    """A count already checked >= 1, capped to what the wire holds."""
    return min(n, INT32_MAX)


def versions(n) -> int:
    """A number of versions to read: a whole number >= 1 (0 would mean "1" on the wire)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgumentError(f"versions must be a whole number >= 1, got {n!r}")
    return wire_count(n)


def counter_number(value, what: str) -> int:
    """A counter's value or increment: a whole number that fits HBase's signed 64 bits."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be a whole number, got {value!r}") from None
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise InvalidArgumentError(f"{what} {n} does not fit in a 64-bit counter "
                                   f"({_INT64_MIN} to {_INT64_MAX})")
    return n


def time_range(timestamp: int | None,
               between: tuple[int, int] | None = None) -> pb.TimeRange | None:
    """happybase's `timestamp` argument (only cells strictly older than it), or `between`
    = (min, max): cells with min <= timestamp < max (HBase's TimeRange). None: no bound."""
    if between is not None:
        if timestamp is not None:
            raise InvalidArgumentError("give either timestamp or time_range, not both")
        low, high = (int(t) for t in between)
    elif timestamp is None:
        return None
    else:
        low, high = 0, int(timestamp)
    asked = timestamp if between is None else between
    if low < 0 or high < 0:
        raise InvalidArgumentError(f"timestamps must be >= 0, got {asked}")
    if low > LATEST_TIMESTAMP or high > LATEST_TIMESTAMP:
        raise InvalidArgumentError(f"timestamps must be at most {LATEST_TIMESTAMP}, got {asked}")
    if between is not None and high < low:  # HBase's TimeRange refuses it too
        raise InvalidArgumentError(f"time range max {high} is smaller than min {low}")
    if high <= low:
        # Matches nothing. On the wire max 0 means "no upper bound", so [0, 0) would read as
        # everything: [1, 1) is the same empty range.
        return pb.TimeRange(min=1, max=1)
    return pb.TimeRange(min=low, max=high)


# -- schema ------------------------------------------------------------------------------------

_FAMILY_OPTION_ALIASES = {
    "max_versions": "max_versions", "versions": "max_versions",
    "min_versions": "min_versions",
    "ttl": "ttl_seconds", "time_to_live": "ttl_seconds", "ttl_seconds": "ttl_seconds",
    "bloom": "bloom", "bloom_filter_type": "bloom", "bloomfilter": "bloom",
    "compression": "compression",
    "block_size": "block_size", "blocksize": "block_size",
    "block_cache": "block_cache", "block_cache_enabled": "block_cache",
    "blockcache": "block_cache", "in_memory": "in_memory",
    "keep_deleted_cells": "keep_deleted_cells",
    "data_block_encoding": "data_block_encoding",
}


def _flag(family: str, key, value) -> bool:
    """A boolean family option: True/False, or the HBase shell's 'true'/'false'."""
    if isinstance(value, bool):
        return value
    text = value.decode() if isinstance(value, bytes) else str(value)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise InvalidArgumentError(f"family {family!r}: {key} must be true or false, got {value!r}")


def _checked(family: str, check, value) -> str:
    """check(value) (a storage.schema validator), its error naming the family."""
    try:
        return check(value)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"family {family!r}: {e}") from None


def family_schema(name, options: dict | None) -> pb.FamilySchema:
    """happybase-style family options (max_versions, ttl/time_to_live, bloom/bloom_filter_type,
    compression, block_size) -> FamilySchema. Unknown options are an error naming them."""
    name = name.decode() if isinstance(name, bytes) else str(name)
    name = name.rstrip(":")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"the options of family {name!r} must be a dict (e.g. "
                        f"{{'max_versions': 3}}), got {type(options).__name__}")
    fs = pb.FamilySchema(name=name)
    for key, value in (options or {}).items():
        field = _FAMILY_OPTION_ALIASES.get(str(key).lower())
        if field is None:
            raise InvalidArgumentError(
                f"unknown column family option {key!r} for family {name!r}; "
                f"known: {sorted(set(_FAMILY_OPTION_ALIASES))}")
        if value is None:
            continue
        if field in ("bloom", "compression"):
            setattr(fs, field, str(value).upper())
        elif field == "block_cache":
            fs.no_block_cache = not _flag(name, key, value)
        elif field == "in_memory":
            fs.in_memory = _flag(name, key, value)
        elif field == "keep_deleted_cells":
            fs.keep_deleted_cells = _checked(name, keep_deleted_cells_value, value)
        elif field == "data_block_encoding":
            fs.data_block_encoding = _checked(name, data_block_encoding_value, value)
        else:
            setattr(fs, field, _family_number(name, key, field, value))
    return fs


# max_filesize -> MAX_FILESIZE...
_ATTRIBUTE_KEYS = {f: key for key, f in TABLE_ATTRIBUTES.items()}


def table_attributes(attributes: dict) -> dict:
    """create_table's and alter_table's table attributes (max_filesize=..., readonly=...),
    checked and typed; None values are left out. An unknown name is an error naming it."""
    out = {}
    for name, value in attributes.items():
        key = _ATTRIBUTE_KEYS.get(name)
        if key is None:
            raise InvalidArgumentError(f"unknown table attribute {name!r}; known: "
                                       f"{', '.join(sorted(_ATTRIBUTE_KEYS))}")
        if value is not None:
            out[name] = table_attribute_value(key, value)
    return out


def attributes_of(table: dict) -> dict:
    """The table attributes of a describe_table() dict, as create_table takes them."""
    return {f: table[f] for f in TABLE_DEFAULTS}


# The lowest value of each numeric family option, as HBase checks them (0 would read as
# "the default" on the wire); block sizes at most 16 MiB.
_FAMILY_MINIMUM = {"max_versions": 1, "min_versions": 0, "ttl_seconds": 1, "block_size": 1024}
_MAX_BLOCK_SIZE = 16 << 20


def family_number_range(field: str) -> tuple[int, int]:
    """The lowest and highest value of numeric family option `field` (a FamilySchema field:
    max_versions, min_versions, ttl_seconds, block_size)."""
    return (_FAMILY_MINIMUM[field],
            _MAX_BLOCK_SIZE if field == "block_size" else (1 << 31) - 1)


def _family_number(family: str, key, field: str, value) -> int:
    number = value
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            pass
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidArgumentError(
            f"family {family!r}: {key} must be a whole number, got {value!r}")
    low, high = family_number_range(field)
    if not low <= number <= high:
        raise InvalidArgumentError(
            f"family {family!r}: {key} must be between {low} and {high}, got {number}"
            + (" (no TTL: FOREVER)" if field == "ttl_seconds"
               else ""))
    return number


def family_dict(fs: pb.FamilySchema) -> dict:
    return {"name": fs.name, "max_versions": fs.max_versions or 1,
            "min_versions": fs.min_versions, "ttl": fs.ttl_seconds or None,
            "bloom": fs.bloom or "ROW", "compression": fs.compression or "NONE",
            "block_size": fs.block_size or 65536, "block_cache": not fs.no_block_cache,
            "in_memory": fs.in_memory,
            "keep_deleted_cells": fs.keep_deleted_cells or "FALSE",
            "data_block_encoding": fs.data_block_encoding or "NONE"}


def region_dict(rd: pb.RegionDescription) -> dict:
    info = rd.info
    encoded = info.name.rsplit(".", 1)[-1] if info.name else ""
    d = {"name": info.name, "encoded": encoded, "table": info.table,
         "start_key": info.start_key, "end_key": info.end_key, "state": rd.state,
         "server": rd.server, "state_since_ms": rd.state_since_ms,
         "waiting_for": rd.waiting_for}
    if rd.HasField("load"):
        d.update(memstore_bytes=rd.load.memstore_bytes, store_bytes=rd.load.store_bytes,
                 store_files=rd.load.store_files, read_requests=rd.load.read_requests,
                 write_requests=rd.load.write_requests,
                 compaction_state=rd.load.compaction_state or "NONE")
    return d


def table_dict(td: pb.TableDescription) -> dict:
    """name, state, every table attribute by field name (max_filesize, readonly...),
    families, regions."""
    return {"name": td.schema.name, "state": td.state,
            **TABLE_DEFAULTS, **attributes_from_pb(td.schema),
            "families": [family_dict(f) for f in td.schema.families],
            "regions": [region_dict(r) for r in td.regions]}


def snapshot_dict(sd: pb.SnapshotDescription) -> dict:
    d = {"name": sd.name, "table": sd.table, "created_ms": sd.created_ms,
         "regions": sd.regions, "size_bytes": sd.size_bytes}
    if sd.problem:
        d["problem"] = sd.problem
    return d


def hbck_dict(report: pb.HbckReport) -> dict:
    """The master's HBCK report: checked_ms, problems, removed (orphans it deleted), each
    problem a dict of kind, table, detail, region, path, bytes, age_s; and too_new, how many
    orphan-looking directories changed too recently to judge."""
    def problem(p: pb.HbckProblem) -> dict:
        return {"kind": p.kind, "table": p.table, "detail": p.detail, "region": p.region,
                "path": p.path, "bytes": p.bytes, "age_s": round(p.age_s, 1),
                "cleanable": p.cleanable}
    return {"checked_ms": report.checked_ms, "problems": [problem(p) for p in report.problems],
            "removed": [problem(p) for p in report.removed], "too_new": report.too_new}


def region_load_dict(rl: pb.RegionLoad) -> dict:
    """What a region server last reported about one of its regions."""
    return {"name": rl.region, "table": rl.table, "state": rl.state,
            "memstore_bytes": rl.memstore_bytes, "store_bytes": rl.store_bytes,
            "store_files": rl.store_files, "read_requests": rl.read_requests,
            "write_requests": rl.write_requests}


def status_dict(cs: pb.ClusterStatus) -> dict:
    servers = []
    for s in cs.servers:
        load = s.load
        servers.append({"name": s.name, "state": s.state, "state_since_ms": s.state_since_ms,
                        "regions": s.region_count, "decommissioned": s.decommissioned,
                        "requests_per_second": round(s.requests_per_second, 1),
                        "info_port": s.info_port, "wal_bytes": load.wal_bytes,
                        "wal_segments": load.wal_segments,
                        "block_cache_hits": load.block_cache_hits,
                        "block_cache_misses": load.block_cache_misses,
                        "region_loads": [region_load_dict(r) for r in load.regions]})
    return {"active_master": cs.active_master, "backup_masters": list(cs.backup_masters),
            "cluster_id": cs.cluster_id, "servers": servers,
            "regions_in_transition": [region_dict(r) for r in cs.regions_in_transition],
            "table_count": cs.table_count, "region_count": cs.region_count}
