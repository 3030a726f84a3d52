"""The Thrift gateway daemon's server: HBase's Thrift1 API (thriftserver/handler.py) on a TCP
port, the way `hbase thrift start` serves it (docs/thrift.md).

- One thread per client connection (HBase's default thread-pool server), at most
  `max_connections` at once: one more is closed on arrival, with a warning logged.
- Transport and protocol as HBase's flags choose them: buffered (default) or framed, binary
  (default) or compact; the client must use the same (happybase: transport=, protocol=).
- Every error reaches the caller as a Thrift exception of the method (IOError with
  "ErrorClass: message" and canRetry; IllegalArgument for bad arguments; AlreadyExists for
  createTable), never as a dropped connection; unexpected ones are logged with their
  traceback. A malformed message ends only its own connection.
- Idle connections are kept (HBase drops them after 60 s, a known pain for pooled happybase
  clients); idle scanners are reclaimed after their lease. A connection whose client vanished
  without closing it (its host crashed or rebooted, a NAT forgot it) would be kept forever,
  with its thread, holding one of `max_connections`: TCP keepalive probes a connection silent
  for `keepalive` seconds, and one whose peer does not answer ends.
- The info port answers /health (200 while serving), / (JSON: connections, scanners, calls,
  errors and time by method) and /metrics (Prometheus: the same, latency as a histogram).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

from thriftpy2.protocol import TCompactProtocolFactory, TCyBinaryProtocolFactory
from thriftpy2.thrift import TApplicationException, TProcessor
from thriftpy2.transport import (TCyBufferedTransportFactory, TCyFramedTransportFactory,
                                 TSocket, TTransportException)

from minihbase import metrics
from minihbase.errors import (HBaseError, InvalidArgumentError, NotACounterError,
                              TableExistsError)
from minihbase.info_http import InfoHttpServer, TEXT, json_response
from thriftserver.handler import HbaseHandler
from thriftserver.idl import hbase
from thriftserver.scanners import Scanners

log = logging.getLogger(__name__)

_LEASE_CHECK_S = 5.0
_DRAIN_S = 25.0  # main.py waits 30 s for stop()


@dataclass
class GatewayConfig:
    zk: str
    zk_parent: str = "/hbase"
    bind: str = "0.0.0.0"
    port: int = 9090
    info_port: int = 9095  # -1: none
    framed: bool = False
    compact: bool = False
    max_connections: int = 1000
    scanner_lease: float = 60.0
    keepalive: int = 60  # seconds of silence before a connection's peer is probed; 0 = never
    timeout: float = 60.0  # each client operation's overall timeout, seconds


_KEEPALIVE_PROBES = 6


def _keepalive(sock: socket.socket, idle: int) -> None:
    """TCP keepalive on a client connection: after `idle` s of silence the kernel probes the
    peer, `_KEEPALIVE_PROBES` times `idle` / 6 s apart, so a peer gone for good is noticed
    within about 2 x `idle` s (at once if its host answers with a reset, as after a reboot) and
    the read the connection's thread waits in fails. A live peer's kernel answers the probes,
    however long its application stays idle."""
    if idle <= 0:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; elsewhere the system's defaults apply
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL,
                        max(1, idle // _KEEPALIVE_PROBES))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, _KEEPALIVE_PROBES)


def thrift_error(exc: BaseException, declared: tuple) -> BaseException:
    """The Thrift exception a method answers `exc` with: the most precise one it declares. An
    increment of a non-counter is IOError, not IllegalArgument: HBase's region server refuses
    it with a DoNotRetryIOException ("Field is not a long"), so canRetry is false."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TableExistsError) and hbase.AlreadyExists in declared:
        return hbase.AlreadyExists(message=message)
    if isinstance(exc, (InvalidArgumentError, TypeError, ValueError)) and \
            not isinstance(exc, NotACounterError) and hbase.IllegalArgument in declared:
        return hbase.IllegalArgument(message=message)
    return hbase.IOError(message=message,
                         canRetry=isinstance(exc, HBaseError) and exc.retryable)


