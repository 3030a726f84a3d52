"""A flush or compaction whose file write fails inside a running server (disk full, an I/O
error): nothing acknowledged is lost, nothing deleted comes back, and the store keeps working
once the disk does. Faults are injected where the engine writes files."""

from __future__ import annotations

import os
import shutil

import pytest

from minihbase.errors import CorruptionError
from storage import compaction, layout
from storage.config import RegionConfig
from storage.query import Get, Mutation
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from storage.store import Store
from storage.wal import WAL
from tests.storage.helpers import Clock

TABLE = TableDescriptor("t", (FamilyDescriptor(b"a"), FamilyDescriptor(b"b")))
INFO = RegionInfo("t", b"", b"", 1)


class NoBackground:
    """Background flushes and compactions never run: the test runs them by hand."""

    def submit(self, fn):
        pass


def disk_full(*_args, **_kwargs):
    raise OSError(28, "No space left on device (injected)")


def open_region(root, wal=None):
    return Region.open(root, INFO, TABLE, wal=wal, background=NoBackground(),
                       config=RegionConfig(clock=Clock()))


def region_with_wal(root):
    """A region logging to a real WAL, holding one acknowledged, unflushed row r1."""
    wal = WAL(layout.wal_dir(root, "s,1,1"), archive_dir=layout.old_wal_dir(root))
    r = open_region(root, wal)
    r.mutate(Mutation(b"r1").put(b"a", b"q", b"v1"))
    return r, wal


def values(region, row):
    return {(c.family, c.qualifier): c.value for c in region.get(Get(row))}


def hfiles(region, family):
    return sorted(n for n in os.listdir(os.path.join(region.path, family.decode()))
                  if n.endswith(layout.HFILE_SUFFIX))


def test_clean_close_after_a_failed_flush_keeps_writes_acknowledged_since(tmp_path,
                                                                          monkeypatch):
    root = str(tmp_path)
    r, wal = region_with_wal(root)
    with monkeypatch.context() as m:
        m.setattr(Store, "write_snapshot", disk_full)
        with pytest.raises(OSError):
            r.flush()
    r.mutate(Mutation(b"r2").put(b"a", b"q", b"v2"))  # acknowledged after the failure
    r.close(flush=True)  # the retried snapshot alone would leave r2 in the memstore
    wal.close()
    r = open_region(root)
    assert values(r, b"r1") == {(b"a", b"q"): b"v1"}
    assert values(r, b"r2") == {(b"a", b"q"): b"v2"}
    r.close()


def test_close_whose_flush_fails_keeps_the_wal_and_can_be_retried(tmp_path, monkeypatch):
    root = str(tmp_path)
    r, wal = region_with_wal(root)
    with monkeypatch.context() as m:
        m.setattr(Store, "write_snapshot", disk_full)
        with pytest.raises(OSError):
            r.close(flush=True)
    assert not r.is_closed and wal.segment_count() >= 1
    r.close(flush=True)  # the disk works again
    assert r.is_closed
    wal.close()
    assert values(open_region(root), b"r1") == {(b"a", b"q"): b"v1"}


def test_flush_failing_in_one_family_leaves_no_file_that_could_resurrect_deleted_cells(
        tmp_path, monkeypatch):
    root = str(tmp_path)
    r = open_region(root)
    r.mutate(Mutation(b"x").put(b"a", b"q", b"old").put(b"b", b"q", b"bv"))
    real = Store.write_snapshot

    def family_b_fails(self, snapshot, seqid):
        if self.name == b"b":
            disk_full()
        return real(self, snapshot, seqid)

    with monkeypatch.context() as m:
        m.setattr(Store, "write_snapshot", family_b_fails)
        with pytest.raises(OSError):
            r.flush()
    assert hfiles(r, b"a") == [], "family a's file of the failed flush was left on disk"
    r.flush()
    r.mutate(Mutation(b"x").delete_column(b"a", b"q"))
    r.compact(major=True)  # drops the put and its marker
    r.close()
    r = open_region(root)
    assert values(r, b"x") == {(b"b", b"q"): b"bv"}
    r.close()


def test_compaction_whose_swap_fails_releases_its_files_and_leaves_no_output(tmp_path,
                                                                             monkeypatch):
    root = str(tmp_path)
    r = open_region(root)
    for i in range(3):
        r.mutate(Mutation(b"x").put(b"a", b"q%d" % i, b"v"))
        r.flush()
    with monkeypatch.context() as m:
        m.setattr(compaction.layout, "atomic_write", disk_full)  # the manifest's write
        with pytest.raises(OSError):
            r.compact(major=True)
    assert len(hfiles(r, b"a")) == 3, "the failed compaction's output was left on disk"
    r.compact(major=True)  # not stuck: the inputs were released
    assert len(hfiles(r, b"a")) == 1
    assert len(values(r, b"x")) == 3
    r.close()


def test_a_corrupt_compaction_manifest_is_reported_not_ignored(tmp_path):
    root = str(tmp_path)
    r = open_region(root)
    r.mutate(Mutation(b"x").put(b"a", b"q", b"v"))
    r.close()
    manifest = compaction.manifest_path(os.path.join(r.path, "a"), 99)
    with open(manifest, "wb") as f:
        f.write(b"MHCM" + b"\0" * 4 + b'["00000000000000000001.hfile"]')
    with pytest.raises(CorruptionError, match="compaction manifest"):
        open_region(root)
    assert os.path.exists(manifest)


