"""Snapshots on disk (storage/snapshots.py): hard links, references written out, manifests."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from minihbase.errors import (CorruptionError, InvalidArgumentError, OperationNotAllowedError,
                              SnapshotCreationError, SnapshotExistsError)
from storage import layout, snapshots
from storage.query import Mutation
from storage.region_split import write_daughters
from storage.schema import RegionInfo
from storage.store import Store
from tests.storage.test_failed_writes import disk_full
from tests.storage.test_region_split import CF, CG, ROOT_INFO, TABLE, _dump, _fill, _open


def _take(root, name, regions, flush=True):
    """Snapshot open regions (Region objects) as the master does: link, then commit."""
    attempt = snapshots.begin(root, name)
    work = layout.snapshot_work_dir(root, name, attempt)
    for r in regions:
        r.snapshot(os.path.join(work, r.info.encoded_name), flush=flush)
    return snapshots.commit(root, name, attempt, TABLE, [r.info for r in regions], 1234)


def _clone(root, name, region_id):
    m = snapshots.read_manifest(root, name)
    out = []
    for info in m.regions:
        target = RegionInfo(info.table, info.start_key, info.end_key, region_id)
        snapshots.write_region_from(root, m, info, target, TABLE)
        out.append(target)
    return out


def _hfiles(path):
    return sorted(os.path.join(d, n) for d, _, files in os.walk(path) for n in files
                  if n.endswith(layout.HFILE_SUFFIX))


def _inodes(path):
    return {os.stat(f).st_ino for f in _hfiles(path)}


def _replace_with_damaged_copy(path, offset):
    """Flip the byte at `offset` in a new file of that name (a new inode: the region's own
    link keeps the good bytes)."""
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0xFF
    os.unlink(path)
    open(path, "wb").write(bytes(data))


def test_a_snapshot_links_files_and_a_clone_reads_the_same_cells(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    _fill(r)  # flushed files, deletes, and one row only in the memstore
    before = _dump(r)
    _take(root, "s1", [r])
    # the snapshot shares the region's files (hard links), it copied nothing
    snap = layout.snapshot_dir(root, "s1")
    assert _inodes(layout.region_dir(root, ROOT_INFO)) == _inodes(snap)
    r.mutate(Mutation(b"r001").put(CF, b"a", b"after", 9))
    r.compact(major=True)  # the table's old files are deleted: the snapshot's links remain
    (clone,) = _clone(root, "s1", 2)
    c = _open(root, clone)
    assert _dump(c) == before
    c.mutate(Mutation(b"r002").put(CF, b"a", b"clone only", 9))
    c.flush()
    assert b"after" in [x[4] for x in _dump(r)] and b"clone only" not in [x[4] for x in _dump(r)]
    assert snapshots.read_manifest(root, "s1").regions == (ROOT_INFO,)
    c.close()
    r.close()


def test_skip_flush_leaves_the_memstore_out(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    r.mutate(Mutation(b"a").put(CF, b"q", b"flushed", 1))
    r.flush()
    r.mutate(Mutation(b"b").put(CF, b"q", b"memstore only", 1))
    _take(root, "s", [r], flush=False)
    (clone,) = _clone(root, "s", 2)
    c = _open(root, clone)
    assert [x[0] for x in _dump(c)] == [b"a"]
    c.close()
    r.close()


def test_a_snapshot_after_a_failed_flush_holds_the_writes_acknowledged_since(tmp_path,
                                                                           monkeypatch):
    """A flush that failed (disk full) leaves its memstore snapshot for the retry; the next
    flush writes that one alone, and what was written since waits in the active segment. A
    snapshot flushing once would leave those acknowledged writes out."""
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    r.mutate(Mutation(b"a").put(CF, b"q", b"before the failed flush", 1))
    with monkeypatch.context() as m:
        m.setattr(Store, "write_snapshot", disk_full)
        with pytest.raises(OSError):
            r.flush()
    r.mutate(Mutation(b"b").put(CF, b"q", b"after the failed flush", 1))
    r.mutate(Mutation(b"c").put(CG, b"q", b"another family", 1))
    before = _dump(r)
    _take(root, "s", [r])
    (clone,) = _clone(root, "s", 2)
    c = _open(root, clone)
    assert _dump(c) == before
    c.close()
    r.close()


def test_references_are_written_out_so_the_snapshot_stands_alone(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    ra, rb = _open(root, a), _open(root, b)
    assert ra.has_references() and rb.has_references()
    _take(root, "s", [ra, rb])
    ra.close()
    rb.close()
    # the parent and both daughters gone: the snapshot still has every cell
    shutil.rmtree(layout.table_dir(root, "t"))
    clones = [_open(root, i) for i in _clone(root, "s", 7)]
    assert _dump(clones[0]) + _dump(clones[1]) == before
    assert not any(c.has_references() for c in clones)
    for c in clones:
        c.close()


def test_a_closed_region_is_snapshot_from_its_directory(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")  # closed regions with reference files, as a disabled table
    attempt = snapshots.begin(root, "s")
    work = layout.snapshot_work_dir(root, "s", attempt)
    for info in (a, b):
        snapshots.link_closed_region(root, info, TABLE, os.path.join(work, info.encoded_name))
    snapshots.commit(root, "s", attempt, TABLE, [a, b], 1)
    clones = [_open(root, i) for i in _clone(root, "s", 9)]
    assert _dump(clones[0]) + _dump(clones[1]) == before
    for c in clones:
        c.close()


def test_a_damaged_manifest_or_file_is_reported(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    r.mutate(Mutation(b"a").put(CG, b"q", b"v", 1))
    _take(root, "s", [r])
    r.close()
    path = os.path.join(layout.snapshot_dir(root, "s"), layout.SNAPSHOT_INFO)
    good = open(path, "rb").read()
    open(path, "wb").write(good[:-3] + b"xyz")
    with pytest.raises(CorruptionError, match="failed its checksum"):
        snapshots.read_manifest(root, "s")
    open(path, "wb").write(good)
    m = snapshots.read_manifest(root, "s")
    (hfile,) = _hfiles(layout.snapshot_dir(root, "s"))
    _replace_with_damaged_copy(hfile, -5)  # the trailer
    target = RegionInfo("t", b"", b"", 5)
    with pytest.raises(CorruptionError):
        snapshots.write_region_from(root, m, ROOT_INFO, target, TABLE)
    assert not os.path.exists(layout.region_dir(root, target))


def test_names_list_and_delete(tmp_path):
    root = str(tmp_path)
    assert snapshots.names(root) == []
    r = _open(root, ROOT_INFO)
    _take(root, "b", [r])
    _take(root, "a.1", [r])
    snapshots.begin(root, "unfinished")  # a working dir is never listed
    assert snapshots.names(root) == ["a.1", "b"]
    snapshots.delete(root, "b")
    assert snapshots.names(root) == ["a.1"] and not snapshots.exists(root, "b")
    r.close()
    for bad in ("", ".x", "-x", "a/b", "..", "a:b"):
        with pytest.raises(InvalidArgumentError, match="invalid snapshot name"):
            layout.snapshot_dir(root, bad)


def test_write_daughters_still_writes_references(tmp_path):
    """write_region_dir is shared with split and merge: their directories are unchanged."""
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    _fill(r)
    r.close()
    a, _ = write_daughters(root, ROOT_INFO, TABLE, b"r030", 99)
    names = os.listdir(layout.family_dir(layout.region_dir(root, a), CF))
    assert names and all(n.endswith(layout.REFERENCE_SUFFIX) for n in names)


def test_a_missing_or_short_file_and_a_renamed_snapshot_are_reported(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    _fill(r)
    _take(root, "s", [r])
    r.close()
    snap = layout.snapshot_dir(root, "s")
    hfiles = _hfiles(snap)
    m = snapshots.read_manifest(root, "s")
    target = RegionInfo("t", b"", b"", 5)
    os.rename(hfiles[0], hfiles[0] + ".away")
    with pytest.raises(CorruptionError, match="is missing"):
        snapshots.write_region_from(root, m, ROOT_INFO, target, TABLE)
    os.rename(hfiles[0] + ".away", hfiles[0])
    data = open(hfiles[1], "rb").read()
    os.unlink(hfiles[1])
    open(hfiles[1], "wb").write(data[:-1])
    with pytest.raises(CorruptionError, match="its manifest says"):
        snapshots.write_region_from(root, m, ROOT_INFO, target, TABLE)
    assert not os.path.exists(layout.region_dir(root, target))
    os.rename(snap, layout.snapshot_dir(root, "renamed"))
    with pytest.raises(CorruptionError, match="names snapshot 's'"):
        snapshots.read_manifest(root, "renamed")


def test_a_closed_region_with_edits_to_replay_or_a_half_done_compaction_is_refused(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    _fill(r)
    r.close()
    path = layout.region_dir(root, ROOT_INFO)
    attempt = snapshots.begin(root, "s")
    dest = os.path.join(layout.snapshot_work_dir(root, "s", attempt), ROOT_INFO.encoded_name)
    edits = layout.recovered_edits_dir(path)
    os.makedirs(edits)
    open(os.path.join(edits, layout.recovered_edits_name(7)), "wb").close()
    with pytest.raises(SnapshotCreationError, match="recovered edits not replayed"):
        snapshots.link_closed_region(root, ROOT_INFO, TABLE, dest)
    shutil.rmtree(edits)
    open(os.path.join(layout.family_dir(path, CF), "00000000000000000009.compacted"),
         "wb").close()
    with pytest.raises(SnapshotCreationError, match="interrupted compaction"):
        snapshots.link_closed_region(root, ROOT_INFO, TABLE, dest)


def test_each_attempt_has_its_own_directory_and_leftovers_are_removed(tmp_path):
    root = str(tmp_path)
    first = snapshots.begin(root, "s.1")
    other = snapshots.begin(root, "s")
    second = snapshots.begin(root, "s.1")  # a retry: the failed attempt's directory goes
    assert first != second
    assert not os.path.exists(layout.snapshot_work_dir(root, "s.1", first))
    assert os.path.isdir(layout.snapshot_work_dir(root, "s", other))
    assert snapshots.remove_unfinished(root) == 2
    assert os.listdir(layout.snapshot_work_root(root)) == []
    with pytest.raises(InvalidArgumentError, match="attempt"):
        layout.snapshot_work_dir(root, "s", "../x")


def test_a_restore_reads_every_block_a_clone_only_the_metadata(tmp_path):
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    _fill(r)
    _take(root, "s", [r])
    r.close()
    m = snapshots.read_manifest(root, "s")
    snap = layout.snapshot_dir(root, "s")
    path = max(_hfiles(snap), key=os.path.getsize)
    _replace_with_damaged_copy(path, 40)  # inside the first data block; metadata intact
    clone = RegionInfo("t", b"", b"", 5)
    snapshots.write_region_from(root, m, ROOT_INFO, clone, TABLE)
    restored = RegionInfo("t", b"", b"", 6)
    with pytest.raises(CorruptionError, match="checksum mismatch in data block at offset"):
        snapshots.write_region_from(root, m, ROOT_INFO, restored, TABLE, verify_blocks=True)
    assert not os.path.exists(layout.region_dir(root, restored))


def test_an_export_copies_a_checked_snapshot_that_the_other_root_clones(tmp_path):
    """HBase's ExportSnapshot: whole or nothing at the destination, every block checked."""
    root, other = str(tmp_path / "a"), str(tmp_path / "b")
    r = _open(root, ROOT_INFO)
    _fill(r)
    before = _dump(r)
    m = _take(root, "s", [r])
    r.close()
    files, size = snapshots.export(root, "s", other)
    assert (files, size) == (len(_hfiles(layout.snapshot_dir(root, "s"))), m.size_bytes())
    assert snapshots.names(other) == ["s"] and not _inodes(layout.snapshot_dir(root, "s")) & \
        _inodes(layout.snapshot_dir(other, "s"))  # copies, not links
    (clone,) = _clone(other, "s", 7)
    c = _open(other, clone)
    assert _dump(c) == before
    c.close()
    with pytest.raises(SnapshotExistsError, match="already exists in"):
        snapshots.export(root, "s", other)
    for inside in (root, os.path.join(root, "data"), "/"):
        with pytest.raises(InvalidArgumentError, match="is not another root directory"):
            snapshots.export(root, "s", inside)

    third = str(tmp_path / "c")
    path = max(_hfiles(layout.snapshot_dir(root, "s")), key=os.path.getsize)
    _replace_with_damaged_copy(path, 40)  # inside a data block
    with pytest.raises(CorruptionError, match=f"{path} is damaged: .*checksum mismatch"):
        snapshots.export(root, "s", third)
    assert snapshots.names(third) == [] and os.listdir(layout.snapshot_work_root(third)) == []


