"""Data block encodings (HBase's DATA_BLOCK_ENCODING): PREFIX and FAST_DIFF payloads.

See docs/storage.md ("Data block encoding"). An encoding changes only the payload of a data
block; framing, codec (compression runs on the encoded bytes, as in HBase) and crc stay as in
hfile_format.py, so the crc covers the encoded bytes. Both decoders return exactly what
hfile_format.decode_data_block returns for NONE, so the block cache, gets, scans and the
row_wire memo see no difference once a block is decoded.

NONE's columnar block already stores each distinct row and qualifier of a block once. What is
left to save, and what the encodings save (all integers little-endian):

    PREFIX: the row and qualifier dictionaries keep only what differs from the previous entry
    (HBase's PrefixKeyDeltaEncoder: "shared prefix length, then the rest"); the per-cell
    columns stay as NONE writes them.

    n u32 | R u32 | Q u32
    col(row shared-prefix lengths, R) | col(row suffix lengths, R)
    col(qual shared-prefix lengths, Q) | col(qual suffix lengths, Q)
    row_idx u32 x n | qual_idx u32 x n | neg_ts i64 x n | neg_type i8 x n | value_len u32 x n
    row suffixes | qualifier suffixes | values

    FAST_DIFF: the same dictionaries, and the per-cell columns packed so that a field that does
    not change costs nothing (HBase's FastDiffDeltaEncoder skips a timestamp, type or key part
    equal to the previous cell's; here a column whose values are all equal takes 9 bytes per
    block, and one that varies takes the fewest bytes its spread needs):

    n u32 | R u32 | Q u32
    col(row shared-prefix lengths, R) | col(row suffix lengths, R)
    col(qual shared-prefix lengths, Q) | col(qual suffix lengths, Q)
    col(cells per row, R) | col(qual_idx, n) | col(neg_ts, n) | col(neg_type, n)
    col(value_len, n)
    row suffixes | qualifier suffixes | values

    col(values, count) = width u8 | base i64 | count x (value - base) as unsigned `width` bytes
        width 0: every value equals base (nothing follows); else 1, 2, 4 or 8.

Rows are ascending in a block, so "cells per row" replaces NONE's row_idx per cell.
"""

from __future__ import annotations

import struct
from itertools import accumulate, chain, repeat
from operator import itemgetter

from storage import hfile_format as fmt

# --- written to disk: never renumber (HBase's DataBlockEncoding ids) --------------------------
NONE = "NONE"
PREFIX = "PREFIX"
FAST_DIFF = "FAST_DIFF"
ENCODING_IDS = {NONE: 0, PREFIX: 2, FAST_DIFF: 4}

COLUMN_HEAD = struct.Struct("<Bq")  # width, base
_WIDTH_CHARS = {1: "B", 2: "H", 4: "I", 8: "Q"}
# ---------------------------------------------------------------------------------------------


def _width(spread: int) -> int:
    for width in (1, 2, 4):
        if spread < 1 << (8 * width):
            return width
    return 8


def pack_column(values) -> bytes:
    """col(values): see the module docstring."""
    if not values:
        return COLUMN_HEAD.pack(0, 0)
    base = min(values)
    spread = max(values) - base
    if spread == 0:
        return COLUMN_HEAD.pack(0, base)
    width = _width(spread)
    deltas = map(int.__sub__, values, repeat(base)) if base else values
    return COLUMN_HEAD.pack(width, base) + struct.pack(
        f"<{len(values)}{_WIDTH_CHARS[width]}", *deltas)


def unpack_column(raw: bytes, pos: int, count: int) -> tuple[tuple, int]:
    """-> (the column's values, position after it). struct.error/KeyError when malformed."""
    width, base = COLUMN_HEAD.unpack_from(raw, pos)
    pos += COLUMN_HEAD.size
    if width == 0:
        return (base,) * count, pos
    values = struct.unpack_from(f"<{count}{_WIDTH_CHARS[width]}", raw, pos)
    if base:
        values = tuple(map(base.__add__, values))
    return values, pos + width * count


def _shared_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _encode_dictionary(entries: list) -> tuple[list, bytes]:
    """Entries -> (suffixes, col(prefix lengths) + col(suffix lengths))."""
    prefixes, suffixes = [], []
    prev = b""
    for entry in entries:
        p = _shared_prefix(prev, entry)
        prefixes.append(p)
        suffixes.append(entry[p:])
        prev = entry
    return suffixes, pack_column(prefixes) + pack_column(list(map(len, suffixes)))


def _decode_dictionary(raw: bytes, pos: int, count: int) -> tuple[tuple, int]:
    """The (prefix, suffix-length) columns of a dictionary -> (their lengths, position)."""
    prefixes, pos = unpack_column(raw, pos, count)
    lengths, pos = unpack_column(raw, pos, count)
    return (prefixes, lengths), pos


