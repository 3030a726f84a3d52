"""ServerManager (hmaster/server_manager.py) against a real ZooKeeper: which load reports the
master keeps."""

from __future__ import annotations

import pytest

from coordination.zk import connect
from coordination.znodes import Paths
from hmaster.meta import MetaStore
from hmaster.server_manager import ServerManager
from protos import minihbase_pb2 as pb
from tests.cluster.conftest import new_chroot, wait_for


@pytest.fixture
def zk(zookeeper):
    client = connect(new_chroot(zookeeper.quorum), session_timeout=10.0)
    yield client
    client.stop()
    client.close()


def test_only_registered_servers_reports_are_kept_and_a_leaver_s_is_dropped(zk):
    """Reports from names that never registered (a rogue or confused caller) were kept for
    good, one entry per name; a server that left kept its last report too."""
    paths = Paths()
    meta = MetaStore(zk, paths)
    meta.ensure_layout()
    live, rogue = "rs1,16020,1", "nobody,1,1"
    zk.create(paths.live_server(live), b"{}", ephemeral=True)
    servers = ServerManager(zk, paths, meta)
    assert servers.start() == {live}
    try:
        for name in (live, rogue):
            servers.report(pb.ServerLoad(server=name, built_ms=1))
        assert servers.load(live) is not None
        assert servers.load(rogue) is None
        zk.delete(paths.live_server(live))
        wait_for(lambda: live not in servers.live(), 10, "the watch to see rs1 leave")
        assert servers.load(live) is None
    finally:
        servers.stop()
