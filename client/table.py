"""Table: data calls on one table, shaped like happybase's Table (docs/cli.md).

Rows, columns and values are bytes (str is accepted and UTF-8 encoded). Columns are b"cf:q"
(one column) or b"cf" (a whole family). Row dicts map b"cf:q" -> value, or -> (value, ts)
with include_timestamp=True. Scans: row_start inclusive, row_stop exclusive (see scanner.py).
Every call finishes within the connection's operation timeout, retrying moved regions.
"""

from __future__ import annotations

import struct

import grpc

from client import protocol
from client.batch import Batch
from minihbase.bytes_text import quoted
from minihbase.errors import HBaseError, InvalidArgumentError
from protos import minihbase_pb2 as pb
from protos.status import error_from_name, from_rpc_error

_ALL_VERSIONS = 2147483647
_GetRequest = pb.GetRequest


class _What:
    """An operation's name for error messages, formatted only when one is raised (the hot
    path would otherwise render a key per call for a string that is almost never read).
    Bytes arguments show as HBase shows keys ('r\\x00')."""

    __slots__ = ("fmt", "args")

    def __init__(self, fmt: str, *args):
        self.fmt, self.args = fmt, args

    def __str__(self) -> str:
        return self.fmt % tuple(quoted(a) if isinstance(a, bytes) else a for a in self.args)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


_COUNTER = struct.Struct(">q")


_row = protocol.row_key


