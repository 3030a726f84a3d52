"""Client-side scans that stream across regions (docs/cli.md).

Semantics (happybase's, HBase's):
  - forward: rows in [row_start, row_stop), start inclusive, stop exclusive, b"" / None =
    unbounded; row_prefix selects rows starting with it (instead of start/stop).
  - reverse=True: rows walk downwards from row_start (inclusive; None = the last row) to
    row_stop (exclusive; None = the first row).
  - limit: at most that many rows; batch_size: rows asked per RPC (HBase's "caching");
    scan_batching: at most that many cells per yielded item (wide rows come in parts).
One server-side scanner is open at a time. When a region is exhausted the scan continues in
the next region: forward at the current region's end key, reversed in the region that ends at
the current region's start key. A region that moves or splits mid-scan (NotServingRegion,
UnknownScanner after a lease expiry, a dead server) is re-located and the scan resumes after
the last row it returned, with back-off and the operation timeout applying to each step.
Resuming inside a row that was being returned in parts (scan_batching) re-reads that row and
drops its cells up to the last one returned, as HBase 2's client does: no cell comes twice.
A row larger than a response (about 2 MB) is sent by the server in parts whatever the scan
asked; they are put back together here: a whole row without scan_batching, parts of exactly
scan_batching cells with it (HBase's client regroups partial results the same way).
"""

from __future__ import annotations

import contextlib

import grpc

from client import protocol
from client.location_cache import CLOSED
from minihbase.errors import (ConnectionClosedError, HBaseError, InvalidArgumentError,
                              UnknownScannerError)
from protos import minihbase_pb2 as pb
from protos.status import from_rpc_error

_TYPE_NAMES = protocol.CELL_TYPE_NAMES


