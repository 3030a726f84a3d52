"""Batch: a buffered, context-managed writer (happybase's Batch), and the multi-region sender.

    with table.batch(batch_size=1000) as b:
        b.put(b"r1", {b"cf:q": b"v"})
        b.delete(b"r2")

Mutations are buffered and sent when `batch_size` of them are pending, on `send()`, and when
the `with` block ends (with transaction=True, not when it ends with an exception). Sending
groups mutations by region and then by server: ONE Multi call per server carrying all its
regions (several, each of about MAX_MULTI_BYTES, when they pass it), the servers called in
parallel (gRPC futures). Regions that fail with a retryable
error (NotServingRegion after a split or move, a dead server...) are re-located and resent with
HBase's back-off; the whole send finishes within the connection's operation timeout.
A full buffer is sent in the background while the next one fills (at most one in flight, like
HBase's BufferedMutator). Its resends run in the background too, so its rows are written even
if nobody calls `send()` again; its error, if any, is raised by the next full buffer, `send()`
or the end of the `with` block, and `Connection.close()` waits for it. An invalid row (unknown
family, oversize value...) is rejected on its own; the other rows are written (HBase's
per-action results) and the error says how many were not. Each row's mutation is atomic; a
batch as a whole is not (HBase's rule).
"""

from __future__ import annotations

import logging
import threading

import grpc

from client import protocol
from client.retry import MIN_ATTEMPT_S, backoff_delay, bounded_waits
from minihbase.errors import HBaseError, InvalidArgumentError, OperationTimeoutError
from protos import minihbase_pb2 as pb
from protos.status import error_from_name, from_rpc_error

log = logging.getLogger(__name__)


def send_mutations(connection, table: str, mutations: list, what: str = "batch") -> None:
    """Apply RowMutations to `table`, retrying retryable failures under the overall timeout."""
    MultiSend(connection, table, mutations, what).wait()


# Bytes of mutations one Multi call carries at most (a single row may be larger, up to
# protos/limits.py MAX_ROW_MUTATION_BYTES). The region server takes messages of up to 256 MiB
# (MAX_MESSAGE_BYTES): a batch of large values over that failed whole. HBase's client cuts
# its requests the same way (hbase.client.max.perrequest.heapsize, 4 MB).
MAX_MULTI_BYTES = 16 << 20


def _multi_request(by_region: dict) -> pb.MultiRequest:
    return pb.MultiRequest(regions=[pb.RegionMutations(region=r, mutations=ms)
                                    for r, ms in by_region.items()])


def _requests(by_region: dict) -> list[tuple[dict, pb.MultiRequest]]:
    """One server's mutations (region name -> mutations) as Multi requests of at most about
    MAX_MULTI_BYTES each: [(region name -> mutations, request)]. Every mutation of one row
    goes in the same request, in order, so a row's puts and deletes still apply in the order
    they were made (requests run in parallel)."""
    request = _multi_request(by_region)
    if request.ByteSize() <= MAX_MULTI_BYTES:  # the common case: one call
        return [(by_region, request)]
    parts: list[dict] = [{}]
    size = 0
    for region, mutations in by_region.items():
        rows: dict[bytes, list] = {}
        for m in mutations:
            rows.setdefault(m.row, []).append(m)
        for row_mutations in rows.values():
            n = sum(m.ByteSize() for m in row_mutations)
            if size and size + n > MAX_MULTI_BYTES:
                parts.append({})
                size = 0
            parts[-1].setdefault(region, []).extend(row_mutations)
            size += n
    return [(part, _multi_request(part)) for part in parts]


