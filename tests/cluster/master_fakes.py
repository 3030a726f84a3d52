"""Test doubles and helpers for the master's tests (tests/cluster/test_master*.py).

FakeRegionServer speaks the RegionServer gRPC contract and registers the ephemeral
/hbase/rs/<name> znode with its own ZooKeeper session, exactly as a real region server does, but
keeps no data: it records which regions the master opened and closed. That keeps the master's
tests about the master (assignment, crash handling, balancing, splits) and fast; the real
multi-process scenarios live in test_integration_*.py.

MasterProcess runs `python -m hmaster.main` as a real subprocess with its log in a file.
The ZooKeeper chroot and waiting helpers they share with the other tests are in conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc

from coordination import zk as zk_mod
from coordination.znodes import Paths, ServerRecord, server_name
from protos.schema import (merge_parents_from_pb, region_info_from_pb, region_info_to_pb,
                           table_from_pb)
from minihbase.errors import NotServingRegionError, ServerUnavailableError
from minihbase.zookeeper import free_port
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.status import abort_with
from storage import layout
from storage.region import write_region_info
from storage.schema import RegionInfo, TableDescriptor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class FakeRegionServer(pb_grpc.RegionServerServicer):
    def __init__(self, quorum: str, *, open_delay: float = 0.0, fail_opens: bool = False,
                 port: int = 0, rootdir: str | None = None):
        self.quorum = quorum
        self.rootdir = rootdir  # set: a split or merge writes the new regions' directories
        self.open_delay = open_delay
        self.fail_opens = fail_opens
        # start keys of regions whose next open fails (each once: the key is then removed,
        # so a set two servers share fails the first server the region is sent to)
        self.fail_open_keys: set[bytes] = set()
        self.open_calls: list[int] = []  # guarded by lock: regions of each OpenRegions call
        # set: region commands answer ServerUnavailableError, as from a hung server's deadline
        self.unreachable = False
        self.close_calls = 0  # guarded by lock: CloseRegion calls received
        self.lock = threading.Lock()
        self.regions: dict[str, RegionInfo] = {}  # guarded by lock: open regions by name
        self.opened: list[str] = []  # guarded by lock: every OpenRegion, in order
        self.schemas: dict[str, TableDescriptor] = {}  # guarded by lock: each region's last
        self.closed: list[str] = []  # guarded by lock
        self.merges: list[pb.MergeRegionsRequest] = []  # guarded by lock: as received
        self.split_gate: threading.Event | None = None  # SplitRegion waits for it when set
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_RegionServerServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.name = server_name("127.0.0.1", self.port, int(time.time() * 1000))
        self.zk = None

    def start(self) -> "FakeRegionServer":
        self.server.start()
        self.zk = zk_mod.connect(self.quorum, session_timeout=4.0)
        rec = ServerRecord(self.name, "127.0.0.1", self.port)
        self.zk.create(Paths().live_server(self.name), rec.to_bytes(), ephemeral=True,
                       makepath=True)
        return self

    def stop(self) -> None:
        """Like a clean stop or a crash noticed at once: znode gone, RPCs refused."""
        self.server.stop(0)
        if self.zk:
            self.zk.stop()
            self.zk.close()
            self.zk = None

    def open_names(self) -> set[str]:
        with self.lock:
            return set(self.regions)

    # --- RegionServer contract (the master's commands) --------------------------------------

    def OpenRegion(self, request, context):
        if self.open_delay:
            time.sleep(self.open_delay)
        info = region_info_from_pb(request.region)
        self._refuse_if_unreachable(context)
        if self.fail_opens or _fails_once(self.fail_open_keys, info.start_key):
            abort_with(context, OSError(f"cannot open {info.name}"))
        with self.lock:
            self.regions[info.name] = info
            self.opened.append(info.name)
            self.schemas[info.name] = table_from_pb(request.schema)
        return pb.Empty()

    def OpenRegions(self, request, context):
        """Every region opened at once (open_delay once, as a real server opens them in
        parallel), each answering for itself."""
        if self.open_delay:
            time.sleep(self.open_delay)
        with self.lock:
            self.open_calls.append(len(request.regions))
        self._refuse_if_unreachable(context)
        response = pb.OpenRegionsResponse()
        for r in request.regions:
            info = region_info_from_pb(r.region)
            if self.fail_opens or _fails_once(self.fail_open_keys, info.start_key):
                response.results.add(region=info.name, ok=False, error_class="HBaseError",
                                     error_message=f"internal error: OSError: cannot open "
                                                   f"{info.name}")
                continue
            with self.lock:
                self.regions[info.name] = info
                self.opened.append(info.name)
                self.schemas[info.name] = table_from_pb(r.schema)
            response.results.add(region=info.name, ok=True)
        return response

    def _refuse_if_unreachable(self, context) -> None:
        if self.unreachable:
            abort_with(context, ServerUnavailableError(f"call to server at {self.name} timed out"))

    def CloseRegion(self, request, context):
        with self.lock:
            self.close_calls += 1
        self._refuse_if_unreachable(context)
        with self.lock:
            if request.region not in self.regions:
                abort_with(context, NotServingRegionError(f"{request.region} not here"))
            del self.regions[request.region]
            self.closed.append(request.region)
        return pb.Empty()

    def FlushRegion(self, request, context):
        return pb.Empty()

    def CompactRegion(self, request, context):
        return pb.Empty()

    def vanish(self) -> None:
        """Only the ZooKeeper session ends (the master declares the server dead); gRPC keeps
        answering, like a paused server that wakes up after its session expired."""
        if self.zk:
            self.zk.stop()
            self.zk.close()
            self.zk = None

    def SplitRegion(self, request, context):
        if self.split_gate is not None:
            self.split_gate.wait(30)
        with self.lock:
            info = self.regions.pop(request.region, None)
        if info is None:
            abort_with(context, NotServingRegionError(f"{request.region} not here"))
        key = bytes(request.split_key) or _midpoint(info)
        rid = info.region_id + 1
        left = RegionInfo(info.table, info.start_key, key, rid)
        right = RegionInfo(info.table, key, info.end_key, rid)
        self._write_dirs(left, right)
        return pb.SplitRegionResponse(left=region_info_to_pb(left), right=region_info_to_pb(right))

    def MergeRegions(self, request, context):
        with self.lock:
            self.merges.append(request)
        parents = merge_parents_from_pb(request)
        merged = RegionInfo(parents[0].table, parents[0].start_key, parents[-1].end_key,
                            max(p.region_id for p in parents) + 1)
        self._write_dirs(merged)
        return pb.MergeRegionsResponse(merged=region_info_to_pb(merged))

    def _write_dirs(self, *infos: RegionInfo) -> None:
        """What a real server's split or merge leaves: the new regions' directories, each
        with its .regioninfo."""
        for info in infos if self.rootdir else ():
            path = layout.region_dir(self.rootdir, info)
            os.makedirs(path, exist_ok=True)
            write_region_info(layout.region_info_path(path), info)

    def GetServerLoad(self, request, context):
        with self.lock:
            names = sorted(self.regions)
        return pb.ServerLoad(server=self.name, regions=[
            pb.RegionLoad(region=n, table=n.split(",")[0], state="OPEN") for n in names])


class MasterProcess:
    """`python -m hmaster.main` as a real process."""

    def __init__(self, quorum: str, rootdir: str, log_dir: str, *, session_timeout: float = 4.0,
                 balancer_period: float = 300.0, extra: list[str] | None = None,
                 port: int | None = None):
        self.port = port or free_port()
        self.log_path = os.path.join(log_dir, f"master-{self.port}.log")
        args = [sys.executable, "-m", "hmaster.main", "--zk", quorum, "--rootdir", rootdir,
                "--port", str(self.port), "--info-port", "0", "--advertise", "127.0.0.1",
                "--bind", "127.0.0.1", "--session-timeout", str(session_timeout),
                "--balancer-period", str(balancer_period)] + (extra or [])
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = pb_grpc.MasterStub(self.channel)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        self.channel.close()


def _fails_once(keys: set[bytes], key: bytes) -> bool:
    try:
        keys.remove(key)
    except KeyError:
        return False
    return True


def _midpoint(info: RegionInfo) -> bytes:
    """Where this fake splits a region when no key is given: at "m" if the region holds it
    (not as its start), else just after its start key."""
    inside = info.contains_row(b"m") and info.start_key != b"m"
    return b"m" if inside else info.start_key + b"\x00"
