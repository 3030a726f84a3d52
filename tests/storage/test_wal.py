"""The WAL: record round trip, group commit, segment roll and archive, torn tails, corruption,
fencing (storage/wal.py, storage/wal_format.py; docs/storage-wal.md)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storage.wal as wal_module
from minihbase.errors import (CorruptionError, InvalidArgumentError, ServerAbortedError,
                              WALFencedError)
from storage import layout
from storage.cell import LATEST_TIMESTAMP, Cell, CellType
from storage.wal import WAL, list_segments, read_segment, read_wal_dir
from storage.wal_format import (FILE_HEADER, FILE_HEADER_SIZE, RECORD_HEAD_SIZE, WALEntry,
                                decode_payload, encode_entries, iter_payloads)

REGION_A = "t1,,1700000000000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
REGION_B = "t1,6d,1700000000001.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def put(row: bytes, value: bytes = b"v", ts: int = 1000, qualifier: bytes = b"q") -> Cell:
    return Cell(row, b"cf", qualifier, ts, CellType.PUT, value)


@pytest.fixture
def wal_dir(tmp_path):
    return str(tmp_path / "WALs" / "host,16020,1")


def record_offsets(path: str) -> list[tuple[int, int]]:
    """(start, end) of every record of a segment."""
    with open(path, "rb") as f:
        data = f.read()
    return [(off, off + RECORD_HEAD_SIZE + len(p)) for off, p in iter_payloads(path, data)]


def write_three_records(wal_dir: str) -> str:
    wal = WAL(wal_dir)
    for seqid in (1, 2, 3):
        wal.sync(wal.append(REGION_A, seqid, [put(b"row%d" % seqid, b"value-%d" % seqid)]))
    path = wal.current_segment_path
    wal.close()
    return path


# --- round trip -------------------------------------------------------------------------------

def test_append_and_replay_roundtrip_with_every_cell_type_and_empty_values(wal_dir):
    cells = [
        Cell(b"r1", b"cf", b"q", 5, CellType.PUT, b"value"),
        Cell(b"r1", b"cf", b"", 5, CellType.PUT, b""),  # empty qualifier and value
        Cell(b"r1", b"cf", b"q", 4, CellType.DELETE, b""),
        Cell(b"r1", b"cf", b"q", 3, CellType.DELETE_COLUMN, b""),
        Cell(b"r1", b"cf", b"", 2, CellType.DELETE_FAMILY, b""),
        Cell(b"r1", b"cf2", b"", 1, CellType.DELETE_FAMILY_VERSION, b""),
        Cell(b"\x00\xff" * 100, b"f" * 127, bytes(range(256)) * 4, LATEST_TIMESTAMP,
             CellType.PUT, b"\x00" * 70000),
    ]
    wal = WAL(wal_dir)
    t1 = wal.append(REGION_A, 7, cells)
    t2 = wal.append_batch([(REGION_B, 8, [put(b"r2")]), (REGION_A, 9, [])])
    assert t2 > t1
    wal.sync(t2)
    wal.close()
    assert list(read_wal_dir(wal_dir)) == [
        WALEntry(REGION_A, 7, cells),
        WALEntry(REGION_B, 8, [put(b"r2")]),
        WALEntry(REGION_A, 9, []),
    ]


_cells = st.lists(st.builds(
    Cell, st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=10),
    st.binary(max_size=20), st.integers(0, LATEST_TIMESTAMP), st.sampled_from(list(CellType)),
    st.binary(max_size=200)), max_size=5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=60), st.integers(0, 2**64 - 1), _cells),
                max_size=8))
def test_any_batch_of_entries_decodes_to_what_was_encoded(entries):
    data = FILE_HEADER + encode_entries(entries)
    decoded = [decode_payload(p) for _, p in iter_payloads("batch", data, tolerate_torn_tail=False)]
    assert decoded == [WALEntry(r, s, list(c)) for r, s, c in entries]


def test_append_batch_is_one_write_and_one_txid(wal_dir, monkeypatch):
    wal = WAL(wal_dir, sync=False)
    writes = []
    real_write = os.write
    monkeypatch.setattr(wal_module.os, "write", lambda fd, b: writes.append(len(b)) or real_write(fd, b))
    txid = wal.append_batch([(REGION_A, i, [put(b"r%d" % i)]) for i in range(100)])
    assert len(writes) == 1 and txid == 1
    assert wal.stats.appends == 100 and wal.stats.batches == 1
    wal.close()
    assert [e.seqid for e in read_wal_dir(wal_dir)] == list(range(100))


def test_unloggable_cell_is_refused_before_anything_is_written(wal_dir):
    wal = WAL(wal_dir)
    for bad in (put(b"r", ts=-1), put(b"r" * 70000), Cell(b"r", b"f" * 300, b"q", 1, 4, b"")):
        with pytest.raises(InvalidArgumentError):
            wal.append_batch([(REGION_A, 1, [put(b"ok")]), (REGION_A, 2, [bad])])
    assert wal.last_txid == 0
    wal.close()
    assert list(read_wal_dir(wal_dir)) == []


def test_new_wal_starts_a_new_segment_after_existing_ones(wal_dir):
    first = WAL(wal_dir)
    first.sync(first.append(REGION_A, 1, [put(b"r")]))
    first.close()
    second = WAL(wal_dir)
    second.sync(second.append(REGION_A, 2, [put(b"r")]))
    second.close()
    segments = list_segments(wal_dir)
    assert [layout.parse_wal_segment(os.path.basename(p)) for p in segments] == [1, 2]
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1, 2]


# --- group commit -----------------------------------------------------------------------------

def test_concurrent_writers_share_fsyncs(wal_dir, monkeypatch):
    real = wal_module._fdatasync
    # A slower disk makes the overlap certain without making the test slow.
    monkeypatch.setattr(wal_module, "_fdatasync", lambda fd: (time.sleep(0.002), real(fd)))
    wal = WAL(wal_dir)
    threads, per_thread = 8, 25
    errors = []

    def writer(k):
        try:
            for i in range(per_thread):
                wal.sync(wal.append(REGION_A, k * 1000 + i, [put(b"r%d-%d" % (k, i))]))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors
    assert wal.stats.appends == threads * per_thread
    assert 0 < wal.stats.syncs < threads * per_thread / 2
    assert wal.stats.sync_seconds_total > 0
    wal.close()
    assert len(list(read_wal_dir(wal_dir))) == threads * per_thread


def test_sync_of_an_already_synced_txid_does_not_fsync_again(wal_dir):
    wal = WAL(wal_dir)
    txid = wal.append(REGION_A, 1, [put(b"r")])
    wal.sync(txid)
    wal.sync(txid)
    assert wal.stats.syncs == 1
    with pytest.raises(ValueError):
        wal.sync(txid + 5)
    wal.close()


# --- segments: roll, archive, pinning ---------------------------------------------------------

def test_segments_roll_by_size(wal_dir):
    wal = WAL(wal_dir, segment_bytes=300)
    for seqid in range(1, 21):
        wal.sync(wal.append(REGION_A, seqid, [put(b"row%02d" % seqid, b"x" * 50)]))
    assert wal.segment_count() == len(list_segments(wal_dir)) > 3
    assert wal.size_bytes() == sum(os.path.getsize(p) for p in list_segments(wal_dir))
    wal.close()
    assert [e.seqid for e in read_wal_dir(wal_dir)] == list(range(1, 21))


def test_roll_by_age_skips_an_empty_or_young_segment_and_ends_the_rolled_one(wal_dir, tmp_path):
    """The server's roll period: a quiet server's segment is rolled (its end record synced
    and its file closed at once, no write follows to do it), then archived once flushed."""
    archive = str(tmp_path / "oldWALs")
    wal = WAL(wal_dir, archive_dir=archive)
    assert not wal.roll_if_older(0)  # nothing in it: nothing to roll
    wal.sync(wal.append(REGION_A, 1, [put(b"a")]))
    assert not wal.roll_if_older(60)
    assert wal.roll_if_older(0) and wal.segment_count() == 2
    assert wal._retired_fds == []
    # Read as a crash would leave it (no close): the rolled segment is complete.
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1]
    wal.sync(wal.append(REGION_A, 2, [put(b"b")]))
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1, 2]
    wal.mark_flushed(REGION_A, 1)
    assert wal.segment_count() == 1 and len(os.listdir(archive)) == 1
    wal.close()


def test_segment_is_archived_only_after_every_region_in_it_is_flushed(wal_dir, tmp_path):
    archive = str(tmp_path / "oldWALs")
    wal = WAL(wal_dir, segment_bytes=300, archive_dir=archive)  # records are ~190 bytes
    wal.append(REGION_A, 10, [put(b"a", b"x" * 100)])
    wal.sync(wal.append(REGION_B, 20, [put(b"b", b"x" * 100)]))  # rolls: segment 1 closed
    wal.sync(wal.append(REGION_A, 11, [put(b"a2")]))  # in the current segment
    assert wal.segment_count() == 2
    assert wal.regions_pinning_oldest_segment() == [REGION_A, REGION_B]

    wal.mark_flushed(REGION_A, 11)
    assert wal.segment_count() == 2 and os.listdir(archive) == []
    assert wal.regions_pinning_oldest_segment() == [REGION_B]
    wal.mark_flushed(REGION_B, 19)  # not yet up to its last edit in the segment
    assert wal.segment_count() == 2 and os.listdir(archive) == []

    wal.mark_flushed(REGION_B, 20)
    assert wal.segment_count() == 1
    assert os.listdir(archive) == ["host,16020,1.wal.00000000000000000001"]
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [11]  # the current segment stays
    assert wal.regions_pinning_oldest_segment() == []
    wal.close()


def test_forget_region_unpins_its_segments_and_deletes_without_archive_dir(wal_dir):
    wal = WAL(wal_dir, segment_bytes=150)
    wal.sync(wal.append(REGION_A, 1, [put(b"a", b"x" * 100)]))  # rolls
    wal.sync(wal.append(REGION_B, 2, [put(b"b")]))
    assert wal.segment_count() == 2
    wal.forget_region(REGION_A)
    assert wal.segment_count() == 1
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [2]
    wal.close()


def test_clean_close_with_every_region_flushed_leaves_no_segment(wal_dir, tmp_path):
    archive = str(tmp_path / "oldWALs")
    wal = WAL(wal_dir, archive_dir=archive)
    wal.sync(wal.append(REGION_A, 1, [put(b"a")]))
    wal.mark_flushed(REGION_A, 1)
    wal.close()
    assert list_segments(wal_dir) == [] and len(os.listdir(archive)) == 1


def test_reopened_wal_does_not_reuse_an_archived_segment_number(wal_dir, tmp_path):
    archive = str(tmp_path / "oldWALs")
    for seqid in (1, 2):
        wal = WAL(wal_dir, archive_dir=archive)
        wal.sync(wal.append(REGION_A, seqid, [put(b"a")]))
        wal.mark_flushed(REGION_A, seqid)
        wal.close()
    assert sorted(os.listdir(archive)) == ["host,16020,1.wal.00000000000000000001",
                                           "host,16020,1.wal.00000000000000000002"]


def test_unflushed_segment_survives_close(wal_dir):
    wal = WAL(wal_dir)
    wal.sync(wal.append(REGION_A, 1, [put(b"a")]))
    wal.close()
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1]
    with pytest.raises(ServerAbortedError):
        wal.append(REGION_A, 2, [put(b"a")])


# --- torn tails and corruption ----------------------------------------------------------------

def test_torn_wal_tail_is_ignored_on_replay(wal_dir):
    path = write_three_records(wal_dir)
    with open(path, "rb") as f:
        data = f.read()
    last_start, last_end = record_offsets(path)[-1]
    assert last_end == len(data)
    for cut in range(last_start, last_end):  # every byte offset inside the last record
        with open(path, "wb") as f:
            f.write(data[:cut])
        assert [e.seqid for e in read_segment(path)] == [1, 2], cut


def test_zero_filled_tail_is_ignored_on_replay(wal_dir):
    path = write_three_records(wal_dir)
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)
    assert [e.seqid for e in read_segment(path)] == [1, 2, 3]
    # a last record overwritten by zeros (the page never reached the disk) is a torn tail too
    last_start, last_end = record_offsets(path)[-1]
    with open(path, "r+b") as f:
        f.seek(last_start)
        f.write(b"\0" * (last_end - last_start))
    assert [e.seqid for e in read_segment(path)] == [1, 2]


def test_segment_torn_while_being_created_reads_as_empty(wal_dir):
    os.makedirs(wal_dir)
    for content in (b"", FILE_HEADER_SIZE * b"\0", b"mhW"):
        path = os.path.join(wal_dir, layout.wal_segment_name(1))
        with open(path, "wb") as f:
            f.write(content)
        assert list(read_segment(path)) == []


def test_flipped_byte_in_a_middle_record_raises_corruption_naming_file_and_offset(wal_dir):
    path = write_three_records(wal_dir)
    with open(path, "rb") as f:
        data = f.read()
    middle_start, middle_end = record_offsets(path)[1]
    for pos in range(middle_start, middle_end):  # every byte: header, lengths, cells, value
        flipped = bytearray(data)
        flipped[pos] ^= 0x40
        with open(path, "wb") as f:
            f.write(flipped)
        with pytest.raises(CorruptionError) as err:
            list(read_segment(path))
        assert path in str(err.value) and f"offset {middle_start}" in str(err.value), pos


def test_bad_last_record_with_nothing_valid_after_it_is_a_torn_tail(wal_dir):
    path = write_three_records(wal_dir)
    last_start, last_end = record_offsets(path)[-1]
    with open(path, "r+b") as f:
        f.seek(last_end - 1)
        f.write(b"\xee")  # checksum no longer matches
    assert [e.seqid for e in read_segment(path)] == [1, 2]


def test_torn_record_whose_value_holds_a_valid_record_is_still_a_torn_tail(wal_dir):
    """A kill -9 cut the last write short, and its value holds the bytes of a whole WAL record
    (a WAL file stored as a value). Those bytes belong to the torn record: they are not a
    "valid record after a bad one", which would make the log unsplittable forever."""
    path = write_three_records(wal_dir)
    inner = encode_entries([(REGION_B, 9, [put(b"inner", b"x")])])
    torn = encode_entries([(REGION_A, 4, [put(b"row4", b"blob" + inner + b"y" * 100)])])
    with open(path, "ab") as f:
        f.write(torn[:len(torn) - 50])  # the crash: the record's last 50 bytes never written
    assert [e.seqid for e in read_segment(path)] == [1, 2, 3]
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1, 2, 3]


def test_corruption_in_a_middle_segment_stops_read_wal_dir(wal_dir):
    wal = WAL(wal_dir, segment_bytes=300)  # two ~130-byte records per segment
    for seqid in range(1, 7):
        wal.sync(wal.append(REGION_A, seqid, [put(b"r", b"x" * 60)]))
    wal.close()
    first = list_segments(wal_dir)[0]
    start, _ = record_offsets(first)[0]
    with open(first, "r+b") as f:
        f.seek(start + RECORD_HEAD_SIZE + 3)
        f.write(b"\xff")
    with pytest.raises(CorruptionError, match=f"offset {start}"):
        list(read_wal_dir(wal_dir))


def test_torn_tail_in_an_earlier_segment_with_later_records_is_corruption(wal_dir):
    # The writer fsyncs a rolled segment before acknowledging anything after it, so a torn tail
    # can only be at the very end of the log: anywhere else it is lost acknowledged data.
    wal = WAL(wal_dir, segment_bytes=150)  # one record per segment
    for seqid in range(1, 4):
        wal.sync(wal.append(REGION_A, seqid, [put(b"r", b"x" * 60)]))
    wal.close()
    first = list_segments(wal_dir)[0]
    _, record_end = record_offsets(first)[0]
    with open(first, "r+b") as f:
        f.truncate(record_end - 5)
    with pytest.raises(CorruptionError, match="later segment"):
        list(read_wal_dir(wal_dir))
    assert [e.seqid for e in read_segment(first)] == []  # alone, it just looks torn


@pytest.mark.parametrize("records_lost", [0, 1])
def test_an_earlier_segment_cut_at_a_record_boundary_is_corruption(wal_dir, records_lost):
    """Cut exactly between records, a segment parses cleanly; the end record written when the
    WAL rolled is what tells that its last records are missing (0: only the end record)."""
    wal = WAL(wal_dir, segment_bytes=300)  # two records per segment
    for seqid in range(1, 6):
        wal.sync(wal.append(REGION_A, seqid, [put(b"r", b"x" * 60)]))
    wal.close()
    first = list_segments(wal_dir)[0]
    offsets = record_offsets(first)
    assert len(offsets) == 3  # two records and the end record
    with open(first, "r+b") as f:
        f.truncate(offsets[-1 - records_lost][0])
    with pytest.raises(CorruptionError, match="without its end record.*later segment"):
        list(read_wal_dir(wal_dir))


def test_a_reopened_wal_ends_its_previous_last_segment(wal_dir):
    wal = WAL(wal_dir)
    wal.sync(wal.append(REGION_A, 1, [put(b"r1")]))
    wal.close()
    wal = WAL(wal_dir)  # a new segment follows the previous run's last one
    wal.sync(wal.append(REGION_A, 2, [put(b"r2")]))
    wal.close()
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1, 2]


def test_reopening_a_wal_cuts_the_torn_tail_of_its_last_segment(wal_dir):
    path = write_three_records(wal_dir)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    wal = WAL(wal_dir)
    wal.sync(wal.append(REGION_A, 4, [put(b"r")]))
    wal.close()
    assert [e.seqid for e in read_wal_dir(wal_dir)] == [1, 2, 4]


def test_foreign_file_is_not_taken_for_a_wal_segment(wal_dir):
    os.makedirs(wal_dir)
    path = os.path.join(wal_dir, layout.wal_segment_name(1))
    with open(path, "wb") as f:
        f.write(b"this is not a WAL segment at all")
    with pytest.raises(CorruptionError, match="not a WAL file"):
        list(read_segment(path))


# --- fencing ----------------------------------------------------------------------------------

def test_fenced_wal_fails_every_later_sync_and_never_recreates_its_directory(wal_dir):
    wal = WAL(wal_dir)
    wal.sync(wal.append(REGION_A, 1, [put(b"r")]))
    os.rename(wal_dir, wal_dir + layout.SPLITTING_SUFFIX)  # the master fences the server

    txid = wal.append(REGION_A, 2, [put(b"r")])  # may still land in the renamed file...
    with pytest.raises(WALFencedError):
        wal.sync(txid)  # ...but is never acknowledged
    with pytest.raises(WALFencedError):
        wal.sync(txid)
    with pytest.raises(WALFencedError):
        wal.append(REGION_A, 3, [put(b"r")])
    wal.mark_flushed(REGION_A, 3)  # archiving nothing, touching nothing
    wal.close()
    assert not os.path.exists(wal_dir)
    assert [e.seqid for e in read_wal_dir(wal_dir + layout.SPLITTING_SUFFIX)][0] == 1


def test_fenced_wal_does_not_recreate_its_directory_when_rolling(wal_dir):
    wal = WAL(wal_dir, segment_bytes=100, sync=False)
    os.rename(wal_dir, wal_dir + layout.SPLITTING_SUFFIX)
    with pytest.raises(WALFencedError):
        wal.append(REGION_A, 1, [put(b"r", b"x" * 200)])  # passes segment_bytes: must roll
    with pytest.raises(WALFencedError):
        wal.sync(1)
    assert not os.path.exists(wal_dir)
    wal.close()


def test_waiting_writers_are_all_refused_once_fenced(wal_dir, monkeypatch):
    real = wal_module._fdatasync
    monkeypatch.setattr(wal_module, "_fdatasync", lambda fd: (time.sleep(0.005), real(fd)))
    wal = WAL(wal_dir)
    outcomes = []
    barrier = threading.Barrier(6)

    def writer(k):
        barrier.wait()
        try:
            wal.sync(wal.append(REGION_A, k, [put(b"r")]))
            outcomes.append("acked")
        except WALFencedError:
            outcomes.append("fenced")

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(5)]
    for t in workers:
        t.start()
    os.rename(wal_dir, wal_dir + layout.SPLITTING_SUFFIX)
    barrier.wait()
    for t in workers:
        t.join()
    assert outcomes == ["fenced"] * 5
    wal.close()


def test_replacing_the_directory_with_a_new_one_is_also_fencing(wal_dir):
    wal = WAL(wal_dir, sync=False)
    os.rename(wal_dir, wal_dir + layout.SPLITTING_SUFFIX)
    os.makedirs(wal_dir)  # somebody else created the same path: not our directory
    with pytest.raises(WALFencedError):
        wal.sync(wal.append(REGION_A, 1, [put(b"r")]))
    wal.close()
