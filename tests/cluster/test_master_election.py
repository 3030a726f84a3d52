"""Master election and failover, with real `python -m hmaster.main` processes and a real
ZooKeeper (see docs/coordination.md, "Master failover")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import pytest

from coordination import zk as zk_mod
from coordination.znodes import MasterRecord, Paths
from minihbase.errors import MasterNotRunningError
from protos import minihbase_pb2 as pb
from protos.status import from_rpc_error
from minihbase.zookeeper import free_port
from tests.cluster.conftest import new_chroot, wait_for
from tests.cluster.master_fakes import REPO, MasterProcess

SESSION = 4.0  # short but real session timeout (ZooKeeper's floor with tickTime 2000)


@pytest.fixture
def quorum(zookeeper):
    return new_chroot(zookeeper.quorum)


@pytest.fixture
def masters(quorum, tmp_path):
    made = []

    def make(**kw):
        kw.setdefault("session_timeout", SESSION)
        m = MasterProcess(quorum, str(tmp_path / "root"), str(tmp_path), **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.kill()
        m.channel.close()


def _status(m: MasterProcess) -> pb.ClusterStatus:
    return m.stub.GetClusterStatus(pb.Empty(), timeout=2)


def _active_name(quorum) -> str:
    zk = zk_mod.connect(quorum, session_timeout=10.0)
    try:
        return MasterRecord.from_bytes(zk.get(Paths().master)[0]).name
    finally:
        zk.stop()
        zk.close()


def test_backup_answers_master_not_running_and_registers_itself(masters, quorum):
    a = masters()
    wait_for(lambda: _status(a).active_master, 30, "first master active")
    b = masters()
    wait_for(lambda: len(_status(a).backup_masters) == 1, 30, "backup registered")
    assert _status(a).backup_masters[0].split(",")[1] == str(b.port)
    with pytest.raises(grpc.RpcError) as err:
        b.stub.ListTables(pb.Empty(), timeout=5)
    exc = from_rpc_error(err.value)
    assert isinstance(exc, MasterNotRunningError)
    assert "not the active master" in str(exc) and str(a.port) in str(exc)


def test_a_second_master_on_a_taken_port_fails_instead_of_sharing_it(masters, quorum):
    first = masters()
    wait_for(lambda: _status(first).active_master, 30, "the first master to serve")
    second = masters(port=first.port)  # as a supervisor restarting a lingering master would
    assert second.proc.wait(30) != 0
    assert "cannot bind" in second.log()
    assert f",{first.port}," in _active_name(quorum)
    assert not _status(first).backup_masters  # the second never registered


def test_backup_takes_over_within_session_timeout_after_sigkill(masters, quorum):
    a = masters()
    wait_for(lambda: _status(a).active_master, 30, "first master active")
    a.stub.CreateTable(pb.CreateTableRequest(schema=pb.TableSchema(
        name="survives", families=[pb.FamilySchema(name="cf")])), timeout=10)
    b = masters()
    wait_for(lambda: len(_status(a).backup_masters) == 1, 30, "backup registered")
    killed = time.monotonic()
    a.kill(signal.SIGKILL)
    wait_for(lambda: _status(b).active_master.split(",")[1] == str(b.port), SESSION + 8,
             "backup to become active")
    took = time.monotonic() - killed
    assert took <= SESSION + 3, f"takeover took {took:.1f}s with a {SESSION}s session"
    # the new master rebuilt its state from ZooKeeper
    names = [t.schema.name for t in b.stub.ListTables(pb.Empty(), timeout=5).tables]
    assert names == ["survives"]
    assert _status(b).backup_masters == []


def _cli(quorum: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "client.cli", "--zk", quorum, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_admin_command_during_master_failover_says_why_then_waits_for_the_backup(masters,
                                                                                 quorum):
    """SIGKILL the active master: until its session expires ZooKeeper still names it, and
    every call is refused. A command whose timeout ends first says so -- which master is down,
    that a backup takes over once its session expires, which backup -- not only gRPC's
    "connection refused"; one given time enough waits and is answered by the backup."""
    a = masters(session_timeout=10.0)  # a wide window to run the first command in
    wait_for(lambda: _status(a).active_master, 30, "first master active")
    dead = _status(a).active_master
    b = masters()
    wait_for(lambda: len(_status(a).backup_masters) == 1, 30, "backup registered")
    backup = _status(a).backup_masters[0]
    a.kill(signal.SIGKILL)
    killed = time.monotonic()

    short = _cli(quorum, "--timeout", "2", "status")
    assert time.monotonic() - killed < 10, "the session expired before the command ran"
    assert short.returncode == 1 and "Traceback" not in short.stderr, short.stderr
    message = short.stderr.strip()
    assert message.startswith(f"ERROR: status: the active master {dead} does not answer at "
                              f"127.0.0.1:{a.port} (connection refused)"), message
    assert "until its session expires" in message and backup in message, message
    assert "gave up after" in message and "operation timeout 2s" in message, message

    waited = _cli(quorum, "--timeout", "30", "status")
    assert waited.returncode == 0, waited.stderr
    assert f"active master: {backup}" in waited.stdout, waited.stdout
    assert f",{b.port}," in backup


def test_a_master_restarted_on_its_own_address_takes_over_its_old_znode_at_once(masters,
                                                                                 quorum):
    """HBase's ActiveMasterManager: /hbase/master naming this master's own host and port (an
    older startcode) is its previous incarnation -- it cannot be running, the port is ours
    now -- so the restarted master deletes it instead of waiting out the old session (a
    docker-compose restart with ZooKeeper restarting too kept a cluster masterless 16 s)."""
    a = masters(session_timeout=30.0)
    wait_for(lambda: _status(a).active_master, 30, "first master active")
    old = _status(a).active_master
    a.kill(signal.SIGKILL)  # its session lives on for 30 s
    restarted = time.monotonic()
    b = masters(port=a.port, session_timeout=30.0)
    wait_for(lambda: _status(b).active_master not in ("", old), 15, "the restart to be active")
    assert time.monotonic() - restarted < 10, "it waited for the old session to expire"
    assert "previous incarnation" in b.log()


def test_sigterm_hands_over_at_once(masters, quorum):
    a = masters()
    wait_for(lambda: _status(a).active_master, 30, "first master active")
    b = masters()
    wait_for(lambda: len(_status(a).backup_masters) == 1, 30, "backup registered")
    stopped = time.monotonic()
    a.kill(signal.SIGTERM)
    assert a.proc.returncode == 0
    wait_for(lambda: _status(b).active_master.split(",")[1] == str(b.port), 5, "takeover")
    assert time.monotonic() - stopped < SESSION, "clean stop must not wait for session expiry"
    assert "stopped" in a.log()


def test_flags_come_from_environment_and_every_log_line_names_the_master(quorum, tmp_path):
    port = free_port()
    env = dict(os.environ, MINIHBASE_ZK=quorum, MINIHBASE_ROOTDIR=str(tmp_path / "r"),
               MINIHBASE_PORT=str(port), MINIHBASE_INFO_PORT="-1",
               MINIHBASE_ADVERTISE="127.0.0.1", MINIHBASE_SESSION_TIMEOUT="4")
    proc = subprocess.Popen([sys.executable, "-m", "hmaster.main"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _active_name(quorum).split(",")[1] == str(port), 30, "active via env")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines and all(f"[master 127.0.0.1,{port}," in line or "(starting)" in line
                         for line in lines), out


def test_master_whose_session_expires_gives_up_at_once(quorum, tmp_path):
    """Fencing the master: after its session expired a backup may be active, so the old one
    must stop (the daemon exits 3) instead of writing meta with a fresh session."""
    import threading

    from kazoo.client import KazooClient

    from hmaster.server import MasterConfig, MasterServer

    lost = threading.Event()
    reconnected_first = []

    def on_lost():
        # what the daemon does here is exit; meanwhile kazoo must not have opened a new
        # session, on which another thread of this master could still write meta
        time.sleep(1.0)
        reconnected_first.append(m.zk.connected)
        lost.set()

    m = MasterServer(MasterConfig(zk=quorum, rootdir=str(tmp_path / "r"), bind="127.0.0.1",
                                  port=0, advertise="127.0.0.1", info_port=-1,
                                  session_timeout=SESSION), on_session_lost=on_lost).start()
    try:
        wait_for(m.recovered.is_set, 30, "active")
        # the classic way to expire a session: a second client with the same id, then close it
        twin = KazooClient(hosts=quorum, client_id=m.zk.client_id)
        twin.start(10)
        twin.stop()
        twin.close()
        assert lost.wait(SESSION + 10), "the master did not notice its session expired"
        assert reconnected_first == [False], "a new session opened before the master gave up"
        assert wait_for(lambda: _no_master(quorum), 10, "/hbase/master gone")
    finally:
        m.stop(0)


def _no_master(quorum) -> bool:
    zk = zk_mod.connect(quorum, session_timeout=10.0)
    try:
        return zk.exists(Paths().master) is None
    finally:
        zk.stop()
        zk.close()


def test_backup_flag_waits_for_a_primary_then_takes_over_when_it_stops(quorum, masters):
    """HBase's --backup: a master started first but flagged as backup does not become active on
    its own; the primary started after it wins, and the backup takes over when it stops."""
    backup = masters(extra=["--backup"])
    wait_for(lambda: "registered as backup master" in backup.log(), 20, "backup registered")
    time.sleep(2.0)
    assert "became the active master" not in backup.log()
    with pytest.raises(grpc.RpcError) as err:
        _status(backup)
    assert isinstance(from_rpc_error(err.value), MasterNotRunningError)

    primary = masters()
    wait_for(lambda: "became the active master" in primary.log(), 20, "primary active")
    assert f",{primary.port}," in _active_name(quorum)
    primary.stop()  # clean stop: /hbase/master vanishes at once
    wait_for(lambda: "became the active master" in backup.log(), 20, "backup took over")
    assert f",{backup.port}," in _active_name(quorum)
