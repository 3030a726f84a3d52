"""HFile: the immutable, sorted store file of one family (docs/storage.md, section "HFile").

The byte layout is drawn in storage/hfile_format.py, which writer and reader share.

Writer contract: keys are store keys ``(row, qualifier, -timestamp, -type)`` appended in strictly
ascending order; the file is built under a temp name beside its final path and only `finish`
(fsync, rename, fsync the directory) makes it appear, so a crash or `abort` never leaves a
half-written file under the final name. One writer is used by one thread.

Reader contract: opening reads and verifies the trailer, file info, block index and bloom filter
(all kept in memory). Data blocks are read with `os.pread` (no shared file position), verified,
decoded (in the file's own data block encoding, NONE/PREFIX/FAST_DIFF, recorded in its file
info) into parallel sequences (keys, values, rows) and kept in the shared BlockCache. Any checksum
mismatch raises CorruptionError naming the file and offset; bad data is never served. A reader
is safe to use from many threads at once. `close` lets started scans finish (see close());
gets after close are served from the cache or raise ValueError.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import time
from bisect import bisect_left, bisect_right
from hashlib import blake2b
from typing import Iterator

from minihbase.errors import CorruptionError
from storage import block_encoding
from storage import hfile_format as fmt
from storage.block_cache import BlockCache
from storage.bloom import BloomBuilder, BloomFilter, element_hash, rowcol_element
from storage.cell import Cell, CellType
from storage.hfile_format import HFileInfo
from storage.layout import fsync_dir

TMP_SUFFIX = ".tmp"  # writer's temp file: "<final path>.<pid>.<n>.tmp"; never a store file
_PUT = -int(CellType.PUT)
_FAMILY_DELETES = (-int(CellType.DELETE_FAMILY), -int(CellType.DELETE_FAMILY_VERSION))
# A decoded block held in the cache costs far more than its bytes: tuples, ints, list slots.
_CACHED_CELL_OVERHEAD = 176  # tracemalloc: 140-175 bytes per decoded cell
_MEMO_OVERHEAD = 120  # a memo entry besides its bytes: the key tuple and the dict slot


def _plain_row_wire(keys, values, family: bytes, encode) -> bytes | bool:
    """encode(cells) for one row's (key, value) pairs that are all puts, one per column (what
    a whole-row get returns unchanged); False when anything else is there."""
    last_q = None
    cells = []
    for (r, q, nts, nt), value in zip(keys, values):
        if nt != _PUT or q == last_q:  # a marker, or a second version of the column
            return False
        last_q = q
        cells.append(Cell(r, family, q, -nts, -nt, value))
    return encode(cells)


_tmp_counter = itertools.count()


def is_temp_file(name: str) -> bool:
    """True for a writer's temp file (leftover of a crash: safe to delete when no writer runs)."""
    return name.endswith(TMP_SUFFIX)


