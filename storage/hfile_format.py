"""On-disk format of an HFile: constants, block framing and codecs shared by writer and reader.

See docs/storage.md (section "HFile"). Every number below is written to disk: never renumber,
never reorder a struct. A new layout gets a new VERSION and the reader keeps the old one.

All integers are LITTLE-endian (the columnar arrays of a data block are then bulk-decoded with one
``struct.unpack_from`` each, which is what makes pure-Python reads fast).

File layout (offsets from the start of the file; data blocks start at 0)::

    +-----------------------------+  0
    | data block 0                |  cells in store-key order, ~block_size bytes before codec
    | data block 1                |
    | ...                         |
    | data block n-1              |
    +-----------------------------+  trailer.bloom_offset   (absent when bloom is NONE)
    | bloom block                 |
    +-----------------------------+  trailer.info_offset
    | file info block             |
    +-----------------------------+  trailer.index_offset
    | block index block           |
    +-----------------------------+  file_size - TRAILER_SIZE
    | trailer (fixed 64 bytes)    |
    +-----------------------------+  file_size

Every block is framed the same way; the crc covers the header and the stored payload::

    0      1       2              6               10                 10+stored_len
    +------+-------+--------------+---------------+------------------+-----------+
    | kind | codec | raw_len  u32 | stored_len u32| payload (stored) | crc32 u32 |
    +------+-------+--------------+---------------+------------------+-----------+
    kind: 1 data, 2 index, 3 bloom, 4 file info.   codec: 0 none, 1 zstd, 2 gz (zlib deflate)
    (data blocks only).
    raw_len is the payload length after decompression.

Data block payload (raw), columnar; n cells, R distinct rows, Q distinct qualifiers::

    n u32 | R u32 | Q u32
    row_len   u16 x R          distinct rows of the block, ascending
    qual_len  u32 x Q          distinct qualifiers of the block, first-use order
    row_idx   u32 x n          cell i's row = rows[row_idx[i]]
    qual_idx  u32 x n          cell i's qualifier = quals[qual_idx[i]]
    neg_ts    i64 x n          -timestamp (store-key order: newest first)
    neg_type  i8  x n          -type (CellType; delete markers sort before puts)
    value_len u32 x n
    row bytes (R, concatenated) | qualifier bytes (Q) | value bytes (n)

Index block payload: count u32, then per data block:
    offset u64 | size u32 (framed, on disk) | first key (encoded key, below)

Encoded key: row_len u16 | row | qual_len u32 | qual | neg_ts i64 | neg_type i8

Bloom block payload: m_bits u64 | k u8 | n_elements u64 | bit array (m/8 bytes, m a multiple
    of 8; bit p = byte p>>3 masked with 0x80 >> (p & 7)).
    Element bit positions: (h1 + i*h2) mod m, i < k, with h1, h2 the two 32-bit halves of
    blake2b(element, digest_size=8) (h2 forced odd). Row element = b"R" + row; row+column
    element = b"C" + u16 row_len + row + qualifier. A ROWCOL bloom holds both kinds, plus
    b"F" + row for every row with a DeleteFamily/DeleteFamilyVersion marker (those markers
    mask every column, so a column lookup must not skip the file: HBase's delete-family bloom).

File info payload:
    min_ts i64 | max_ts i64 | max_seqid u64 | cell_count u64 | delete_count u64 |
    family_delete_count u64 | data_block_count u32 | block_size u32 | created_ms u64 | has_keys u8 |
    family (u8 len + bytes) | bloom (u8 len + ascii) | compression (u8 len + ascii) |
    [version 2 only: data block encoding (u8 len + ascii: PREFIX or FAST_DIFF)] |
    first key, last key (encoded keys, only when has_keys)

Version 1 files (NONE encoding, and every file written before DATA_BLOCK_ENCODING existed) and
version 2 files (data blocks encoded as storage/block_encoding.py draws) are both read; a NONE
file is still written as version 1, byte for byte as before.

Trailer (fixed TRAILER_SIZE bytes, at the very end):
    magic 8 "MHBHFTRL" | version u16 | reserved u16 |
    index_offset u64 | index_size u32 | info_offset u64 | info_size u32 |
    bloom_offset u64 | bloom_size u32 | data_end u64 | pad to 60 | crc32 u32 of bytes [0, 60)
"""

