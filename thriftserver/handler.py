"""HBase's Thrift1 API (service Hbase, thriftserver/hbase.thrift) on the minihbase client: what
happybase and other Thrift clients call. One handler serves every connection; each method maps
to client calls as HBase's ThriftHBaseServiceHandler maps them to its Java client, with HBase's
semantics (docs/thrift.md):
  - a `timestamp` argument of a read means "cells strictly older than it" (TimeRange [0, ts));
    of a delete, "every version at or before it"; of a put, the cells' timestamp;
  - a column is b"cf:q", or b"cf" for the whole family (reads and deletes);
  - mutateRow applies the row's deletes, then its puts (two steps, as HBase); mutateRows
    writes every row's puts, then every row's deletes; each row's puts are atomic;
  - rows that do not exist are left out of results; getTableRegions of an unknown table is [].
Errors are minihbase's (`ThriftProcessor` turns them into the method's Thrift exceptions).
"""

from __future__ import annotations

from coordination.znodes import parse_server_name
from minihbase.errors import InvalidArgumentError, TableNotFoundError
from thriftserver.idl import hbase
from thriftserver.scanners import Scanners

_FOREVER = 0x7FFFFFFF  # ColumnDescriptor.timeToLive meaning "no TTL"


def _name(value, what: str = "tableName") -> str:
    """A table (or table-or-region) name sent as bytes."""
    if not value:
        raise InvalidArgumentError(f"{what} is required")
    try:
        return value.decode() if isinstance(value, bytes) else str(value)
    except UnicodeDecodeError:
        raise InvalidArgumentError(f"{what} {value!r} is not UTF-8") from None


def _required(value, what: str):
    if value is None:
        raise InvalidArgumentError(f"{what} is required")
    return value


def _columns(columns) -> list | None:
    """A Thrift column list: None or [] mean every column (HBase's)."""
    return list(columns) if columns else None


def _cells(cells) -> list:
    """[(column, value, ts)] -> [TCell]."""
    return [hbase.TCell(value=value, timestamp=ts) for _, value, ts in cells]


def _row_result(row: bytes, data: dict, sort: bool):
    """{b"cf:q": (value, ts)} -> TRowResult, its columns as a map or as a sorted list."""
    if sort:
        return hbase.TRowResult(row=row, sortedColumns=[
            hbase.TColumn(columnName=c, cell=hbase.TCell(value=v, timestamp=ts))
            for c, (v, ts) in sorted(data.items())])
    return hbase.TRowResult(row=row, columns={c: hbase.TCell(value=v, timestamp=ts)
                                              for c, (v, ts) in data.items()})


def family_options(descriptor) -> dict:
    """A Thrift ColumnDescriptor -> create_table's family options (HBase's
    ThriftUtilities.colDescFromThrift; the bloom filter sizing fields are ignored, as there)."""
    ttl = descriptor.timeToLive
    return {"max_versions": descriptor.maxVersions, "compression": descriptor.compression,
            "in_memory": bool(descriptor.inMemory), "bloom": descriptor.bloomFilterType,
            "block_cache": bool(descriptor.blockCacheEnabled),
            "ttl": ttl if ttl is not None and 0 < ttl < _FOREVER else None}


def column_descriptor(family: dict):
    """A family of describe_table() -> Thrift ColumnDescriptor (name "cf:", as HBase's)."""
    return hbase.ColumnDescriptor(
        name=family["name"].encode() + b":", maxVersions=family["max_versions"],
        compression=family["compression"], inMemory=family["in_memory"],
        bloomFilterType=family["bloom"], blockCacheEnabled=family["block_cache"],
        timeToLive=family["ttl"] or _FOREVER)


def region_info(region: dict):
    """A region of describe_table() -> TRegionInfo (server host and port, HBase's)."""
    host, port = parse_server_name(region["server"])[:2] if region["server"] else ("", 0)
    return hbase.TRegionInfo(
        startKey=region["start_key"], endKey=region["end_key"],
        id=int(region["name"].rpartition(",")[2].partition(".")[0]),
        name=region["name"].encode(), version=1, serverName=host.encode(), port=port)


