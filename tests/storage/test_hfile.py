"""HFile: roundtrip, ordering, seeks, gets, bloom short-cut, compression, file info, atomic
creation and corruption detection. Tiny block sizes make every test span many blocks."""

import os
import struct
import subprocess
import sys
import threading
import zlib
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minihbase.errors import CorruptionError
from storage import hfile_format as fmt
from storage.block_cache import BlockCache
from storage.cell import CellType, store_key
from storage.hfile import HFileReader, HFileWriter, is_temp_file

PUT, DEL, DCOL, DFAM = CellType.PUT, CellType.DELETE, CellType.DELETE_COLUMN, CellType.DELETE_FAMILY


def k(row, qual=b"q", ts=1, typ=PUT):
    return store_key(row, qual, ts, typ)


def write(path, cells, *, block_size=256, bloom="ROW", compression="NONE", max_seqid=1):
    w = HFileWriter(str(path), family=b"cf", block_size=block_size, bloom=bloom, compression=compression)
    for key, value in cells:
        w.append(key, value)
    return w.finish(max_seqid=max_seqid)


def mixed_cells():
    """Many rows, several columns and versions, every delete marker type, empty and large values."""
    cells = []
    for i in range(300):
        row = b"row%05d" % i
        if i % 17 == 0:
            cells.append((k(row, b"", 900, DFAM), b""))
        for q in (b"a", b"b", b"long-qualifier-" * 3):
            if i % 5 == 0 and q == b"a":
                cells.append((k(row, q, 800, DCOL), b""))
            for ts in (700, 600):
                if i % 7 == 0 and ts == 600:
                    cells.append((k(row, q, ts, DEL), b""))
                value = b"" if i % 11 == 0 else (b"v%d-%d-" % (i, ts)) * (i % 4 + 1)
                cells.append((k(row, q, ts, PUT), value))
    cells.append((k(b"zz-large-1", b"a", 5), os.urandom(5000)))  # spans far past block_size
    cells.append((k(b"zz-large-2", b"a", 5), b"x" * 70_000))
    assert cells == sorted(cells) and len({c[0] for c in cells}) == len(cells)
    return cells


@pytest.fixture
def cells():
    return mixed_cells()


@pytest.mark.parametrize("compression", ["NONE", "ZSTD", "GZ"])
def test_roundtrip_of_many_cells_with_delete_markers_empty_and_large_values(tmp_path, cells, compression):
    path = tmp_path / "f.hfile"
    info = write(path, cells, compression=compression)
    assert info.data_block_count > 50
    with HFileReader(str(path)) as r:
        assert list(r.iter_from()) == cells
        assert r.info == info


def test_writer_rejects_keys_that_are_not_strictly_ascending(tmp_path):
    w = HFileWriter(str(tmp_path / "f.hfile"), family=b"cf")
    w.append(k(b"b", ts=5), b"1")
    with pytest.raises(ValueError, match="strictly ascending"):
        w.append(k(b"b", ts=5), b"dup")
    with pytest.raises(ValueError, match="strictly ascending"):
        w.append(k(b"b", ts=6), b"newer version must come first")
    with pytest.raises(ValueError, match="strictly ascending"):
        w.append(k(b"a"), b"earlier row")
    w.abort()


