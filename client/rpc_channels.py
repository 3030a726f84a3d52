"""One gRPC channel per server address, shared by every table and thread of a Connection.

HBase keeps one connection per region server; so do we: channels and stubs are created once
per "host:port" and reused for every call (creating a channel per call would cost a TCP and
HTTP/2 handshake each time, the main thing that separates a client from a bare echo server on
the benchmark). The channel of a region server whose znode vanished (crashed or stopped) is
closed with `forget(address)`: Connection watches /hbase/rs, so a long-lived client does not keep
one channel per server incarnation it ever saw.

Advertised names that do not resolve here (a region server in Docker advertising its service
name `rs1` to a client on the host) are dialled at `fallback_host` instead, with the same port:
the host where the client reached ZooKeeper, where compose publishes every daemon's port
unchanged (see docs/docker.md). Inside Docker a stopped container's name does not resolve
either, so a channel opened then dials the fallback; a master that cannot be reached is
therefore dialled anew with `redial(address)` (region servers' channels go with their znodes).

Once the pool is closed (Connection.close()), no channel is opened again, and a call that
found its stub just before the close learns so from `check_open()`: gRPC itself raises a
ValueError ("Cannot invoke RPC on closed channel!"), which callers turn into the
ConnectionClosedError it means. The same ValueError while the pool is open means `forget`
closed the channel under a caller still holding its stub (a scan between two batches, a call
racing the znode watch): the server left, so `closed_channel` makes it the retryable
ServerUnavailableError of any call to a server that went away (nothing was sent).
"""

from __future__ import annotations

import socket
import threading

import grpc

from client.location_cache import CLOSED
from minihbase.errors import ConnectionClosedError, ServerUnavailableError
from protos import minihbase_pb2_grpc as pb_grpc

# gRPC's ValueError for a call on a closed channel reads "Cannot invoke RPC on closed
# channel!" or (a future's) "Cannot invoke RPC: Channel closed!"
CLOSED_CHANNEL = "cannot invoke rpc"

# Values may be up to --max-value-bytes (10 MiB) and scans return up to ~1000 rows at once.
_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # Fail calls to a dead address quickly rather than queueing them for reconnect forever.
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


class _Endpoint:
    __slots__ = ("channel", "region_server", "master")

    def __init__(self, address: str):
        self.channel = grpc.insecure_channel(address, options=_OPTIONS)
        self.region_server = pb_grpc.RegionServerStub(self.channel)
        self.master = pb_grpc.MasterStub(self.channel)


def dialable(address: str, fallback_host: str | None) -> str:
    """`address` if its host resolves, else the same port on `fallback_host`."""
    host, _, port = address.rpartition(":")
    if not fallback_host or not host:
        return address
    try:
        socket.getaddrinfo(host.strip("[]"), None)
        return address
    except socket.gaierror:
        return f"{fallback_host}:{port}"


class ChannelPool:
    """Thread-safe. Lookups of existing endpoints take no lock (a dict read is atomic)."""

    def __init__(self, fallback_host: str | None = None):
        self._endpoints: dict[str, _Endpoint] = {}  # writes guarded by self._lock
        self._lock = threading.Lock()
        self._fallback_host = fallback_host
        self.closed = False

    def check_open(self) -> None:
        """ConnectionClosedError once the pool is closed: what a call that failed with gRPC's
        closed-channel ValueError raises instead (`except ValueError: check_open(); raise`)."""
        if self.closed:
            raise ConnectionClosedError(CLOSED) from None

    def closed_channel(self, address: str, error: ValueError) -> ServerUnavailableError:
        """The error for a call that failed with `error`, a ValueError: any other than gRPC's
        closed-channel one (a request that cannot be built) is raised again; ConnectionClosed
        Error once the pool is closed; otherwise returns the retryable error of a server that
        left (its channel was forgotten and closed as its znode went: a stop, a crash, or a
        rolling restart bringing it back on the same address)."""
        if CLOSED_CHANNEL not in str(error).lower():
            raise error
        self.check_open()
        return ServerUnavailableError(f"server at {address} unavailable: it left the "
                                      "cluster (its channel was closed)")

    def _endpoint(self, address: str) -> _Endpoint:
        ep = self._endpoints.get(address)
        if ep is None:
            with self._lock:
                self.check_open()
                ep = self._endpoints.get(address)
                if ep is None:
                    target = dialable(address, self._fallback_host)
                    ep = self._endpoints[address] = _Endpoint(target)
        return ep

    def region_server(self, address: str) -> pb_grpc.RegionServerStub:
        return self._endpoint(address).region_server

    def master(self, address: str) -> pb_grpc.MasterStub:
        return self._endpoint(address).master

    def addresses(self) -> list[str]:
        """The addresses with an open channel."""
        return sorted(self._endpoints)

    def redial(self, address: str) -> None:
        """The next call to `address` opens a new channel, resolving its name again: a name
        that did not resolve when the channel was opened (a stopped container's, so the
        channel dials the fallback host) or resolved to a previous container's IP may now
        lead to the server. The old channel is not closed under calls still using it; it
        goes when the last of them lets go of it."""
        with self._lock:
            self._endpoints.pop(address, None)

    def forget(self, address: str) -> None:
        with self._lock:
            ep = self._endpoints.pop(address, None)
        if ep is not None:
            ep.channel.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for ep in endpoints:
            ep.channel.close()
