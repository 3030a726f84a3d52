"""The consistency check (hmaster/hbck.py) on a real ZooKeeper and file system: what it
reports, and that its cleaner deletes only old orphaned region directories, never a region
meta names, one a reference reads, or a table meta does not know. Then end to end against real
daemons: the Hbck RPC, the CLI and the shell."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from coordination import zk as zk_mod
from coordination.znodes import (FAILED_OPEN, OPEN, OPENING, SPLITTING, Paths, RegionRecord,
                                 TableRecord)
from hmaster import hbck
from hmaster.assignment import KeyedLocks
from hmaster.meta import MetaStore
from storage import layout
from storage.region import write_region_info
from storage.region_split import Reference
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.cluster.conftest import new_chroot, stop_cluster

SERVER = "h,1,1"
LATER = 10_000.0  # seconds after the directories were written: past SETTLE_S and any grace


@pytest.fixture
def meta(zookeeper):
    zk = zk_mod.connect(new_chroot(zookeeper.quorum), session_timeout=10.0)
    m = MetaStore(zk, Paths())
    m.ensure_layout()
    yield m
    zk.stop()
    zk.close()


def _table(meta, rootdir, name: str, bounds: list[tuple[bytes, bytes]], region_id: int = 1,
           state: str = OPEN) -> list[RegionRecord]:
    """A table in meta with regions `bounds`, each with its directory and .regioninfo."""
    recs = [RegionRecord(RegionInfo(name, s, e, region_id), state, SERVER) for s, e in bounds]
    meta.create_table(TableRecord(TableDescriptor(name, (FamilyDescriptor(b"cf"),))), recs)
    for r in recs:
        _region_dir(rootdir, r.info)
    return recs


def _region_dir(rootdir: str, info: RegionInfo) -> str:
    path = layout.region_dir(rootdir, info)
    os.makedirs(os.path.join(path, "cf"))
    write_region_info(layout.region_info_path(path), info)
    with open(os.path.join(path, "cf", layout.hfile_name(1)), "wb") as f:
        f.write(b"x" * 100)
    return path


def _kinds(problems) -> list[tuple[str, str]]:
    return sorted((p.kind, p.region) for p in problems)


def test_a_consistent_cluster_has_no_problems(meta, tmp_path):
    rootdir = str(tmp_path)
    _table(meta, rootdir, "ok", [(b"", b"g"), (b"g", b"p"), (b"p", b"")])
    assert hbck.check(meta, {SERVER}, rootdir, now=time.time() + LATER) == ([], 0)


def test_holes_and_overlaps_in_meta_are_reported_with_their_keys():
    def chain(bounds):
        return [(p.kind, p.detail) for p in hbck._chain_problems(
            "t", [RegionInfo("t", s, e, i) for i, (s, e) in enumerate(bounds)])]

    assert chain([(b"", b"g"), (b"g", b"")]) == []
    assert chain([(b"", b"g"), (b"k", b"")]) == [("HOLE", "no region covers keys ['g', 'k')")]
    assert chain([(b"a", b"g"), (b"g", b"p")]) == [
        ("HOLE", "no region covers keys ['', 'a')"),
        ("HOLE", "no region covers keys ['p', end of table)")]
    (kind, detail), = chain([(b"", b"k"), (b"g", b"")])
    assert kind == "OVERLAP" and "both cover keys from 'g'" in detail
    assert [k for k, _ in chain([(b"", b""), (b"", b"g")])] == ["OVERLAP"]
    assert chain([]) == [("HOLE", "no region covers keys ['', end of table)")]


def test_region_problems_open_without_directory_bad_regioninfo_unknown_server_stuck(
        meta, tmp_path):
    rootdir = str(tmp_path)
    recs = _table(meta, rootdir, "bad", [(b"", b"g"), (b"g", b"p"), (b"p", b"")])
    os.rename(layout.region_dir(rootdir, recs[0].info), str(tmp_path / "moved-away"))
    write_region_info(layout.region_info_path(layout.region_dir(rootdir, recs[1].info)),
                      recs[2].info)  # names another region
    now = time.time() + LATER
    problems, _ = hbck.check(meta, {SERVER}, rootdir, now=now)
    assert _kinds(problems) == [("BAD_REGIONINFO", recs[1].info.encoded_name),
                                ("MISSING_REGION_DIR", recs[0].info.encoded_name)]
    # The same regions seen by a master whose live servers do not include theirs, and one
    # region that has been OPENING for longer than STUCK_S.
    meta.set_region(recs[2], OPENING, server=SERVER)
    problems, _ = hbck.check(meta, {"other,1,1"}, rootdir, now=time.time() + hbck.STUCK_S + 5)
    assert ("UNKNOWN_SERVER", recs[1].info.encoded_name) in _kinds(problems)
    (stuck,) = [p for p in problems if p.kind == "STUCK_IN_TRANSITION"]
    assert stuck.region == recs[2].info.encoded_name and "OPENING" in stuck.detail
    # The master writes a region's directory before meta names it, so a region in any state
    # without one has lost its data (region servers refuse to open it: FAILED_OPEN).
    (fresh,) = _table(meta, rootdir, "fresh", [(b"", b"")], state=FAILED_OPEN)
    os.rename(layout.table_dir(rootdir, "fresh"), str(tmp_path / "fresh-away"))
    assert [(p.kind, p.region) for p in hbck.check(meta, {SERVER}, rootdir)[0]
            if p.table == "fresh"] == [("MISSING_REGION_DIR", fresh.info.encoded_name)]


def test_orphans_are_reported_once_settled_and_only_old_region_dirs_are_deleted(meta, tmp_path):
    rootdir = str(tmp_path)
    recs = _table(meta, rootdir, "t", [(b"", b"m"), (b"m", b"")], region_id=5)
    orphan = _region_dir(rootdir, RegionInfo("t", b"", b"m", 7))           # a failed clone's
    referenced = _region_dir(rootdir, RegionInfo("t", b"", b"", 6))         # a split parent
    in_journal = _region_dir(rootdir, RegionInfo("t", b"a", b"b", 9))
    creating = _region_dir(rootdir, RegionInfo("t", b"", b"m", 8)) + hbck.CREATING_SUFFIX
    os.rename(creating.removesuffix(hbck.CREATING_SUFFIX), creating)
    stale = _region_dir(rootdir, RegionInfo("t", b"", b"", 2))  # an earlier table "t"'s
    ref = Reference(os.path.relpath(os.path.join(referenced, "cf", layout.hfile_name(1)),
                                    rootdir), "bottom", None, b"m", "parent")
    ref_path = os.path.join(layout.region_dir(rootdir, recs[0].info), "cf",
                            layout.reference_name(2))
    with open(ref_path, "wb") as f:
        f.write(ref.encode())
    meta.commit([meta.journal_op("j", {"kind": "split", "table": "t", "step": "CLEANUP",
                                       "parents": [],
                                       "children": [RegionInfo("t", b"a", b"b", 9).to_dict()]},
                                 create=True)])
    os.makedirs(os.path.join(rootdir, layout.DATA, "gone_table", "abc", "cf"))

    # Just written: operations in flight, too new to judge. Counted, not reported.
    assert hbck.check(meta, {SERVER}, rootdir) == ([], 4)
    later = time.time() + LATER
    problems, too_new = hbck.check(meta, {SERVER}, rootdir, now=later)
    assert too_new == 0
    assert _kinds(problems) == sorted([("ORPHAN_REGION_DIR", os.path.basename(orphan)),
                                       ("ORPHAN_REGION_DIR", os.path.basename(creating)),
                                       ("ORPHAN_REGION_DIR", os.path.basename(stale)),
                                       ("ORPHAN_TABLE_DIR", "gone_table")])
    assert all(p.bytes > 100 and p.age_s >= LATER - 60 for p in problems
               if p.kind == "ORPHAN_REGION_DIR")
    # A file also linked elsewhere (a snapshot's, a clone's) would not be freed: not counted.
    (shared,) = [p for p in problems if p.path == orphan]
    hfile = os.path.join(orphan, "cf", layout.hfile_name(1))
    os.link(hfile, str(tmp_path / "snapshot-link"))
    problems, _ = hbck.check(meta, {SERVER}, rootdir, now=later)
    assert [p.bytes for p in problems if p.path == orphan] == [
        shared.bytes - os.path.getsize(hfile)]
    assert sorted(p.path for p in problems if p.cleanable) == sorted([orphan, creating])
    (old,) = [p for p in problems if p.path == stale]
    assert "older than table t" in old.detail and "left in place" in old.detail

    seen = {p.path: LATER for p in problems}  # seconds the master has seen each orphaned

    locks = KeyedLocks()
    free = locks.try_hold  # TableDDL.try_table_lock's
    assert hbck.remove_orphans(meta, problems, LATER * 2, seen, free) == []  # untouched < grace
    assert hbck.remove_orphans(meta, problems, 600, {}, free) == []  # seen orphaned < grace
    with locks.hold("t"):  # the table's DDL lock is held (a restore writing its regions): skipped
        assert hbck.remove_orphans(meta, problems, 600, seen, free) == []
    # A split between its region server's work and its meta update: its journal does not name
    # the daughters yet, so nothing of the table is deleted.
    meta.commit([meta.journal_op("k", {"kind": "split", "table": "t", "step": SPLITTING,
                                       "parents": [], "children": []}, create=True)])
    assert not any(p.cleanable for p in hbck.check(meta, {SERVER}, rootdir, now=later)[0])
    assert hbck.remove_orphans(meta, problems, 600, seen, free) == []
    meta.delete_journal("k")
    # Named by meta after the check (read again before deleting): kept.
    late = RegionRecord(RegionInfo("t", b"", b"m", 7))
    meta.commit([meta.create_region_op(late)])
    assert [p.path for p in hbck.remove_orphans(meta, problems, 600, seen, free)] == [creating]
    meta.commit([meta.delete_region_op(late)])
    assert [p.path for p in hbck.remove_orphans(meta, problems, 600, seen, free)] == [orphan]
    assert not os.path.exists(orphan) and not os.path.exists(creating)
    for kept in (referenced, in_journal, stale, os.path.join(rootdir, layout.DATA, "gone_table"),
                 *(layout.region_dir(rootdir, r.info) for r in recs)):
        assert os.path.isdir(kept), kept
    assert _kinds(hbck.check(meta, {SERVER}, rootdir, now=later)[0]) == [
        ("ORPHAN_REGION_DIR", os.path.basename(stale)), ("ORPHAN_TABLE_DIR", "gone_table")]

    # A damaged reference could point anywhere: the table's orphans are kept until it is fixed.
    with open(ref_path, "r+b") as f:
        f.write(b"junk")
    os.rename(in_journal, orphan)
    problems, _ = hbck.check(meta, {SERVER}, rootdir, now=later)
    assert _kinds(problems) == [("BAD_REFERENCE", ""), ("ORPHAN_TABLE_DIR", "gone_table")]
    assert ref_path in problems[0].detail
    assert hbck.remove_orphans(meta, problems, 600, seen, free) == [] and os.path.isdir(orphan)


def test_stale_snapshot_attempts_are_reported_and_deleted_unless_a_call_owns_them(meta,
                                                                                tmp_path):
    """A region server still linking a region's files for a snapshot attempt the master gave
    up recreates the attempt's directory under .hbase-snapshot/.tmp after the master removed
    it; a delete cut short leaves `<name>.deleting`. Their hard links hold the space of files
    the table has since compacted away: reported, and deleted once old enough, but never the
    directory of an attempt a snapshot call is working in."""
    rootdir = str(tmp_path)
    _table(meta, rootdir, "t", [(b"", b"")])
    work_root = layout.snapshot_work_root(rootdir)
    stale = layout.snapshot_work_dir(rootdir, "s1", "abc123")
    running = layout.snapshot_work_dir(rootdir, "s2", "def456")
    deleting = os.path.join(work_root, "s3.deleting")
    for path in (stale, running, deleting):
        os.makedirs(os.path.join(path, "0" * 32, "cf"))
        with open(os.path.join(path, "0" * 32, "cf", layout.hfile_name(1)), "wb") as f:
            f.write(b"x" * 100)
    owned = frozenset({"s2.def456"})

    assert hbck.check(meta, {SERVER}, rootdir, snapshot_attempts=owned) == ([], 2)
    later = time.time() + LATER
    problems, too_new = hbck.check(meta, {SERVER}, rootdir, now=later, snapshot_attempts=owned)
    assert too_new == 0
    assert _kinds(problems) == [("STALE_SNAPSHOT_ATTEMPT", "s1.abc123"),
                                ("STALE_SNAPSHOT_ATTEMPT", "s3.deleting")]
    assert all(p.cleanable and p.bytes == 100 for p in problems)
    assert "attempt at snapshot 's1'" in problems[0].detail
    assert "half-deleted snapshot 's3'" in problems[1].detail

    seen = {p.path: LATER for p in problems}
    lock = threading.Lock()
    assert hbck.remove_stale_snapshot_attempts(problems, 600, {}, lock) == []  # seen < grace
    with lock:  # a snapshot call runs: it may own one, so nothing is deleted now
        assert hbck.remove_stale_snapshot_attempts(problems, 600, seen, lock) == []
    removed = hbck.remove_stale_snapshot_attempts(problems, 600, seen, lock)
    assert sorted(p.path for p in removed) == sorted([stale, deleting])
    assert os.listdir(work_root) == ["s2.def456"]
    assert hbck.check(meta, {SERVER}, rootdir, now=later, snapshot_attempts=owned) == ([], 0)


def _cli(cluster, *args):
    return subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum,
                           "--timeout", "20", *args], capture_output=True, text=True, timeout=60)


def _backdate(path: str, seconds: float) -> None:
    then = time.time() - seconds
    for dirpath, _, files in os.walk(path):
        for p in [dirpath] + [os.path.join(dirpath, f) for f in files]:
            os.utime(p, (then, then))


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    """This module's cluster: a master that deletes orphans seen for 2 s (not 10 minutes)."""
    c = cluster_factory("hbck", orphan_grace=2.0, balancer_period=3600)
    yield c
    stop_cluster(c)


