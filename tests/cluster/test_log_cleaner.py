"""Archived WAL segments are deleted once older than the TTL (hmaster/log_cleaner.py)."""

from __future__ import annotations

import os
import time

from hmaster.log_cleaner import clean_old_wals
from storage import layout


def archived(rootdir, name: str, age: float) -> str:
    directory = layout.old_wal_dir(rootdir)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(b"x" * 100)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_segments_older_than_the_ttl_are_deleted(tmp_path):
    old = archived(str(tmp_path), "rs,1,1.wal.00000000000000000001", age=700)
    new = archived(str(tmp_path), "rs,1,1.wal.00000000000000000002", age=10)
    assert clean_old_wals(str(tmp_path), ttl=600) == 1
    assert not os.path.exists(old) and os.path.exists(new)
    assert clean_old_wals(str(tmp_path / "none"), ttl=600) == 0  # no oldWALs/ yet


def test_the_active_master_cleans_old_wals_as_a_chore(cluster):
    old = archived(cluster.rootdir, "gone,1,1.wal.00000000000000000007", age=3600)
    new = archived(cluster.rootdir, "gone,1,1.wal.00000000000000000008", age=0)
    deadline = time.monotonic() + 30
    while os.path.exists(old) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(old), "the master's chore should delete a segment past the TTL"
    assert os.path.exists(new)  # 10 minutes (hbase.master.logcleaner.ttl) not reached
