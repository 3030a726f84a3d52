"""Splitting a dead server's WAL into per-region recovered edits (storage/wal_splitter.py;
docs/storage-wal.md)."""

from __future__ import annotations

import os
import shutil

import pytest

from minihbase.errors import CorruptionError
from storage import layout
from storage.cell import Cell, CellType
from storage.query import Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from storage.wal import WAL, list_segments
from storage.wal_format import RECORD_HEAD_SIZE, WALEntry, end_count, iter_payloads
from storage.wal_splitter import read_recovered_edits, region_dir_for_name, split_wal

SERVER = "host,16020,1700000000000"
R1 = RegionInfo("t1", b"", b"m", 1700000000000)
R2 = RegionInfo("t1", b"m", b"", 1700000000000)
R3 = RegionInfo("t.other-table", b"", b"", 1700000000005)
TABLE = TableDescriptor("t1", (FamilyDescriptor(b"cf"),))


def put(row: bytes, value: bytes) -> Cell:
    return Cell(row, b"cf", b"q", 1000, CellType.PUT, value)


@pytest.fixture
def rootdir(tmp_path):
    root = str(tmp_path)
    for info in (R1, R2, R3):
        os.makedirs(layout.region_dir(root, info))
    return root


def write_dead_server_wal(rootdir: str, *, segment_bytes: int = 400) -> str:
    """A WAL holding interleaved edits of three regions, some appended out of seqid order (two
    handlers of one region race between taking a seqid and appending), then fenced."""
    wal = WAL(layout.wal_dir(rootdir, SERVER), segment_bytes=segment_bytes)
    plan = [(R1, 5), (R2, 3), (R1, 7), (R1, 6), (R3, 1), (R2, 4), (R1, 8), (R2, 2)]
    for info, seqid in plan:
        wal.sync(wal.append(info.name, seqid, [put(b"row-%d" % seqid, b"v%d" % seqid)]))
    wal.close()
    fenced = layout.splitting_wal_dir(rootdir, SERVER)
    os.rename(layout.wal_dir(rootdir, SERVER), fenced)
    return fenced


def test_split_writes_per_region_recovered_edits_in_seqid_order(rootdir):
    wal_dir = write_dead_server_wal(rootdir)
    assert len(list_segments(wal_dir)) > 1
    written = split_wal(wal_dir, rootdir)
    assert set(written) == {R1.name, R2.name, R3.name}
    expected = {R1.name: [5, 6, 7, 8], R2.name: [2, 3, 4], R3.name: [1]}
    for info in (R1, R2, R3):
        path = written[info.name]
        edits_dir = layout.recovered_edits_dir(layout.region_dir(rootdir, info))
        first = expected[info.name][0]
        assert path == os.path.join(edits_dir, layout.recovered_edits_name(first))
        assert os.listdir(edits_dir) == [layout.recovered_edits_name(first)]  # no temp left
        entries = list(read_recovered_edits(path))
        assert entries == [WALEntry(info.name, s, [put(b"row-%d" % s, b"v%d" % s)])
                           for s in expected[info.name]]


def test_split_respects_the_regions_filter(rootdir):
    wal_dir = write_dead_server_wal(rootdir)
    written = split_wal(wal_dir, rootdir, regions={R2.name})
    assert list(written) == [R2.name]
    assert not os.path.exists(layout.recovered_edits_dir(layout.region_dir(rootdir, R1)))


def test_split_skips_regions_whose_directory_is_gone(rootdir, caplog):
    wal_dir = write_dead_server_wal(rootdir)
    shutil.rmtree(layout.region_dir(rootdir, R3))  # table dropped meanwhile
    written = split_wal(wal_dir, rootdir)
    assert set(written) == {R1.name, R2.name}
    assert not os.path.exists(layout.region_dir(rootdir, R3))  # not recreated
    assert R3.name in caplog.text


def test_edits_of_a_region_meta_still_has_are_kept_though_its_directory_is_gone(rootdir):
    """Its files were lost, not the region (HBase's splitter also recreates the directory):
    the edits wait in a directory without .regioninfo, which no server opens as it is."""
    wal_dir = write_dead_server_wal(rootdir)
    for info in (R2, R3):  # R2 lost its files; R3's table was dropped (not in meta)
        shutil.rmtree(layout.region_dir(rootdir, info))
    written = split_wal(wal_dir, rootdir, regions={R1.name, R2.name})
    assert set(written) == {R1.name, R2.name}
    path = layout.region_dir(rootdir, R2)
    assert sorted(os.listdir(path)) == [".tmp", layout.RECOVERED_EDITS]
    assert [e.seqid for e in read_recovered_edits(written[R2.name])] == [2, 3, 4]
    with pytest.raises(CorruptionError, match="holds no .regioninfo"):
        Region.open(rootdir, R2, TABLE, must_exist=True)
    assert not os.path.exists(layout.region_dir(rootdir, R3))


def test_restoring_the_lost_files_beside_the_kept_edits_brings_back_both(rootdir, tmp_path):
    region = Region.open(rootdir, R2, TABLE)
    region.mutate(Mutation(b"row-flushed").put(b"cf", b"q", b"flushed", 1))
    region.flush()
    region.close()
    wal_dir = write_dead_server_wal(rootdir)  # R2's edits 2..4, not flushed
    saved = str(tmp_path / "saved")
    shutil.move(layout.region_dir(rootdir, R2), saved)  # lost (a disk, an operator)
    split_wal(wal_dir, rootdir, regions={R2.name})
    shutil.copytree(saved, layout.region_dir(rootdir, R2), dirs_exist_ok=True)  # restored
    region = Region.open(rootdir, R2, TABLE, must_exist=True)
    assert {r: v for r, v in _rows(region)} == {
        b"row-flushed": b"flushed", b"row-2": b"v2", b"row-3": b"v3", b"row-4": b"v4"}
    region.close()


