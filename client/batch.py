"""Batch: a buffered, context-managed writer (happybase's Batch), and the multi-region sender.

    with table.batch(batch_size=1000) as b:
        b.put(b"r1", {b"cf:q": b"v"})
        b.delete(b"r2")

Mutations are buffered and sent when `batch_size` of them are pending, on `send()`, and when
the `with` block ends (with transaction=True, not when it ends with an exception). Sending
groups mutations by region and then by server: ONE Multi call per server carrying all its
regions, the servers called in parallel (gRPC futures). Regions that fail with a retryable
error (NotServingRegion after a split or move, a dead server...) are re-located and resent with
HBase's back-off; the whole send finishes within the connection's operation timeout.
Each row's mutation is atomic; a batch as a whole is not (HBase's rule).
"""

from __future__ import annotations

import grpc

from client import protocol
from client.retry import MIN_ATTEMPT_S, backoff_delay
from minihbase.errors import HBaseError, OperationTimeoutError
from protos import minihbase_pb2 as pb
from protos.status import error_from_name, from_rpc_error


def send_mutations(connection, table: str, mutations: list, what: str = "batch") -> None:
    """Apply RowMutations to `table`, retrying retryable failures under the overall timeout."""
    retry, cache, channels = connection.retry, connection.locations, connection.channels
    start = retry.clock()
    deadline = start + retry.timeout
    pending, tries = mutations, 0
    while pending:
        tries += 1
        failed, last_error = [], None
        # address -> region name -> mutations
        groups: dict[str, dict[str, list]] = {}
        for m in pending:
            try:
                loc = cache.locate(table, m.row)
            except HBaseError as exc:
                if not exc.retryable:
                    raise
                failed.append(m)
                last_error = exc
                continue
            by_region = groups.get(loc.address)
            if by_region is None:
                by_region = groups[loc.address] = {}
            ms = by_region.get(loc.name)
            if ms is None:
                by_region[loc.name] = [m]
            else:
                ms.append(m)
        rpc_timeout = max(MIN_ATTEMPT_S, min(retry.rpc_timeout, deadline - retry.clock()))
        calls = []
        for address, by_region in groups.items():
            request = pb.MultiRequest(regions=[pb.RegionMutations(region=r, mutations=ms)
                                               for r, ms in by_region.items()])
            stub = channels.region_server(address)
            calls.append((address, by_region, stub.Multi.future(request, timeout=rpc_timeout)))
        for address, by_region, future in calls:
            try:
                response = future.result()
            except grpc.RpcError as err:
                exc = from_rpc_error(err, address)
                if not exc.retryable:
                    raise exc from None
                for ms in by_region.values():
                    failed.extend(ms)
                last_error = exc
                continue
            for result in response.results:
                if result.ok:
                    continue
                exc = error_from_name(result.error_class, result.error_message)
                if not exc.retryable:
                    raise exc
                failed.extend(by_region.get(result.region, ()))
                last_error = exc
        if not failed:
            return
        cache.invalidate(table)
        pending = failed
        left = deadline - retry.clock()
        if left <= MIN_ATTEMPT_S:
            raise OperationTimeoutError(
                f"{what} on table {table!r}: {len(failed)} row(s) not written after {tries} "
                f"attempt(s) in {retry.clock() - start:.1f}s (operation timeout "
                f"{retry.timeout:g}s); last error: {type(last_error).__name__}: {last_error}")
        retry.sleep(min(backoff_delay(retry.pause, tries - 1), left - MIN_ATTEMPT_S))


class Batch:
    """Not thread-safe: one batch per thread (happybase's rule)."""

    def __init__(self, table, timestamp: int | None = None, batch_size: int | None = None,
                 transaction: bool = False, wal: bool = True):
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size is not None and transaction:
            raise TypeError("batch_size and transaction=True cannot be combined")
        self.table = table
        self.timestamp = timestamp
        self.batch_size = batch_size
        self.transaction = transaction
        self._mutations: list = []  # pb.RowMutation, in call order
        self._families: list[bytes] | None = None

    def put(self, row, data: dict, wal: bool | None = None) -> None:
        row = protocol.to_bytes(row, "row")
        self._mutations.append(protocol.put_mutation(row, data, self.timestamp))
        if self.batch_size is not None and len(self._mutations) >= self.batch_size:
            self.send()

    def delete(self, row, columns=None, wal: bool | None = None) -> None:
        row = protocol.to_bytes(row, "row")
        if columns is None and self._families is None:
            self._families = self.table.family_names()
        self._mutations.append(protocol.delete_mutation(row, columns, self.timestamp,
                                                        self._families or []))
        if self.batch_size is not None and len(self._mutations) >= self.batch_size:
            self.send()

    def __len__(self) -> int:
        return len(self._mutations)

    def send(self) -> None:
        mutations, self._mutations = self._mutations, []
        if mutations:
            send_mutations(self.table.connection, self.table.name, mutations)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.transaction and exc_type is not None:
            return
        self.send()
