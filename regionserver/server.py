"""The region server's lifecycle: start, clean stop, abort (see docs/rpc.md, "Lifecycle").

Start: bind the gRPC port (the real port goes into the server name host,port,startcode), open
this server's one WAL at storage.layout.wal_dir(rootdir, name), start serving, then register the
ephemeral znode /hbase/rs/<name> (ServerRecord) -- the master may assign regions as soon as it
sees the znode, so the server is already listening by then. Background: the load reporter, the
region chore (flushes, WAL-driven flushes, split requests), the scanner-lease reaper, and the
info HTTP server.

Clean stop (SIGTERM or the Stop RPC): stop reporting, close every region WITH a flush (so
nothing needs the WAL afterwards), close the WAL, then close the ZooKeeper session so the znode
vanishes at once and the master reassigns immediately instead of after the session timeout.

Abort (ZooKeeper session LOST, or the WAL fenced/failed): from the moment `abort()` is called
every data call fails with ServerAbortedError -- nothing more is acknowledged. Regions are not
flushed (the master splits the WAL); the session is closed; the process exits non-zero.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
from kazoo.client import KazooState
from kazoo.exceptions import NodeExistsError

from coordination import zk as zk_mod
from minihbase.errors import ServerAbortedError
from minihbase.memory import HeapTrimmer
from coordination.znodes import DEFAULT_PARENT, Paths, ServerRecord, server_name
from protos import minihbase_pb2 as pb
from protos.limits import MAX_MESSAGE_BYTES
from regionserver.data_service import RegionServerService, add_to_server
from regionserver.freeze_guard import FreezeGuard
from regionserver.load_reporter import LoadReporter
from regionserver.master_fence import MasterFence
from regionserver.memstore_flusher import MemstoreFlusher
from regionserver.online_regions import OnlineRegions
from regionserver.scanners import ScannerRegistry
from storage import layout

log = logging.getLogger(__name__)

# The gRPC server's options; bench/cluster.py gives its echo baseline the same ones.
GRPC_SERVER_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                       ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                       ("grpc.so_reuseport", 0)]


@dataclass
class ServerConfig:
    zk: str
    rootdir: str
    bind: str = "0.0.0.0"
    port: int = 16020
    advertise: str = ""  # "" = this machine's host name
    info_port: int = 16030  # -1 = no info server; 0 = any free port
    zk_parent: str = DEFAULT_PARENT
    session_timeout: float = 15.0
    flush_size: int = 128 << 20
    global_memstore_size: int = 1 << 30  # all regions' memstores together (memstore_flusher)
    split_size: int = 10 << 30
    max_value_bytes: int = 10 << 20
    max_row_bytes: int = 128 << 20  # of one row a Get may read (hbase.table.max.rowsize)
    # bytes of Multi requests handled at once (hbase.ipc.server.max.callqueue.size)
    max_call_queue_bytes: int = 128 << 20
    block_cache_bytes: int = 64 << 20
    scanner_lease: float = 60.0
    report_period: float = 1.0
    handler_threads: int = 24
    max_wal_segments: int = 32
    wal_segment_bytes: int = 64 << 20
    wal_roll_period: float = 3600.0  # roll a segment this old (hbase.regionserver.logroll.period)
    periodic_flush_interval: float = 3600.0  # flush edits this old (optionalcacheflushinterval)
    chore_period: float = 1.0
    trim_period: float = 30.0  # seconds between returns of freed heap to the OS; 0 = never


class RegionServer:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.name = "(starting)"
        self.port = 0
        self.startcode = 0
        self.abort_reason: str | None = None  # set once; read lock-free by every data call
        self._lock = threading.Lock()
        self._stopping = False  # guarded by _lock: a clean stop (or abort) is under way
        self._done = threading.Event()
        self.exit_code: int | None = None
        self._threads_stop = threading.Event()
        self.zk = self.wal = self.block_cache = self.grpc_server = None
        self.online = self.scanners = self.reporter = self.service = self.info_server = None
        self.flusher = None
        self.master_fence: MasterFence | None = None  # set once the ZooKeeper session is open
        # data calls check it from the start; it ticks once the server is registered
        self.freeze_guard = FreezeGuard(config.session_timeout, self.abort)
        self.trimmer = HeapTrimmer(config.trim_period)
        self._started_at = time.monotonic()
        self._last_rate = (time.monotonic(), 0)  # guarded by _rate_lock
        self._rate_lock = threading.Lock()

    # --- start -------------------------------------------------------------------------------
    def start(self) -> "RegionServer":
        from storage.block_cache import BlockCache
        from storage.config import RegionConfig
        from storage.wal import WAL

        cfg = self.config
        self.grpc_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=cfg.handler_threads,
                                       thread_name_prefix="rpc"),
            options=GRPC_SERVER_OPTIONS)
        bind = f"[{cfg.bind}]" if ":" in cfg.bind else cfg.bind
        self.port = self.grpc_server.add_insecure_port(f"{bind}:{cfg.port}")
        if not self.port:
            raise OSError(f"cannot listen on {cfg.bind}:{cfg.port}")
        self.startcode = int(time.time() * 1000)
        host = cfg.advertise or socket.gethostname()
        self.host = host
        self.name = server_name(host, self.port, self.startcode)

        self.wal = WAL(layout.wal_dir(cfg.rootdir, self.name),
                       archive_dir=layout.old_wal_dir(cfg.rootdir),
                       segment_bytes=cfg.wal_segment_bytes)
        self.block_cache = BlockCache(cfg.block_cache_bytes)
        self.scanners = ScannerRegistry(cfg.scanner_lease).start()
        self.flusher = MemstoreFlusher(lambda: self.online.regions(), cfg.global_memstore_size,
                                       stopped=self._threads_stop, on_fenced=self.abort).start()
        region_config = RegionConfig(flush_size=cfg.flush_size, split_size=cfg.split_size,
                                     max_value_bytes=cfg.max_value_bytes,
                                     max_row_bytes=cfg.max_row_bytes,
                                     memstore_room=self.flusher.room)
        self.online = OnlineRegions(cfg.rootdir, wal=self.wal, block_cache=self.block_cache,
                                    region_config=region_config, server_name=self.name,
                                    scanners=self.scanners, request_split=self._request_split,
                                    max_wal_segments=cfg.max_wal_segments, abort=self.abort,
                                    periodic_flush_interval=cfg.periodic_flush_interval,
                                    wal_roll_period=cfg.wal_roll_period)
        self.service = RegionServerService(self)
        add_to_server(self.service, self.grpc_server)
        self.grpc_server.start()
        log.info("serving on %s:%d as %s (WAL %s)", cfg.bind, self.port, self.name,
                 self.wal.directory)

        if cfg.info_port >= 0:
            try:
                from regionserver.web import InfoServer
                self.info_server = InfoServer(self, cfg.bind, cfg.info_port).start()
            except OSError as e:  # the web UI is a convenience; serving data is not optional
                log.warning("info server not started on port %d: %s", cfg.info_port, e)

        self.zk = zk_mod.connect(cfg.zk, session_timeout=cfg.session_timeout,
                                 connect_timeout=zk_mod.DAEMON_CONNECT_TIMEOUT_S)
        self.zk.add_listener(self._zk_state)
        paths = Paths(cfg.zk_parent)
        self.paths = paths
        self.master_fence = MasterFence(self.zk, paths, self.name)
        self.zk.ensure_path(paths.rs)
        record = ServerRecord(name=self.name, host=host, port=self.port,
                              info_port=self.info_server.port if self.info_server else 0)
        try:
            self.zk.create(paths.live_server(self.name), record.to_bytes(), ephemeral=True)
        except NodeExistsError:  # same name = same process retrying; never another server's
            self.zk.set(paths.live_server(self.name), record.to_bytes())
        log.info("registered %s (session timeout %.1f s)", paths.live_server(self.name),
                 cfg.session_timeout)

        self.reporter = LoadReporter(self.zk, paths, self.load, period=cfg.report_period,
                                     on_refused=self.abort).start()
        self.freeze_guard.start(self.zk, paths.live_server(self.name), self.name,
                                self._threads_stop)
        threading.Thread(target=self._chore_loop, name="region-chore", daemon=True).start()
        return self

    # --- background --------------------------------------------------------------------------
    def _request_split(self, region: str, split_key: bytes) -> None:
        if self.reporter is not None:
            self.reporter.request_split(region, split_key)

    def _chore_loop(self) -> None:
        while not self._threads_stop.wait(self.config.chore_period):
            if self.abort_reason is not None:
                return
            try:
                self.online.chore()
                self.trimmer.maybe_trim()
            except Exception as e:
                if isinstance(e, ServerAbortedError):  # WAL fenced during a flush or sync
                    if not self.stopping_cleanly:  # else: the WAL was closed by the stop
                        self.abort(str(e))
                    return
                log.exception("region chore failed")

    def _zk_state(self, state) -> None:
        # Runs on kazoo's event thread: never block here.
        if state == KazooState.LOST:
            if not self._stopping:
                threading.Thread(target=self.abort, args=(
                    "ZooKeeper session expired (the master may already have declared this "
                    "server dead)",), daemon=True).start()
        elif state == KazooState.SUSPENDED:
            log.warning("ZooKeeper connection lost; session may expire")
        else:
            log.info("ZooKeeper connection state %s", state)

    def load(self) -> pb.ServerLoad:
        built_ms = int(time.time() * 1000)  # before the regions are read: see built_ms
        regions = []
        online = self.online
        states = online.states()
        for name, region in online.items():
            regions.append(pb.RegionLoad(
                region=name, table=region.info.table, memstore_bytes=region.memstore_size(),
                store_bytes=region.store_size(), store_files=region.store_file_count(),
                read_requests=region.read_requests, write_requests=region.write_requests,
                state=states.get(name, "OPEN"), compaction_state=region.compaction_state()))
        open_names = {r.region for r in regions}
        for name, state in states.items():
            if name not in open_names:
                regions.append(pb.RegionLoad(region=name, table=name.split(",", 1)[0],
                                             state=state))
        with self._rate_lock:  # the reporter, GetServerLoad and /status.json all call load()
            now = time.monotonic()
            then, count = self._last_rate
            total = self.service.requests if self.service else 0
            rate = (total - count) / (now - then) if now > then else 0.0
            self._last_rate = (now, total)
        bc = self.block_cache
        return pb.ServerLoad(
            server=self.name, regions=regions, wal_bytes=self.wal.size_bytes(),
            wal_segments=self.wal.segment_count(), requests_per_second=rate,
            block_cache_hits=getattr(bc, "hits", 0), block_cache_misses=getattr(bc, "misses", 0),
            info_port=self.info_server.port if self.info_server else 0, built_ms=built_ms)

    # --- stop and abort -----------------------------------------------------------------------
    @property
    def stopping_cleanly(self) -> bool:
        return self._stopping and self.abort_reason is None

    def stop_async(self) -> None:
        threading.Thread(target=self.stop, name="stop", daemon=True).start()

    def stop(self) -> None:
        """Clean stop: close regions with a flush, then end the ZooKeeper session."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        log.info("stopping cleanly: closing %d regions with flush", len(self.online or ()))
        self._threads_stop.set()
        if self.reporter is not None:
            self.reporter.stop()
        if self.online is not None:
            self.online.close_all(flush=True)
        if self.scanners is not None:
            self.scanners.stop()
        if self.wal is not None:
            try:
                self.wal.close()
            except Exception as e:
                log.warning("closing the WAL failed: %s", e)
        self._close_zk()
        self._stop_rpc(grace=1.0)
        log.info("stopped")
        self._finish(0 if self.abort_reason is None else 1)

    def abort(self, reason: str) -> None:
        """Stop acknowledging at once, then tear down without flushing and exit non-zero."""
        with self._lock:
            if self.abort_reason is not None or self._done.is_set():
                return
            self.abort_reason = reason  # from here on every data call fails
            already_stopping = self._stopping
            self._stopping = True
        log.error("ABORTING region server %s: %s", self.name, reason)
        if already_stopping:
            return  # the clean stop in progress finishes the job (exit code 1)
        threading.Thread(target=self._abort_teardown, name="abort", daemon=True).start()

    def _abort_teardown(self) -> None:
        self._threads_stop.set()
        if self.reporter is not None:
            self.reporter.stop()
        if self.scanners is not None:
            self.scanners.stop()
        self._close_zk()
        self._stop_rpc(grace=0.5)
        self._finish(1)

    def _close_zk(self) -> None:
        if self.zk is None:
            return
        try:
            self.zk.stop()  # closes the session: the ephemeral znode goes with it
            self.zk.close()
        except Exception as e:
            log.warning("closing the ZooKeeper session failed: %s", e)

    def _stop_rpc(self, grace: float) -> None:
        if self.info_server is not None:
            self.info_server.stop()
        if self.grpc_server is not None:
            self.grpc_server.stop(grace).wait(grace + 1)

    def _finish(self, code: int) -> None:
        self.exit_code = code
        self._done.set()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the server stopped or aborted; returns the exit code (None: timeout)."""
        self._done.wait(timeout)
        return self.exit_code