def _export_paused_between_families(monkeypatch, root, other):
    """Start an export of snapshot "s" (one region, two families) into `other` in a thread
    that pauses once the first family is copied, before the second's directory is made;
    returns (thread, result dict, event that resumes it)."""
    make_dirs = layout.make_dirs
    work_root = layout.snapshot_work_root(other)
    calls, paused, resume, result = [], threading.Event(), threading.Event(), {}

    def pausing_make_dirs(path):
        if path.startswith(work_root) and threading.current_thread() is t:
            calls.append(path)  # the attempt's directory, then one per family
            if len(calls) == 3:
                paused.set()
                assert resume.wait(10)
        make_dirs(path)
    monkeypatch.setattr(layout, "make_dirs", pausing_make_dirs)

    def run():
        try:
            result["copied"] = snapshots.export(root, "s", other)
        except Exception as e:  # noqa: BLE001 -- the test looks at it
            result["error"] = e
    t = threading.Thread(target=run)
    t.start()
    assert paused.wait(10)
    return t, result, resume


def _snapshot_of_two_families(root):
    r = _open(root, ROOT_INFO)
    _fill(r)
    before = _dump(r)
    _take(root, "s", [r])
    r.close()
    assert all(snapshots.read_manifest(root, "s").files[ROOT_INFO.encoded_name].values())
    return before