def _rebuild(raw: bytes, pos: int, prefixes, lengths) -> tuple[list, int]:
    """Dictionary entries from shared-prefix lengths and suffixes starting at `pos`."""
    ends = list(accumulate(lengths, initial=pos))
    out = []
    append = out.append
    prev = b""
    for p, a, b in zip(prefixes, ends, ends[1:]):  # the one per-entry Python loop of a decode
        prev = prev[:p] + raw[a:b]
        append(prev)
    # a prefix longer than the entry before it would have been cut short: a lie, not data
    if any(map(int.__ne__, map(len, out), map(int.__add__, prefixes, lengths))):
        raise struct.error("a shared prefix is longer than the entry it is shared with")
    return out, ends[-1]


def encode(encoding: str, rows: list, row_idx: list, quals: list, qual_idx: list, neg_ts: list,
           neg_type: list, values: list) -> bytes:
    """Encoded data block payload; arguments as hfile_format.encode_data_block takes them."""
    n, nr, nq = len(row_idx), len(rows), len(quals)
    row_suffixes, row_dict = _encode_dictionary(rows)
    qual_suffixes, qual_dict = _encode_dictionary(quals)
    parts = [fmt.DATA_HEADER.pack(n, nr, nq), row_dict, qual_dict]
    value_lens = list(map(len, values))
    if encoding == FAST_DIFF:
        counts = [0] * nr
        for i in row_idx:
            counts[i] += 1
        parts += [pack_column(counts), pack_column(qual_idx), pack_column(neg_ts),
                  pack_column(neg_type), pack_column(value_lens)]
    elif encoding == PREFIX:
        parts += [struct.pack(f"<{n}I", *row_idx), struct.pack(f"<{n}I", *qual_idx),
                  struct.pack(f"<{n}q", *neg_ts), struct.pack(f"<{n}b", *neg_type),
                  struct.pack(f"<{n}I", *value_lens)]
    else:
        raise ValueError(f"no block encoder for {encoding!r}")
    parts.extend(row_suffixes)
    parts.extend(qual_suffixes)
    parts.extend(values)
    return b"".join(parts)


def decode(encoding: str, raw: bytes) -> tuple[list, list, tuple]:
    """Payload -> (keys, values, rows), as hfile_format.decode_data_block. Raises
    struct.error/IndexError/KeyError on a malformed payload (the reader reports corruption)."""
    n, nr, nq = fmt.DATA_HEADER.unpack_from(raw, 0)
    row_lens, pos = _decode_dictionary(raw, fmt.DATA_HEADER.size, nr)
    qual_lens, pos = _decode_dictionary(raw, pos, nq)
    if encoding == FAST_DIFF:
        counts, pos = unpack_column(raw, pos, nr)
        qual_idx, pos = unpack_column(raw, pos, n)
        neg_ts, pos = unpack_column(raw, pos, n)
        neg_type, pos = unpack_column(raw, pos, n)
        value_lens, pos = unpack_column(raw, pos, n)
        if sum(counts) != n or min(neg_type, default=0) < -128 or max(neg_type, default=0) > 127:
            raise struct.error("cells per row or cell types disagree with the block header")
    else:
        row_idx, qual_idx, neg_ts, neg_type, value_lens = (
            struct.unpack_from(f"<{n}{c}", raw, pos + off)
            for c, off in zip("IIqbI", accumulate((0, 4 * n, 4 * n, 8 * n, n))))
        pos += 21 * n
    rows, pos = _rebuild(raw, pos, *row_lens)
    quals, pos = _rebuild(raw, pos, *qual_lens)
    ends = list(accumulate(value_lens, initial=pos))
    values = [raw[a:b] for a, b in zip(ends, ends[1:])]
    if ends[-1] != len(raw):
        raise struct.error(f"data block payload is {len(raw)} bytes, columns describe {ends[-1]}")
    if n == 0:
        return [], [], ()
    if encoding == FAST_DIFF:
        row_col = tuple(chain.from_iterable(map(repeat, rows, counts)))
    else:
        row_col = itemgetter(*row_idx)(rows) if n > 1 else (rows[row_idx[0]],)
    qual_col = itemgetter(*qual_idx)(quals) if n > 1 else (quals[qual_idx[0]],)
    return list(zip(row_col, qual_col, neg_ts, neg_type)), values, row_col


def decoded_size(block: tuple) -> int:
    """What a decoded block holds in bytes, as NONE's raw_len counts it (the cache's charge
    must not shrink because the file on disk did)."""
    keys, values, rows = block[:3]
    distinct = dict.fromkeys(rows)
    return (fmt.DATA_HEADER.size + 21 * len(keys) + sum(map(len, values))
            + sum(map(len, distinct)) + 2 * len(distinct))
