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


def test_joined_server_whose_first_report_is_skewed_is_refused_an_earlier_one_only_logged(zk):
    """The master reads a joining server's clock from its first report when it could not ask
    it directly: too far off, it is refused (never online, every report answered with
    ClockOutOfSyncError); a server already registered when the master started is not."""
    import time

    from minihbase.errors import ClockOutOfSyncError
    paths = Paths()
    meta = MetaStore(zk, paths)
    meta.ensure_layout()
    earlier, joined, close = "rs1,16020,1", "rs2,16020,2", "rs3,16020,3"
    zk.create(paths.live_server(earlier), b"{}", ephemeral=True)
    servers = ServerManager(zk, paths, meta)
    servers.start()
    try:
        for name in (joined, close):
            zk.create(paths.live_server(name), b"{}", ephemeral=True)
        wait_for(lambda: {joined, close} <= servers.live(), 10, "the watch to see rs2, rs3")
        now_ms = int(time.time() * 1000)
        servers.report(pb.ServerLoad(server=earlier, built_ms=now_ms + 600_000))
        servers.report(pb.ServerLoad(server=close, built_ms=now_ms + 15_000))
        for _ in range(2):
            with pytest.raises(ClockOutOfSyncError, match=r"rs2,16020,2 refused: its clock read "
                               r".*600\.0 s ahead of master .*--max-clock-skew 30 s"):
                servers.report(pb.ServerLoad(server=joined, built_ms=now_ms + 600_000))
        assert servers.online() == [earlier, close]
        assert servers.load(joined) is None and servers.load(earlier) is not None
    finally:
        servers.stop()


def test_joined_server_is_not_online_until_its_clock_is_checked(zk):
    """While the master was still reading a joining server's clock, the server was already
    online: an assignment running meanwhile (another join's, a create, a crash's) could give a
    region to a server about to be refused for its clock."""
    import time

    paths = Paths()
    meta = MetaStore(zk, paths)
    meta.ensure_layout()
    servers = ServerManager(zk, paths, meta)
    servers.start()
    try:
        joined = "rs1,16020,1"
        zk.create(paths.live_server(joined), b"{}", ephemeral=True)
        wait_for(lambda: joined in servers.live(), 10, "the watch to see rs1 join")
        assert servers.online() == []
        now_ms = int(time.time() * 1000)
        servers.check_clock(joined, now_ms, now_ms, now_ms)
        assert servers.online() == [joined]
    finally:
        servers.stop()


def test_joined_server_that_does_not_tell_its_time_is_accepted(zk):
    """A load without built_ms (0: a server that does not send its time) read as a clock 55
    years behind: the server was refused."""
    paths = Paths()
    meta = MetaStore(zk, paths)
    meta.ensure_layout()
    servers = ServerManager(zk, paths, meta)
    servers.start()
    try:
        joined = "rs1,16020,1"
        zk.create(paths.live_server(joined), b"{}", ephemeral=True)
        wait_for(lambda: joined in servers.live(), 10, "the watch to see rs1 join")
        servers.report(pb.ServerLoad(server=joined))
        assert servers.online() == [joined]
    finally:
        servers.stop()
