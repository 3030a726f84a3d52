"""Reports this region server's load to the active master, and carries its split requests
(see docs/rpc.md, "Region server -> master").

Every --report-period seconds: read /hbase/master (the active master's MasterRecord), and send
Master.RegionServerReport(ServerLoad). A missing or changing master is normal during fail-over:
the reporter logs the change once and keeps trying; it never blocks the data path. Channels are
cached per master address and replaced when the active master changes, or after the master
could not be reached (so its name is resolved again). A master that refuses this server for its
clock (ClockOutOfSyncError) makes it abort: `on_refused` gets the master's message.
"""

from __future__ import annotations

import logging
import threading

import grpc
from kazoo.exceptions import KazooException, NoNodeError

from coordination.znodes import MasterRecord, Paths
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.limits import DAEMON_MESSAGE_OPTIONS
from minihbase.errors import ClockOutOfSyncError
from protos.status import from_rpc_error

log = logging.getLogger(__name__)


class LoadReporter:
    def __init__(self, zk, paths: Paths, build_load, *, period: float = 1.0,
                 call_timeout: float = 5.0, on_refused=lambda reason: None):
        self._zk = zk
        self._paths = paths
        self._build_load = build_load
        self.period = period
        self.call_timeout = call_timeout
        self._on_refused = on_refused
        self._lock = threading.Lock()
        self._address: str | None = None  # guarded by _lock
        self._channel: grpc.Channel | None = None  # guarded by _lock
        self._stub: pb_grpc.MasterStub | None = None  # guarded by _lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_problem = ""
        self.reports_sent = 0

    def start(self) -> "LoadReporter":
        self._thread = threading.Thread(target=self._loop, name="load-reporter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.call_timeout + 1)
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = self._address = None

    # --- master address ----------------------------------------------------------------------
    def _master_stub(self) -> pb_grpc.MasterStub | None:
        try:
            data, _ = self._zk.get(self._paths.master)
        except NoNodeError:
            self._problem("no active master yet (no /master znode)")
            return None
        rec = MasterRecord.from_bytes(data)
        address = f"{rec.host}:{rec.port}"
        with self._lock:
            if address != self._address:
                log.info("reporting to active master %s at %s", rec.name, address)
                self._drop_channel()
                self._address = address
            if self._channel is None:
                self._channel = grpc.insecure_channel(address, options=DAEMON_MESSAGE_OPTIONS)
                self._stub = pb_grpc.MasterStub(self._channel)
            return self._stub

    def _drop_channel(self) -> None:  # with self._lock held
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None

    def _redial(self) -> None:
        """After the master was unreachable: the next call opens a new channel, resolving the
        master's name again. A restarted master container may have another IP (in compose,
        the two masters' IPs swap when they start in the other order) and the old channel
        would keep dialling the old one until gRPC re-resolves, 30 s or more later."""
        with self._lock:
            self._drop_channel()

    def _problem(self, what: str) -> None:
        if what != self._last_problem:  # log each distinct problem once, not every period
            log.warning("load report: %s", what)
            self._last_problem = what

    # --- calls -------------------------------------------------------------------------------
    def report_once(self) -> bool:
        try:
            stub = self._master_stub()
            if stub is None:
                return False
            stub.RegionServerReport(pb.RegionServerReportRequest(load=self._build_load()),
                                    timeout=self.call_timeout)
        except grpc.RpcError as e:
            error = from_rpc_error(e, self._address or "")
            if isinstance(error, ClockOutOfSyncError):
                self._on_refused(str(error))
                return False
            self._problem(f"master at {self._address}: {error}")
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                self._redial()
            return False
        except KazooException as e:
            self._problem(f"ZooKeeper: {type(e).__name__}")
            return False
        if self._last_problem:
            log.info("load report: master reachable again")
            self._last_problem = ""
        self.reports_sent += 1
        return True

    def request_split(self, region: str, split_key: bytes = b"") -> bool:
        """Ask the master to split `region` (it decides, then calls SplitRegion on us)."""
        try:
            stub = self._master_stub()
            if stub is None:
                return False
            stub.RequestSplit(pb.RequestSplitRequest(region=region, split_key=split_key),
                              timeout=self.call_timeout)
            return True
        except grpc.RpcError as e:
            log.warning("split request for %s failed: %s", region,
                        from_rpc_error(e, self._address or ""))
        except KazooException as e:
            log.warning("split request for %s failed: ZooKeeper %s", region, type(e).__name__)
        return False

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.report_once()
            except Exception:
                log.exception("load report failed")
