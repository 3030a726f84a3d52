"""The one table between minihbase's exceptions and gRPC status codes (see docs/rpc.md).

Server side: `abort_with(context, exc)` ends a call with the class's status code, the message,
and the class name in trailing metadata "minihbase-error"; `refusing_malformed` (both daemons'
services go through it) answers a request whose bytes do not parse as its message the same way,
with InvalidArgumentError. Client side: `from_rpc_error(err)`
turns a grpc.RpcError back into the same exception class; a server that is unreachable or went
away mid-call becomes ServerUnavailableError (retryable).
"""

from __future__ import annotations

import grpc

from minihbase import errors

ERROR_METADATA_KEY = "minihbase-error"

STATUS_BY_ERROR: dict[type[errors.HBaseError], grpc.StatusCode] = {
    errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.TableNotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.NoSuchColumnFamilyError: grpc.StatusCode.NOT_FOUND,
    errors.UnknownScannerError: grpc.StatusCode.NOT_FOUND,
    errors.RowTooBigError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TableExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.NamespaceNotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.NamespaceExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.NamespaceNotEmptyError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TableNotDisabledError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.SnapshotNotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.SnapshotExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.SnapshotCreationError: grpc.StatusCode.ABORTED,
    errors.TableNotEnabledError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TableReadOnlyError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.CorruptionError: grpc.StatusCode.DATA_LOSS,
    errors.RegionClosedError: grpc.StatusCode.UNAVAILABLE,
    errors.NotServingRegionError: grpc.StatusCode.UNAVAILABLE,
    errors.RegionOfflineError: grpc.StatusCode.UNAVAILABLE,
    errors.RegionOpenFailedError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ServerUnavailableError: grpc.StatusCode.UNAVAILABLE,
    errors.ServerAbortedError: grpc.StatusCode.UNAVAILABLE,
    errors.MasterNotRunningError: grpc.StatusCode.UNAVAILABLE,
    errors.StaleMasterError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ClockOutOfSyncError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RegionTooBusyError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.CallQueueTooBigError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.OperationTimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.OutcomeUnknownError: grpc.StatusCode.ABORTED,
    errors.OperationNotAllowedError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.QuotaExceededError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ClusterNotFoundError: grpc.StatusCode.NOT_FOUND,
}


def _all_error_classes() -> dict[str, type[errors.HBaseError]]:
    found, todo = {}, [errors.HBaseError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


# A call's message travels in a gRPC header, percent-encoded (up to 3 bytes per byte of UTF-8),
# and a peer refuses headers past 8 KiB (gRPC's soft limit; 16 KiB hard): a message quoting a
# long filter or name would reach the caller as RESOURCE_EXHAUSTED "Stream removed" instead of
# the error. Longer messages keep their head and their end (where the reason usually is).
MAX_MESSAGE_BYTES = 2000


def bounded_message(message: str) -> str:
    data = message.encode()
    if len(data) <= MAX_MESSAGE_BYTES:
        return message
    half = MAX_MESSAGE_BYTES // 2
    head = data[:half].decode(errors="ignore")
    tail = data[-half:].decode(errors="ignore")
    cut = len(message) - len(head) - len(tail)
    return f"{head} [... {cut} characters cut ...] {tail}"


def status_for(exc: BaseException) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def abort_with(context: grpc.ServicerContext, exc: BaseException):
    """End the current call with the status for `exc`. Never returns (context.abort raises)."""
    name = type(exc).__name__ if isinstance(exc, errors.HBaseError) else "HBaseError"
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, errors.HBaseError):
        message = f"internal error: {type(exc).__name__}: {message}"
    context.set_trailing_metadata(((ERROR_METADATA_KEY, name),))
    context.abort(status_for(exc), bounded_message(message))


class _Malformed:
    """What a request parsed by `refusing_malformed` is when its bytes are not its message."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def refusing_malformed(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` (unary) with a request parser that does not raise: a request that is not its
    message (corrupt wire format, a string field that is not UTF-8) ends with
    InvalidArgumentError naming the message type and the flaw. gRPC's own answer to a parser
    that raises is a bare INTERNAL "Exception deserializing request!", and a traceback in the
    daemon's log for every such request."""
    if handler is None or handler.unary_unary is None:
        return handler
    parse, behaviour = handler.request_deserializer, handler.unary_unary

    def tolerant_parse(data: bytes):
        try:
            return parse(data)
        except Exception as e:  # noqa: BLE001 -- protobuf's DecodeError, whatever its parser
            return _Malformed(str(e) or type(e).__name__)

    def checked(request, context):
        if type(request) is _Malformed:
            abort_with(context, errors.InvalidArgumentError(
                f"malformed request: {request.reason}"))
        return behaviour(request, context)

    checked.__name__ = getattr(behaviour, "__name__", "handler")
    return grpc.unary_unary_rpc_method_handler(
        checked, request_deserializer=tolerant_parse,
        response_serializer=handler.response_serializer)


class RefuseMalformedInterceptor(grpc.ServerInterceptor):
    """`refusing_malformed` for every method of a gRPC server (the master's servicer is
    protoc-registered: there is no handler table of ours to wrap)."""

    def __init__(self):
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}  # benign race: same value

    def intercept_service(self, continuation, details):
        out = self._wrapped.get(details.method)
        if out is None:
            out = refusing_malformed(continuation(details))
            if out is not None:
                self._wrapped[details.method] = out
        return out


def error_from_name(name: str, message: str) -> errors.HBaseError:
    """Rebuild an exception from a class name and message (used for per-region multi results)."""
    return _all_error_classes().get(name, errors.HBaseError)(message)


def from_rpc_error(err: grpc.RpcError, target: str = "") -> errors.HBaseError:
    """The exception the server raised, or ServerUnavailableError when none was raised there."""
    name = ""
    for key, value in (err.trailing_metadata() or ()):
        if key == ERROR_METADATA_KEY:
            name = value
    code, details = err.code(), err.details() or ""
    if name:
        return error_from_name(name, details)
    where = f" at {target}" if target else ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN):
        return errors.ServerUnavailableError(f"server{where} unavailable: {details or code.name}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.ServerUnavailableError(f"call to server{where} timed out")
    return errors.HBaseError(f"{code.name}{where}: {details}")