from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

from minihbase.errors import CorruptionError

# --- written to disk: never renumber ------------------------------------------------------------
VERSION = 1  # data blocks as drawn above
VERSION_ENCODED = 2  # data blocks encoded; the file info names the encoding
VERSIONS = (VERSION, VERSION_ENCODED)
TRAILER_MAGIC = b"MHBHFTRL"

BLOCK_DATA = 1
BLOCK_INDEX = 2
BLOCK_BLOOM = 3
BLOCK_INFO = 4
BLOCK_KIND_NAMES = {
    BLOCK_DATA: "data", BLOCK_INDEX: "index", BLOCK_BLOOM: "bloom", BLOCK_INFO: "file info",
}

CODEC_NONE = 0
CODEC_ZSTD = 1
CODEC_GZ = 2
CODECS = {"NONE": CODEC_NONE, "ZSTD": CODEC_ZSTD, "GZ": CODEC_GZ}
CODEC_NAMES = {v: k for k, v in CODECS.items()}

BLOOM_NONE = "NONE"
BLOOM_ROW = "ROW"
BLOOM_ROWCOL = "ROWCOL"

BLOCK_HEADER = struct.Struct("<BBII")  # kind, codec, raw_len, stored_len
BLOCK_HEADER_SIZE = BLOCK_HEADER.size  # 10
CRC = struct.Struct("<I")
BLOCK_OVERHEAD = BLOCK_HEADER_SIZE + CRC.size  # 14

DATA_HEADER = struct.Struct("<III")  # n, distinct rows, distinct qualifiers
INDEX_ENTRY = struct.Struct("<QI")  # offset, framed size
KEY_ROW_LEN = struct.Struct("<H")
KEY_QUAL_LEN = struct.Struct("<I")
KEY_TAIL = struct.Struct("<qb")  # neg_ts, neg_type
BLOOM_HEADER = struct.Struct("<QBQ")  # m_bits, k, n_elements
INFO_FIXED = struct.Struct("<qqQQQQIIQB")
TRAILER_BODY = struct.Struct("<8sHHQIQIQIQ")
TRAILER_SIZE = 64
TRAILER_CRC_OFFSET = TRAILER_SIZE - CRC.size
# ---------------------------------------------------------------------------------------------

ZSTD_LEVEL = 3
GZ_LEVEL = 6  # zlib's default: what HBase's GZ codec uses too


def frame_block(kind: int, codec: int, raw_len: int, stored: bytes) -> bytes:
    """Header + stored payload + crc32(header + payload)."""
    head = BLOCK_HEADER.pack(kind, codec, raw_len, len(stored))
    crc = zlib.crc32(stored, zlib.crc32(head))
    return b"".join((head, stored, CRC.pack(crc)))


def unframe_block(buf: bytes, kind: int, path: str, offset: int) -> tuple[int, int, memoryview]:
    """Verify a framed block read from disk; return (codec, raw_len, stored payload view).

    Raises CorruptionError (naming file and offset) for a bad crc, a wrong kind or a length
    that does not match what the index/trailer promised."""
    if len(buf) < BLOCK_OVERHEAD:
        raise CorruptionError(
            f"{path}: truncated {BLOCK_KIND_NAMES.get(kind)} block at offset {offset}")
    view = memoryview(buf)
    end = len(buf) - CRC.size
    (crc,) = CRC.unpack_from(buf, end)
    if zlib.crc32(view[:end]) != crc:
        raise CorruptionError(
            f"{path}: checksum mismatch in {BLOCK_KIND_NAMES.get(kind)} block at offset {offset}"
        )
    got_kind, codec, raw_len, stored_len = BLOCK_HEADER.unpack_from(buf, 0)
    if (got_kind != kind or stored_len != end - BLOCK_HEADER_SIZE
            or codec not in CODEC_NAMES):
        raise CorruptionError(
            f"{path}: malformed {BLOCK_KIND_NAMES.get(kind)} block at offset {offset} "
            f"(kind {got_kind}, codec {codec}, stored_len {stored_len})"
        )
    return codec, raw_len, view[BLOCK_HEADER_SIZE:end]