class HbaseHandler:
    """The methods of service Hbase, by their Thrift names. Thread-safe: the client
    connection is, and scanners serialize their own calls."""

    def __init__(self, connection, scanners: Scanners):
        self.connection = connection
        self.scanners = scanners

    def _table(self, name):
        return self.connection.table(_name(name), use_prefix=False)

    # -- admin -------------------------------------------------------------------------------
    def enableTable(self, tableName):
        self.connection.enable_table(_name(tableName))

    def disableTable(self, tableName):
        self.connection.disable_table(_name(tableName))

    def isTableEnabled(self, tableName):
        return self.connection.is_table_enabled(_name(tableName))

    def compact(self, tableNameOrRegionName):
        self.connection.compact(_name(tableNameOrRegionName, "tableNameOrRegionName"))

    def majorCompact(self, tableNameOrRegionName):
        self.connection.compact(_name(tableNameOrRegionName, "tableNameOrRegionName"),
                                major=True)

    def getTableNames(self):
        return [name.encode() for name in self.connection.tables()]

    def getColumnDescriptors(self, tableName):
        return {d.name: d for d in map(column_descriptor,
                                       self.connection.families(_name(tableName)).values())}

    def getTableRegions(self, tableName):
        try:
            regions = self.connection.regions(_name(tableName))
        except TableNotFoundError:
            return []  # HBase's answer for a table that does not exist
        return [region_info(r) for r in regions]

    def createTable(self, tableName, columnFamilies):
        if not columnFamilies:
            raise InvalidArgumentError(f"table {_name(tableName)!r} needs at least one column "
                                       "family")
        families = {}
        for descriptor in columnFamilies:
            family = _name(descriptor.name, "column family name").partition(":")[0]
            if not family:
                raise InvalidArgumentError("column family name is empty")
            if family in families:  # HBase: "Family 'cf' already exists so cannot be added"
                raise InvalidArgumentError(f"column family {family!r} is named more than once "
                                           "(b'cf' and b'cf:' are the same family)")
            families[family] = family_options(descriptor)
        self.connection.create_table(_name(tableName), families)

    def deleteTable(self, tableName):
        self.connection.delete_table(_name(tableName))

    # -- reads -------------------------------------------------------------------------------
    def get(self, tableName, row, column, attributes=None):
        return self.getVer(tableName, row, column, 1, attributes)

    def getVer(self, tableName, row, column, numVersions, attributes=None):
        return self.getVerTs(tableName, row, column, None, numVersions, attributes)

    def getVerTs(self, tableName, row, column, timestamp, numVersions, attributes=None):
        return _cells(self._table(tableName).get_cells(
            row, [_required(column, "column")], versions=_required(numVersions, "numVersions"),
            timestamp=timestamp))

    def getRow(self, tableName, row, attributes=None):
        return self.getRowWithColumnsTs(tableName, row, None, None, attributes)

    def getRowWithColumns(self, tableName, row, columns, attributes=None):
        return self.getRowWithColumnsTs(tableName, row, columns, None, attributes)

    def getRowTs(self, tableName, row, timestamp, attributes=None):
        return self.getRowWithColumnsTs(tableName, row, None, timestamp, attributes)

    def getRowWithColumnsTs(self, tableName, row, columns, timestamp, attributes=None):
        data = self._table(tableName).row(row, _columns(columns), timestamp,
                                          include_timestamp=True)
        return [_row_result(row, data, False)] if data else []

    def getRows(self, tableName, rows, attributes=None):
        return self.getRowsWithColumnsTs(tableName, rows, None, None, attributes)

    def getRowsWithColumns(self, tableName, rows, columns, attributes=None):
        return self.getRowsWithColumnsTs(tableName, rows, columns, None, attributes)

    def getRowsTs(self, tableName, rows, timestamp, attributes=None):
        return self.getRowsWithColumnsTs(tableName, rows, None, timestamp, attributes)

    def getRowsWithColumnsTs(self, tableName, rows, columns, timestamp, attributes=None):
        found = self._table(tableName).rows(_required(rows, "rows"), _columns(columns),
                                            timestamp, include_timestamp=True)
        return [_row_result(row, data, False) for row, data in found]

    def getRowOrBefore(self, tableName, row, family):
        """The cells of `family` in the last row at or before `row` (HBase 2 answers it with
        a reversed scan, as here)."""
        for _, cells in self._table(tableName).scan(
                row_start=_required(row, "row"), columns=[_required(family, "family")],
                reverse=True, limit=1, batch_size=1, as_cells=True):
            return _cells(cells)
        return []

    def getRegionInfo(self, row):
        """The region holding a meta-style row "table,row[,suffix]" (as HBase's lookup)."""
        text = _required(row, "row")
        table, sep, key = text.partition(b",")
        if not sep:
            raise InvalidArgumentError(f"row {text!r} is not of the form table,row")
        if key.count(b",") >= 1:
            key = key.rpartition(b",")[0]  # "table,row,99999999999999"
        name = _name(table)
        for region in self.connection.regions(name):
            if region["start_key"] <= key and (not region["end_key"] or key < region["end_key"]):
                return region_info(region)
        raise TableNotFoundError(f"table {name!r} has no region for row {key!r}")

    # -- writes ------------------------------------------------------------------------------
    def mutateRow(self, tableName, row, mutations, attributes=None):
        self.mutateRowTs(tableName, row, mutations, None, attributes)

    def mutateRowTs(self, tableName, row, mutations, timestamp, attributes=None):
        table = self._table(tableName)
        deletes, puts = _split_mutations(mutations)
        if deletes:
            table.delete(row, deletes, timestamp)
        if puts:
            table.put(row, puts, timestamp)

    def mutateRows(self, tableName, rowBatches, attributes=None):
        self.mutateRowsTs(tableName, rowBatches, None, attributes)

    def mutateRowsTs(self, tableName, rowBatches, timestamp, attributes=None):
        table = self._table(tableName)
        rows = [(b.row, *_split_mutations(b.mutations)) for b in _required(rowBatches,
                                                                          "rowBatches")]
        batch = table.batch(timestamp=timestamp)
        for row, _, puts in rows:
            if puts:
                batch.put(row, puts)
        for row, deletes, _ in rows:
            if deletes:
                batch.delete(row, deletes)
        batch.send()

    def atomicIncrement(self, tableName, row, column, value):
        return self._table(tableName).counter_inc(row, _required(column, "column"),
                                                  _required(value, "value"))

    def increment(self, increment):
        self.atomicIncrement(increment.table, increment.row, increment.column,
                             increment.ammount)

    def incrementRows(self, increments):
        for increment in _required(increments, "increments"):
            self.increment(increment)

    def append(self, append):
        columns, values = append.columns or [], append.values or []
        if len(columns) != len(values):
            raise InvalidArgumentError(f"append names {len(columns)} column(s) but "
                                       f"{len(values)} value(s)")
        data = self._table(append.table).append(append.row, dict(zip(columns, values)),
                                                include_timestamp=True)
        return [hbase.TCell(value=v, timestamp=ts) for v, ts in data.values()]

    def checkAndPut(self, tableName, row, column, value, mput, attributes=None):
        """Put `mput` if `column`'s newest value is `value` (unset: if there is none). `mput`
        is a put even when its isDelete is set: HBase's builds a Put of its column and value
        and never reads isDelete."""
        mput = _required(mput, "mput")
        put = {_put_column(mput.column): mput.value if mput.value is not None else b""}
        return self._table(tableName).check_and_put(row, _required(column, "column"),
                                                    value, put)

    def deleteAll(self, tableName, row, column, attributes=None):
        self.deleteAllTs(tableName, row, column, None, attributes)

    def deleteAllTs(self, tableName, row, column, timestamp, attributes=None):
        self._table(tableName).delete(row, [_required(column, "column")], timestamp)

    def deleteAllRow(self, tableName, row, attributes=None):
        self.deleteAllRowTs(tableName, row, None, attributes)

    def deleteAllRowTs(self, tableName, row, timestamp, attributes=None):
        self._table(tableName).delete(row, None, timestamp)

    # -- scanners ----------------------------------------------------------------------------
    def scannerOpenWithScan(self, tableName, scan, attributes=None):
        scan = _required(scan, "scan")
        return self._open(tableName, scan.startRow, scan.stopRow, _columns(scan.columns),
                          scan.timestamp, caching=scan.caching, batch=scan.batchSize,
                          filter=scan.filterString, reverse=bool(scan.reversed),
                          sort=bool(scan.sortColumns))

    def scannerOpen(self, tableName, startRow, columns, attributes=None):
        return self._open(tableName, startRow or None, None, _columns(columns))

    def scannerOpenWithStop(self, tableName, startRow, stopRow, columns, attributes=None):
        return self._open(tableName, startRow or None, stopRow or None, _columns(columns))

    def scannerOpenWithPrefix(self, tableName, startAndPrefix, columns, attributes=None):
        return self._open(tableName, None, None, _columns(columns),
                          prefix=_required(startAndPrefix, "startAndPrefix"))

    def scannerOpenTs(self, tableName, startRow, columns, timestamp, attributes=None):
        return self._open(tableName, startRow or None, None, _columns(columns), timestamp)

    def scannerOpenWithStopTs(self, tableName, startRow, stopRow, columns, timestamp,
                              attributes=None):
        return self._open(tableName, startRow or None, stopRow or None, _columns(columns),
                          timestamp)

    def _open(self, tableName, start, stop, columns, timestamp=None, *, prefix=None,
              caching=None, batch=None, filter=None, reverse=False, sort=False) -> int:
        if start and start == stop:
            # HBase's Thrift1 builds its Scan with the deprecated setStartRow/setStopRow, which
            # keep the old rule: equal start and stop rows are a get scan of that one row
            # (either direction), not an empty range.
            stop, reverse = start + b"\x00", False
        rows = self._table(tableName).scan(
            row_start=start or None, row_stop=stop or None, row_prefix=prefix,
            columns=columns, timestamp=timestamp, include_timestamp=True,
            batch_size=caching if caching and caching > 0 else 1000,
            scan_batching=batch if batch and batch > 0 else None,
            filter=filter or None, reverse=reverse)
        return self.scanners.open(_Started(rows), sort)

    def scannerGet(self, id):
        return self.scannerGetList(id, 1)

    def scannerGetList(self, id, nbRows):
        items, sort = self.scanners.next(id, _required(nbRows, "nbRows"))
        return [_row_result(row, data, sort) for row, data in items]

    def scannerClose(self, id):
        self.scanners.close(id)