def test_a_manifest_whose_output_is_missing_keeps_its_inputs(tmp_path):
    """A manifest is written only once its output is in place; one naming an output that is
    not there (a stray file, a zombie writer) must not delete the inputs' cells."""
    root = str(tmp_path)
    r = open_region(root)
    r.mutate(Mutation(b"x").put(b"a", b"q", b"v"))
    r.close()
    family = os.path.join(r.path, "a")
    inputs = [os.path.join(family, n) for n in os.listdir(family) if n.endswith(".hfile")]
    manifest = compaction.write_manifest(family, 99, inputs)
    with pytest.raises(CorruptionError, match="does not exist; its inputs are kept"):
        open_region(root)
    assert all(os.path.exists(p) for p in inputs) and os.path.exists(manifest)


def test_a_fenced_server_neither_flushes_nor_compacts_its_regions(tmp_path):
    """Once the master renamed the WAL directory (this server was declared dead and its
    regions may be open elsewhere), flushes and compactions touch no region file."""
    from minihbase.errors import WALFencedError

    root = str(tmp_path)
    r, _ = region_with_wal(root)
    for i in range(3):
        r.mutate(Mutation(b"x").put(b"a", b"q%d" % i, b"v"))
        r.flush()
    r.mutate(Mutation(b"y").put(b"a", b"q", b"unflushed"))
    before = hfiles(r, b"a")
    os.rename(layout.wal_dir(root, "s,1,1"),
              layout.splitting_wal_dir(root, "s,1,1"))  # the master's fence
    with pytest.raises(WALFencedError):
        r.flush()
    with pytest.raises(WALFencedError):
        r.compact(major=True)
    assert hfiles(r, b"a") == before


def test_a_fenced_server_writes_no_compaction_output_into_a_reassigned_region(tmp_path,
                                                                             monkeypatch):
    """A minor compaction started after the fence (a frozen server resumed, its queued
    compaction runs) must not write and link its output first and check the fence after:
    the region's new owner already lists, opens and numbers files in that directory (seen
    with bench/biglinkedlist.py: a resumed server's compaction failing to link into a
    directory reopened elsewhere)."""
    from minihbase.errors import WALFencedError

    root = str(tmp_path)
    r, _ = region_with_wal(root)
    for i in range(3):
        r.mutate(Mutation(b"x").put(b"a", b"q%d" % i, b"v"))
        r.flush()
    os.rename(layout.wal_dir(root, "s,1,1"),
              layout.splitting_wal_dir(root, "s,1,1"))  # the master's fence
    written = []
    real_write_file = Store.write_file
    monkeypatch.setattr(Store, "write_file",
                        lambda store, *a: written.append(store) or real_write_file(store, *a))
    with pytest.raises(WALFencedError):
        r.compact(major=False)
    assert written == [], "a fenced server wrote a compaction output file"


def test_an_hfile_is_never_renamed_over_an_existing_one(tmp_path):
    from storage.hfile import HFileWriter

    path = str(tmp_path / "00000000000000000007.hfile")
    with open(path, "wb") as f:
        f.write(b"another writer's file")
    w = HFileWriter(path, family=b"a")
    w.append((b"r", b"q", -1, -4), b"v")
    with pytest.raises(FileExistsError):
        w.finish(max_seqid=1)
    assert open(path, "rb").read() == b"another writer's file"
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temp file left


def test_a_split_writers_leftover_temp_file_is_removed_at_open(tmp_path):
    root = str(tmp_path)
    r = open_region(root)
    r.close()
    edits = layout.recovered_edits_dir(r.path)
    layout.make_dirs(edits)
    leftover = os.path.join(edits, layout.recovered_edits_name(7) + ".tmp.4242")
    with open(leftover, "wb") as f:
        f.write(b"half a file")
    open_region(root).close()
    assert not os.path.exists(leftover)


def test_a_flush_of_a_region_whose_directory_is_gone_says_so_and_keeps_its_edits(tmp_path):
    root = str(tmp_path)
    r = open_region(root)
    r.mutate(Mutation(b"r1").put(b"a", b"q", b"v1", 1))
    saved = str(tmp_path / "saved")
    shutil.move(r.path, saved)
    with pytest.raises(CorruptionError, match=f"its directory {r.path} is missing"):
        r.flush()
    shutil.move(saved, r.path)  # restored: the memstore was kept for the retry
    r.flush()
    assert values(r, b"r1") == {(b"a", b"q"): b"v1"}
    r.close()


def test_a_fence_landing_during_a_compaction_stops_it_before_its_output_appears(
        tmp_path, monkeypatch):
    """Checked every _CHECK_EVERY cells, not only before the swap: the output file never
    lands beside the files the region's next owner has opened."""
    from minihbase.errors import WALFencedError

    root = str(tmp_path)
    r, _ = region_with_wal(root)
    for i in range(3):
        r.mutate(Mutation(b"x%d" % i).put(b"a", b"q", b"v"))
        for j in range(20):
            r.mutate(Mutation(b"y%02d" % j).put(b"a", b"q%d" % i, b"v"))
        r.flush()
    before = hfiles(r, b"a")
    monkeypatch.setattr(compaction, "_CHECK_EVERY", 10)
    real_write_file = Store.write_file
    finished = []

    def fenced_midway(store, items, max_seqid):
        def fence_after_15():
            for n, item in enumerate(items):
                if n == 15:
                    os.rename(layout.wal_dir(root, "s,1,1"),
                              layout.splitting_wal_dir(root, "s,1,1"))
                yield item
        finished.append(real_write_file(store, fence_after_15(), max_seqid))
        return finished[-1]

    monkeypatch.setattr(Store, "write_file", fenced_midway)
    with pytest.raises(WALFencedError):
        r.compact(major=True)
    assert finished == [], "the output file was completed in the region's directory"
    assert hfiles(r, b"a") == before  # inputs kept
