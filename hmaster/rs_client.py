"""The master's gRPC stubs to region servers, one channel per server (see docs/coordination.md).

Addresses come from the live server's znode (/hbase/rs/<name>, ServerRecord.host:port). Every
call has a deadline, so an assignment never hangs on a dead server; errors come back as
minihbase exceptions via protos/status.from_rpc_error.

Every region command that has a `master` field carries this master's name, so a region server
refuses it once another master is active (regionserver/master_fence.py). A refusal
(StaleMasterError) proves this master stale: `on_stale` is called, which aborts it.
"""

from __future__ import annotations

import threading

import grpc

from coordination import meta_reader
from coordination.znodes import Paths
from minihbase.errors import HBaseError, ServerUnavailableError, StaleMasterError
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.limits import DAEMON_MESSAGE_OPTIONS, OPEN_REGIONS_PARALLELISM
from protos.schema import merge_request_to_pb, region_info_from_pb, region_info_to_pb, table_to_pb
from protos.status import error_from_name, from_rpc_error
from storage.schema import RegionInfo, TableDescriptor

OPEN_TIMEOUT_S = 60.0  # an open replays recovered edits, which can take a while
CLOSE_TIMEOUT_S = 60.0  # a close flushes
SHORT_TIMEOUT_S = 10.0
# OpenRegions' deadline at most: what a hung server (its session alive) holds a batch for.
# All a dead server's edits (32 WAL segments of 64 MB at most) replay well within it.
OPEN_REGIONS_MAX_TIMEOUT_S = 300.0


class RegionServerClients:
    def __init__(self, zk, paths: Paths, *, sender: str = "", on_stale=None):
        self.zk = zk
        self.paths = paths
        self.sender = sender  # this master's name (host,port,startcode), set once it is bound
        self.on_stale = on_stale  # called with the refusal when a region server refused us
        self._lock = threading.Lock()
        # guarded by _lock: server name -> (channel, stub)
        self._stubs: dict[str, tuple[grpc.Channel, pb_grpc.RegionServerStub]] = {}

    def stub(self, server: str) -> pb_grpc.RegionServerStub:
        with self._lock:
            if server in self._stubs:
                return self._stubs[server][1]
        rec = meta_reader.read_server(self.zk, server, self.paths)
        if rec is None:
            raise ServerUnavailableError(f"region server {server} is not live (no znode)")
        channel = grpc.insecure_channel(f"{rec.host}:{rec.port}",
                                        options=DAEMON_MESSAGE_OPTIONS)
        stub = pb_grpc.RegionServerStub(channel)
        with self._lock:
            if server in self._stubs:
                channel.close()
                return self._stubs[server][1]
            self._stubs[server] = (channel, stub)
        return stub

    def forget(self, server: str) -> None:
        with self._lock:
            entry = self._stubs.pop(server, None)
        if entry:
            entry[0].close()

    def call(self, server: str, method: str, request, timeout: float = SHORT_TIMEOUT_S):
        if "master" in request.DESCRIPTOR.fields_by_name:
            request.master = self.sender
        stub = self.stub(server)
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except grpc.RpcError as e:
            error = from_rpc_error(e, server)
        if isinstance(error, StaleMasterError) and self.on_stale is not None:
            self.on_stale(error)
        raise error from None

    # --- the commands the master sends -------------------------------------------------------

    def open_region(self, server: str, info: RegionInfo, desc: TableDescriptor) -> None:
        self.call(server, "OpenRegion",
                  pb.OpenRegionRequest(region=region_info_to_pb(info), schema=table_to_pb(desc),
                                       server=server),
                  OPEN_TIMEOUT_S)

    def open_regions(self, server: str, regions: list[tuple[RegionInfo, TableDescriptor]],
                     ) -> list[HBaseError | None]:
        """Open `regions` on `server` in one call; for each, in order, None if it opened or
        the error its open ended with. An error of the whole call (the server gone, this
        master stale) is raised."""
        request = pb.OpenRegionsRequest(server=server)
        schemas = {}
        for info, desc in regions:
            if desc.name not in schemas:
                schemas[desc.name] = table_to_pb(desc)
            request.regions.add(region=region_info_to_pb(info), schema=schemas[desc.name])
        # the server opens OPEN_REGIONS_PARALLELISM at a time: each open keeps the budget
        # an OpenRegion call has, up to a bound
        rounds = -(-len(regions) // OPEN_REGIONS_PARALLELISM)
        timeout = min(OPEN_TIMEOUT_S * max(1, rounds), OPEN_REGIONS_MAX_TIMEOUT_S)
        response = self.call(server, "OpenRegions", request, timeout)
        if len(response.results) != len(regions):
            raise HBaseError(f"region server {server} answered {len(response.results)} "
                             f"results to OpenRegions of {len(regions)} regions")
        return [None if r.ok else error_from_name(r.error_class, r.error_message)
                for r in response.results]

    def close_region(self, server: str, region: str, flush: bool = True) -> None:
        self.call(server, "CloseRegion",
                  pb.CloseRegionRequest(region=region, flush=flush, server=server),
                  CLOSE_TIMEOUT_S)

    def split_region(self, server: str, region: str,
                     split_key: bytes | None) -> tuple[RegionInfo, RegionInfo]:
        r = self.call(server, "SplitRegion",
                      pb.SplitRegionRequest(region=region, split_key=split_key or b"",
                                            server=server),
                      OPEN_TIMEOUT_S)
        return region_info_from_pb(r.left), region_info_from_pb(r.right)

    def merge_regions(self, server: str, parents: list[RegionInfo],
                      desc: TableDescriptor) -> RegionInfo:
        r = self.call(server, "MergeRegions", merge_request_to_pb(parents, desc, server),
                      OPEN_TIMEOUT_S)
        return region_info_from_pb(r.merged)

    def server_load(self, server: str) -> pb.ServerLoad:
        return self.call(server, "GetServerLoad", pb.Empty(), SHORT_TIMEOUT_S)

    def close(self) -> None:
        with self._lock:
            entries, self._stubs = list(self._stubs.values()), {}
        for channel, _ in entries:
            channel.close()