_zstd_local = threading.local()  # zstandard contexts must not be shared between threads


def zstd_compress(data: bytes) -> bytes:
    cctx = getattr(_zstd_local, "cctx", None)
    if cctx is None:
        import zstandard

        cctx = _zstd_local.cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return cctx.compress(data)


def zstd_decompress(data, raw_len: int) -> bytes:
    dctx = getattr(_zstd_local, "dctx", None)
    if dctx is None:
        import zstandard

        dctx = _zstd_local.dctx = zstandard.ZstdDecompressor()
    return dctx.decompress(data, max_output_size=raw_len)


def compress(codec: int, raw: bytes) -> bytes:
    if codec == CODEC_ZSTD:
        return zstd_compress(raw)
    if codec == CODEC_GZ:
        return zlib.compress(raw, GZ_LEVEL)
    return raw


def decode_payload(codec: int, raw_len: int, stored, path: str, offset: int) -> bytes:
    if codec == CODEC_NONE:
        raw = bytes(stored)
    else:
        try:
            if codec == CODEC_GZ:  # at most raw_len bytes out, whatever the input claims
                inflate = zlib.decompressobj()
                raw = inflate.decompress(stored, max(raw_len, 1))  # 0 would mean no limit
                if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
                    raise ValueError("the deflate stream does not end where the header says")
            else:
                raw = zstd_decompress(stored, raw_len)
        except Exception as e:  # crc matched, so this is a writer bug or an attack
            raise CorruptionError(f"{path}: undecodable {CODEC_NAMES[codec].lower()} block at "
                                  f"offset {offset}: {e}") from e
    if len(raw) != raw_len:
        raise CorruptionError(
            f"{path}: block at offset {offset} decodes to {len(raw)} bytes, not {raw_len}")
    return raw


def encode_key(key: tuple) -> bytes:
    row, qual, neg_ts, neg_type = key
    return b"".join(
        (KEY_ROW_LEN.pack(len(row)), row, KEY_QUAL_LEN.pack(len(qual)), qual,
         KEY_TAIL.pack(neg_ts, neg_type))
    )


def decode_key(buf, pos: int) -> tuple[tuple, int]:
    """Decode one encoded key at `pos`; return (key, position after it)."""
    (rlen,) = KEY_ROW_LEN.unpack_from(buf, pos)
    pos += 2
    row = bytes(buf[pos:pos + rlen])
    pos += rlen
    (qlen,) = KEY_QUAL_LEN.unpack_from(buf, pos)
    pos += 4
    qual = bytes(buf[pos:pos + qlen])
    pos += qlen
    neg_ts, neg_type = KEY_TAIL.unpack_from(buf, pos)
    if len(row) != rlen or len(qual) != qlen:
        raise struct.error("key runs past the end of its block")
    return (row, qual, neg_ts, neg_type), pos + KEY_TAIL.size


def encode_data_block(rows: list, row_idx: list, quals: list, qual_idx: list, neg_ts: list,
                      neg_type: list, values: list) -> bytes:
    """Columnar data block payload (see the diagram above)."""
    n, nr, nq = len(row_idx), len(rows), len(quals)
    value_lens = list(map(len, values))
    parts = [
        DATA_HEADER.pack(n, nr, nq),
        struct.pack(f"<{nr}H", *map(len, rows)),
        struct.pack(f"<{nq}I", *map(len, quals)),
        struct.pack(f"<{n}I", *row_idx),
        struct.pack(f"<{n}I", *qual_idx),
        struct.pack(f"<{n}q", *neg_ts),
        struct.pack(f"<{n}b", *neg_type),
        struct.pack(f"<{n}I", *value_lens),
    ]
    parts.extend(rows)
    parts.extend(quals)
    parts.extend(values)
    return b"".join(parts)


def _slices(raw: bytes, lens, start: int) -> tuple[list, int]:
    ends = list(accumulate(lens, initial=start))
    return [raw[a:b] for a, b in zip(ends, ends[1:])], ends[-1]