def test_a_stale_snapshot_attempt_is_reported_and_cleaned_through_the_master(cluster,
                                                                           connection_for):
    """Real daemons: an attempt's directory a late region server recreated, as the master
    cannot know, is listed by hbck and deleted by its clean option after --orphan-grace; the
    snapshot of that name is untouched."""
    conn = connection_for(cluster)
    conn.create_table("hbck_snap", {"cf": {}})
    t = conn.table("hbck_snap")
    t.put(b"r", {b"cf:a": b"v"})
    conn.snapshot("hbck_snap", "hbck_s")
    snap = layout.snapshot_dir(cluster.rootdir, "hbck_s")
    (region,) = [n for n in os.listdir(snap) if not n.startswith(".")]
    late = os.path.join(layout.snapshot_work_dir(cluster.rootdir, "hbck_s", "a1b2c3"), region)
    shutil.copytree(os.path.join(snap, region), late, copy_function=os.link)
    _backdate(os.path.dirname(late), 1000)

    report = conn.hbck()
    assert [(p["kind"], p["region"], p["cleanable"]) for p in report["problems"]] == [
        ("STALE_SNAPSHOT_ATTEMPT", "hbck_s.a1b2c3", True)]
    listed = _cli(cluster, "hbck")
    assert listed.returncode == 1 and "STALE_SNAPSHOT_ATTEMPT" in listed.stdout, listed
    time.sleep(2.5)  # the module's --orphan-grace: 2 s
    cleaned = conn.hbck(clean=True)
    assert [p["path"] for p in cleaned["removed"]] == [os.path.dirname(late)]
    assert cleaned["problems"] == [] and not os.path.exists(os.path.dirname(late))
    conn.clone_snapshot("hbck_s", "hbck_snap2")
    assert conn.table("hbck_snap2").row(b"r") == {b"cf:a": b"v"}
    for name in ("hbck_snap", "hbck_snap2"):
        conn.delete_table(name, disable=True)
    conn.delete_snapshot("hbck_s")


