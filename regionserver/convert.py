"""Protobuf <-> storage value conversion for the region server (see docs/rpc.md).

Every data call crosses here twice, so these functions are written for the hot path: no
intermediate copies, no per-cell validation beyond what the contract requires (the row key and
value limits and the family check are done once per row / per cell with plain comparisons), and
the hot responses (Get, Scan) are not built as messages at all but encoded by regionserver.wire.
"""

from __future__ import annotations

from protos import minihbase_pb2 as pb
from minihbase.bytes_text import quoted
from minihbase.errors import InvalidArgumentError, NoSuchColumnFamilyError
from storage.cell import CELL_TYPES, LATEST_TIMESTAMP, MAX_ROW_LENGTH, Cell
from storage.filters import parse_filter
from storage.query import Get, Mutation, Scan
from storage.schema import TableDescriptor


# --- requests ---------------------------------------------------------------------------------

def check_row(row: bytes) -> None:
    """The row-key limits of the contract, with the exact messages clients see."""
    n = len(row)
    if n == 0:
        raise InvalidArgumentError("row key must not be empty")
    if n > MAX_ROW_LENGTH:
        raise InvalidArgumentError(
            f"row key is {n} bytes, over the limit of {MAX_ROW_LENGTH} bytes")


def _time_range(msg, has: bool) -> tuple[int, int]:
    if not has:
        return (0, LATEST_TIMESTAMP)
    if msg.min < 0 or msg.max < 0:  # HBase's TimeRange refuses them
        raise InvalidArgumentError(
            f"time range [{msg.min}, {msg.max}): timestamps must not be negative")
    return (msg.min, msg.max or LATEST_TIMESTAMP)


def columns_from_pb(columns, families: frozenset, table: TableDescriptor) -> tuple:
    out = []
    for c in columns:
        fam = c.family
        if fam not in families:
            raise no_such_family(fam, table)
        out.append((fam, None) if c.whole_family else (fam, c.qualifier))
    return tuple(out)


def no_such_family(family: bytes, table: TableDescriptor) -> NoSuchColumnFamilyError:
    return NoSuchColumnFamilyError(
        f"column family {family.decode(errors='replace')!r} does not exist in table "
        f"{table.name!r}")


def get_from_pb(req: pb.GetRequest, families: frozenset, table: TableDescriptor) -> Get:
    row = req.row
    check_row(row)
    return Get(row, columns_from_pb(req.columns, families, table) if req.columns else (),
               _time_range(req.time_range, req.HasField("time_range")),
               req.max_versions or 1, parse_filter(req.filter) if req.filter else None)


def scan_from_pb(spec: pb.ScanSpec, families: frozenset, table: TableDescriptor) -> Scan:
    return Scan(
        start_row=spec.start_row,
        stop_row=spec.stop_row,
        reversed=spec.reversed,
        columns=columns_from_pb(spec.columns, families, table) if spec.columns else (),
        time_range=_time_range(spec.time_range, spec.HasField("time_range")),
        max_versions=spec.max_versions or 1,
        limit=max(spec.limit, 0),
        batch=max(spec.batch, 0),
        filter=parse_filter(spec.filter, spec.reversed) if spec.filter else None,
        raw=spec.raw,
    )


def mutation_from_pb(rm: pb.RowMutation, table: TableDescriptor, families: frozenset,
                     max_value_bytes: int) -> Mutation:
    """One row's edits. Every cell takes the mutation's row: a RowMutation is one row, applied
    atomically, so the cells' own row fields are not read (clients may leave them empty)."""
    row = rm.row
    check_row(row)
    # Build first, validate after: plain tuple indexing is several times cheaper than reading
    # protobuf attributes twice (this loop is most of Multi's server-side cost).
    cells = [Cell(row, c.family, c.qualifier, c.timestamp, c.type or 4, c.value)
             for c in rm.cells]
    if not cells:
        raise InvalidArgumentError(f"mutation of row {quoted(row)} has no cells")
    for cell in cells:
        if (cell[1] not in families or len(cell[5]) > max_value_bytes
                or cell[4] not in CELL_TYPES or cell[3] < 0):
            _bad_cell(cell, table, families, max_value_bytes)
    return Mutation(row, cells)


def _bad_cell(cell: Cell, table, families, max_value_bytes: int):
    fam = cell[1]
    if fam not in families:
        raise no_such_family(fam, table)
    if cell[4] not in CELL_TYPES:
        raise InvalidArgumentError(f"unknown cell type {cell[4]} in row {quoted(cell[0])}")
    if cell[3] < 0:
        raise InvalidArgumentError(f"negative timestamp {cell[3]} in row {quoted(cell[0])}")
    raise InvalidArgumentError(
        f"value of row {quoted(cell[0])} column {quoted(fam + b':' + cell[2])} is "
        f"{len(cell[5])} bytes, over the limit of {max_value_bytes} bytes")