def decode_data_block(raw: bytes) -> tuple[list, list, tuple]:
    """Payload -> (keys, values, rows): parallel sequences, keys being store-key tuples and
    rows[i] == keys[i][0] (bisecting plain bytes is ~3x cheaper than bisecting tuples).

    One unpack per column and C-level zips; rows and qualifiers are shared objects, so a row
    with many cells costs one bytes object. Raises struct.error/IndexError on a malformed
    payload (the caller turns that into CorruptionError)."""
    n, nr, nq = DATA_HEADER.unpack_from(raw, 0)
    pos = DATA_HEADER.size
    row_lens = struct.unpack_from(f"<{nr}H", raw, pos)
    pos += 2 * nr
    qual_lens = struct.unpack_from(f"<{nq}I", raw, pos)
    pos += 4 * nq
    row_idx = struct.unpack_from(f"<{n}I", raw, pos)
    pos += 4 * n
    qual_idx = struct.unpack_from(f"<{n}I", raw, pos)
    pos += 4 * n
    neg_ts = struct.unpack_from(f"<{n}q", raw, pos)
    pos += 8 * n
    neg_type = struct.unpack_from(f"<{n}b", raw, pos)
    pos += n
    value_lens = struct.unpack_from(f"<{n}I", raw, pos)
    pos += 4 * n
    rows, pos = _slices(raw, row_lens, pos)
    quals, pos = _slices(raw, qual_lens, pos)
    values, pos = _slices(raw, value_lens, pos)
    if pos != len(raw):
        raise struct.error(f"data block payload is {len(raw)} bytes, columns describe {pos}")
    if n == 0:
        return [], [], ()
    if n == 1:
        row_col, qual_col = (rows[row_idx[0]],), (quals[qual_idx[0]],)
    else:
        row_col = itemgetter(*row_idx)(rows)
        qual_col = itemgetter(*qual_idx)(quals)
    return list(zip(row_col, qual_col, neg_ts, neg_type)), values, row_col


@dataclass
class HFileInfo:
    """What the file info block records (file_size comes from the file itself). Lets a store
    skip a file by key range or time range without touching its blocks."""

    first_key: tuple | None  # None only for a file with no cells
    last_key: tuple | None
    min_timestamp: int
    max_timestamp: int
    max_seqid: int
    cell_count: int
    family: bytes
    bloom: str
    compression: str
    block_size: int
    file_size: int
    data_block_count: int
    delete_count: int  # cells that are delete markers
    created_ms: int
    family_delete_count: int = 0  # DeleteFamily + DeleteFamilyVersion markers
    data_block_encoding: str = "NONE"  # NONE, PREFIX or FAST_DIFF (storage/block_encoding.py)

    @property
    def version(self) -> int:
        """The file format version this info is written with (see the module docstring)."""
        return VERSION if self.data_block_encoding == "NONE" else VERSION_ENCODED

    @property
    def first_row(self) -> bytes | None:
        return self.first_key[0] if self.first_key else None

    @property
    def last_row(self) -> bytes | None:
        return self.last_key[0] if self.last_key else None

    def overlaps_rows(self, start_row: bytes | None, stop_row: bytes | None) -> bool:
        """Could the file hold a row in [start_row, stop_row)? Empty/None bound = unbounded."""
        if self.first_key is None:
            return False
        if start_row and self.last_key[0] < start_row:
            return False
        return not (stop_row and self.first_key[0] >= stop_row)

    def overlaps_time_range(self, min_ts: int, max_ts: int) -> bool:
        """Could the file hold a cell with min_ts <= timestamp < max_ts (HBase's TimeRange)?"""
        return self.cell_count > 0 and self.min_timestamp < max_ts and self.max_timestamp >= min_ts


def encode_file_info(info: HFileInfo) -> bytes:
    has_keys = info.first_key is not None
    parts = [
        INFO_FIXED.pack(info.min_timestamp, info.max_timestamp, info.max_seqid, info.cell_count,
                        info.delete_count, info.family_delete_count, info.data_block_count,
                        info.block_size,
                        info.created_ms, 1 if has_keys else 0),
    ]
    fields = [info.family, info.bloom.encode(), info.compression.encode()]
    if info.version == VERSION_ENCODED:
        fields.append(info.data_block_encoding.encode())
    for field in fields:
        parts += [bytes((len(field),)), field]
    if has_keys:
        parts += [encode_key(info.first_key), encode_key(info.last_key)]
    return b"".join(parts)