def test_iter_from_seeks_to_first_key_at_or_after(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    keys = [c[0] for c in cells]
    with HFileReader(str(path)) as r:
        assert list(r.iter_from((b"a",))) == cells  # before the first key
        assert list(r.iter_from((b"zzzz",))) == []  # after the last key
        for i in (0, 1, 57, 58, 500, len(cells) - 1):  # exactly a key
            assert list(r.iter_from(keys[i])) == cells[i:]
        # between two keys: the next version of a column, a gap between rows, a row prefix
        between = k(b"row00010", b"a", 650)
        expect = [c for c in cells if c[0] >= between]
        assert list(r.iter_from(between)) == expect
        assert list(r.iter_from((b"row00010x",)))[0][0][0] == b"row00011"
        assert list(r.iter_from((b"row00042",)))[0][0] == keys[[c[0][0] for c in cells].index(b"row00042")]
        assert list(r.iter_from(keys[0], cache_blocks=False)) == cells


def test_row_cells_returns_the_whole_row_even_across_blocks(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells, block_size=64)  # every row spans several blocks
    by_row = {}
    for key, value in cells:
        by_row.setdefault(key[0], []).append((key, value))
    with HFileReader(str(path), block_cache=BlockCache(1 << 20)) as r:
        for row in (b"row00000", b"row00001", b"row00150", b"row00299", b"zz-large-1", b"zz-large-2"):
            assert r.row_cells(row) == by_row[row]
        for absent in (b"a", b"row00000\x00", b"row00150a", b"row003", b"zzz"):
            assert r.row_cells(absent) == []


def test_last_row_before_walks_rows_backwards(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells, block_size=128)
    rows = sorted({c[0][0] for c in cells})
    with HFileReader(str(path)) as r:
        assert r.last_row_before(None) == rows[-1]
        assert r.last_row_before(b"\xff") == rows[-1]
        assert r.last_row_before(rows[0]) is None
        assert r.last_row_before(b"a") is None
        got, row = [], None
        while (row := r.last_row_before(row)) is not None:
            got.append(row)
            if len(got) > len(rows):
                break
        assert got == rows[::-1]
        assert r.last_row_before(b"row00150a") == b"row00150"


def test_get_of_absent_row_is_answered_by_bloom_without_reading_a_data_block(tmp_path):
    path = tmp_path / "f.hfile"
    write(path, [(k(b"row%05d" % i), b"v") for i in range(0, 2000, 2)], block_size=512)
    with HFileReader(str(path)) as r:  # no cache: every block fetch would count
        passed = 0
        for i in range(1, 2000, 2):  # odd rows: absent, and inside the file's key range
            before = r.data_blocks_read
            if r.row_cells(b"row%05d" % i):
                pytest.fail("absent row returned cells")
            if r.data_blocks_read == before:
                continue
            passed += 1  # a bloom false positive: allowed to read, ~1% of the time
        assert r.bloom_rejections == 999 - passed
        assert passed <= 30
        assert r.data_blocks_read <= 2 * passed
        assert r.row_cells(b"row00004") == [(k(b"row00004"), b"v")]


def test_rows_outside_the_file_key_range_read_nothing_even_without_bloom(tmp_path):
    path = tmp_path / "f.hfile"
    write(path, [(k(b"m%03d" % i), b"v") for i in range(100)], bloom="NONE")
    with HFileReader(str(path)) as r:
        assert r.row_cells(b"a") == [] and r.row_cells(b"z") == []
        assert r.data_blocks_read == 0
        assert r.might_contain_row(b"m0005x")  # NONE: every in-range row may be present


def test_rowcol_bloom_answers_row_and_column_questions(tmp_path):
    path = tmp_path / "f.hfile"
    cells = [(k(b"r%04d" % i, b"q%d" % (i % 3)), b"v") for i in range(500)]
    write(path, cells, bloom="ROWCOL")
    with HFileReader(str(path)) as r:
        for i in range(500):
            assert r.might_contain_row(b"r%04d" % i)
            assert r.might_contain_column(b"r%04d" % i, b"q%d" % (i % 3))
        false = sum(r.might_contain_column(b"r%04d" % i, b"q%d" % ((i + 1) % 3)) for i in range(500))
        assert false <= 20


def test_block_cache_serves_repeated_gets_and_is_emptied_by_evict(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    cache = BlockCache(1 << 20)
    with HFileReader(str(path), block_cache=cache) as r:
        first = r.row_cells(b"row00100")
        reads = r.data_blocks_read
        assert reads >= 1
        assert r.row_cells(b"row00100") == first
        assert r.data_blocks_read == reads and cache.hits >= 1
        assert r.evict_cached_blocks() >= 1
        assert len(cache) == 0
        r.row_cells(b"row00100")
        assert r.data_blocks_read == 2 * reads


def test_a_files_blocks_stay_cached_until_its_last_reader_is_done(tmp_path, cells):
    """Two readers of one file (a split parent's, read by both daughters) share its blocks:
    the first to be done must not drop what the other still reads; the last drops them, and a
    reader done with the file caches nothing more of it."""
    path = tmp_path / "f.hfile"
    write(path, cells)
    cache = BlockCache(1 << 20)
    r1 = HFileReader(str(path), block_cache=cache)
    r2 = HFileReader(str(path), block_cache=cache)
    assert r1.file_key == r2.file_key
    r1.row_cells(b"row00100")
    cached = len(cache)
    assert cached >= 1
    assert r1.evict_cached_blocks() == 0 and r1.evict_cached_blocks() == 0  # counted once
    assert len(cache) == cached
    r2.row_cells(b"row00100")
    assert r2.data_blocks_read == 0  # served from the blocks r1 cached
    r1.row_cells(b"row00400")
    assert len(cache) == cached  # r1 is done with the file: what it reads now is not kept
    r1.close()
    r2.close()
    assert len(cache) == 0 and cache.size_bytes == 0


def test_full_scan_without_caching_leaves_the_cache_untouched(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    cache = BlockCache(1 << 20)
    with HFileReader(str(path), block_cache=cache) as r:
        assert sum(1 for _ in r.iter_from(cache_blocks=False)) == len(cells)
        assert len(cache) == 0


@pytest.mark.parametrize("compression", ["ZSTD", "GZ"])
def test_compression_roundtrips_and_makes_the_file_smaller(tmp_path, compression):
    cells = [(k(b"user%06d" % i, b"profile"), b"name=user%06d;city=Springfield;plan=basic;" % i * 3)
             for i in range(3000)]
    plain = write(tmp_path / "plain.hfile", cells, block_size=4096)
    packed = write(tmp_path / "packed.hfile", cells, block_size=4096, compression=compression)
    assert packed.file_size < plain.file_size / 3
    assert packed.compression == compression
    with HFileReader(str(tmp_path / "packed.hfile")) as r:
        assert list(r.iter_from()) == cells
        assert r.row_cells(b"user001234") == [cells[1234]]


def test_an_undecodable_gz_block_with_a_good_checksum_is_corruption():
    """A writer bug (or a forged block): the crc passes, the payload does not inflate to the
    length the header promises. Reported, never served short or unbounded."""
    raw = b"x" * 1000
    for stored in (b"not deflate at all", zlib.compress(raw)[:-8], zlib.compress(raw * 2),
                   zlib.compress(raw) + b"trailing"):
        framed = fmt.frame_block(fmt.BLOCK_DATA, fmt.CODEC_GZ, len(raw), stored)
        codec, raw_len, payload = fmt.unframe_block(framed, fmt.BLOCK_DATA, "f", 0)
        with pytest.raises(CorruptionError, match="f: (undecodable gz block|block at offset 0 "
                                                  "decodes to)"):
            fmt.decode_payload(codec, raw_len, payload, "f", 0)


def test_file_info_records_key_range_time_range_seqid_and_counts(tmp_path, cells):
    path = tmp_path / "f.hfile"
    info = write(path, cells, max_seqid=4242, bloom="ROWCOL")
    assert info.first_key == cells[0][0] and info.last_key == cells[-1][0]
    assert (info.min_timestamp, info.max_timestamp) == (5, 900)
    assert info.max_seqid == 4242
    assert info.cell_count == len(cells)
    assert info.delete_count == sum(1 for c in cells if c[0][3] != -PUT)
    assert info.family == b"cf" and info.bloom == "ROWCOL" and info.block_size == 256
    assert info.file_size == os.path.getsize(path)
    assert info.overlaps_time_range(0, 6) and not info.overlaps_time_range(0, 5)
    assert info.overlaps_time_range(900, 1000) and not info.overlaps_time_range(901, 1000)
    assert info.overlaps_rows(b"row00299", None) and not info.overlaps_rows(b"zzz", None)
    assert not info.overlaps_rows(None, b"row00000") and info.overlaps_rows(b"", b"row00000\0")
    with HFileReader(str(path)) as r:
        assert r.info == info


def test_empty_file_is_valid_and_holds_nothing(tmp_path):
    path = tmp_path / "f.hfile"
    info = write(path, [])
    assert info.cell_count == 0 and info.first_key is None
    with HFileReader(str(path)) as r:
        assert list(r.iter_from()) == [] and r.row_cells(b"a") == []
        assert r.last_row_before(None) is None and r.mid_row() is None


def test_mid_row_splits_the_file_roughly_in_half(tmp_path):
    path = tmp_path / "f.hfile"
    write(path, [(k(b"r%05d" % i), b"v" * 20) for i in range(1000)], block_size=512)
    with HFileReader(str(path)) as r:
        assert b"r00400" <= r.mid_row() <= b"r00600"


# --- atomic creation ------------------------------------------------------------------------

def test_aborted_writer_leaves_nothing_under_the_final_name(tmp_path):
    path = tmp_path / "f.hfile"
    w = HFileWriter(str(path), family=b"cf", block_size=64)
    for i in range(100):
        w.append(k(b"r%03d" % i), b"v" * 50)
    assert [n for n in os.listdir(tmp_path) if is_temp_file(n)]  # data went to the temp name
    assert not path.exists()
    w.abort()
    assert os.listdir(tmp_path) == []


def test_exception_inside_with_block_aborts_the_writer(tmp_path):
    path = tmp_path / "f.hfile"
    with pytest.raises(RuntimeError):
        with HFileWriter(str(path), family=b"cf") as w:
            w.append(k(b"r"), b"v")
            raise RuntimeError("flush failed")
    assert os.listdir(tmp_path) == []


def test_crash_before_rename_never_exposes_a_half_written_file(tmp_path):
    path = tmp_path / "f.hfile"
    code = (
        "import os, sys\n"
        "from storage.hfile import HFileWriter\n"
        "from storage.cell import store_key\n"
        f"w = HFileWriter({str(path)!r}, family=b'cf', block_size=128)\n"
        "for i in range(2000):\n"
        "    w.append(store_key(b'r%05d' % i, b'q', 1, 4), b'v' * 100)\n"
        "w._file.flush()\n"
        "os._exit(9)  # die like kill -9: no finally, no atexit\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    assert not path.exists()
    leftovers = os.listdir(tmp_path)
    assert leftovers and all(is_temp_file(n) for n in leftovers)
    with pytest.raises(CorruptionError):  # the temp file is not a valid HFile
        HFileReader(str(tmp_path / leftovers[0]))


def test_failed_move_into_place_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.hfile"
    w = HFileWriter(str(path), family=b"cf")
    w.append(k(b"r"), b"v")

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "link", boom)  # the file is linked into place, never renamed over
    with pytest.raises(OSError, match="disk gone"):
        w.finish(max_seqid=1)
    assert os.listdir(tmp_path) == []


# --- corruption -----------------------------------------------------------------------------

def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def trailer_fields(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(size - fmt.TRAILER_SIZE)
        return fmt.decode_trailer(f.read(), str(path), size)[1:]  # without the version


@pytest.fixture
def good_file(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells, bloom="ROW")
    return path


def test_flipped_byte_in_a_data_block_raises_corruption_on_read(good_file):
    with HFileReader(str(good_file)) as r:
        offset = r._offsets[3]
        victim = r._first_keys[3][0]
    flip(good_file, offset + fmt.BLOCK_HEADER_SIZE + 20)
    with HFileReader(str(good_file), block_cache=BlockCache()) as r:  # metadata is intact
        with pytest.raises(CorruptionError, match=rf"f\.hfile.*offset {offset}"):
            r.row_cells(victim)
        with pytest.raises(CorruptionError):
            list(r.iter_from())
        assert len(r._cache) <= 3  # the bad block was never cached


def test_flipped_byte_in_a_block_header_raises_corruption(good_file):
    with HFileReader(str(good_file)) as r:
        offset = r._offsets[0]
    flip(good_file, offset + 2)  # raw_len field
    with HFileReader(str(good_file)) as r, pytest.raises(CorruptionError):
        list(r.iter_from())


@pytest.mark.parametrize("part", ["index", "file info", "bloom", "trailer", "trailer magic"])
def test_flipped_byte_in_metadata_raises_corruption_on_open(good_file, part):
    index_offset, index_size, info_offset, info_size, bloom_offset, bloom_size, _ = trailer_fields(good_file)
    size = os.path.getsize(good_file)
    offset = {
        "index": index_offset + index_size // 2,
        "file info": info_offset + 12,
        "bloom": bloom_offset + bloom_size // 2,
        "trailer": size - fmt.TRAILER_SIZE + 20,
        "trailer magic": size - fmt.TRAILER_SIZE,
    }[part]
    flip(good_file, offset)
    with pytest.raises(CorruptionError, match=r"f\.hfile"):
        HFileReader(str(good_file))


def test_truncated_file_raises_corruption_on_open(good_file):
    size = os.path.getsize(good_file)
    for new_size in (size - 1, 10, 0):
        os.truncate(good_file, new_size)
        with pytest.raises(CorruptionError):
            HFileReader(str(good_file))


def test_block_checksum_covers_the_codec_byte(tmp_path):
    payload = b"hello"
    block = bytearray(fmt.frame_block(fmt.BLOCK_DATA, fmt.CODEC_NONE, len(payload), payload))
    block[1] = fmt.CODEC_ZSTD
    with pytest.raises(CorruptionError, match="checksum"):
        fmt.unframe_block(bytes(block), fmt.BLOCK_DATA, "x", 0)
    assert struct.unpack_from("<I", block, len(block) - 4)


def test_close_lets_a_started_scan_finish_even_after_the_file_is_deleted(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    r = HFileReader(str(path))
    scan = r.iter_from()
    head = [next(scan) for _ in range(10)]
    r.close()  # compaction replaced the file: close and delete it while the scan runs
    os.unlink(path)
    assert head + list(scan) == cells
    assert r._closed  # the descriptor went away with the last scan
    with pytest.raises(ValueError, match="closed"):
        r.row_cells(b"row00100")
    with pytest.raises(ValueError, match="closed"):
        list(r.iter_from())


def test_dropped_scan_releases_a_closed_reader(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    r = HFileReader(str(path))
    scan = r.iter_from((b"row00200",))
    next(scan)
    r.close()
    assert not r._closed
    scan.close()  # what garbage collection of an abandoned scanner does
    assert r._closed


# --- model-based and concurrency checks -----------------------------------------------------

cell_st = st.tuples(
    st.binary(min_size=1, max_size=6), st.binary(max_size=4), st.integers(0, 2**63 - 1),
    st.sampled_from([PUT, DEL, DCOL, DFAM]), st.binary(max_size=300),
)


@settings(max_examples=40, deadline=None)
@given(raw=st.lists(cell_st, max_size=200), block_size=st.sampled_from([1, 64, 512, 65536]),
       compression=st.sampled_from(["NONE", "ZSTD", "GZ"]), probes=st.lists(st.binary(max_size=7), max_size=10))
def test_reader_agrees_with_a_sorted_list_model(tmp_path_factory, raw, block_size, compression, probes):
    model = sorted({store_key(r, q, ts, t): v for r, q, ts, t, v in raw}.items())
    path = str(tmp_path_factory.mktemp("model") / "f.hfile")
    info = write(path, model, block_size=block_size, compression=compression)
    keys = [kv[0] for kv in model]
    rows = sorted({key[0] for key in keys})
    with HFileReader(path, block_cache=BlockCache(4096)) as r:
        assert list(r.iter_from()) == model
        assert r.info == info and info.cell_count == len(model)
        for row in probes + rows[:5]:
            assert r.row_cells(row) == [kv for kv in model if kv[0][0] == row]
            assert list(r.iter_from((row,))) == model[bisect_left(keys, (row,)):]
            before = [x for x in rows if x < row]
            assert r.last_row_before(row) == (before[-1] if before else None)


def test_many_threads_share_one_reader_and_a_small_cache(tmp_path, cells):
    path = tmp_path / "f.hfile"
    write(path, cells)
    by_row = {}
    for key, value in cells:
        by_row.setdefault(key[0], []).append((key, value))
    rows = sorted(by_row)
    cache = BlockCache(20_000)  # far smaller than the file: constant eviction
    errors = []
    with HFileReader(str(path), block_cache=cache) as r:
        def worker(seed):
            try:
                for i in range(300):
                    row = rows[(seed * 7919 + i * 31) % len(rows)]
                    assert r.row_cells(row) == by_row[row]
                    if i % 100 == 0:
                        assert list(r.iter_from((row,)))[:3] == by_row[row][:3]
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert cache.evictions > 0 and cache.size_bytes <= cache.capacity_bytes


def test_rowcol_bloom_never_hides_a_family_delete_marker_from_a_column_lookup(tmp_path):
    path = tmp_path / "f.hfile"
    cells = [
        (k(b"r1", b"", 50, DFAM), b""),  # deletes every column of r1 up to ts 50
        (k(b"r2", b"", 40, CellType.DELETE_FAMILY_VERSION), b""),
        (k(b"r3", b"other", 1), b"v"),
    ]
    info = write(path, cells, bloom="ROWCOL")
    assert info.family_delete_count == 2 and info.delete_count == 2
    with HFileReader(str(path)) as r:
        assert r.might_contain_column(b"r1", b"any-column")
        assert r.might_contain_column(b"r2", b"any-column")
        assert not r.might_contain_column(b"r3", b"any-column")  # deterministic hash: no fluke