class MultiSend:
    """One batch in flight: the Multi calls are issued (as gRPC futures) on construction and
    collected by `wait()`, which also resends what failed. In between, the caller may build
    the next batch -- the servers work while the client does (HBase's BufferedMutator)."""

    def __init__(self, connection, table: str, mutations: list, what: str = "batch"):
        self.connection, self.table, self.what = connection, table, what
        retry = connection.retry
        self.start = retry.clock()
        self.deadline = self.start + retry.timeout
        self.tries = 0
        self.step = 0  # position in the back-off: failures since the start or the last change
        self.fatal: HBaseError | None = None  # the first non-retryable error
        self.fatal_rows = 0  # rows it (and any later ones) left unwritten
        self._thread: threading.Thread | None = None  # finishing the send (in_background)
        self._error: BaseException | None = None  # what the background finish raised
        self.rows = len(mutations)
        self._issue(mutations)
        self.issue_time = retry.clock() - self.start  # meta reads included

    def _issue(self, pending: list) -> None:
        retry, channels = self.connection.retry, self.connection.channels
        self.tries += 1
        self.failed, self.last_error, self.relocate = [], None, False
        self.mark = self.connection.changes.mark(self.table)
        with bounded_waits(max(0.001, self.deadline - retry.clock())):  # meta reads
            groups = self._group(pending)
        rpc_timeout = max(MIN_ATTEMPT_S, min(retry.rpc_timeout, self.deadline - retry.clock()))
        self.calls = []
        for address, by_region in groups.items():
            stub = channels.region_server(address)
            for part, request in _requests(by_region):
                try:
                    future = stub.Multi.future(request, timeout=rpc_timeout)
                except ValueError as e:  # "closed channel": close() or forget() ran meanwhile
                    exc = channels.closed_channel(address, e)
                    exc.location = self.located[address]
                    self._failed(exc, [m for ms in part.values() for m in ms])
                    continue
                self.calls.append((address, part, future))

    def _group(self, pending: list) -> dict[str, dict[str, list]]:
        """address -> region name -> mutations; unlocatable rows go to self.failed. Keeps a
        location per address in self.located (for the timeout message: which server)."""
        groups: dict[str, dict[str, list]] = {}
        self.located = {}
        cache, table = self.connection.locations, self.table
        for m in pending:
            try:
                loc = cache.locate(table, m.row)
            except HBaseError as exc:
                if not exc.retryable:
                    raise
                self.failed.append(m)
                self.last_error, self.relocate = exc, True
                continue
            by_region = groups.get(loc.address)
            if by_region is None:
                by_region = groups[loc.address] = {}
                self.located[loc.address] = loc
            ms = by_region.get(loc.name)
            if ms is None:
                by_region[loc.name] = [m]
            else:
                ms.append(m)
        return groups

    def _collect(self) -> None:
        """Read every call's outcome. A non-retryable error (a bad row rejects its region's
        group) is kept for later, never raised at once: the other calls' retryable failures
        must still be resent, or their rows would be lost without a word."""
        for address, by_region, future in self.calls:
            try:
                response = future.result()
            except grpc.RpcError as err:
                exc = from_rpc_error(err, address)
                exc.location = self.located[address]  # for Connection.region_server_down
                self._failed(exc, [m for ms in by_region.values() for m in ms])
                continue
            for result in response.results:
                if not result.ok:
                    self._failed(error_from_name(result.error_class, result.error_message),
                                 by_region.get(result.region, ()))
                for rejected in result.rejected:  # invalid rows: never resent
                    self._rejected(error_from_name(rejected.error_class,
                                                   rejected.error_message), 1)
        self.calls = []

    def _failed(self, exc: HBaseError, mutations) -> None:
        if exc.retryable:
            self.failed.extend(mutations)
            self.last_error = exc
            self.relocate = self.relocate or exc.stale_location
            return
        self._rejected(exc, len(mutations))

    def _rejected(self, exc: HBaseError, rows: int) -> None:
        if self.fatal is None:
            self.fatal = exc
        self.fatal_rows += rows

    def _raise_fatal(self) -> None:
        exc = self.fatal
        others = ("none was written" if self.fatal_rows >= self.rows
                  else f"{self.rows - self.fatal_rows} other(s) were")
        raise type(exc)(f"{exc} ({self.fatal_rows} row(s) of this {self.what} not written; "
                        f"{others})") from None

    def in_background(self) -> "MultiSend":
        """Finish the send (collect, resend what failed) on a thread of its own, so the rows
        are written even if nobody waits; wait() joins it and raises its error. The thread
        is not a daemon: a program that ends right after its last put still writes it."""
        self._thread = threading.Thread(target=self._finish, daemon=False,
                                        name=f"batch send to {self.table}")
        self.connection.track(self)
        self._thread.start()
        return self

    def _finish(self) -> None:
        try:
            self._complete()
        except BaseException as exc:  # noqa: BLE001 - kept for wait(), which raises it
            self._error = exc
            log.warning("background %s send to table %r failed (raised by the next put, "
                        "send or close of the batch): %s", self.what, self.table, exc)
        finally:
            self.connection.untrack(self)

    def wait(self) -> None:
        if self._thread is None:
            self._complete()
            return
        self._thread.join()
        if self._error is not None:
            raise self._error

    def end_for_close(self) -> None:
        """Connection.close: let a background finish end (it is bounded by its deadline)."""
        if self._thread is not None:
            self._thread.join(max(0.0, self.deadline - self.connection.retry.clock()) + 1.0)

    def _complete(self) -> None:
        retry = self.connection.retry
        # The caller waits here at most the operation timeout less the time issuing took,
        # however long it took to fill the next buffer while this one was in flight.
        self.deadline = max(self.deadline, retry.clock() + retry.timeout - self.issue_time)
        while True:
            self._collect()
            if not self.failed:
                if self.fatal is not None:
                    self._raise_fatal()
                return
            if self.relocate:  # not when every failed region was only busy
                self.connection.locations.invalidate(self.table)
            left = self.deadline - retry.clock()
            if left <= MIN_ATTEMPT_S:
                self._give_up()
            changed = self.connection.backoff_wait(
                self.table, self.mark,
                min(backoff_delay(retry.pause, self.step, retry.random), left - MIN_ATTEMPT_S))
            self.step = 0 if changed else self.step + 1
            self._issue(self.failed)

    def _give_up(self) -> None:
        retry, exc = self.connection.retry, self.last_error
        meaning = self.connection.region_server_down(exc)
        raise OperationTimeoutError(
            f"{self.what} on table {self.table!r}: {len(self.failed)} row(s) not written after "
            f"{self.tries} attempt(s) in {retry.clock() - self.start:.1f}s (operation timeout "
            f"{retry.timeout:g}s); " + (meaning if meaning else
                                        f"last error: {type(exc).__name__}: {exc}")
            + (f"; and {self.fatal_rows} row(s) rejected: {self.fatal}" if self.fatal else ""))


