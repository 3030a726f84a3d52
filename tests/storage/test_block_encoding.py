"""DATA_BLOCK_ENCODING (storage/block_encoding.py): PREFIX and FAST_DIFF files read exactly as
NONE files of the same cells, are markedly smaller on typical data, survive a reopen, are
rewritten by a major compaction after an ALTER, report damage as CorruptionError, and files
written before encodings existed still read."""

from __future__ import annotations

import os
import shutil
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minihbase.errors import CorruptionError, InvalidArgumentError
from storage import block_encoding
from storage import hfile_format as fmt
from storage.block_cache import BlockCache
from storage.cell import CellType, store_key
from storage.config import RegionConfig
from storage.hfile import HFileReader, HFileWriter
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import DATA_BLOCK_ENCODINGS, FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Clock, Inline

ENCODINGS = ("NONE", "PREFIX", "FAST_DIFF")
CF = b"cf"
INFO = RegionInfo("t", b"", b"", 1)
TYPES = (CellType.PUT, CellType.PUT, CellType.DELETE, CellType.DELETE_COLUMN,
         CellType.DELETE_FAMILY)
OLD_FILE = os.path.join(os.path.dirname(__file__), "data", "v1-before-encodings.hfile")


def write(path, cells, encoding, *, block_size=256, compression="NONE"):
    w = HFileWriter(str(path), family=CF, block_size=block_size, compression=compression,
                    data_block_encoding=encoding)
    for key, value in cells:
        w.append(key, value)
    return w.finish(max_seqid=1)


# Rows share long prefixes, qualifiers and timestamps repeat: what encodings exist for; the
# odd long row or qualifier and every cell type make the edges.
rows = st.builds(lambda a, b: b"user-0000-" + a + b, st.sampled_from([b"", b"1", b"12", b"2"]),
                 st.binary(min_size=0, max_size=3)) | st.binary(min_size=1, max_size=40)
keys = st.tuples(rows, st.sampled_from([b"", b"a", b"b", b"qualifier-long" * 5]),
                 st.sampled_from([0, 1, 7, 1_700_000_000_000, (1 << 63) - 1]),
                 st.sampled_from(TYPES))
cell_sets = st.dictionaries(keys, st.binary(max_size=30), min_size=1, max_size=120)


def sorted_cells(d):
    return sorted((store_key(r, q, ts, typ), v) for (r, q, ts, typ), v in d.items())


def read_everything(path, probes):
    """Every way a reader serves cells: full scan, seeks, row gets, reverse-scan steps."""
    with HFileReader(str(path), block_cache=BlockCache()) as r:
        out = {"all": list(r.iter_from()), "mid": r.mid_row()}
        out["seeks"] = [list(r.iter_from(key))[:5] for key in probes]
        out["rows"] = [r.row_cells(key[0]) for key in probes]
        out["before"] = [r.last_row_before(key[0]) for key in probes] + [r.last_row_before(None)]
        out["blocks"] = r.block_count
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cell_sets, st.integers(64, 600), st.sampled_from(["NONE", "ZSTD"]),
       st.lists(keys, max_size=6))
