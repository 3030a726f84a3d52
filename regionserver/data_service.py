"""The region server's gRPC service: data calls and the master's region commands.

Contract (see docs/rpc.md): every call names its region by RegionInfo.name; a region this
server does not serve is NotServingRegionError. Errors leave through protos.status.abort_with
(status code + class name), never as a traceback. A ServerAbortedError (the WAL was fenced or
failed, or the ZooKeeper session expired) makes the whole server abort: from then on every data
call fails with ServerAbortedError and nothing more is acknowledged.

Hot path: one attribute check (aborted?), one dict lookup (OnlineRegions.get_with_families),
the protobuf -> storage conversion, the region call, the storage -> protobuf conversion. Nothing
is logged per call.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from minihbase.bytes_text import quoted
from minihbase.errors import (CallQueueTooBigError, HBaseError, InvalidArgumentError,
                              NoSuchColumnFamilyError, RowTooBigError, ServerAbortedError,
                              ServerUnavailableError)
from minihbase.metrics import RpcMetrics
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.limits import MAX_MESSAGE_BYTES, OPEN_REGIONS_PARALLELISM
from protos.status import abort_with, bounded_message, refusing_malformed
from regionserver.wire import (encode_get_response, encode_result, encode_scan_response,
                               get_response, raw_or_serialize)
from protos.schema import (merge_parents_from_pb, region_info_from_pb, region_info_to_pb,
                           table_from_pb)
from regionserver.convert import (check_row, get_from_pb, mutation_from_pb, no_such_family,
                                  scan_from_pb)
from regionserver.scanners import DEFAULT_TIME_LIMIT_S

log = logging.getLogger(__name__)

_EMPTY = pb.Empty()


def add_to_server(service: "RegionServerService", grpc_server) -> None:
    """Register the service like protoc's add_RegionServerServicer_to_server, except that
    every response serializer passes pre-encoded bytes through (Get and Scan answer with
    bytes from regionserver.wire; the other calls with messages), and a request that does not
    parse is refused with InvalidArgumentError (protos.status.refusing_malformed)."""
    desc = pb.DESCRIPTOR.services_by_name["RegionServer"]
    # The one instrumented place: latency/errors by method and recent slow calls, for the
    # info port (regionserver/web.py, minihbase/metrics.py).
    service.rpc_metrics = RpcMetrics()
    handlers = {
        m.name: refusing_malformed(grpc.unary_unary_rpc_method_handler(
            service.rpc_metrics.timed(m.name, getattr(service, m.name)),
            request_deserializer=getattr(pb, m.input_type.name).FromString,
            response_serializer=raw_or_serialize))
        for m in desc.methods
    }
    grpc_server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(desc.full_name, handlers),))


def _nonce(request):
    """(nonce group, nonce) of an Increment, Append or CheckAndMutate request; None without
    one."""
    return (request.nonce_group, request.nonce) if request.nonce else None


class RegionServerService(pb_grpc.RegionServerServicer):
    """Binds the RPCs to a RegionServer (regionserver.server), which owns online regions,
    scanners, the abort state and the stop/abort procedures."""

    def __init__(self, server):
        self._server = server
        self._online = server.online
        self._scanners = server.scanners
        self._max_value_bytes = server.config.max_value_bytes
        self.requests = 0  # calls served (approximate under concurrency; for load reports)
        self._multi_pool = ThreadPoolExecutor(8, thread_name_prefix="multi")
        # OpenRegions' opens (replay recovered edits, flush them): a few at a time, as
        # HBase's hbase.regionserver.executor.openregion.threads, whatever the batch size
        self._open_pool = ThreadPoolExecutor(OPEN_REGIONS_PARALLELISM,
                                             thread_name_prefix="open")
        # Bytes of Multi requests being handled (HBase's call queue size): each is converted,
        # logged and applied, several copies of its cells alive at once, so a few clients
        # sending large batches together could take the server past its memory.
        self._max_multi_bytes = server.config.max_call_queue_bytes
        self._multi_lock = threading.Lock()
        self._multi_bytes = 0  # guarded by _multi_lock
        self._freeze_check = server.freeze_guard.check  # regionserver/freeze_guard.py

    # --- plumbing ----------------------------------------------------------------------------
    def _check_alive(self) -> None:
        reason = self._server.abort_reason
        if reason is not None:
            raise ServerAbortedError(f"region server {self._server.name} aborted: {reason}")
        self._freeze_check()

    def _check_addressee(self, server: str) -> None:
        """A master command names the server it is meant for: one restarted on the same address
        (a new startcode) must not act on its predecessor's regions. Not NotServingRegion: the
        master would take that for "closed"."""
        if server and server != self._server.name:
            raise ServerUnavailableError(
                f"this is region server {self._server.name}, not {server}: restarted on the same "
                "address")

    def _check_sender(self, master: str, command: str) -> None:
        """A command from a master that is no longer the active one (frozen past its session
        while a backup took over) is refused: regionserver/master_fence.py."""
        if not master:
            return
        fence = self._server.master_fence
        if fence is None:
            raise ServerUnavailableError(
                f"region server {self._server.name} is not registered in ZooKeeper yet")
        fence.check(master, command)

    def _fail(self, context, exc: BaseException):
        """End the call with `exc`; a WAL fence/failure aborts the whole server first."""
        if isinstance(exc, ServerAbortedError):
            if not self._server.stopping_cleanly:  # else: the WAL was closed by the stop
                self._server.abort(str(exc))
            if self._server.abort_reason and not str(exc).startswith("region server"):
                exc = type(exc)(f"region server {self._server.name} aborted: {exc}")
        elif not isinstance(exc, HBaseError):
            log.exception("internal error serving a call")
        abort_with(context, exc)

    # --- data calls --------------------------------------------------------------------------
    def Get(self, request, context):
        self.requests += 1
        try:
            if self._server.abort_reason is not None:
                self._check_alive()
            self._freeze_check()
            region, families = self._online.get_with_families(request.region)
            if not request.columns and request.max_versions <= 1 and not request.filter \
                    and not request.HasField("time_range"):  # a whole row, newest versions
                row = request.row
                check_row(row)
                out = get_response(region.get_row_wire(row, encode_result))
            else:
                out = encode_get_response(
                    region.get(get_from_pb(request, families, region.table)))
            if len(out) > MAX_MESSAGE_BYTES:  # --max-row-bytes set near or past the limit
                raise RowTooBigError(
                    f"row {quoted(request.row)} of table {region.table.name!r} is "
                    f"{len(out) / (1 << 20):.0f} MiB, over the {MAX_MESSAGE_BYTES >> 20} MiB "
                    "one Get may answer: scan it instead (a scan sends a row in parts)")
            return out
        except Exception as e:
            self._fail(context, e)

    def _apply_region_mutations(self, rm) -> pb.RegionActionResult:
        """Convert and apply one region's rows with one Region.batch_mutate (one WAL sync).
        An invalid row is rejected on its own and the others are applied (HBase's per-action
        results); a region-wide error (not serving, closing...) fails the whole group.
        ServerAbortedError propagates."""
        name = rm.region
        try:
            region, families = self._online.get_with_families(name)
            table = region.table
            maxv = self._max_value_bytes
            mutations, rejected = [], []
            for i, m in enumerate(rm.mutations):
                try:
                    mutations.append(mutation_from_pb(m, table, families, maxv))
                except (InvalidArgumentError, NoSuchColumnFamilyError) as e:
                    rejected.append(pb.RejectedMutation(index=i, error_class=type(e).__name__,
                                                        error_message=str(e)))
            region.batch_mutate(mutations)
            return pb.RegionActionResult(region=name, ok=True, rejected=rejected)
        except HBaseError as e:
            if isinstance(e, ServerAbortedError):
                raise
            return pb.RegionActionResult(region=name, ok=False, error_class=type(e).__name__,
                                         error_message=str(e))

    def _admit_multi(self, size: int) -> None:
        """Count a Multi request's bytes in, or CallQueueTooBigError (retryable) when the
        requests being handled would pass max_call_queue_bytes with it. One request is always
        admitted when none is being handled, however large (the client keeps each under the
        message limit)."""
        with self._multi_lock:
            held = self._multi_bytes
            if held and held + size > self._max_multi_bytes:
                raise CallQueueTooBigError(
                    f"region server {self._server.name} is handling {held:,} bytes of write "
                    f"requests; with this one's {size:,} that passes its "
                    f"--max-call-queue-bytes of {self._max_multi_bytes:,}: retry later")
            self._multi_bytes = held + size

    def _release_multi(self, size: int) -> None:
        with self._multi_lock:
            self._multi_bytes -= size

    def Multi(self, request, context):
        self.requests += 1
        try:
            self._check_alive()
            groups = request.regions
            if not groups:
                return pb.MultiResponse()
            size = request.ByteSize()
            self._admit_multi(size)
            try:
                return self._multi(groups)
            finally:
                self._release_multi(size)
        except Exception as e:
            self._fail(context, e)

    def _multi(self, groups) -> pb.MultiResponse:
        if len(groups) == 1:
            results = [self._apply_region_mutations(groups[0])]
        else:
            # Several regions: apply them concurrently so their WAL syncs share one fsync
            # (the WAL's group commit) instead of paying one fsync per region in a row.
            futs = [self._multi_pool.submit(self._apply_region_mutations, rm)
                    for rm in groups[1:]]
            first = self._apply_region_mutations(groups[0])
            results = [first] + [f.result() for f in futs]
        self._check_alive()  # aborted meanwhile: acknowledge nothing
        return pb.MultiResponse(results=results)

    def Increment(self, request, context):
        self.requests += 1
        try:
            self._check_alive()
            region, families = self._online.get_with_families(request.region)
            check_row(request.row)
            if request.family not in families:
                raise no_such_family(request.family, region.table)
            value = region.increment(request.row, request.family, request.qualifier,
                                     request.amount, _nonce(request))
            self._check_alive()
            return pb.IncrementResponse(value=value)
        except Exception as e:
            self._fail(context, e)

    def Append(self, request, context):
        self.requests += 1
        try:
            self._check_alive()
            region, _ = self._online.get_with_families(request.region)
            check_row(request.row)
            cells = region.append(request.row, [(c.family, c.qualifier, c.value)
                                                for c in request.cells], _nonce(request))
            self._check_alive()
            return encode_get_response(cells)  # AppendResponse is laid out as GetResponse
        except Exception as e:
            self._fail(context, e)

    def CheckAndMutate(self, request, context):
        self.requests += 1
        try:
            self._check_alive()
            region, families = self._online.get_with_families(request.region)
            row = request.row
            check_row(row)
            if request.family not in families:
                raise no_such_family(request.family, region.table)
            if request.mutation.row and request.mutation.row != row:
                raise InvalidArgumentError(
                    "checkAndMutate: the mutation must be of the checked row")
            rm = request.mutation
            if not rm.row:
                rm = pb.RowMutation(row=row, cells=rm.cells)
            m = mutation_from_pb(rm, region.table, families, self._max_value_bytes)
            expected = None if request.expect_absent else request.expected
            processed = region.check_and_mutate(row, request.family, request.qualifier,
                                                expected, m, _nonce(request))
            self._check_alive()
            return pb.CheckAndMutateResponse(processed=processed)
        except Exception as e:
            self._fail(context, e)

    def Scan(self, request, context):
        self.requests += 1
        scanners = self._scanners
        lease = None
        try:
            self._check_alive()
            if request.scanner_id:
                lease = scanners.lookup(request.scanner_id)
                if request.close:
                    scanners.close(lease.scanner_id)
                    return pb.ScanResponse(scanner_id=lease.scanner_id, more_in_region=False)
            else:
                region, families = self._online.get_with_families(request.region)
                scan = scan_from_pb(request.spec, families, region.table)
                # One batch then done (close) must search until it has it: no heartbeat.
                time_limit = None if request.close else \
                    (request.time_limit_ms / 1000 or DEFAULT_TIME_LIMIT_S)
                lease = scanners.open(request.region, region.scanner(scan, parts=True),
                                      scan.batch, scan.limit, time_limit)
            sid = lease.scanner_id
            if request.close:  # one batch, then done: no prefetch, and say "no more"
                out, _ = scanners.next_batch(
                    lease, request.max_rows, request.max_cells,
                    lambda results, partial, more: encode_scan_response(
                        sid, results, partial, False, lease.scanner.filter_done),
                    prefetch=False)
                scanners.close(sid)
                return out
            out, more = scanners.next_batch(
                lease, request.max_rows, request.max_cells,
                lambda results, partial, more: encode_scan_response(
                    sid, results, partial, more, lease.scanner.filter_done))
            if more and not request.scanner_id and not context.is_active():
                scanners.close(sid)  # its caller left during the open: nobody will close it
            return out
        except Exception as e:
            if lease is not None:  # a scanner that failed once is not resumable
                scanners.close(lease.scanner_id)
            self._fail(context, e)

    # --- region commands (from the master) ----------------------------------------------------
    def OpenRegion(self, request, context):
        try:
            self._check_may_open(request, "OpenRegion")
            self._open_one(request)
            return _EMPTY
        except Exception as e:
            self._fail(context, e)

    def _check_may_open(self, request, method: str) -> None:
        """The checks of an open command: alive, the addressee, the sender, not stopping."""
        self._check_alive()
        self._check_addressee(request.server)
        self._check_sender(request.master, method)
        if self._server.stopping_cleanly:
            raise ServerUnavailableError(
                f"region server {self._server.name} is stopping: open elsewhere")

    def _open_one(self, request) -> None:
        """Open the region `request` (an OpenRegionRequest) names, with its schema."""
        info = region_info_from_pb(request.region)
        table = table_from_pb(request.schema)
        if info.table != table.name:
            raise InvalidArgumentError(
                f"OpenRegion: region {info.name} is of table {info.table!r} but the schema "
                f"is of table {table.name!r}")
        self._online.open(info, table)

    def OpenRegions(self, request, context):
        """OpenRegion for many regions: the checks once, the opens in parallel, one result
        per region in request order (a region that fails to open fails alone). An abort
        (ServerAbortedError) fails the whole call."""
        try:
            self._check_may_open(request, "OpenRegions")
            futures = [self._open_pool.submit(self._open_one, r) for r in request.regions]
            response = pb.OpenRegionsResponse()
            for r, future in zip(request.regions, futures):
                result = response.results.add(region=r.region.name, ok=True)
                error = future.exception()
                if isinstance(error, ServerAbortedError):
                    raise error
                if error is not None:
                    if not isinstance(error, HBaseError):
                        log.error("internal error opening region %s", r.region.name,
                                  exc_info=error)
                    result.ok = False
                    result.error_class = (type(error).__name__ if isinstance(error, HBaseError)
                                          else "HBaseError")
                    result.error_message = bounded_message(
                        str(error) or type(error).__name__)
            self._check_alive()  # aborted meanwhile: the opens are not to be trusted
            return response
        except Exception as e:
            self._fail(context, e)

    def CloseRegion(self, request, context):
        try:
            self._check_alive()
            self._check_addressee(request.server)
            self._check_sender(request.master, "CloseRegion")
            self._online.close(request.region, flush=request.flush)
            return _EMPTY
        except Exception as e:
            self._fail(context, e)

    def FlushRegion(self, request, context):
        try:
            self._check_alive()
            self._online.flush(request.region)
            return _EMPTY
        except Exception as e:
            self._fail(context, e)

    def CompactRegion(self, request, context):
        try:
            self._check_alive()
            self._online.compact(request.region, major=request.major,
                                 family=request.family or None, wait=request.wait)
            return _EMPTY
        except Exception as e:
            self._fail(context, e)

    def SplitRegion(self, request, context):
        try:
            self._check_alive()
            self._check_addressee(request.server)
            self._check_sender(request.master, "SplitRegion")
            left, right = self._online.split(request.region, request.split_key or None)
            return pb.SplitRegionResponse(left=region_info_to_pb(left),
                                          right=region_info_to_pb(right))
        except Exception as e:
            self._fail(context, e)

    def MergeRegions(self, request, context):
        try:
            self._check_alive()
            self._check_addressee(request.server)
            self._check_sender(request.master, "MergeRegions")
            parents = merge_parents_from_pb(request)
            merged = self._online.merge(parents, table_from_pb(request.schema))
            return pb.MergeRegionsResponse(merged=region_info_to_pb(merged))
        except Exception as e:
            self._fail(context, e)

    def SnapshotRegion(self, request, context):
        try:
            self._check_alive()
            self._check_addressee(request.server)
            self._check_sender(request.master, "SnapshotRegion")
            self._online.snapshot(request.region, request.snapshot, request.attempt,
                                  flush=not request.skip_flush)
            return _EMPTY
        except Exception as e:
            self._fail(context, e)

    def GetServerLoad(self, request, context):
        try:
            return self._server.load()
        except Exception as e:
            self._fail(context, e)

    def Stop(self, request, context):
        log.info("Stop RPC received: stopping cleanly")
        self._server.stop_async()
        return _EMPTY
