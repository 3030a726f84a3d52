"""What a caller asks of a region: a row Mutation, a Get, a Scan.

Plain values shared by the storage engine, the region server (which builds them from protobuf
messages) and tests. Semantics follow HBase exactly; docstrings spell them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.cell import LATEST_TIMESTAMP, Cell, CellType

ColumnSpec = tuple  # (family, qualifier) or (family, None) for the whole family


@dataclass
class Mutation:
    """All edits of ONE row, applied atomically: puts and delete markers.

    A cell whose timestamp is LATEST_TIMESTAMP gets the server's clock (ms) when applied; every
    cell of one mutation then shares that timestamp. Deleting a whole row (deleteall) is one
    DELETE_FAMILY marker per family of the table.
    """

    row: bytes
    cells: list[Cell] = field(default_factory=list)

    def put(self, family: bytes, qualifier: bytes, value: bytes, ts: int = LATEST_TIMESTAMP):
        self.cells.append(Cell(self.row, family, qualifier, ts, CellType.PUT, value))
        return self

    def delete_version(self, family: bytes, qualifier: bytes, ts: int = LATEST_TIMESTAMP):
        """HBase Delete.addColumn: the one version at exactly ts (latest version if ts omitted)."""
        self.cells.append(Cell(self.row, family, qualifier, ts, CellType.DELETE))
        return self

    def delete_column(self, family: bytes, qualifier: bytes, ts: int = LATEST_TIMESTAMP):
        """HBase Delete.addColumns: every version of the column with timestamp <= ts."""
        self.cells.append(Cell(self.row, family, qualifier, ts, CellType.DELETE_COLUMN))
        return self

    def delete_family(self, family: bytes, ts: int = LATEST_TIMESTAMP):
        """HBase Delete.addFamily: every column of the family with timestamp <= ts."""
        self.cells.append(Cell(self.row, family, b"", ts, CellType.DELETE_FAMILY))
        return self

    def delete_family_version(self, family: bytes, ts: int):
        """HBase Delete.addFamilyVersion: every column of the family at exactly ts."""
        self.cells.append(Cell(self.row, family, b"", ts, CellType.DELETE_FAMILY_VERSION))
        return self

    def families(self) -> set[bytes]:
        return {c.family for c in self.cells}


@dataclass
class Scan:
    """Rows [start_row, stop_row): start inclusive, stop exclusive, b"" = unbounded.

    reversed=True walks rows downwards: from start_row (inclusive; b"" = the last row) down to
    stop_row (exclusive; b"" = the first row), as HBase's reversed scan does.
    columns: () = every family; (family, None) = the whole family; (family, qualifier) = one
    column. time_range is [min, max) on cell timestamps. max_versions is capped by each family's
    max_versions (not when raw). limit caps rows returned (0 = no cap). batch caps cells per
    result, splitting wide rows into several results (0 = whole rows). raw: HBase's raw scan
    (storage/scanner.py raw_rows).
    """

    start_row: bytes = b""
    stop_row: bytes = b""
    reversed: bool = False
    columns: tuple = ()
    time_range: tuple[int, int] = (0, LATEST_TIMESTAMP)
    max_versions: int = 1
    limit: int = 0
    batch: int = 0
    filter: object = None  # a storage.filters.Filter, applied before limit and batch
    raw: bool = False  # every stored cell: delete markers and the versions they mask too

    def __post_init__(self):
        self.columns = tuple(self.columns)


@dataclass
class Get:
    """One row; same column, time-range and version semantics as Scan."""

    row: bytes
    columns: tuple = ()
    time_range: tuple[int, int] = (0, LATEST_TIMESTAMP)
    max_versions: int = 1
    filter: object = None  # a storage.filters.Filter

    def __post_init__(self):
        self.columns = tuple(self.columns)

    def as_scan(self) -> Scan:
        return Scan(start_row=self.row, stop_row=self.row + b"\x00", columns=self.columns,
                    time_range=self.time_range, max_versions=self.max_versions,
                    filter=self.filter)