def test_hbck_through_the_master_cli_and_shell(cluster, connection_for):
    conn = connection_for(cluster)
    conn.create_table("hbck_t", {"cf": {}}, split_keys=[b"m"])
    t = conn.table("hbck_t")
    rows = {b"r%03d" % i: {b"cf:a": b"v%d" % i} for i in range(0, 200, 7)}
    for row, data in rows.items():
        t.put(row, data)
    conn.flush("hbck_t")
    assert conn.hbck()["problems"] == []
    assert _cli(cluster, "hbck").returncode == 0
    with open(os.path.join(cluster.rootdir, layout.CLUSTER_ID)) as f:
        assert f.read() == conn.status()["cluster_id"]  # HBase's hbase.id

    # A copy of a region directory no region record names, as a master killed mid-clone
    # leaves, untouched for 1000 s; and the region of an earlier table of that name.
    tdir = layout.table_dir(cluster.rootdir, "hbck_t")
    a_region = os.path.join(tdir, conn.regions("hbck_t")[0]["encoded"])
    copy = os.path.join(tdir, "0" * 32)
    shutil.copytree(a_region, copy)
    earlier = RegionInfo("hbck_t", b"", b"", 1)
    stale = _region_dir(cluster.rootdir, earlier)
    for path in (copy, stale):
        _backdate(path, 0)
    # Just changed: too new to judge, so counted but no inconsistency (exit 0).
    assert {k: conn.hbck()[k] for k in ("problems", "too_new")} == {"problems": [],
                                                                     "too_new": 2}
    young = _cli(cluster, "hbck")
    assert young.returncode == 0, young
    assert "2 directories not named by meta changed too recently to judge" in young.stdout
    assert json.loads(_cli(cluster, "--json", "hbck").stdout)["too_new"] == 2
    for path in (copy, stale):
        _backdate(path, 1000)

    report = conn.hbck()
    assert sorted((p["region"], p["cleanable"]) for p in report["problems"]) == [
        ("0" * 32, True), (earlier.encoded_name, False)]
    assert all(p["kind"] == "ORPHAN_REGION_DIR" and p["table"] == "hbck_t" and p["bytes"] > 0
               for p in report["problems"])
    # Untouched long enough, but the master has seen it orphaned for less than its grace.
    assert conn.hbck(clean=True)["removed"] == []
    listed = _cli(cluster, "hbck")
    assert listed.returncode == 1, listed
    assert "ORPHAN_REGION_DIR" in listed.stdout and "2 inconsistencies" in listed.stderr
    assert "1 of these orphaned directories will be deleted" in listed.stdout
    assert "Traceback" not in listed.stderr

    time.sleep(2.5)
    cleaned = _cli(cluster, "--json", "hbck", "--clean")
    assert cleaned.returncode == 1, cleaned  # the earlier table's region is left in place
    doc = json.loads(cleaned.stdout)
    assert [p["path"] for p in doc["removed"]] == [copy]
    assert [p["path"] for p in doc["problems"]] == [stale]
    assert not os.path.exists(copy) and os.path.isdir(stale)
    assert {k: v for k, v in t.scan()} == rows  # the table's own regions untouched

    shell = subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum, "shell"],
                           input="hbck_chore_run\n", capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell  # the shell's chore command reports, as HBase's
    assert "older than table hbck_t" in shell.stdout and ": 1 inconsistency" in shell.stdout

    # The root directory of another cluster: a master taking over deletes nothing.
    with open(os.path.join(cluster.rootdir, layout.CLUSTER_ID), "w") as f:
        f.write("another-cluster")
    shutil.copytree(a_region, copy)  # cleanable, as before
    _backdate(copy, 1000)
    cluster.kill_master(active=True, sig=signal.SIGTERM)
    cluster.wait_for(lambda: "CLUSTER_ID_MISMATCH" in {
        p["kind"] for p in conn.hbck(clean=True)["problems"]}, 60, "the new master's report")
    time.sleep(2.5)
    report = conn.hbck(clean=True)
    assert report["removed"] == [] and os.path.isdir(copy)
    assert [p["cleanable"] for p in report["problems"] if p["path"] == copy] == [True]
    (mismatch,) = [p for p in report["problems"] if p["kind"] == "CLUSTER_ID_MISMATCH"]
    assert "another-cluster" in mismatch["detail"]