def prefix_successor(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (b"" if none)."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return b""
    p[-1] += 1
    return bytes(p)


def _restartable(exc: BaseException) -> bool:
    return isinstance(exc, UnknownScannerError) or (isinstance(exc, HBaseError)
                                                     and exc.retryable)


def scan(table, *, row_start=None, row_stop=None, row_prefix=None, columns=None,
         timestamp=None, include_timestamp=False, batch_size=1000, scan_batching=None,
         limit=None, reverse=False, versions=None, as_cells=False, time_range=None, filter=None,
         raw=False):
    """as_cells=True yields (row, [(b"cf:q", value, timestamp), ...]) with every version
    returned (what the shell prints) instead of happybase's {column: value} dicts. time_range:
    (min, max), cells with min <= timestamp < max (instead of `timestamp`). filter: HBase's
    filter language, applied by the region servers (storage/filters.py), as happybase's
    `filter`. raw=True: HBase's raw scan (delete markers and the cells they mask), yielding
    (row, [(b"cf:q", value, timestamp, type), ...]) with type as protocol.CELL_TYPE_NAMES."""
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise InvalidArgumentError(f"limit must be >= 1, got {limit}")  # as happybase
    if versions is not None:
        versions = protocol.versions(versions)
    if scan_batching is not None and scan_batching < 1:
        raise InvalidArgumentError(f"scan_batching must be >= 1, got {scan_batching}")
    batch_size = protocol.wire_count(batch_size)
    if scan_batching is not None:
        scan_batching = protocol.wire_count(scan_batching)
    start = b"" if row_start is None else protocol.to_bytes(row_start, "row_start")
    stop = b"" if row_stop is None else protocol.to_bytes(row_stop, "row_stop")
    low_bound = b""  # reversed: rows must be >= this (exact prefix bound)
    prefix = None
    if row_prefix is not None:
        if row_start is not None or row_stop is not None:
            raise TypeError("row_prefix cannot be combined with row_start or row_stop")
        prefix = protocol.to_bytes(row_prefix, "row_prefix")
        if reverse:
            start, stop, low_bound = prefix_successor(prefix), b"", prefix
        else:
            start, stop = prefix, prefix_successor(prefix)
    spec = pb.ScanSpec(stop_row=stop, reversed=reverse,
                       columns=protocol.column_protos(columns),
                       max_versions=versions or 0, batch=scan_batching or 0,
                       filter=protocol.filter_text(filter), raw=raw)
    if timestamp is not None or time_range is not None:
        spec.time_range.CopyFrom(protocol.time_range(timestamp, time_range))
    scanner = _Scanner(table, start, stop, spec, batch_size, limit, include_timestamp,
                       prefix, low_bound)
    scanner.as_cells = as_cells
    return scanner.rows()


# Calls in flight that nobody else references: grpcio cancels a call whose future is garbage
# collected, so these are kept until they end.
_unattended: set = set()


def _keep_until_done(future) -> None:
    _unattended.add(future)
    future.add_done_callback(_unattended.discard)


def _close_opened(stub, future) -> None:
    """Done-callback of a scanner open whose answer nobody reads: close the scanner it opened,
    if it left one open (asynchronously: this runs on a gRPC thread)."""
    try:
        response = future.result()
    except Exception:  # noqa: BLE001 -- failed or cancelled: nothing left open
        return
    if response.scanner_id and response.more_in_region:
        _keep_until_done(stub.Scan.future(
            pb.ScanRequest(scanner_id=response.scanner_id, close=True), timeout=5.0))


def _cell_key(cell) -> tuple:
    """A cell's place within its row, in the order a region returns them (HBase's: family,
    qualifier, newest first, delete markers before the puts they mask)."""
    return cell.family, cell.qualifier, -cell.timestamp, -(cell.type or 4)


class _Scanner:
    def __init__(self, table, start, stop, spec, batch_size, limit, include_timestamp,
                 prefix, low_bound):
        self.table = table
        self.conn = table.connection
        self.start, self.stop, self.spec = start, stop, spec
        self.batch_size = batch_size
        self.limit = limit
        self.include_timestamp = include_timestamp
        self.prefix, self.low_bound = prefix, low_bound
        self.reverse = spec.reversed
        self.single_version = spec.max_versions <= 1
        self.as_cells = False
        self.prefetch = None  # future of the next batch, asked before this one is consumed
        # Where the next scanner opens: the region holding `region_start` (reversed and b"":
        # the last region), or with `before` set (reversed) the region ending at `before`.
        self.loc = None
        self.region_start = start  # spec.start_row for the next open
        self.before = None
        self.skip_row = None       # a row already returned (resume after an error)
        self.last_row = None       # the last whole row returned
        # (row, cell key) of the last cell returned while that row is still coming in parts;
        # after an error, the scan resumes at that row and drops the cells up to it.
        self.partial_at = None
        self.resume_after = None
        # Cells of a row the server sent in parts, not yielded yet: a row over a response's
        # size comes in parts even without scan_batching; see _regroup.
        self.parts: list | None = None
        self.scanner_id = 0
        self.stub = None
        self.returned = 0
        self.done = False
        # Since when (retry clock) the scan has failed without getting further: a new row for
        # the caller, or a region boundary beyond any reached before, ends it. The retry
        # budget counts from there, so a region that stays offline ends the scan with a timeout
        # even though resuming in the region before it keeps succeeding.
        self.stalled_since: float | None = None
        self.furthest: bytes | None = None  # the furthest region boundary reached
        self.mark = None  # the table's meta change mark when the last step began

    def rows(self):
        self.conn.track(self)  # a close() of the Connection closes this scan's server scanner
        try:
            while not self.done:
                results = self.conn.retry.call(
                    f"scan of table {self.table.name!r}", self._step, self._on_error,
                    retryable=_restartable, started=self.stalled_since,
                    wait=lambda delay: self.conn.backoff_wait(self.table.name, self.mark,
                                                              delay),
                    explain=self.conn.region_server_down)
                for result in results:
                    if not result.cells:
                        continue
                    row = result.cells[0].row
                    if self.skip_row is not None:
                        if row == self.skip_row:
                            continue
                        self.skip_row = None
                    cells = result.cells
                    if self.resume_after is not None:
                        if row == self.resume_after[0]:
                            after = self.resume_after[1]
                            cells = [c for c in cells if _cell_key(c) > after]
                        else:
                            self.resume_after = None
                        if not cells:  # every cell of this part was returned already
                            if not result.partial and self._row_done(row):
                                break
                            continue
                    if self.prefix is not None and not row.startswith(self.prefix):
                        if self.reverse and row < self.prefix:
                            self.done = True
                            break
                        continue
                    limit_reached = False
                    pieces = ((cells, result.partial),)
                    if result.partial or self.parts is not None:
                        pieces = self._regroup(cells, result.partial)
                    for cells, partial in pieces:
                        if self.spec.raw:
                            yield row, [(c.family + b":" + c.qualifier, c.value, c.timestamp,
                                         _TYPE_NAMES.get(c.type or 4, str(c.type)))
                                        for c in cells]
                        elif self.as_cells:
                            yield row, [(c.family + b":" + c.qualifier, c.value, c.timestamp)
                                        for c in cells]
                        else:
                            yield row, protocol.cells_to_dict(cells, self.include_timestamp,
                                                              self.single_version)
                        self.stalled_since = None  # a new row: the scan got further
                        if partial:
                            self.partial_at = (row, _cell_key(cells[-1]))
                        elif self._row_done(row):
                            limit_reached = True
                            break
                    if limit_reached:
                        break
        finally:
            self._close()
            self.conn.untrack(self)

    def _regroup(self, cells: list, partial: bool) -> list:
        """The (cells, partial) items to yield for one part of a row the server sent in parts:
        whole rows without scan_batching, else parts of exactly scan_batching cells (the last
        of a row may be smaller), whatever sizes the server cut (HBase's client regroups
        partial results the same way, BatchScanResultCache)."""
        if self.parts is None:
            self.parts = list(cells)
        else:
            self.parts.extend(cells)
        batch = self.spec.batch
        if partial:
            if not batch or len(self.parts) < batch:
                return []
            gathered = self.parts
            n = len(gathered) - len(gathered) % batch
            self.parts = gathered[n:] or None
            return [(gathered[i:i + batch], True) for i in range(0, n, batch)]
        gathered, self.parts = self.parts, None
        if not batch:
            return [(gathered, False)]
        starts = range(0, len(gathered), batch)
        return [(gathered[i:i + batch], i + batch < len(gathered)) for i in starts]

    def _row_done(self, row: bytes) -> bool:
        """A row's last part was handled; True when that ends the scan (its limit)."""
        self.partial_at = self.resume_after = None
        self.last_row = row
        self.returned += 1
        if self.limit is not None and self.returned >= self.limit:
            self.done = True
            return True
        return False

    def end_for_close(self) -> None:
        self._close()

    def _on_error(self, exc: BaseException) -> None:
        if self.stalled_since is None:
            self.stalled_since = self.conn.retry.clock()
        self._reset()

    def _reset(self) -> None:
        """After an error: forget the scanner and the location; resume after the last row."""
        self.conn.locations.invalidate(self.table.name)
        if self.prefetch is not None:
            self.prefetch.cancel()
            self.prefetch = None
        self.scanner_id, self.stub, self.loc = 0, None, None
        self.parts = None  # a row gathered in part is read again whole
        if self.partial_at is not None:  # inside a row returned in parts: resume in it
            self.region_start, self.skip_row, self.before = self.partial_at[0], None, None
            self.resume_after = self.partial_at
        elif self.last_row is not None:
            self.region_start, self.skip_row, self.before = self.last_row, self.last_row, None

    def _locate(self):
        cache, name = self.conn.locations, self.table.name
        if self.before is not None:
            return cache.locate_before(name, self.before)
        if self.reverse and not self.region_start:
            return cache.locate_last(name)
        return cache.locate(name, self.region_start)

    def _step(self, deadline: float) -> list:
        """One RPC: open a scanner in the current region or fetch its next batch. Returns the
        results (maybe none) and advances to the next region when this one is exhausted."""
        if self.limit is not None and self.returned >= self.limit:
            self.done = True
            return []
        if self.conn.closed:  # its channels are gone: say so, not gRPC's "closed channel"
            raise ConnectionClosedError(CLOSED)
        self.mark = self.conn.changes.mark(self.table.name)
        future, self.prefetch = self.prefetch, None
        if future is None:
            if self.scanner_id == 0:
                self.loc = self._locate()
                request = self._open_request(self.loc)
                self.stub = self.conn.channels.region_server(self.loc.address)
            else:
                request = pb.ScanRequest(scanner_id=self.scanner_id, max_rows=self.batch_size)
        try:
            if future is not None:
                response = future.result()
            else:
                response = self.stub.Scan(request, timeout=deadline)
        except grpc.RpcError as err:
            exc = from_rpc_error(err, self.loc.address)
            exc.location = self.loc  # for Connection.region_server_down
            raise exc from None
        except ValueError as e:  # gRPC's "closed channel": close(), or forget() as it left
            exc = self.conn.channels.closed_channel(self.loc.address, e)
            exc.location = self.loc
            raise exc from None
        self.scanner_id = response.scanner_id
        if not response.more_in_region:
            self.scanner_id = 0
            if response.scan_done:  # the filter ended the scan (WHILE, PageFilter...)
                self.done = True
                return response.results
            self._next_region()
            if not self.done and self.limit is None:
                self._prefetch_open()
        elif self.limit is None or self.returned + len(response.results) < self.limit:
            # Ask for the next batch now, so the server reads it while the caller consumes
            # this one (HBase's scanner prefetch). A channel closed meanwhile (ValueError):
            # the next step's call says so.
            with contextlib.suppress(ValueError):
                self.prefetch = self.stub.Scan.future(
                    pb.ScanRequest(scanner_id=self.scanner_id, max_rows=self.batch_size),
                    timeout=self._rpc_timeout())
        return response.results

    def _rpc_timeout(self) -> float:
        """A call sent ahead waits at most what one attempt may, never past the operation
        timeout (a hung server must not stall the scan longer than the caller allows)."""
        retry = self.conn.retry
        return min(retry.rpc_timeout, retry.timeout)

    def _open_request(self, loc) -> pb.ScanRequest:
        spec = pb.ScanSpec()
        spec.CopyFrom(self.spec)
        spec.start_row = self.region_start
        if self.limit is not None:
            # Rows the server counts but the caller never sees: a resumed scan's first row
            # (returned already), and a reversed prefix scan's start row, the prefix's
            # successor, which the server includes if it exists and the client drops.
            unseen = (1 if self.skip_row else 0) + (
                1 if self.reverse and self.prefix is not None else 0)
            spec.limit = protocol.wire_count(self.limit - self.returned + unseen)
        # The server answers within half of a call's deadline even if its filter has matched
        # nothing yet (HBase's heartbeat); the next call goes on from there.
        return pb.ScanRequest(region=loc.name, spec=spec, max_rows=self.batch_size,
                              time_limit_ms=int(self._rpc_timeout() * 500))

    def _prefetch_open(self) -> None:
        """Open the next region's scanner now, while the caller consumes this region's last
        batch: the region's first batch is read (often on another server) in the meantime
        instead of after it. Only without a limit (the open request carries the rows still
        wanted, known only once this batch is consumed). Best effort: any error here leaves
        the open to the next step, which retries it the usual way."""
        try:
            loc = self._locate()
            stub = self.conn.channels.region_server(loc.address)
            future = stub.Scan.future(self._open_request(loc),
                                      timeout=self._rpc_timeout())
        except Exception:  # noqa: BLE001 -- never lose the batch in hand over a prefetch
            return
        self.loc, self.stub, self.prefetch = loc, stub, future

    def _next_region(self) -> None:
        info = self.loc.info
        self.loc = None
        if self.reverse:
            if not info.start_key or (self.stop and info.start_key <= self.stop) \
                    or (self.low_bound and info.start_key <= self.low_bound):
                self.done = True
                return
            self.before, self.region_start = info.start_key, b""  # from that region's end
            boundary = info.start_key
        else:
            if not info.end_key or (self.stop and info.end_key >= self.stop):
                self.done = True
                return
            self.before, self.region_start = None, info.end_key
            boundary = info.end_key
        if self.furthest is None or (boundary < self.furthest if self.reverse
                                     else boundary > self.furthest):
            self.furthest, self.stalled_since = boundary, None  # past a new region

    def _close(self) -> None:
        future, self.prefetch = self.prefetch, None
        if future is not None:
            if self.scanner_id == 0:
                # An open sent ahead that nobody will read. Cancelling would not help: the
                # server may be running it already and would register the scanner anyway. Let
                # it finish, then close what it opened (without blocking this caller).
                stub = self.stub
                _keep_until_done(future)
                future.add_done_callback(lambda f: _close_opened(stub, f))
            else:
                future.cancel()
        if self.scanner_id and self.stub is not None:
            try:  # best effort: the server's lease reaper closes it anyway
                self.stub.Scan(pb.ScanRequest(scanner_id=self.scanner_id, close=True),
                               timeout=1.0)
            except (grpc.RpcError, ValueError):  # ValueError: the channel was closed
                pass
            self.scanner_id = 0