def test_every_encoding_reads_exactly_what_none_reads(tmp_path, d, block_size, codec, extra):
    cells = sorted_cells(d)
    probes = [cells[0][0], cells[-1][0], cells[len(cells) // 2][0]]
    probes += [store_key(r, q, ts, t) for r, q, ts, t in extra]  # absent keys too
    probes += [(r + b"\0",) for r, *_ in probes[:3]]  # row prefixes, as scans seek
    seen = {}
    for enc in ENCODINGS:
        path = tmp_path / f"{enc}-{len(cells)}-{block_size}"
        write(path, cells, enc, block_size=block_size, compression=codec)
        seen[enc] = read_everything(path, probes)
        os.unlink(path)
    assert seen["NONE"]["all"] == cells
    assert seen["PREFIX"] == seen["NONE"]
    assert seen["FAST_DIFF"] == seen["NONE"]


def test_schema_and_block_encoder_agree_on_the_encodings():
    assert DATA_BLOCK_ENCODINGS == tuple(block_encoding.ENCODING_IDS) == ENCODINGS


def wide_rows():
    """Typical HBase data: long shared row prefixes, many columns per row, one timestamp."""
    return [(store_key(b"com.example.www/user/%08d" % i, b"col%02d" % c, 1_700_000_000_000,
                       CellType.PUT), b"%d" % (i * c))
            for i in range(400) for c in range(20)]


@pytest.mark.parametrize("encoding", ["PREFIX", "FAST_DIFF"])
def test_each_encoded_file_reads_after_reopen_and_is_markedly_smaller(tmp_path, encoding):
    cells = wide_rows()
    write(tmp_path / "none", cells, "NONE", block_size=65536)
    info = write(tmp_path / "enc", cells, encoding, block_size=65536)
    assert info.data_block_encoding == encoding
    with HFileReader(str(tmp_path / "enc")) as r:  # a fresh reader, no cache: from disk
        assert r.info.data_block_encoding == encoding
        assert list(r.iter_from()) == cells
        row = b"com.example.www/user/%08d" % 123
        assert [k for k, _ in r.row_cells(row)] == [k for k, _ in cells if k[0] == row]
    ratio = os.path.getsize(tmp_path / "enc") / os.path.getsize(tmp_path / "none")
    assert ratio < {"PREFIX": 0.95, "FAST_DIFF": 0.6}[encoding], ratio


def test_a_file_written_before_encodings_existed_still_reads():
    """tests/storage/data/v1-before-encodings.hfile was written by the writer of commit 74efec3."""
    with HFileReader(OLD_FILE, block_cache=BlockCache()) as r:
        assert r.info.data_block_encoding == "NONE" and r.info.cell_count == 83
        cells = list(r.iter_from())
        assert r.row_cells(b"row007")[0] == ((b"row007", b"a", -9, -12), b"")
    assert cells[1] == ((b"row000", b"a", -5, -4), b"row000-a-5")
    assert len(cells) == 83 and cells == sorted(cells)


def test_a_none_file_is_still_written_byte_for_byte_as_version_1(tmp_path):
    with HFileReader(OLD_FILE) as r:
        cells = list(r.iter_from())
    write(tmp_path / "new", cells, "NONE", block_size=128)
    old, new = open(OLD_FILE, "rb").read(), open(tmp_path / "new", "rb").read()
    assert len(old) == len(new)
    assert new[-fmt.TRAILER_SIZE:][8:10] == struct.pack("<H", fmt.VERSION)
    with HFileReader(OLD_FILE) as r:
        data_end = r._offsets[-1] + r._sizes[-1]
    assert old[:data_end] == new[:data_end]  # data blocks identical (file info has a clock)


def _rewrite_block(path, offset, size, payload_fn):
    """Replace a data block's payload and give it a valid crc: damage the crc cannot see."""
    with open(path, "r+b") as f:
        f.seek(offset)
        buf = f.read(size)
        kind, codec, raw_len, stored_len = fmt.BLOCK_HEADER.unpack_from(buf, 0)
        payload = payload_fn(buf[fmt.BLOCK_HEADER_SIZE:fmt.BLOCK_HEADER_SIZE + stored_len])
        block = fmt.frame_block(kind, codec, len(payload), payload)
        assert len(block) == size
        f.seek(offset)
        f.write(block)


@pytest.mark.parametrize("encoding", ["PREFIX", "FAST_DIFF"])
def test_a_damaged_encoded_block_is_corruption_never_served(tmp_path, encoding):
    cells = wide_rows()[:2000]
    path = tmp_path / "f"
    write(path, cells, encoding, block_size=4096)
    with HFileReader(str(path)) as r:
        offset, size = r._offsets[2], r._sizes[2]
        row = r._first_keys[2][0]
    shutil.copy(path, tmp_path / "g")
    with open(path, "r+b") as f:  # a flipped bit: the crc over the encoded bytes catches it
        f.seek(offset + fmt.BLOCK_HEADER_SIZE + 40)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x10]))
    with HFileReader(str(path), block_cache=BlockCache()) as r:
        with pytest.raises(CorruptionError, match=f"checksum mismatch.*offset {offset}"):
            r.row_cells(row)
        with pytest.raises(CorruptionError):
            list(r.iter_from())
    # a well-checksummed payload whose encoded columns lie: the decoder refuses it
    _rewrite_block(tmp_path / "g", offset, size, lambda p: p[:12] + b"\xff" + p[13:])
    with HFileReader(str(tmp_path / "g"), block_cache=BlockCache()) as r:
        with pytest.raises(CorruptionError, match=f"offset {offset}"):
            r.row_cells(row)