def _listen(bind: str, port: int) -> socket.socket:
    """The listening socket. Not SO_REUSEPORT (thriftpy2's own sets it): a second gateway on
    a port in use must fail, not share it."""
    host = bind.strip("[]") or "0.0.0.0"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _shut(sock: socket.socket) -> None:
    """Close a socket another thread may be blocked on (shutdown wakes it; close alone does
    not)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (any more)
    sock.close()


class ThriftProcessor(TProcessor):
    """thriftpy2's processor, answering every error with one of the method's exceptions and
    timing every call by method (`rpc`, as the other daemons' RPC metrics)."""

    def __init__(self, handler):
        super().__init__(hbase.Hbase, handler)
        self.rpc = metrics.RpcMetrics(prefix="minihbase_thrift")
        # api -> its timing wrapper, made once (the label lookups), which runs the call it is
        # handed as the "request"; benign race: two threads may build the same one
        self._timed: dict = {}

    def process_in(self, iprot):
        api, seqid, result, call = super().process_in(iprot)
        if call is None:
            return api, seqid, result, call
        timed = self._timed.get(api)
        if timed is None:
            timed = self._timed[api] = self.rpc.timed(api, lambda run, context: run())
        return api, seqid, result, lambda: timed(call, None)

    def handle_exception(self, e, result) -> bool:
        name = type(result).__name__.removesuffix("_result")
        if isinstance(e, HBaseError):
            log.info("%s failed: %s: %s", name, type(e).__name__, e)
        elif not isinstance(e, (TypeError, ValueError)):
            log.exception("internal error in %s", name)
        declared = tuple(spec[2] for k, spec in result.thrift_spec.items()
                         if spec[1] != "success")
        return super().handle_exception(thrift_error(e, declared), result)


class ThriftGateway:
    """Listens once constructed (port 0 = a free one, `.port`); `serve_forever()` accepts
    until `stop()`. `connection`: a client.Connection to the cluster, owned by the gateway."""

    def __init__(self, config: GatewayConfig, connection):
        self.config = config
        self.connection = connection
        self.scanners = Scanners(lease=config.scanner_lease)
        self.processor = ThriftProcessor(HbaseHandler(connection, self.scanners))
        self._transport = (TCyFramedTransportFactory() if config.framed
                           else TCyBufferedTransportFactory())
        self._protocol = (TCompactProtocolFactory() if config.compact
                          else TCyBinaryProtocolFactory())
        self._socket = _listen(config.bind, config.port)
        self.port = self._socket.getsockname()[1]
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._clients: set = set()  # open client sockets; guarded by _lock
        self.refused = 0  # connections closed over max_connections; guarded by _lock
        self.registry = metrics.new_registry()
        self.registry.register(self.processor.rpc)
        self.registry.register(metrics.ScrapeCollector(self._collect))
        self.info = None
        if config.info_port >= 0:
            self.info = InfoHttpServer(config.bind, config.info_port, [
                ("/health", self._health), ("/metrics", self._metrics), ("/", self._status)],
                name="thrift-info").start()

    @property
    def name(self) -> str:
        return f"{socket.gethostname()},{self.port}"

    def serve_forever(self) -> None:
        threading.Thread(target=self._expire_scanners, name="scanner-leases",
                         daemon=True).start()
        while not self._stopped.is_set():
            try:
                client, _ = self._socket.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                log.warning("accept failed", exc_info=True)
                continue
            with self._lock:
                full = len(self._clients) >= self.config.max_connections
                if full:
                    self.refused += 1
                else:
                    self._clients.add(client)
            if full:
                log.warning("refused a connection: %d open, the maximum (--max-connections)",
                            self.config.max_connections)
                _shut(client)
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _keepalive(client, self.config.keepalive)
            threading.Thread(target=self._serve_client, args=(client,), name="thrift-client",
                             daemon=True).start()

    def _serve_client(self, client: socket.socket) -> None:
        transport = self._transport.get_transport(TSocket(sock=client))
        protocol = self._protocol.get_protocol(transport)
        try:
            while not self._stopped.is_set():
                self.processor.process(protocol, protocol)
        except TTransportException:
            pass  # the client went away
        except (OSError, TApplicationException) as exc:
            log.info("client connection ended: %s: %s", type(exc).__name__, exc)
        except Exception as exc:  # noqa: BLE001 -- a malformed message: end this one only
            log.warning("closed a client connection after a malformed message: %s: %s",
                        type(exc).__name__, exc)
            log.debug("the malformed message's error", exc_info=True)
        finally:
            with self._lock:
                self._clients.discard(client)
            transport.close()

    def _expire_scanners(self) -> None:
        while not self._stopped.wait(_LEASE_CHECK_S):
            try:
                closed = self.scanners.expire()
            except Exception:  # noqa: BLE001 -- a scanner's close failed; keep the chore
                log.warning("closing idle scanners failed", exc_info=True)
                continue
            if closed:
                log.info("closed %d scanner(s) idle for over %gs", closed,
                         self.scanners.lease)

    def stop(self, drain: float = _DRAIN_S) -> None:
        """Stop accepting; end idle connections at once and let a call in flight answer (up
        to `drain` seconds, as HBase's thread-pool server waits for its workers) before the
        scanners and the cluster connection are closed under it."""
        self._stopped.set()
        _shut(self._socket)  # wakes the accept loop (a plain close would not)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:  # wakes a reader waiting for a next call; a call in flight still answers
                client.shutdown(socket.SHUT_RD)
            except OSError:
                pass  # gone already
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline:
            with self._lock:
                if not self._clients:
                    break
            time.sleep(0.05)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _shut(client)
        self.scanners.close_all()
        if self.info is not None:
            self.info.stop()
        self.connection.close()

    # -- info port ---------------------------------------------------------------------------
    def _health(self, rest, query):
        if self._stopped.is_set():
            return 503, TEXT, "stopping\n"
        return 200, TEXT, "ok\n"

    def _doc(self) -> dict:
        with self._lock:
            connections, refused = len(self._clients), self.refused
        return {"server": self.name, "zookeeper": self.config.zk,
                "transport": "framed" if self.config.framed else "buffered",
                "protocol": "compact" if self.config.compact else "binary",
                "connections": connections, "refused_connections": refused,
                "open_scanners": len(self.scanners), "expired_scanners": self.scanners.expired,
                "calls": self.processor.rpc.by_method()}

    def _status(self, rest, query):
        return json_response(self._doc())

    def _metrics(self, rest, query):
        body, ctype = metrics.render(self.registry)
        return 200, ctype, body

    def _collect(self):
        doc = self._doc()
        yield metrics.gauge("minihbase_thrift_connections", "client connections open",
                            doc["connections"])
        yield metrics.counter("minihbase_thrift_refused_connections",
                              "connections closed on arrival: --max-connections were open",
                              doc["refused_connections"])
        yield metrics.gauge("minihbase_thrift_open_scanners", "Thrift scanners open",
                            doc["open_scanners"])
        yield metrics.counter("minihbase_thrift_expired_scanners",
                              "scanners closed after their lease", doc["expired_scanners"])
