"""A minihbase cluster made of the project's images, started with testcontainers on a private
Docker network: ZooKeeper, two masters, three region servers, a Thrift gateway, one named data
volume.

Every daemon listens inside its container on the same port it publishes on the host (a free
port picked here), and advertises its network alias; the client on the host cannot resolve
the alias and dials the published port on 127.0.0.1 instead -- the same path a user of the
compose file takes.
"""

from __future__ import annotations

import time
import uuid

import docker
from kazoo.client import KazooClient

from coordination.znodes import OPEN, MasterRecord, Paths, RegionRecord
from minihbase.zookeeper import free_port
from thriftserver.idl import gateway_answers
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

DAEMON_IMAGE = "minihbase:latest"
# docker-compose.yml's: a daemon that aborts is started again; one killed by hand stays dead.
RESTART_POLICY = {"Name": "on-failure"}
ZK_IMAGE = "minihbase-zookeeper:latest"


class DockerCluster:
    def __init__(self, regionservers: int = 3, masters: int = 2, session_timeout: int = 15):
        self.tag = uuid.uuid4().hex[:8]
        self.session_timeout = session_timeout
        self.client = docker.from_env()
        self.network = Network()
        self.volume = f"minihbase-test-data-{self.tag}"
        self.zk_volume = f"minihbase-test-zk-{self.tag}"
        self.zk_port = free_port()
        self.zookeeper: DockerContainer | None = None
        self.masters: dict[str, DockerContainer] = {}
        self.regionservers: dict[str, DockerContainer] = {}
        self.thrift: DockerContainer | None = None
        self.thrift_port = free_port()
        self._n_rs, self._n_masters = regionservers, masters

    @property
    def quorum(self) -> str:
        return f"127.0.0.1:{self.zk_port}"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> "DockerCluster":
        self.network.create()
        self.client.volumes.create(self.volume)
        self.client.volumes.create(self.zk_volume)
        self.zookeeper = (
            DockerContainer(ZK_IMAGE)
            .with_network(self.network)
            .with_network_aliases("zookeeper")
            .with_bind_ports(2181, self.zk_port)
            .with_volume_mapping(self.zk_volume, "/data", "rw")
            .with_name(f"mhb-zk-{self.tag}")
        )
        self.zookeeper.start()
        self.wait_for(self._zk_answers, 60, "ZooKeeper answering")
        for i in range(1, self._n_masters + 1):  # master1 is the primary, the rest --backup
            self._start_daemon("minihbase-master", f"master{i}", self.masters,
                               ["--backup"] if i > 1 else [])
        for i in range(1, self._n_rs + 1):
            self._start_daemon("minihbase-regionserver", f"rs{i}", self.regionservers)
        self.thrift = (
            DockerContainer(DAEMON_IMAGE)
            .with_network(self.network)
            .with_network_aliases("thrift")
            .with_bind_ports(self.thrift_port, self.thrift_port)
            .with_env("MINIHBASE_ZK", "zookeeper:2181")
            .with_command(["minihbase-thrift", "--port", str(self.thrift_port),
                           "--info-port", "-1"])
            .with_name(f"mhb-thrift-{self.tag}")
            .with_kwargs(restart_policy=RESTART_POLICY)
        )
        self.thrift.start()
        self.wait_for(lambda: self.active_master() is not None
                      and len(self.live_servers()) == self._n_rs, timeout, "cluster serving")
        self.wait_for(lambda: gateway_answers("127.0.0.1", self.thrift_port), timeout,
                      "the Thrift gateway answering")
        return self

    def _start_daemon(self, command: str, alias: str, into: dict, extra=()) -> None:
        port, info_port = free_port(), free_port()
        container = (
            DockerContainer(DAEMON_IMAGE)
            .with_network(self.network)
            .with_network_aliases(alias)
            .with_bind_ports(port, port)
            .with_bind_ports(info_port, info_port)
            .with_volume_mapping(self.volume, "/data", "rw")
            .with_env("MINIHBASE_ZK", "zookeeper:2181")
            .with_env("MINIHBASE_ROOTDIR", "/data")
            .with_env("MINIHBASE_BIND", "0.0.0.0")
            .with_command([command, "--advertise", alias, "--port", str(port), "--info-port",
                           str(info_port), "--session-timeout", str(self.session_timeout),
                           *extra])
            .with_name(f"mhb-{alias}-{self.tag}")
            .with_kwargs(restart_policy=RESTART_POLICY)
        )
        container.start()
        into[alias] = container

    def stop(self) -> None:
        for c in [self.thrift, *self.regionservers.values(), *self.masters.values(),
                  self.zookeeper]:
            if c is not None:
                try:
                    # v: the anonymous volume of the image's VOLUME /data goes too
                    c.get_wrapped_container().remove(force=True, v=True)
                except docker.errors.NotFound:
                    pass
        for v in (self.volume, self.zk_volume):
            try:
                self.client.volumes.get(v).remove(force=True)
            except docker.errors.NotFound:
                pass
        try:
            self.network.remove()
        except Exception:  # noqa: BLE001 - best effort cleanup of a test network
            pass

    def containers(self) -> list:
        return [c.get_wrapped_container() for c in
                [self.zookeeper, *self.masters.values(), *self.regionservers.values(),
                 self.thrift]]

    def logs(self) -> str:
        out = []
        for c in self.containers():
            try:
                out.append(f"===== {c.name} =====\n" + c.logs(tail=200).decode(errors="replace"))
            except docker.errors.APIError:
                pass
        return "\n".join(out)

    # --- what the cluster says in ZooKeeper ---------------------------------------------------

    def _zk(self) -> KazooClient:
        zk = KazooClient(hosts=self.quorum, timeout=10)
        zk.start(timeout=10)
        return zk

    def _zk_answers(self) -> bool:
        try:
            self._zk().stop()
            return True
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def active_master(self) -> str | None:
        zk = self._zk()
        try:
            if not zk.exists(Paths().master):
                return None
            return MasterRecord.from_bytes(zk.get(Paths().master)[0]).name
        finally:
            zk.stop()

    def active_master_record(self) -> MasterRecord | None:
        zk = self._zk()
        try:
            if not zk.exists(Paths().master):
                return None
            return MasterRecord.from_bytes(zk.get(Paths().master)[0])
        finally:
            zk.stop()

    def live_servers(self) -> list[str]:
        zk = self._zk()
        try:
            return zk.get_children(Paths().rs) if zk.exists(Paths().rs) else []
        finally:
            zk.stop()

    def regions(self, table: str) -> list[RegionRecord]:
        zk = self._zk()
        try:
            path = Paths().table_meta(table)
            return [RegionRecord.from_bytes(zk.get(f"{path}/{c}")[0])
                    for c in (zk.get_children(path) if zk.exists(path) else [])]
        finally:
            zk.stop()

    def all_open_on_live_servers(self, table: str) -> bool:
        live = set(self.live_servers())
        regions = self.regions(table)
        return bool(regions) and all(r.state == OPEN and r.server in live for r in regions)

    @staticmethod
    def wait_for(predicate, timeout: float, what: str) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if predicate():
                    return time.monotonic() - start
            except Exception:  # noqa: BLE001 - the cluster may be mid-failover
                pass
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