def test_an_unknown_encoding_in_the_file_info_is_corruption(tmp_path):
    path = tmp_path / "f"
    write(path, wide_rows()[:50], "PREFIX")
    data = bytearray(open(path, "rb").read())
    at = data.rfind(b"\x06PREFIX")
    data[at:at + 7] = b"\x06PREFIZ"
    info_offset, info_size = fmt.decode_trailer(
        bytes(data[-fmt.TRAILER_SIZE:]), "f", len(data))[3:5]
    payload = bytes(data[info_offset + fmt.BLOCK_HEADER_SIZE:info_offset + info_size - 4])
    data[info_offset:info_offset + info_size] = fmt.frame_block(
        fmt.BLOCK_INFO, fmt.CODEC_NONE, len(payload), payload)
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptionError, match="unknown data block encoding 'PREFIZ'"):
        HFileReader(str(path))


def test_bad_encoding_names_are_errors_naming_the_supported_values():
    with pytest.raises(InvalidArgumentError,
                       match="DATA_BLOCK_ENCODING must be one of NONE, PREFIX, FAST_DIFF, "
                             "got 'ZIP'"):
        FamilyDescriptor(CF, data_block_encoding="ZIP")
    with pytest.raises(InvalidArgumentError, match="DIFF is not supported.*NONE, PREFIX"):
        FamilyDescriptor(CF, data_block_encoding="diff")
    assert FamilyDescriptor(CF, data_block_encoding="fast_diff").data_block_encoding == \
        "FAST_DIFF"
    with pytest.raises(ValueError, match="NONE, PREFIX, FAST_DIFF"):
        HFileWriter("/nonexistent/x", family=CF, data_block_encoding="ROW_INDEX_V1")


# --- a region: reads through the whole read path, ALTER + major compaction --------------------

def _open(path, encoding, cache=None):
    fam = FamilyDescriptor(CF, max_versions=3, data_block_encoding=encoding)
    return Region.open(str(path), INFO, TableDescriptor("t", (fam,)), wal=None,
                       background=Inline(), block_cache=cache or BlockCache(),
                       config=RegionConfig(clock=Clock(), compaction_min_files=100))


def _load(region, seed):
    import random

    rng = random.Random(seed)
    for i in range(600):
        row = b"user/%06d" % rng.randrange(150)
        m = Mutation(row)
        op = rng.random()
        if op < 0.08:
            m.delete_column(CF, b"q%d" % rng.randrange(4), 1000 + rng.randrange(20))
        elif op < 0.1:
            m.delete_family(CF, 1000 + rng.randrange(20))
        elif op < 0.14:
            m.delete_version(CF, b"q%d" % rng.randrange(4), 1000 + rng.randrange(20))
        else:
            m.put(CF, b"q%d" % rng.randrange(4), b"v%d" % i, 1000 + rng.randrange(20))
        region.mutate(m)
        if i % 150 == 149:
            region.flush()