def test_a_second_export_of_a_snapshot_into_the_same_root_is_refused_while_one_runs(
        tmp_path, monkeypatch):
    """An operator whose export timed out on the client and who runs it again while the
    master still copies: the second export must not remove the first one's copy, which then
    renamed a snapshot missing the files it had copied before (listed, but not clonable)."""
    root, other = str(tmp_path / "a"), str(tmp_path / "b")
    before = _snapshot_of_two_families(root)
    t, result, resume = _export_paused_between_families(monkeypatch, root, other)
    try:
        with pytest.raises(OperationNotAllowedError, match="already running"):
            snapshots.export(root, "s", other)
    finally:
        resume.set()
        t.join(10)
    assert "error" not in result
    (clone,) = _clone(other, "s", 7)
    c = _open(other, clone)
    assert _dump(c) == before
    c.close()


def test_an_export_whose_copy_another_process_removed_leaves_nothing(tmp_path, monkeypatch):
    """Another cluster's master exporting the same snapshot into the same root removes this
    attempt's directory (begin): the export fails, never renaming a partial copy into place."""
    root, other = str(tmp_path / "a"), str(tmp_path / "b")
    _snapshot_of_two_families(root)
    t, result, resume = _export_paused_between_families(monkeypatch, root, other)
    snapshots.begin(other, "s")  # the other process's start: earlier attempts are removed
    resume.set()
    t.join(10)
    assert isinstance(result.get("error"), SnapshotCreationError), result
    assert "gone" in str(result["error"]) and snapshots.names(other) == []