class Batch:
    """Not thread-safe: one batch per thread (happybase's rule)."""

    def __init__(self, table, timestamp: int | None = None, batch_size: int | None = None,
                 transaction: bool = False, wal: bool = True):
        if batch_size is not None and batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size is not None and transaction:
            raise TypeError("batch_size and transaction=True cannot be combined")
        self.table = table
        self.timestamp = timestamp
        self.batch_size = batch_size
        self.transaction = transaction
        self._mutations: list = []  # pb.RowMutation, in call order
        self._in_flight: MultiSend | None = None  # the previous full buffer, being sent
        self._families: list[bytes] | None = None

    def put(self, row, data: dict, wal: bool | None = None) -> None:
        row = protocol.row_key(row)
        self._mutations.append(protocol.put_mutation(row, data, self.timestamp))
        if self.batch_size is not None and len(self._mutations) >= self.batch_size:
            self._send_async()

    def delete(self, row, columns=None, wal: bool | None = None) -> None:
        row = protocol.row_key(row)
        if protocol.deletes_nothing(columns):
            return
        if columns is None and self._families is None:
            self._families = self.table.family_names()
        self._mutations.append(protocol.delete_mutation(row, columns, self.timestamp,
                                                        self._families or []))
        if self.batch_size is not None and len(self._mutations) >= self.batch_size:
            self._send_async()

    def __len__(self) -> int:
        return len(self._mutations)

    def _send_async(self) -> None:
        """Wait for the previous buffer (raising its error, if any), then start sending this
        one: at most one buffer in flight, so memory stays bounded by 2 x batch_size."""
        previous, self._in_flight = self._in_flight, None
        if previous is not None:
            previous.wait()
        mutations, self._mutations = self._mutations, []
        self._in_flight = MultiSend(self.table.connection, self.table.name,
                                    mutations).in_background()

    def send(self) -> None:
        """Send everything buffered and wait until it is written (or raise)."""
        previous, self._in_flight = self._in_flight, None
        if previous is not None:
            previous.wait()
        mutations, self._mutations = self._mutations, []
        if mutations:
            send_mutations(self.table.connection, self.table.name, mutations)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.transaction and exc_type is not None:
            return
        self.send()
