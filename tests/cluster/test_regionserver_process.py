"""The region server as a real process: clean stop, fenced WAL, ZooKeeper session expiry.

Each test starts `python -m regionserver.main` against a real ZooKeeper and drives it over gRPC.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from coordination.zk import connect
from coordination.znodes import Paths, parse_server_name
from minihbase import errors
from protos import minihbase_pb2 as pb
from storage import layout
from tests.cluster.test_regionserver import call, get_row, multi, open_region, stub_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Daemon:
    def __init__(self, zk_quorum: str, directory, *extra: str, preexec_fn=None):
        self.parent = f"/hbase-{uuid.uuid4().hex[:8]}"
        self.paths = Paths(self.parent)
        self.rootdir = str(directory / "root")
        self.log_path = str(directory / "rs.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "regionserver.main", "--zk", zk_quorum, "--rootdir",
             self.rootdir, "--bind", "127.0.0.1", "--port", "0", "--advertise", "127.0.0.1",
             "--info-port", "-1", "--zk-parent", self.parent, *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        self.zk = connect(zk_quorum)
        self.name = self._wait_registered()
        self.port = parse_server_name(self.name)[1]
        self.stub = stub_for(self.port, self.rootdir)

    def _wait_registered(self, timeout=30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.zk.exists(self.paths.rs):
                children = self.zk.get_children(self.paths.rs)
                if children:
                    return children[0]
            assert self.proc.poll() is None, f"region server died:\n{self.logs()}"
            time.sleep(0.1)
        raise AssertionError(f"region server never registered:\n{self.logs()}")

    def znode_exists(self) -> bool:
        return self.zk.exists(self.paths.live_server(self.name)) is not None

    def logs(self) -> str:
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_exit(self, timeout=40.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"region server did not exit:\n{self.logs()}") from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.zk.stop()
        self.log.close()


@pytest.fixture
def daemon(zookeeper, tmp_path):
    made = []

    def start(*extra, preexec_fn=None):
        d = Daemon(zookeeper.quorum, tmp_path, *extra, preexec_fn=preexec_fn)
        made.append(d)
        return d

    yield start
    for d in made:
        d.close()


def test_sigterm_flushes_regions_and_znode_vanishes_at_once(daemon):
    d = daemon()
    region = open_region(d.stub)
    assert multi(d.stub, region, {b"r": {b"a": b"1"}}).results[0].ok
    assert d.znode_exists()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0, d.logs()
    assert not d.znode_exists()
    region_dir = os.path.join(d.rootdir, "data", "t")
    hfiles = [f for _, _, files in os.walk(region_dir) for f in files
              if f.endswith(layout.HFILE_SUFFIX)]
    assert hfiles, "closing the region must flush its memstore"
    log = d.logs()
    assert "closed region" in log and f"[regionserver {d.name}]" in log


def test_stop_rpc_stops_cleanly(daemon):
    d = daemon()
    open_region(d.stub)
    d.stub.Stop(pb.Empty(), timeout=10)
    assert d.wait_exit() == 0, d.logs()
    assert not d.znode_exists()


def test_fenced_wal_makes_next_write_fail_and_process_exit(daemon):
    d = daemon()
    region = open_region(d.stub)
    assert multi(d.stub, region, {b"r": {b"a": b"1"}}).results[0].ok
    wal = layout.wal_dir(d.rootdir, d.name)
    os.rename(wal, layout.splitting_wal_dir(d.rootdir, d.name))  # what the master does
    err = multi(d.stub, region, {b"s": {b"a": b"2"}})
    assert isinstance(err, errors.WALFencedError), err  # a ServerAbortedError
    assert "fenced" in str(err) and d.name in str(err)
    # From now on nothing is acknowledged, reads included (until the process is gone).
    later = call(d.stub.Get, pb.GetRequest(region=region, row=b"r"))
    assert isinstance(later, (errors.ServerAbortedError, errors.ServerUnavailableError))
    assert d.wait_exit() != 0
    assert not d.znode_exists()
    assert "ABORTING" in d.logs()


def test_expired_session_aborts_the_server(daemon):
    d = daemon("--session-timeout", "4")
    region = open_region(d.stub)
    assert multi(d.stub, region, {b"r": {b"a": b"1"}}).results[0].ok
    d.proc.send_signal(signal.SIGSTOP)  # a long GC pause, as far as ZooKeeper can tell
    try:
        deadline = time.monotonic() + 20
        while d.znode_exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not d.znode_exists(), "ZooKeeper should expire the paused server's session"
    finally:
        d.proc.send_signal(signal.SIGCONT)
    assert d.wait_exit() != 0, d.logs()
    assert "session expired" in d.logs()


def test_the_global_memstore_limit_flushes_regions_that_never_reach_their_flush_size(daemon):
    d = daemon("--flush-size", str(1 << 40), "--global-memstore-size", "200000")
    left = open_region(d.stub, end=b"m", region_id=1)
    right = open_region(d.stub, start=b"m", region_id=2)
    value = b"v" * 1000
    written = {}
    for i in range(60):  # ~10 times the limit, in batches of 10 rows to both regions
        for region, prefix in ((left, b"a"), (right, b"x")):
            rows = {prefix + b"%03d%d" % (i, j): {b"q": value} for j in range(5)}
            response = multi(d.stub, region, rows)
            assert not isinstance(response, Exception), response
            assert all(r.ok for r in response.results)
            written.update({row: region for row in rows})
    log = d.logs()
    assert log.count("low-water mark") >= 4, log  # a flush each time the total reached it
    for region in (left, right):  # (compactions may have merged some of the flushed files)
        region_dir = layout.region_dir_by_name(d.rootdir, "t", region.rsplit(".", 1)[-1])
        assert any(f.endswith(layout.HFILE_SUFFIX) for _, _, files in os.walk(region_dir)
                   for f in files), log
    for row, region in written.items():
        assert get_row(d.stub, region, row) == {b"q": value}


def test_a_low_soft_open_files_limit_is_raised_so_store_files_can_stay_open(daemon):
    """Every store file keeps one descriptor open, so a server started under a soft limit of
    open files (1,024 is common) failed its flushes with EMFILE once its regions held that
    many files. The daemon raises its soft limit to the hard one at start."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1000:
        pytest.skip(f"hard open files limit {hard} leaves nothing to raise")
    d = daemon(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard)))
    regions = [open_region(d.stub, start=b"%02d" % i if i else b"",
                           end=b"%02d" % (i + 1) if i < 59 else b"", region_id=i + 1)
               for i in range(60)]
    for round_ in range(2):  # 120 store files, each held open
        for i, region in enumerate(regions):
            assert all(r.ok for r in multi(d.stub, region, {b"%02d-%d" % (i, round_): {
                b"q": b"v"}}).results)
            flushed = call(d.stub.FlushRegion, pb.RegionRequest(region=region))
            assert not isinstance(flushed, Exception), flushed
    for i, region in enumerate(regions):
        assert get_row(d.stub, region, b"%02d-1" % i) == {b"q": b"v"}
    with open(f"/proc/{d.proc.pid}/limits") as f:
        limit = next(line for line in f if line.startswith("Max open files")).split()
    assert int(limit[3]) >= 1000  # the soft limit, now the hard one
    assert "open files limit raised from 100" in d.logs()


