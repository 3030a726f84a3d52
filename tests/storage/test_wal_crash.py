"""Crash test of the WAL: a real child process appends and syncs from several threads, printing
each acknowledged seqid; we SIGKILL it at a random moment, then every acknowledged record must
be readable by read_wal_dir (and the log must read cleanly: a torn tail at most).
See docs/storage-wal.md."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from storage import layout
from storage.wal import read_wal_dir

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = textwrap.dedent("""
    import random, sys, threading
    from storage.cell import Cell, CellType
    from storage.wal import WAL

    wal_dir, seed = sys.argv[1], int(sys.argv[2])
    wal = WAL(wal_dir, segment_bytes=8192)  # tiny segments: rolls happen during the run
    out = threading.Lock()
    region = "t1,,1700000000000.0123456789abcdef0123456789abcdef"

    def writer(k):
        rnd = random.Random(seed * 100 + k)
        seqid = k * 10_000_000
        while True:
            batch = []
            for _ in range(rnd.choice((1, 1, 2, 5, 20))):
                seqid += 1
                value = bytes([k]) * rnd.randrange(0, 300)
                batch.append((region, seqid, [Cell(b"row-%d" % seqid, b"cf", b"q", seqid,
                                                   CellType.PUT, value)]))
            wal.sync(wal.append_batch(batch))
            with out:  # acknowledged: only now may anybody learn of these seqids
                sys.stdout.write("".join("%d\\n" % s for _, s, _ in batch))
                sys.stdout.flush()

    print("ready", flush=True)
    threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_acknowledged_record_survives_sigkill(tmp_path, seed):
    rnd = random.Random(seed)
    wal_dir = layout.wal_dir(str(tmp_path), "host,16020,1")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    child = subprocess.Popen([sys.executable, "-c", CHILD, wal_dir, str(seed)], cwd=REPO_ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
        time.sleep(rnd.uniform(0.05, 0.6))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        # Not communicate(): it would skip what readline() above buffered in child.stdout.
        out, err = child.stdout.read(), child.stderr.read()
    assert child.returncode == -signal.SIGKILL, err.decode()

    # A line cut short by the kill was never fully printed: not an acknowledgement.
    lines = out.split(b"\n")[:-1]
    acknowledged = {int(line) for line in lines}
    assert acknowledged, "the child acknowledged nothing before it was killed"

    logged = [entry.seqid for entry in read_wal_dir(wal_dir)]
    assert len(logged) == len(set(logged))
    missing = acknowledged - set(logged)
    assert not missing, f"seed {seed}: {len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    # Per writer thread, the log holds a gap-free prefix of its seqids.
    by_thread: dict[int, list[int]] = {}
    for s in logged:
        by_thread.setdefault(s // 10_000_000, []).append(s)
    for k, seqids in by_thread.items():
        assert seqids == list(range(k * 10_000_000 + 1, k * 10_000_000 + 1 + len(seqids)))
