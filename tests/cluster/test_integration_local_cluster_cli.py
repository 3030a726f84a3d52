"""The one-command local cluster itself: `python -m minihbase.local_cluster start` brings up
ZooKeeper, two masters, three region servers and a Thrift gateway as detached processes and
prints how to connect; `status` sees them from another process; `stop` ends every one of them cleanly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

from minihbase.local_cluster import REPO_ROOT, _pid_runs

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "minihbase.local_cluster", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_start_status_stop_from_the_command_line(tmp_path):
    directory = str(tmp_path / "local")
    started = run_cli("start", "--dir", directory, "--free-ports")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        out = started.stdout
        quorum = re.search(r"ZooKeeper quorum : (\S+)", out).group(1)
        assert "client.Connection" in out and "stop --dir" in out

        state = json.load(open(os.path.join(directory, "cluster.json")))
        roles = sorted(d["role"] for d in state["daemons"])
        assert roles == ["master"] * 2 + ["regionserver"] * 3 + ["thrift"]
        status = run_cli("status", "--dir", directory)
        assert status.returncode == 0, status.stdout
        assert "active master" in status.stdout

        # The cluster serves a client started from yet another process.
        session = subprocess.run(
            [sys.executable, "-m", "client.cli", "--zk", quorum, "create", "clit", "cf"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert session.returncode == 0, session.stderr
        put = subprocess.run(
            [sys.executable, "-m", "client.cli", "--zk", quorum, "put", "clit", "r1", "cf:q",
             "hello"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert put.returncode == 0, put.stderr
        get = subprocess.run(
            [sys.executable, "-m", "client.cli", "--zk", quorum, "get", "clit", "r1"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert get.returncode == 0 and "hello" in get.stdout, get.stdout + get.stderr
        # ... and happybase, through the Thrift gateway it printed
        import happybase

        thrift_port = int(re.search(r"thrift  : 127\.0\.0\.1:(\d+)", out).group(1))
        hb = happybase.Connection("127.0.0.1", thrift_port)
        assert hb.table("clit").row(b"r1") == {b"cf:q": b"hello"}
        hb.close()

        # A second start from the same directory is refused while the first runs.
        again = run_cli("start", "--dir", directory, "--free-ports")
        assert again.returncode != 0 and "already runs" in again.stderr
    finally:
        stopped = run_cli("stop", "--dir", directory)
    assert stopped.returncode == 0, stopped.stderr
    time.sleep(0.2)
    for d in state["daemons"]:
        assert not _pid_runs(d["pid"], d["argv"]), f"{d['role']}-{d['index']} still runs"
    # Region servers stop cleanly (exit 0 after closing their regions), and every daemon log
    # line names the server it came from.
    for d in state["daemons"]:
        text = open(d["log_path"]).read()
        if d["role"] == "regionserver":
            assert "exiting with code 0" in text, text[-2000:]
        for line in text.splitlines():
            if LOG_LINE.match(line):
                assert f"[{d['role']} " in line, f"log line does not name the server: {line}"
    assert run_cli("status", "--dir", directory).returncode == 1


def test_rolling_restart_restarts_every_daemon_while_a_client_reads_and_writes(tmp_path):
    """HBase's bin/rolling-restart.sh: `rolling-restart` stops and starts the masters (backup
    first), then each region server, on their own ports; a client writing and reading all the
    while sees no error, and every row it was told was written is there afterwards."""
    import threading

    import client

    directory = str(tmp_path / "rolling")
    started = run_cli("start", "--dir", directory, "--free-ports", "--thrift-servers", "0")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        quorum = re.search(r"ZooKeeper quorum : (\S+)", started.stdout).group(1)
        before = json.load(open(os.path.join(directory, "cluster.json")))["daemons"]
        conn = client.Connection(quorum, timeout=30)
        conn.create_table("roll", {"cf": {}}, split_keys=[b"3", b"6"])
        t = conn.table("roll")
        written, errors, stop = [], [], threading.Event()

        def work():
            for i in range(100_000):
                if stop.is_set():
                    return
                row = b"%d-%05d" % (i % 10, i)
                try:
                    t.put(row, {b"cf:q": row})
                    written.append(row)
                    assert t.row(written[i // 2]) == {b"cf:q": written[i // 2]}
                except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
                    errors.append(exc)
                time.sleep(0.01)

        worker = threading.Thread(target=work)
        worker.start()
        try:
            rolled = run_cli("rolling-restart", "--dir", directory, timeout=300)
        finally:
            stop.set()
            worker.join(60)
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        assert rolled.stdout.count("serves again") == 5, rolled.stdout
        assert errors == []
        after = json.load(open(os.path.join(directory, "cluster.json")))["daemons"]
        assert [(d["role"], d["port"]) for d in after] == [(d["role"], d["port"]) for d in before]
        assert all(a["pid"] != b["pid"] and _pid_runs(a["pid"], a["argv"])
                   for a, b in zip(after, before))
        assert len(written) > 100
        assert {k for k, _ in t.scan()} == set(written)
        conn.close()
        assert run_cli("status", "--dir", directory).returncode == 0
    finally:
        stopped = run_cli("stop", "--dir", directory)
    assert stopped.returncode == 0, stopped.stderr