def test_log_file_rolls_and_keeps_only_the_backups_asked_for(daemon, tmp_path):
    """HBase's RollingFileAppender: a daemon that runs for months must not fill the disk with
    its log. Past --log-max-bytes the file is rolled to .1, .2, ... and only --log-backups
    rolled files are kept; nothing goes to stderr besides."""
    log_file = tmp_path / "logs" / "regionserver.log"  # its directory does not exist yet
    d = daemon("--log-file", str(log_file), "--log-max-bytes", "2000", "--log-backups", "2")
    for i in range(40):  # a line per open, and one per close at the stop
        open_region(d.stub, table=f"t{i}")
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0, log_file.read_text()
    files = sorted(os.listdir(log_file.parent))
    assert files == ["regionserver.log", "regionserver.log.1", "regionserver.log.2"], files
    sizes = [os.path.getsize(log_file.parent / f) for f in files]
    assert all(size <= 2000 + 500 for size in sizes), sizes  # 2000 + one line at most
    assert "exiting with code 0" in log_file.read_text()
    assert "closed region" in (log_file.parent / "regionserver.log.1").read_text()
    assert "opened region" not in d.logs(), "every line goes to the file, none to stderr"


def test_a_bad_log_file_flag_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    for extra, expected in (
            (["--log-file", str(tmp_path / "not-a-dir" / "rs.log")], "cannot write --log-file"),
            (["--log-file", str(tmp_path / "rs.log"), "--log-backups", "0"],
             "--log-backups must be at least 1")):
        out = subprocess.run(
            [sys.executable, "-m", "regionserver.main", "--zk", "127.0.0.1:1", "--rootdir",
             str(tmp_path / "root"), "--port", "0", "--info-port", "-1", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr
        assert expected in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_env_vars_configure_the_daemon(zookeeper, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIHBASE_ZK", zookeeper.quorum)
    from regionserver.main import config_from_args, parse_args

    cfg = config_from_args(parse_args(["--rootdir", str(tmp_path), "--port", "0"]))
    assert cfg.zk == zookeeper.quorum and cfg.port == 0 and cfg.session_timeout == 15.0
    monkeypatch.setenv("MINIHBASE_SCANNER_LEASE", "7.5")
    assert config_from_args(parse_args(["--rootdir", "x"])).scanner_lease == 7.5


def test_region_server_started_before_zookeeper_waits_for_it(tmp_path):
    """Daemons and ZooKeeper often start together (docker-compose, every container restarted):
    a region server whose ZooKeeper is not up yet waits for it instead of exiting."""
    from minihbase.zookeeper import ZooKeeperServer, free_port

    port = free_port()
    log_path = tmp_path / "rs.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regionserver.main", "--zk", f"127.0.0.1:{port}", "--rootdir",
             str(tmp_path / "root"), "--bind", "127.0.0.1", "--port", "0", "--advertise",
             "127.0.0.1", "--info-port", "-1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    zookeeper = None
    try:
        time.sleep(12.0)  # longer than a client's 10 s connect timeout: a daemon must wait on
        assert proc.poll() is None, log_path.read_text()
        zookeeper = ZooKeeperServer(str(tmp_path / "zk"), port=port).start()
        zk = connect(zookeeper.quorum)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                    zk.exists(Paths().rs) and zk.get_children(Paths().rs)):
                time.sleep(0.2)
            assert zk.get_children(Paths().rs), log_path.read_text()
        finally:
            zk.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        if zookeeper:
            zookeeper.stop()