class _Started:
    """A client scan run up to its first row, so that what makes it fail (an unknown table
    or family, a bad filter) fails the scanner's open, as HBase's getScanner does."""

    _NONE = object()

    def __init__(self, rows):
        self._rows = rows
        self._first = next(rows, self._NONE)

    def __iter__(self):
        return self

    def __next__(self):
        if self._first is not self._NONE:
            first, self._first = self._first, self._NONE
            return first
        return next(self._rows)

    def close(self) -> None:
        self._rows.close()


def _split_mutations(mutations) -> tuple[list, dict]:
    """Thrift Mutations -> (columns to delete, {column: value} to put)."""
    deletes, puts = [], {}
    for m in _required(mutations, "mutations"):
        if m.isDelete:
            deletes.append(_required(m.column, "mutation column"))
        else:
            puts[_put_column(m.column)] = m.value if m.value is not None else b""
    return deletes, puts


def _put_column(column) -> bytes:
    """The column of a put, which must name a qualifier (b"cf:q", b"cf:" for the empty one):
    HBase logs and drops a put that names only a family; here it is an error naming it."""
    column = _required(column, "mutation column")
    if b":" not in column:
        raise InvalidArgumentError(f"put to {column!r} names no qualifier (use "
                                   f"{column + b':'!r} for the empty one)")
    return column