def test_split_is_idempotent_when_run_twice(rootdir):
    wal_dir = write_dead_server_wal(rootdir)
    first = split_wal(wal_dir, rootdir)
    contents = {r: open(p, "rb").read() for r, p in first.items()}
    second = split_wal(wal_dir, rootdir)
    assert second == first
    assert {r: open(p, "rb").read() for r, p in second.items()} == contents
    for info in (R1, R2, R3):
        assert len(os.listdir(layout.recovered_edits_dir(layout.region_dir(rootdir, info)))) == 1


def _payloads(path: str) -> list[tuple[int, bytes]]:
    with open(path, "rb") as f:
        return list(iter_payloads(path, f.read()))


def test_split_tolerates_the_torn_tail_of_the_last_segment(rootdir):
    wal_dir = write_dead_server_wal(rootdir)
    # the segment holding the last record (a roll may have started an empty one after it)
    last, record_end = [(path, off + RECORD_HEAD_SIZE + len(p))
                        for path in list_segments(wal_dir) for off, p in _payloads(path)
                        if end_count(p) is None][-1]
    with open(last, "r+b") as f:
        f.truncate(record_end - 4)  # the crash cut the last record (R2 seqid 2)
    written = split_wal(wal_dir, rootdir)
    assert [e.seqid for e in read_recovered_edits(written[R2.name])] == [3, 4]


@pytest.mark.parametrize("segment", [0, 1])
def test_split_raises_on_corruption_in_the_middle_and_writes_nothing(rootdir, segment):
    """Segment 1: the records of segment 0 were already spooled when the bad one is read;
    the spools go too."""
    wal_dir = write_dead_server_wal(rootdir, segment_bytes=200)
    assert len(list_segments(wal_dir)) > 2
    first = list_segments(wal_dir)[segment]
    with open(first, "r+b") as f:
        f.seek(8 + RECORD_HEAD_SIZE + 20)  # inside the payload of the first record
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CorruptionError, match=first):
        split_wal(wal_dir, rootdir)
    for info in (R1, R2, R3):
        region_path = layout.region_dir(rootdir, info)
        assert not os.path.exists(layout.recovered_edits_dir(region_path))
        assert not os.listdir(layout.tmp_dir(region_path)) if os.path.isdir(
            layout.tmp_dir(region_path)) else True


def test_a_region_whose_edits_cannot_be_written_fails_the_split_and_leaves_no_spool(rootdir):
    """The regions' files are committed in parallel: one that fails (a file where its
    recovered.edits directory goes) is raised once the others are done; theirs are written
    (a rerun rewrites them the same) and no spool is left in any .tmp directory."""
    wal_dir = write_dead_server_wal(rootdir)
    blocked = layout.recovered_edits_dir(layout.region_dir(rootdir, R2))
    open(blocked, "wb").close()
    with pytest.raises(OSError):
        split_wal(wal_dir, rootdir)
    for info in (R1, R3):
        assert len(os.listdir(layout.recovered_edits_dir(layout.region_dir(rootdir, info)))) == 1
    for info in (R1, R2, R3):
        assert os.listdir(layout.tmp_dir(layout.region_dir(rootdir, info))) == []
    os.unlink(blocked)
    assert set(split_wal(wal_dir, rootdir)) == {R1.name, R2.name, R3.name}


def test_split_of_an_empty_wal_dir_writes_nothing(rootdir):
    wal = WAL(layout.wal_dir(rootdir, SERVER))
    wal.close()
    assert split_wal(layout.wal_dir(rootdir, SERVER), rootdir) == {}


def test_truncated_recovered_edits_file_is_corruption_not_a_torn_tail(rootdir):
    written = split_wal(write_dead_server_wal(rootdir), rootdir)
    path = written[R1.name]
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 1)  # it was written atomically: this is damage
    with pytest.raises(CorruptionError, match=path):
        list(read_recovered_edits(path))


@pytest.mark.parametrize("region", [R1, R3], ids=["sorted", "renamed-spool"])
def test_recovered_edits_cut_at_a_record_boundary_are_corruption(rootdir, region):
    """Cut exactly between records, the file parses cleanly: only its end record (the count
    of edits) tells that edits are missing. Every cut is refused, none replays short."""
    path = split_wal(write_dead_server_wal(rootdir), rootdir)[region.name]
    with open(path, "rb") as f:
        data = f.read()
    offsets = [off for off, _ in _payloads(path)]
    assert len(offsets) >= 2  # the edits, then the end record
    for cut in offsets:
        with open(path, "wb") as f:
            f.write(data[:cut])
        with pytest.raises(CorruptionError, match="cut short"):
            list(read_recovered_edits(path))


def test_region_dir_is_parsed_from_the_full_region_name(rootdir):
    assert region_dir_for_name(rootdir, R3.name) == layout.region_dir(rootdir, R3)
    assert region_dir_for_name(rootdir, "garbage") is None


def _rows(region) -> list[tuple[bytes, bytes]]:
    return [(cells[0].row, cells[0].value) for cells in region.scanner(Scan())]
