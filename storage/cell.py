"""Cells, cell types and the one sort order every layer shares (see docs/storage.md).

A cell is (row, family, qualifier, timestamp, type) -> value. Rows, qualifiers and values are
uninterpreted bytes and compare as unsigned bytes, which is what Python's `bytes` comparison
does. Order: row ascending, family ascending, qualifier ascending, timestamp DEScending, type
DEScending (so at one timestamp every delete marker sorts before the put it masks).

Inside a store (one family) cells are handled as a *key* plus a value, where the key is the
tuple returned by `store_key`: (row, qualifier, -timestamp, -type). Plain tuple comparison of
store keys is exactly HBase's order, with no key function on any hot path.
"""

from __future__ import annotations

import enum
import time
from typing import NamedTuple


class CellType(enum.IntEnum):
    """HBase's type codes. Written to disk (WAL and HFile): never renumber."""

    PUT = 4
    DELETE = 8  # one version of one column, at exactly its timestamp
    DELETE_FAMILY_VERSION = 10  # every column of the family at exactly its timestamp
    DELETE_COLUMN = 12  # every version of one column with timestamp <= its own
    DELETE_FAMILY = 14  # every column of the family with timestamp <= its own


DELETE_TYPES = frozenset(
    (CellType.DELETE, CellType.DELETE_FAMILY_VERSION, CellType.DELETE_COLUMN, CellType.DELETE_FAMILY)
)
# Every valid type code, as plain ints (what the WAL, wire and memstore carry).
CELL_TYPES = frozenset(int(t) for t in CellType)

# "No timestamp given": the region server replaces it with its clock (ms) when it applies the edit.
LATEST_TIMESTAMP = (1 << 63) - 1

MAX_ROW_LENGTH = 32767  # HBase's Short.MAX_VALUE limit on row keys
MAX_FAMILY_LENGTH = 127


class Cell(NamedTuple):
    row: bytes
    family: bytes
    qualifier: bytes
    timestamp: int
    type: int
    value: bytes = b""

    def is_delete(self) -> bool:
        return self.type != CellType.PUT


StoreKey = tuple  # (row, qualifier, -timestamp, -type)


def store_key(row: bytes, qualifier: bytes, timestamp: int, cell_type: int) -> StoreKey:
    return (row, qualifier, -timestamp, -cell_type)


def cell_from_key(family: bytes, key: StoreKey, value: bytes) -> Cell:
    return Cell(key[0], family, key[1], -key[2], -key[3], value)


def sort_key(cell: Cell) -> tuple:
    """Full order across families, for callers that sort whole rows."""
    return (cell.row, cell.family, cell.qualifier, -cell.timestamp, -cell.type)


def now_ms() -> int:
    return int(time.time() * 1000)


def validate_row(row: bytes) -> None:
    """Raise InvalidArgumentError unless `row` is a usable row key."""
    from minihbase.errors import InvalidArgumentError

    if not isinstance(row, (bytes, bytearray)):
        raise InvalidArgumentError(f"row key must be bytes, not {type(row).__name__}")
    if len(row) == 0:
        raise InvalidArgumentError("row key must not be empty")
    if len(row) > MAX_ROW_LENGTH:
        raise InvalidArgumentError(
            f"row key is {len(row)} bytes, over the limit of {MAX_ROW_LENGTH} bytes"
        )