def _everything(region):
    def cells(batches):
        return [tuple(c) for batch in batches for c in batch]

    rows = [b"user/%06d" % i for i in range(0, 150, 7)]
    return {
        "scan": cells(region.scanner(Scan(max_versions=3))),
        "raw": cells(region.scanner(Scan(raw=True, max_versions=10))),
        "reverse": cells(region.scanner(Scan(reversed=True, max_versions=2))),
        "from": cells(region.scanner(Scan(start_row=b"user/000077", stop_row=b"user/0001"))),
        "gets": [[tuple(c) for c in region.get(Get(r, max_versions=3))] for r in rows],
        "wire": [region.get_row_wire(r, repr) for r in rows],
    }


@pytest.mark.parametrize("encoding", ["PREFIX", "FAST_DIFF"])
def test_region_reads_of_an_encoded_family_equal_none(tmp_path, encoding):
    seen = {}
    for enc in ("NONE", encoding):
        r = _open(tmp_path / enc, enc)
        _load(r, seed=5)
        assert r.store_file_count() == 4
        seen[enc] = _everything(r)
        seen[enc + " cached"] = _everything(r)  # the second time from decoded, cached blocks
        r.close()
    assert seen["NONE"]["scan"] and seen["NONE"]["raw"] != seen["NONE"]["scan"]
    assert seen[encoding] == seen["NONE"] == seen[encoding + " cached"]


def _file_encodings(region):
    view = region.stores[CF].acquire()
    try:
        return [f.reader.info.data_block_encoding for f in view.files]
    finally:
        view.release()


def test_alter_then_major_compaction_rewrites_files_in_the_new_encoding(tmp_path):
    r = _open(tmp_path, "NONE")
    _load(r, seed=9)
    before = _everything(r)
    r.close()
    r = _open(tmp_path, "FAST_DIFF")  # what an ALTER does: the region reopens, new descriptor
    assert _file_encodings(r) == ["NONE"] * 4  # old files keep their encoding and still read
    assert _everything(r) == before
    r.mutate(Mutation(b"user/999999").put(CF, b"q", b"new", 2000))
    r.flush()
    assert sorted(_file_encodings(r)) == ["FAST_DIFF"] + ["NONE"] * 4
    r.compact(major=True)
    assert _file_encodings(r) == ["FAST_DIFF"]
    after = _everything(r)
    r.close()
    r = _open(tmp_path, "NONE")  # and back: the FAST_DIFF file reads under a NONE family
    assert _everything(r) == after
    r.close()
    assert after["gets"] == before["gets"]
    assert after["scan"][:-1] == [c for c in before["scan"]]  # plus the new row at the end


@pytest.mark.parametrize("values", [[], [5], [-3, -3, -3], [0, 255], [-1, 255], [7, 70_000],
                                    [-(1 << 63), (1 << 63) - 1], [1 << 31, 0, 1 << 33]])
def test_packed_columns_round_trip_at_every_width(values):
    packed = block_encoding.pack_column(values)
    assert block_encoding.unpack_column(b"xx" + packed, 2, len(values)) == (
        tuple(values), 2 + len(packed))


@pytest.mark.parametrize("encoding", ["PREFIX", "FAST_DIFF"])
def test_the_cache_charges_a_decoded_encoded_block_as_much_as_a_none_block(tmp_path, encoding):
    """The cache holds decoded blocks; a smaller file must not let them overfill it."""
    cells = wide_rows()
    charged = {}
    for enc in ("NONE", encoding):
        write(tmp_path / enc, cells, enc, block_size=8192)
        cache = BlockCache(1 << 30)
        with HFileReader(str(tmp_path / enc), block_cache=cache) as r:
            for key in r._first_keys:
                r.row_cells(key[0])
            charged[enc] = cache.size_bytes
    assert 0.95 < charged[encoding] / charged["NONE"] < 1.05