def decode_file_info(buf, file_size: int, version: int = VERSION) -> HFileInfo:
    (min_ts, max_ts, max_seqid, cell_count, delete_count, family_deletes, blocks, block_size,
     created_ms, has_keys) = INFO_FIXED.unpack_from(buf, 0)
    pos = INFO_FIXED.size
    fields = []
    for _ in range(3 if version == VERSION else 4):
        n = buf[pos]
        fields.append(bytes(buf[pos + 1:pos + 1 + n]))
        pos += 1 + n
    first_key = last_key = None
    if has_keys:
        first_key, pos = decode_key(buf, pos)
        last_key, pos = decode_key(buf, pos)
    if pos != len(buf):
        raise struct.error("trailing bytes in file info")
    return HFileInfo(first_key, last_key, min_ts, max_ts, max_seqid, cell_count, fields[0],
                     fields[1].decode(), fields[2].decode(), block_size, file_size, blocks,
                     delete_count, created_ms, family_deletes,
                     fields[3].decode() if version == VERSION_ENCODED else "NONE")


def encode_index(entries: list[tuple[int, int, tuple]]) -> bytes:
    parts = [struct.pack("<I", len(entries))]
    for offset, size, first_key in entries:
        parts += [INDEX_ENTRY.pack(offset, size), encode_key(first_key)]
    return b"".join(parts)


def decode_index(buf) -> tuple[list[int], list[int], list[tuple]]:
    (count,) = struct.unpack_from("<I", buf, 0)
    pos = 4
    offsets, sizes, first_keys = [], [], []
    for _ in range(count):
        offset, size = INDEX_ENTRY.unpack_from(buf, pos)
        key, pos = decode_key(buf, pos + INDEX_ENTRY.size)
        offsets.append(offset)
        sizes.append(size)
        first_keys.append(key)
    if pos != len(buf):
        raise struct.error("trailing bytes in block index")
    return offsets, sizes, first_keys


def encode_trailer(index_offset, index_size, info_offset, info_size, bloom_offset, bloom_size,
                   data_end, version: int = VERSION) -> bytes:
    body = TRAILER_BODY.pack(TRAILER_MAGIC, version, 0, index_offset, index_size,
                                 info_offset, info_size, bloom_offset, bloom_size, data_end)
    body = body.ljust(TRAILER_CRC_OFFSET, b"\0")
    return body + CRC.pack(zlib.crc32(body))


def decode_trailer(buf: bytes, path: str, file_size: int) -> tuple:
    """-> (version, index_offset, index_size, info_offset, info_size, bloom_offset, bloom_size,
    data_end)."""
    trailer_offset = file_size - TRAILER_SIZE
    if len(buf) != TRAILER_SIZE:
        raise CorruptionError(f"{path}: file of {file_size} bytes is too short to be an HFile")
    (crc,) = CRC.unpack_from(buf, TRAILER_CRC_OFFSET)
    if zlib.crc32(buf[:TRAILER_CRC_OFFSET]) != crc:
        raise CorruptionError(f"{path}: checksum mismatch in trailer at offset {trailer_offset}")
    magic, version, _, *fields = TRAILER_BODY.unpack_from(buf, 0)
    if magic != TRAILER_MAGIC:
        raise CorruptionError(f"{path}: bad trailer magic at offset {trailer_offset}: not an HFile")
    if version not in VERSIONS:
        raise CorruptionError(f"{path}: unsupported HFile version {version}")
    index_offset, index_size, info_offset, info_size, bloom_offset, bloom_size, data_end = fields
    regions = ((index_offset, index_size), (info_offset, info_size), (bloom_offset, bloom_size))
    for offset, size in regions:
        if offset + size > trailer_offset:
            raise CorruptionError(f"{path}: trailer points past the end of the file ({offset}+{size})")
    return (version, *fields)