class HFileWriter:
    """Builds one HFile. Use as a context manager to abort on an exception."""

    def __init__(self, path: str, *, family: bytes, block_size: int = 65536, bloom: str = "ROW",
                 compression: str = "NONE", bloom_fp_rate: float = 0.01,
                 data_block_encoding: str = "NONE"):
        bloom, compression = bloom.upper(), compression.upper()
        encoding = data_block_encoding.upper()
        if encoding not in block_encoding.ENCODING_IDS:
            raise ValueError(f"data_block_encoding must be one of "
                             f"{', '.join(block_encoding.ENCODING_IDS)}, "
                             f"got {data_block_encoding!r}")
        if bloom not in (fmt.BLOOM_NONE, fmt.BLOOM_ROW, fmt.BLOOM_ROWCOL):
            raise ValueError(f"bloom must be NONE, ROW or ROWCOL, got {bloom!r}")
        if compression not in fmt.CODECS:
            raise ValueError(f"compression must be one of {sorted(fmt.CODECS)}, got {compression!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be positive, got {block_size}")
        self.path = path
        self.tmp_path = f"{path}.{os.getpid()}.{next(_tmp_counter)}{TMP_SUFFIX}"
        self.family = bytes(family)
        self.block_size = block_size
        self.bloom = bloom
        self.compression = compression
        self._codec = fmt.CODECS[compression]
        self.data_block_encoding = encoding
        self._bloom_fp_rate = bloom_fp_rate
        # element digests, turned into a filter sized for their real count in finish()
        self._bloom = BloomBuilder(bloom) if bloom != fmt.BLOOM_NONE else None
        self._rowcol = bloom == fmt.BLOOM_ROWCOL
        self._file = open(self.tmp_path, "wb", buffering=1 << 20)
        self._offset = 0
        self._index: list[tuple[int, int, tuple]] = []  # (offset, framed size, first key)
        self._first_key: tuple | None = None
        self._last_key: tuple | None = None
        self._last_row: bytes | None = None
        self._min_ts = (1 << 63) - 1
        self._max_ts = 0
        self._cell_count = 0
        self._delete_count = 0
        self._family_delete_count = 0
        self._done = False
        self._reset_block()

    def __enter__(self) -> "HFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._done:
            self.abort()

    def _reset_block(self) -> None:
        self._b_rows: list[bytes] = []
        self._b_row_idx: list[int] = []
        self._b_quals: dict[bytes, int] = {}
        self._b_qual_idx: list[int] = []
        self._b_neg_ts: list[int] = []
        self._b_neg_type: list[int] = []
        self._b_values: list[bytes] = []
        self._b_bytes = 0

    def append(self, key: tuple, value: bytes) -> None:
        """Add one cell; `key` must sort strictly after the previous key."""
        # The hot path of flush and compaction: per-cell work is a compare and a few list
        # appends; statistics (time range, deletes, counts) are taken per block in C.
        last = self._last_key
        if last is not None and not key > last:
            raise ValueError(f"{self.path}: keys must be strictly ascending: {key!r} after {last!r}")
        if self._done:
            raise ValueError(f"{self.path}: writer already finished or aborted")
        row, qual, neg_ts, neg_type = key
        rows = self._b_rows
        if row != self._last_row:
            if not row or len(row) > 0xFFFF:
                raise ValueError(f"{self.path}: row key length {len(row)} out of range")
            self._last_row = row
            rows.append(row)
            self._b_bytes += len(row) + 2
            if self._bloom is not None:  # = self._bloom.add_row(row), inlined
                self._bloom.digests += blake2b(b"R" + row, digest_size=8).digest()
            new_row = True
        else:
            new_row = False
        if not rows:  # first cell of a block continues the previous block's row
            rows.append(row)
        if self._rowcol:
            if new_row or qual != last[1]:
                self._bloom.add_column(row, qual)
            if neg_type in _FAMILY_DELETES:  # masks every column: see might_contain_column
                self._bloom.add_family_delete(row)
        quals = self._b_quals
        qi = quals.get(qual)
        if qi is None:
            qi = quals[qual] = len(quals)
            self._b_bytes += len(qual) + 4
        self._b_row_idx.append(len(rows) - 1)
        self._b_qual_idx.append(qi)
        self._b_neg_ts.append(neg_ts)
        self._b_neg_type.append(neg_type)
        self._b_values.append(value)
        self._last_key = key
        self._b_bytes += len(value) + 21
        if self._b_bytes >= self.block_size:
            self._flush_block()

    def _flush_block(self) -> None:
        n = len(self._b_row_idx)
        if not n:
            return
        neg_ts, neg_type = self._b_neg_ts, self._b_neg_type
        # the block's first cell uses the first row and the first qualifier of the block
        first_key = (self._b_rows[0], next(iter(self._b_quals)), neg_ts[0], neg_type[0])
        if self._first_key is None:
            self._first_key = first_key
        self._min_ts = min(self._min_ts, -max(neg_ts))
        self._max_ts = max(self._max_ts, -min(neg_ts))
        self._delete_count += n - neg_type.count(_PUT)
        self._family_delete_count += sum(map(neg_type.count, _FAMILY_DELETES))
        self._cell_count += n
        # Blocks are cut on their unencoded size (HBase's default), so an encoding keeps the
        # same cells per block and the same index, and only makes each block smaller.
        columns = (self._b_rows, self._b_row_idx, list(self._b_quals), self._b_qual_idx,
                   neg_ts, neg_type, self._b_values)
        if self.data_block_encoding == block_encoding.NONE:
            raw = fmt.encode_data_block(*columns)
        else:
            raw = block_encoding.encode(self.data_block_encoding, *columns)
        stored = fmt.compress(self._codec, raw)
        block = fmt.frame_block(fmt.BLOCK_DATA, self._codec, len(raw), stored)
        self._index.append((self._offset, len(block), first_key))
        self._write(block)
        self._reset_block()

    def _write(self, block: bytes) -> tuple[int, int]:
        offset = self._offset
        self._file.write(block)
        self._offset += len(block)
        return offset, len(block)

    def finish(self, *, max_seqid: int) -> HFileInfo:
        """Write bloom, file info, index and trailer; fsync; rename into place; fsync the dir."""
        if self._done:
            raise ValueError(f"{self.path}: writer already finished or aborted")
        if not 0 <= max_seqid < 1 << 64:
            raise ValueError(f"max_seqid out of range: {max_seqid}")
        try:
            self._flush_block()
            data_end = self._offset
            bloom_offset = bloom_size = 0
            if self._bloom is not None:
                bloom = self._bloom.build(self._bloom_fp_rate).to_bytes()
                bloom_offset, bloom_size = self._write(
                    fmt.frame_block(fmt.BLOCK_BLOOM, fmt.CODEC_NONE, len(bloom), bloom))
            info = HFileInfo(
                first_key=self._first_key, last_key=self._last_key,
                min_timestamp=self._min_ts if self._cell_count else 0,
                max_timestamp=self._max_ts, max_seqid=max_seqid, cell_count=self._cell_count,
                family=self.family, bloom=self.bloom, compression=self.compression,
                block_size=self.block_size, file_size=0, data_block_count=len(self._index),
                delete_count=self._delete_count, created_ms=int(time.time() * 1000),
                family_delete_count=self._family_delete_count,
                data_block_encoding=self.data_block_encoding,
            )
            payload = fmt.encode_file_info(info)
            info_offset, info_size = self._write(
                fmt.frame_block(fmt.BLOCK_INFO, fmt.CODEC_NONE, len(payload), payload))
            payload = fmt.encode_index(self._index)
            index_offset, index_size = self._write(
                fmt.frame_block(fmt.BLOCK_INDEX, fmt.CODEC_NONE, len(payload), payload))
            self._write(fmt.encode_trailer(index_offset, index_size, info_offset, info_size,
                                           bloom_offset, bloom_size, data_end, info.version))
            info.file_size = self._offset
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            # link, not replace: never clobber a file of that name (one a region's next owner
            # wrote, if this server was declared dead mid-flush); FileExistsError instead
            os.link(self.tmp_path, self.path)
            os.unlink(self.tmp_path)
            fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        except BaseException:
            self.abort()
            raise
        self._done = True
        return info

    def abort(self) -> None:
        """Drop the temp file; the final path is never touched."""
        self._done = True
        try:
            self._file.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass


class HFileReader:
    """Reads one HFile. Safe for many threads; `close` after the last use."""

    def __init__(self, path: str, *, block_cache: BlockCache | None = None):
        self.path = path
        self._cache = block_cache
        self.data_blocks_read = 0  # data blocks read from disk (cache misses included)
        self.bloom_rejections = 0  # lookups answered "absent" by the bloom filter alone
        self._lock = threading.Lock()
        self._closed = False  # guarded by self._lock: the fd is closed
        self._close_requested = False  # guarded by self._lock
        self._active_scans = 0  # guarded by self._lock: iter_from generators in flight
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self._open()
        except BaseException:
            os.close(self._fd)
            raise
        self._released = block_cache is None  # guarded by self._lock: release_file was called
        if block_cache is not None:
            block_cache.open_file(self.file_key)

    def _open(self) -> None:
        st = os.fstat(self._fd)
        size = st.st_size
        # Identity of this immutable file for the block cache: a new file under the same path
        # (new inode) can never be served another file's blocks.
        self.file_key = (os.path.abspath(self.path), st.st_ino, size)
        trailer = b""
        if size >= fmt.TRAILER_SIZE:
            trailer = os.pread(self._fd, fmt.TRAILER_SIZE, size - fmt.TRAILER_SIZE)
        (version, index_offset, index_size, info_offset, info_size, bloom_offset, bloom_size,
         data_end) = fmt.decode_trailer(trailer, self.path, size)
        try:
            self.info = fmt.decode_file_info(
                self._read_meta(fmt.BLOCK_INFO, info_offset, info_size), size, version)
            self._offsets, self._sizes, self._first_keys = fmt.decode_index(
                self._read_meta(fmt.BLOCK_INDEX, index_offset, index_size))
            self._bloom = None
            if self.info.bloom != fmt.BLOOM_NONE:
                self._bloom = BloomFilter.from_bytes(
                    self._read_meta(fmt.BLOCK_BLOOM, bloom_offset, bloom_size))
        except CorruptionError:
            raise
        except (struct.error, ValueError, IndexError, UnicodeDecodeError) as e:
            raise CorruptionError(f"{self.path}: malformed metadata: {e}") from e
        info = self.info
        # None for NONE: _block then takes exactly the pre-encoding path
        self._encoding = (None if info.data_block_encoding == block_encoding.NONE
                          else info.data_block_encoding)
        if self._encoding is not None and self._encoding not in block_encoding.ENCODING_IDS:
            raise CorruptionError(
                f"{self.path}: unknown data block encoding {info.data_block_encoding!r}")
        ends = [o + s for o, s in zip(self._offsets, self._sizes)]
        if (len(self._offsets) != info.data_block_count
                or any(e > data_end for e in ends)
                or any(a > b for a, b in zip(ends, self._offsets[1:]))
                or (info.cell_count > 0) != bool(self._offsets)
                or (self._first_keys and self._first_keys[0] != info.first_key)):
            raise CorruptionError(f"{self.path}: block index disagrees with file info")
        self._first_rows = [key[0] for key in self._first_keys]  # bisected by row lookups
        self._first_row = info.first_key[0] if info.first_key else None
        self._last_row = info.last_key[0] if info.last_key else None

    def _read_meta(self, kind: int, offset: int, size: int) -> bytes:
        buf = os.pread(self._fd, size, offset)
        codec, raw_len, stored = fmt.unframe_block(buf, kind, self.path, offset)
        return fmt.decode_payload(codec, raw_len, stored, self.path, offset)

    def _block(self, i: int, cache_blocks: bool = True) -> tuple[list, list, tuple, dict]:
        """Decoded data block i: (keys, values, rows, memo), from the cache or from disk. memo
        holds row encodings made from this block (row_wire); it lives and dies with the block."""
        offset = self._offsets[i]
        cache = self._cache
        if cache is not None:
            block = cache.get((self.file_key, offset))
            if block is not None:
                return block
        if self._closed:
            raise ValueError(f"{self.path}: reader is closed")
        buf = os.pread(self._fd, self._sizes[i], offset)
        self.data_blocks_read += 1
        codec, raw_len, stored = fmt.unframe_block(buf, fmt.BLOCK_DATA, self.path, offset)
        raw = fmt.decode_payload(codec, raw_len, stored, self.path, offset)
        encoding = self._encoding
        try:
            if encoding is None:
                block = (*fmt.decode_data_block(raw), {})
            else:  # the cache holds the decoded block: a hit costs the same in every encoding
                block = (*block_encoding.decode(encoding, raw), {})
                raw_len = block_encoding.decoded_size(block)
        except (struct.error, IndexError, KeyError) as e:
            raise CorruptionError(
                f"{self.path}: malformed data block at offset {offset}: {e}") from e
        keys = block[0]
        if not keys or keys[0] != self._first_keys[i]:
            raise CorruptionError(
                f"{self.path}: data block at offset {offset} disagrees with the index")
        if cache is not None and cache_blocks and not self._released:  # (a late scan's
            # block, after its file's blocks were dropped, would stay behind, dead)
            cache.put((self.file_key, offset), block, raw_len + _CACHED_CELL_OVERHEAD * len(keys))
        return block

    def verify_blocks(self) -> None:
        """Read every data block from disk and check its checksum and framing (no decoding):
        CorruptionError naming the file and offset of the first bad one."""
        for offset, size in zip(self._offsets, self._sizes):
            fmt.unframe_block(os.pread(self._fd, size, offset), fmt.BLOCK_DATA, self.path,
                              offset)

    # --- lookups ------------------------------------------------------------------------------

    def might_contain_row(self, row: bytes) -> bool:
        """False only if the file certainly holds no cell of `row` (bloom ROW or ROWCOL)."""
        if self._first_row is None or row < self._first_row or row > self._last_row:
            return False
        if self._bloom is not None and not self._bloom.might_contain(element_hash(b"R" + row)):
            self.bloom_rejections += 1
            return False
        return True

    def might_contain_column(self, row: bytes, qualifier: bytes) -> bool:
        """False only if the file certainly holds no cell that a read of row:qualifier must
        see: neither a cell of that column nor a family-wide delete marker of the row (ROWCOL
        bloom; falls back to the row bloom otherwise)."""
        if self.info.bloom != fmt.BLOOM_ROWCOL:
            return self.might_contain_row(row)
        if self._first_row is None or row < self._first_row or row > self._last_row:
            return False
        bloom = self._bloom
        if bloom.might_contain(element_hash(rowcol_element(row, qualifier))):
            return True
        if self.info.family_delete_count and bloom.might_contain(element_hash(b"F" + row)):
            return True
        self.bloom_rejections += 1
        return False

    def row_cells(self, row: bytes, qualifiers: frozenset | None = None,
                  max_bytes: int = 0) -> list[tuple[tuple, bytes]] | None:
        """Every (key, value) of one row, in store-key order. The fast path of a get: bloom,
        bisect the in-memory index, cached decoded block, bisect inside it.

        qualifiers: keep only those columns' cells and the family's delete markers (which
        sit at the empty qualifier), so a get of a few columns of a wide row does not hold
        the others. max_bytes > 0: None once the kept cells pass it -- checked when the row
        goes on into another block, so a row that fits one block costs nothing more -- and
        no further block is read (a Get's row size limit, HBase's hbase.table.max.rowsize)."""
        # might_contain_row, inlined: this is the hottest path of a region server's gets
        if self._first_row is None or row < self._first_row or row > self._last_row:
            return []
        bloom = self._bloom
        if bloom is not None and not bloom.might_contain(
                int.from_bytes(blake2b(b"R" + row, digest_size=8).digest(), "little")):
            self.bloom_rejections += 1
            return []
        first_rows = self._first_rows
        i = max(bisect_left(first_rows, row) - 1, 0)  # last block starting before the row
        out: list = []
        n = len(first_rows)
        size = counted = 0
        while True:
            keys, values, rows, _ = self._block(i)
            a = bisect_left(rows, row)
            b = bisect_right(rows, row, a)
            if a < b:
                if qualifiers is None:
                    out.extend(zip(keys[a:b], values[a:b]))
                else:
                    out.extend(kv for kv in zip(keys[a:b], values[a:b])
                               if kv[0][1] in qualifiers or not kv[0][1])
            i += 1
            if b < len(rows) or i >= n or first_rows[i] != row:
                return out
            if max_bytes:  # the row goes on in the next block
                size += sum(len(k[0]) + len(k[1]) + len(v) for k, v in out[counted:])
                counted = len(out)
                if size > max_bytes:
                    return None

    def row_wire(self, row: bytes, family: bytes, encode) -> bytes | bool | None:
        """encode(the row's cells) when this file alone can answer a whole-row get of `row`:
        None when the file holds no cell of the row; False when its cells need the full read
        path (a delete marker, several versions of a column, or a row spanning blocks).

        The encoding is kept in the block's memo, so later gets of the row reuse it until the
        block leaves the cache (HFiles never change; the cache is charged for the bytes). This
        is HBase's point of serving a Get from the block's bytes without rebuilding its cells;
        `encode` is a pure function of the cells (the region server's wire encoder)."""
        if self._first_row is None or row < self._first_row or row > self._last_row:
            return None
        first_rows = self._first_rows
        n = len(first_rows)
        i = max(bisect_left(first_rows, row) - 1, 0)  # last block starting before the row
        memo_key = (row, encode)
        cache = self._cache
        if cache is not None:  # a row read before: its encoding, without bloom or bisect
            block = cache.get((self.file_key, self._offsets[i]))
            if block is not None:
                wire = block[3].get(memo_key)
                if wire is not None:
                    return wire
        if not self.might_contain_row(row):  # not memoized: the bloom may spare a block read
            return None
        keys, values, rows, memo = self._block(i)
        a = bisect_left(rows, row)
        if a == len(rows) and i + 1 < n and first_rows[i + 1] == row:
            i += 1  # the row starts the next block
            keys, values, rows, memo = self._block(i)
            a = 0
        wire = memo.get(memo_key)
        if wire is not None:
            return wire
        b = bisect_right(rows, row, a)
        if a == b:
            return None
        if b == len(rows) and i + 1 < n and first_rows[i + 1] == row:
            return False  # the row goes on in the next block
        wire = _plain_row_wire(keys[a:b], values[a:b], family, encode)
        if memo.setdefault(memo_key, wire) is wire and wire is not False \
                and self._cache is not None:
            self._cache.charge((self.file_key, self._offsets[i]), len(wire) + _MEMO_OVERHEAD)
        return wire

    def iter_from(self, key: tuple | None = None, *, cache_blocks: bool = True
                  ) -> Iterator[tuple[tuple, bytes]]:
        """(key, value) pairs ascending from the first key >= `key` (from the start if None).
        `key` may be a prefix such as (row,). cache_blocks=False keeps a one-off full read
        (compaction) from flushing the shared cache; blocks already cached are still used."""
        n = len(self._offsets)
        if n == 0 or (key is not None and key > self.info.last_key):
            return
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: reader is closed")
            self._active_scans += 1
        try:
            i = 0
            if key is not None:
                i = max(bisect_right(self._first_keys, key) - 1, 0)
                keys, values, _, _ = self._block(i, cache_blocks)
                a = bisect_left(keys, key)
                yield from zip(keys[a:], values[a:])
                i += 1
            block = self._block
            for j in range(i, n):
                keys, values, _, _ = block(j, cache_blocks)
                yield from zip(keys, values)
        finally:
            with self._lock:
                self._active_scans -= 1
                close_now = self._close_requested and not self._active_scans and not self._closed
                if close_now:
                    self._closed = True
            if close_now:
                os.close(self._fd)

    def last_row_before(self, row: bytes | None) -> bytes | None:
        """The greatest row < `row` in this file (its last row when `row` is None): the step
        of a reversed scan."""
        if self._last_row is None:
            return None
        if row is None or row > self._last_row:
            return self._last_row
        i = bisect_left(self._first_rows, row) - 1  # the last block starting before `row`
        if i < 0:
            return None
        rows = self._block(i)[2]
        return rows[bisect_left(rows, row) - 1]

    def mid_row(self) -> bytes | None:
        """An approximate middle row (first row of the middle block), for choosing a split key."""
        n = len(self._first_keys)
        if n == 0:
            return None
        if n >= 2:
            return self._first_keys[n // 2][0]
        rows = self._block(0)[2]
        return rows[len(rows) // 2]

    @property
    def block_count(self) -> int:
        return len(self._offsets)

    def evict_cached_blocks(self) -> int:
        """This reader is done with the file (compacted away, or its store closed): drop the
        file's blocks from the shared cache, unless another open reader still reads the same
        file (the other daughter's reference to a split parent's file); the last one to be
        done drops them. Counted once per reader; returns how many blocks were dropped."""
        with self._lock:
            if self._released:
                return 0
            self._released = True
        return self._cache.release_file(self.file_key)

    def close(self) -> None:
        """Release the file. Scans already started (iter_from generators that yielded once)
        finish first: the descriptor closes when the last one ends or is dropped, so a store
        may close and delete a compacted file while scanners still read it. Releases the
        file's cached blocks as evict_cached_blocks does."""
        self.evict_cached_blocks()
        with self._lock:
            self._close_requested = True
            if self._closed or self._active_scans:
                return
            self._closed = True
        os.close(self._fd)

    def __enter__(self) -> "HFileReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HFileReader({self.path!r}, cells={self.info.cell_count}, blocks={self.block_count})"