class Table:
    def __init__(self, name: str, connection):
        self.name = name
        self.connection = connection

    def __repr__(self) -> str:
        return f"<minihbase Table {self.name!r}>"

    # -- metadata ----------------------------------------------------------------------------
    def family_names(self) -> list[bytes]:
        return self.connection.locations.descriptor(self.name).family_names()

    def families(self) -> dict:
        return self.connection.families(self.name)

    def regions(self) -> list[dict]:
        return self.connection.regions(self.name)

    # -- reads -------------------------------------------------------------------------------
    def _get(self, row: bytes, request: pb.GetRequest, what: str) -> pb.GetResponse:
        return self.connection.region_call(self.name, row, what,
                                           self.connection.get_call(request))

    def row(self, row, columns=None, timestamp: int | None = None,
            include_timestamp: bool = False) -> dict:
        """The newest version of each column of `row` ({} when the row does not exist).
        timestamp: only cells strictly older than it (happybase)."""
        if type(row) is not bytes or not row:
            row = _row(row)
        if columns is None and timestamp is None:  # the common case: no empty fields to set
            request = _GetRequest(row=row)
        else:
            request = _GetRequest(row=row, columns=protocol.column_protos(columns),
                                  time_range=protocol.time_range(timestamp))
        return self._fetch_row(row, request, include_timestamp)

    def _fetch_row(self, row: bytes, request, include_timestamp: bool,
                   started: float | None = None) -> dict:
        """One row's Get with the retry policy; `started`: the operation began earlier."""
        response = self.connection.region_get(self.name, row, request,
                                              _What("get of row %s from table %r", row, self.name),
                                              started)
        return protocol.cells_to_dict(response.result.cells, include_timestamp)

    def get_cells(self, row, columns=None, versions: int = 1, timestamp: int | None = None,
                  time_range: tuple[int, int] | None = None,
                  filter=None) -> list[tuple[bytes, bytes, int]]:
        """Every returned cell of `row` as (b"cf:q", value, timestamp), HBase order (newest
        version first within a column): what the shell's `get` prints. time_range: (min, max),
        cells with min <= timestamp < max (instead of `timestamp`). filter: as in scan()."""
        row = _row(row)
        request = pb.GetRequest(row=row, columns=protocol.column_protos(columns),
                                time_range=protocol.time_range(timestamp, time_range),
                                max_versions=protocol.versions(versions),
                                filter=protocol.filter_text(filter))
        response = self._get(row, request, f"get of row {quoted(row)} from table {self.name!r}")
        return [(c.family + b":" + c.qualifier, c.value, c.timestamp)
                for c in response.result.cells]

    def rows(self, rows, columns=None, timestamp: int | None = None,
             include_timestamp: bool = False) -> list[tuple[bytes, dict]]:
        """[(row, data)] for the rows that exist, in the order asked. The Gets are sent
        concurrently (gRPC futures); a row whose first attempt fails is retried on its own."""
        started = self.connection.retry.clock()  # one operation: one timeout for all rows
        rows = [_row(r) for r in rows]
        cols = protocol.column_protos(columns)
        tr = protocol.time_range(timestamp)
        cache, channels = self.connection.locations, self.connection.channels
        rpc_timeout = min(self.connection.retry.rpc_timeout, self.connection.retry.timeout)
        futures = []
        for r in rows:
            try:
                loc = cache.locate(self.name, r)
                req = pb.GetRequest(region=loc.name, row=r, columns=cols, time_range=tr)
                futures.append(channels.region_server(loc.address).Get.future(
                    req, timeout=rpc_timeout))
            except ValueError as e:  # "closed channel": close() or forget() ran meanwhile
                channels.closed_channel(loc.address, e)
                futures.append(None)  # the server left: this row is retried on its own
            except HBaseError as exc:
                if not exc.retryable:
                    raise
                futures.append(None)
        out = []
        for r, future in zip(rows, futures):
            data = None
            if future is not None:
                try:
                    data = protocol.cells_to_dict(future.result().result.cells,
                                                  include_timestamp)
                except grpc.RpcError as err:
                    exc = from_rpc_error(err)
                    if not exc.retryable:
                        raise exc from None
                    cache.invalidate(self.name)
            if data is None:  # retried on its own, within what is left of the timeout
                data = self._fetch_row(r, pb.GetRequest(row=r, columns=cols, time_range=tr),
                                       include_timestamp, started)
            if data:
                out.append((r, data))
        return out

    def cells(self, row, column, versions: int | None = None, timestamp: int | None = None,
              include_timestamp: bool = False) -> list:
        """Versions of one column, newest first: [value] or [(value, ts)]. versions=None: all
        that the family keeps."""
        row = _row(row)
        if versions is not None:
            versions = protocol.versions(versions)
        family, qualifier = protocol.qualified_column(column)
        request = pb.GetRequest(row=row, columns=[pb.Column(family=family, qualifier=qualifier)],
                                time_range=protocol.time_range(timestamp),
                                max_versions=versions or _ALL_VERSIONS)
        response = self._get(row, request, f"get of {quoted(column)} in row {quoted(row)}")
        if include_timestamp:
            return [(c.value, c.timestamp) for c in response.result.cells]
        return [c.value for c in response.result.cells]

    def scan(self, row_start=None, row_stop=None, row_prefix=None, columns=None, filter=None,
             timestamp: int | None = None, include_timestamp: bool = False,
             batch_size: int = 1000, scan_batching: int | None = None,
             limit: int | None = None, sorted_columns: bool = False, reverse: bool = False,
             *, versions: int | None = None, as_cells: bool = False,
             time_range: tuple[int, int] | None = None, raw: bool = False):
        """Yield (row, data) in row order; see client/scanner.py for exact semantics.
        The arguments up to `reverse` are happybase's, in its order (code passes them
        positionally); the others are keywords. sorted_columns: a row's columns always come
        in HBase's order, sorted, so it changes nothing.
        as_cells=True: data is [(b"cf:q", value, ts)] with every version returned. filter:
        HBase filter language, e.g. "PrefixFilter('a') AND ValueFilter(=, 'binary:x')".
        raw=True: HBase's raw scan, data is [(b"cf:q", value, ts, type)] with delete markers
        (type "Delete", "DeleteColumn", "DeleteFamily", "DeleteFamilyVersion") and the puts
        ("Put") they mask."""
        from client.scanner import scan

        return scan(self, row_start=row_start, row_stop=row_stop, row_prefix=row_prefix,
                    columns=columns, timestamp=timestamp, time_range=time_range,
                    include_timestamp=include_timestamp,
                    batch_size=batch_size, scan_batching=scan_batching, limit=limit,
                    reverse=reverse, versions=versions, as_cells=as_cells, filter=filter,
                    raw=raw)

    def count(self, row_start=None, row_stop=None, row_prefix=None, progress=None,
              interval: int = 1000, filter=None) -> int:
        """Rows in the range (HBase shell `count`); `progress(count, row)` every `interval`.
        As HBase's, it fetches only each row's first key (FirstKeyOnlyFilter) or, with a
        `filter`, only keys (KeyOnlyFilter after it)."""
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval must be a whole number >= 1, got {interval!r}")
        only_keys = b"FirstKeyOnlyFilter() AND KeyOnlyFilter()" if filter is None else \
            b"(" + protocol.filter_text(filter) + b") AND KeyOnlyFilter()"
        n = 0
        for row, _ in self.scan(row_start=row_start, row_stop=row_stop, filter=only_keys,
                                row_prefix=row_prefix, batch_size=1000):
            n += 1
            if progress is not None and n % interval == 0:
                progress(n, row)
        return n

    # -- writes ------------------------------------------------------------------------------
    def put(self, row, data: dict, timestamp: int | None = None, wal: bool = True) -> None:
        """Write the columns of `data` ({b"cf:q": value}) to `row`, atomically."""
        row = _row(row)
        self._mutate(row, protocol.put_mutation(row, data, timestamp), "put")

    def delete(self, row, columns=None, timestamp: int | None = None, wal: bool = True) -> None:
        """Delete the whole row (columns=None), whole families (b"cf") or every version of
        columns (b"cf:q") with timestamp <= `timestamp` (default: all)."""
        row = _row(row)
        if protocol.deletes_nothing(columns):
            return
        families = self.family_names() if columns is None else []
        self._mutate(row, protocol.delete_mutation(row, columns, timestamp, families), "delete")

    def delete_version(self, row, column, timestamp: int | None = None) -> None:
        """Delete one version of `column` (b"cf:q"): the one at `timestamp`, or the newest
        (HBase's Delete.addColumn, what the HBase shell's `delete` does). With b"cf": the
        family's cells at exactly `timestamp` (Delete.addFamilyVersion)."""
        row = _row(row)
        self._mutate(row, protocol.delete_version_mutation(row, column, timestamp), "delete")

    def _mutate(self, row: bytes, mutation: pb.RowMutation, what: str) -> None:
        """One row's mutation as a blocking Multi of one region (cheaper than a batch)."""
        def call(loc, stub, deadline):
            request = pb.MultiRequest(regions=[pb.RegionMutations(region=loc.name,
                                                                  mutations=[mutation])])
            result = stub.Multi(request, timeout=deadline).results[0]
            if not result.ok:
                raise error_from_name(result.error_class, result.error_message)
            if result.rejected:  # the one row was invalid
                bad = result.rejected[0]
                raise error_from_name(bad.error_class, bad.error_message)

        self.connection.region_call(self.name, row, f"{what} of row {quoted(row)} in table "
                                    f"{self.name!r}", call)

    def batch(self, timestamp: int | None = None, batch_size: int | None = None,
              transaction: bool = False, wal: bool = True) -> Batch:
        return Batch(self, timestamp=timestamp, batch_size=batch_size, transaction=transaction)

    # -- atomic read-modify-write ------------------------------------------------------------
    def counter_inc(self, row, column, value: int = 1) -> int:
        """Atomically add `value` to the 8-byte big-endian counter in `column`; the new value."""
        row = _row(row)
        family, qualifier = protocol.qualified_column(column)
        request = pb.IncrementRequest(row=row, family=family, qualifier=qualifier,
                                      amount=protocol.counter_number(value, "increment"),
                                      **self.connection.new_nonce())

        def call(loc, stub, deadline):
            request.region = loc.name
            return stub.Increment(request, timeout=deadline)

        return self.connection.region_call(self.name, row, f"increment of {quoted(column)} in "
                                           f"row {quoted(row)}", call).value

    def append(self, row, data: dict, include_timestamp: bool = False) -> dict:
        """HBase's Append: add each value's bytes to the end of its column's newest value (an
        absent column starts empty), atomically for the row; returns the new values, as row()
        would ({b"cf:q": value}, or (value, timestamp) with include_timestamp). Retries carry
        one nonce, so an append is applied once even when its answer was lost."""
        row = _row(row)
        if not data:
            raise InvalidArgumentError(f"append to row {quoted(row)} names no column")
        cells = protocol.put_mutation(row, data, None, "append").cells
        request = pb.AppendRequest(row=row, cells=cells, **self.connection.new_nonce())

        def call(loc, stub, deadline):
            request.region = loc.name
            return stub.Append(request, timeout=deadline)

        response = self.connection.region_call(self.name, row, f"append to row {quoted(row)}",
                                               call)
        return protocol.cells_to_dict(response.result.cells, include_timestamp)

    def counter_dec(self, row, column, value: int = 1) -> int:
        return self.counter_inc(row, column, -protocol.counter_number(value, "decrement"))

    def counter_get(self, row, column) -> int:
        """The counter's value (0 when absent), read without writing."""
        value = self.counter_value(row, column)
        return 0 if value is None else value

    def counter_value(self, row, column) -> int | None:
        """The counter's value, None when the cell does not exist (the shell's get_counter
        says so instead of printing 0)."""
        family, qualifier = protocol.qualified_column(column)
        column = family + b":" + qualifier
        raw = self.row(row, [column]).get(column)
        if raw is None:
            return None
        if len(raw) != 8:
            raise InvalidArgumentError(
                f"{quoted(column)} in row {quoted(_row(row))} of table {self.name!r} holds "
                f"{len(raw)} bytes, not an 8-byte counter")
        return _COUNTER.unpack(raw)[0]

    def counter_set(self, row, column, value: int = 0) -> None:
        self.put(row, {column: _COUNTER.pack(protocol.counter_number(value, "counter value"))})

    def _check_and_mutate(self, row, column, expected, mutation: pb.RowMutation,
                          what: str) -> bool:
        family, qualifier = protocol.qualified_column(column)
        request = pb.CheckAndMutateRequest(row=row, family=family, qualifier=qualifier,
                                           mutation=mutation, **self.connection.new_nonce())
        if expected is None:
            request.expect_absent = True
        else:
            request.expected = protocol.to_bytes(expected, "expected value")

        def call(loc, stub, deadline):
            request.region = loc.name
            return stub.CheckAndMutate(request, timeout=deadline)

        return self.connection.region_call(self.name, row, what, call).processed

    def check_and_put(self, row, column, expected, data: dict,
                      timestamp: int | None = None) -> bool:
        """Put `data` only if `column`'s latest value equals `expected` (None or b"": the column
        is absent or empty, as in HBase), atomically; True when the put was applied."""
        row = _row(row)
        return self._check_and_mutate(row, column, expected,
                                      protocol.put_mutation(row, data, timestamp,
                                                            "check-and-put"),
                                      f"check-and-put of row {quoted(row)}")

    def check_and_delete(self, row, column, expected, columns=None) -> bool:
        row = _row(row)
        families = self.family_names() if columns is None else []
        return self._check_and_mutate(row, column, expected,
                                      protocol.delete_mutation(row, columns, None, families),
                                      f"check-and-delete of row {quoted(row)}")
