"""The WAL record format, shared by the WAL writer, its reader, the splitter and recovered-edits
files (see docs/storage-wal.md). Every number below is written to disk: never change or
renumber one; a new layout gets a new FILE_VERSION.

A file (WAL segment or recovered-edits file) is a file header followed by records:

    file header (8 bytes)
    +---+---+---+---+---+---+-------+-------+
    | 'm' 'h' 'W' 'A' 'L' \\0 | version u16 |      FILE_MAGIC, FILE_VERSION
    +---+---+---+---+---+---+-------+-------+

    record = header (10 bytes) + payload (length bytes)
    +-----------+---------------+---------------+=====================+
    | 0xA5 0x57 | length u32    | crc u32       | payload             |
    +-----------+---------------+---------------+=====================+
      RECORD_MARKER  payload bytes   zlib.crc32(payload)

    payload = one row mutation of one region (a WALEntry): entry head, region, cells
    +--------------+------------+----------------+================+=======+=======+
    | region_len   | seqid u64  | cell_count u32 | region (utf-8) | cell0 | cell1 | ...
    | u16          |            |                |                |       |       |
    +--------------+------------+----------------+================+=======+=======+

    cell = cell head (20 bytes) + row + family + qualifier + value
    +--------+--------+---------+-----------+---------------+------+=====+=====+=====+=====+
    | row_len| fam_len| qual_len| value_len | timestamp u64 | type | row | fam | qual| value
    | u16    | u8     | u32     | u32       |               | u8   |     |     |     |
    +--------+--------+---------+-----------+---------------+------+=====+=====+=====+=====+

    end record (version 2): an entry of the empty region name, no cells, whose seqid counts
    the records before it in the file. It ends every WAL segment that a later segment follows
    (written when the WAL rolls) and every recovered-edits file, so a file cut short exactly
    at a record boundary is told from a complete one.

    nonce cell (a WAL-only cell type, never in a memstore or HFile): logged in the same entry as
    the increment it guards, so replaying the entry replays the nonce (storage/nonces.py)
      row, family = the increment's; type = NONCE_CELL_TYPE; timestamp = when it was applied (ms)
      qualifier = nonce group u64 + nonce u64; value = the increment's result, i64

All integers are big-endian and unsigned unless marked signed. A corrupt length makes the crc
cover other bytes, so it fails too. The 2-byte marker lets a reader that hit a bad record
search cheaply (bytes.find) for valid records after it: that is how a torn tail (nothing valid
after the bad record: stop cleanly) is told apart from corruption in the middle (something
valid after it: CorruptionError, never a silent skip).

Encoding is deliberately cheap: one struct.pack per cell, one bytes join per record, zlib.crc32.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterator, NamedTuple, Sequence

from minihbase.errors import CorruptionError, InvalidArgumentError
from storage.cell import Cell

FILE_MAGIC = b"mhWAL\x00"  # on disk: never change
# on disk: bump for any layout change. 2: a file that is complete ends with an end record (a
# WAL segment once a later one follows it; every recovered-edits file). 1: no end records.
FILE_VERSION = 2
FILE_HEADER = FILE_MAGIC + struct.pack(">H", FILE_VERSION)
FILE_HEADER_SIZE = len(FILE_HEADER)  # 8
_HEADERS = {FILE_MAGIC + struct.pack(">H", v): v for v in (1, 2)}  # versions a reader takes

RECORD_MARKER = b"\xa5\x57"  # on disk: never change
_RECORD_HEAD = struct.Struct(">2sII")  # marker, payload length, crc32
RECORD_HEAD_SIZE = _RECORD_HEAD.size  # 10
_ENTRY_HEAD = struct.Struct(">HQI")  # region_len, seqid, cell_count
ENTRY_HEAD_SIZE = _ENTRY_HEAD.size  # 14
_CELL_HEAD = struct.Struct(">HBIIQB")  # row_len, fam_len, qual_len, value_len, timestamp, type
CELL_HEAD_SIZE = _CELL_HEAD.size  # 20
NONCE_CELL_TYPE = 0x40  # on disk: never change; outside storage.cell.CellType on purpose, so
# no client mutation can carry it (a region rejects types outside CellType). Compatibility: a
# build from before nonces would replay such a cell as data, so do not downgrade a region
# server over a WAL (or recovered edits) written by a newer one.
_NONCE = struct.Struct(">QQ")  # nonce group, nonce
_NONCE_RESULT = struct.Struct(">q")


class WALEntry(NamedTuple):
    """One row mutation of one region, as logged: replayed whole or not at all."""

    region: str
    seqid: int
    cells: list[Cell]


# --- encoding ---------------------------------------------------------------------------------

def nonce_cell(row: bytes, family: bytes, nonce: tuple[int, int], result: int,
               timestamp: int) -> Cell:
    """The WAL-only cell recording that the operation with `nonce` (group, nonce) ended with
    `result` at `timestamp` (ms)."""
    return Cell(row, family, _NONCE.pack(*nonce), timestamp, NONCE_CELL_TYPE,
                _NONCE_RESULT.pack(result))


def nonce_of(cell: Cell) -> tuple[tuple[int, int], int]:
    """((group, nonce), result) of a nonce cell; ValueError if it is malformed."""
    try:
        return _NONCE.unpack(cell.qualifier), _NONCE_RESULT.unpack(cell.value)[0]
    except struct.error as e:
        raise ValueError(f"malformed nonce cell: {e}") from None


def encode_payload(region: str, seqid: int, cells: Sequence[Cell]) -> bytes:
    """The payload of one record (encode_entries is the batched fast path)."""
    return encode_entries(((region, seqid, cells),))[RECORD_HEAD_SIZE:]


def frame(payload: bytes) -> bytes:
    """Record header for `payload` (the caller writes header + payload)."""
    return _RECORD_HEAD.pack(RECORD_MARKER, len(payload), zlib.crc32(payload))


def encode_entries(entries: Sequence[tuple[str, int, Sequence[Cell]]]) -> bytes:
    """All records of a batch as one bytes object: one write() for the whole batch.

    encode_payload + frame, inlined: this is the region server's hottest loop (a one-cell row
    mutation, the common put, takes a path without a per-entry list)."""
    out: list[bytes] = []
    out_extend = out.extend
    cell_head = _CELL_HEAD.pack
    entry_head = _ENTRY_HEAD.pack
    record_head = _RECORD_HEAD.pack
    crc32 = zlib.crc32
    join = b"".join
    marker = RECORD_MARKER
    last_region, region_b = None, b""
    try:
        for region, seqid, cells in entries:
            if region is not last_region:  # a batch is usually all one region: encode it once
                region_b = region.encode()
                last_region = region
            if len(cells) == 1:
                row, family, qualifier, timestamp, cell_type, value = cells[0]
                payload = join((entry_head(len(region_b), seqid, 1), region_b,
                                cell_head(len(row), len(family), len(qualifier), len(value),
                                          timestamp, cell_type),
                                row, family, qualifier, value))
            else:
                parts = [entry_head(len(region_b), seqid, len(cells)), region_b]
                extend = parts.extend
                for row, family, qualifier, timestamp, cell_type, value in cells:
                    extend((cell_head(len(row), len(family), len(qualifier), len(value),
                                      timestamp, cell_type),
                            row, family, qualifier, value))
                payload = join(parts)
            out_extend((record_head(marker, len(payload), crc32(payload)), payload))
    except struct.error as e:
        # Out-of-range lengths or a negative timestamp: the caller validates first, so this
        # names the problem rather than logging something the reader would reject.
        raise InvalidArgumentError(f"cannot log edit of region {region!r} seqid {seqid}: {e}")
    return join(out)


# --- decoding ---------------------------------------------------------------------------------

def decode_payload(payload: bytes) -> WALEntry:
    """Parse a payload whose checksum already matched; raises ValueError if it is malformed."""
    try:
        region_len, seqid, count = _ENTRY_HEAD.unpack_from(payload, 0)
        pos = ENTRY_HEAD_SIZE + region_len
        region = payload[ENTRY_HEAD_SIZE:pos].decode()
        cells = []
        unpack = _CELL_HEAD.unpack_from
        for _ in range(count):
            rl, fl, ql, vl, ts, cell_type = unpack(payload, pos)
            pos += CELL_HEAD_SIZE
            r_end = pos + rl
            f_end = r_end + fl
            q_end = f_end + ql
            v_end = q_end + vl
            cells.append(Cell(payload[pos:r_end], payload[r_end:f_end], payload[f_end:q_end],
                              ts, cell_type, payload[q_end:v_end]))
            pos = v_end
    except (struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"malformed payload: {e}") from None
    if pos != len(payload):
        raise ValueError(f"payload is {len(payload)} bytes but its cells end at {pos}")
    return WALEntry(region, seqid, cells)


END_REGION = ""  # no region has an empty name


def end_record(count: int) -> bytes:
    """The end record (header and payload) of a file holding `count` records before it."""
    return encode_entries([(END_REGION, count, [])])


def edits_file(payloads: Sequence[bytes]) -> bytes:
    """A whole recovered-edits file holding `payloads`: header, framed records, end record."""
    parts = [FILE_HEADER]
    for payload in payloads:
        parts.append(frame(payload))
        parts.append(payload)
    parts.append(end_record(len(payloads)))
    return b"".join(parts)


def end_count(payload: bytes) -> int | None:
    """The count of an end record's payload; None for any other payload."""
    if payload[:2] != b"\x00\x00":  # region_len 0 is only ever an end record
        return None
    return _ENTRY_HEAD.unpack_from(payload, 0)[1]


def file_version(data: bytes) -> int | None:
    """The version of a file's header, None if it is not a WAL-format header."""
    return _HEADERS.get(bytes(data[:FILE_HEADER_SIZE]))


def decode_entry_head(payload: bytes) -> tuple[str, int]:
    """(region, seqid) of a payload without decoding its cells (the splitter's fast path)."""
    region_len, seqid, _ = _ENTRY_HEAD.unpack_from(payload, 0)
    return payload[ENTRY_HEAD_SIZE:ENTRY_HEAD_SIZE + region_len].decode(), seqid


def _record_at(data: bytes, off: int) -> tuple[bytes | None, str]:
    """(payload, "") if a valid record starts at `off`, else (None, why not)."""
    end = len(data)
    if end - off < RECORD_HEAD_SIZE:
        return None, "incomplete record header"
    marker, length, crc = _RECORD_HEAD.unpack_from(data, off)
    if marker != RECORD_MARKER:
        return None, "bad record marker"
    start = off + RECORD_HEAD_SIZE
    if length > end - start:
        return None, f"record length {length} runs past the end of the file"
    payload = data[start:start + length]
    if zlib.crc32(payload) != crc:
        return None, "checksum mismatch"
    return payload, ""


def _next_valid_record(data: bytes, after: int) -> int | None:
    """Offset of the first checksummed record starting after `after`, if any."""
    pos = data.find(RECORD_MARKER, after + 1)
    while pos != -1:
        payload, _ = _record_at(data, pos)
        if payload is not None:
            return pos
        pos = data.find(RECORD_MARKER, pos + 1)
    return None


def _length_damaged(data: bytes, start: int, length: int, crc: int) -> bool:
    """Whether one flipped bit of a record's length field explains why it is bad: a payload
    one bit of length away has the record's checksum (at most 32 checksums)."""
    view = memoryview(data)
    room = len(data) - start
    for bit in range(32):
        other = length ^ (1 << bit)
        if other <= room and zlib.crc32(view[start:start + other]) == crc:
            return True
    return False


def _corruption(data: bytes, off: int) -> str | None:
    """Why the bad record at `off` is corruption, or None when it is a torn tail.

    A crash mid-write (kill -9) leaves a prefix of the last write: a header cut short, or a
    record whose length runs past the end of the file. Everything after such a record's head
    is its own bytes, never searched for records: a value may hold record-like bytes (a value
    holding a WAL file), which would turn an ordinary torn tail into a log that can never be
    split. A damaged length field is told apart by its checksum. A bad marker, or a complete
    record whose checksum fails, is corruption if a valid record follows it; if nothing valid
    follows it is the unsynced tail a power loss can leave, and tolerated as HBase does."""
    end = len(data)
    if end - off < RECORD_HEAD_SIZE:
        return None
    marker, length, crc = _RECORD_HEAD.unpack_from(data, off)
    if marker != RECORD_MARKER:
        search_from = off
    else:
        start = off + RECORD_HEAD_SIZE
        if _length_damaged(data, start, length, crc):
            return "its length field is damaged (a payload one bit of length away matches its " \
                   "checksum)"
        if length > end - start:
            return None
        search_from = start + length - 1  # after its own bytes
    later = _next_valid_record(data, search_from)
    return None if later is None else f"a valid record follows at offset {later}"


def iter_payloads(path: str, data: bytes, *, tolerate_torn_tail: bool = True,
                  torn: list | None = None) -> Iterator[tuple[int, bytes]]:
    """(offset, payload) of every record of a whole file's bytes.

    A torn tail (a crash mid-write, or the zero fill some filesystems leave; see _corruption
    for how it is told from corruption) ends the iteration when `tolerate_torn_tail`,
    appending (offset, reason) to `torn` if given. Corruption raises CorruptionError naming
    file and offset.
    """
    if len(data) < FILE_HEADER_SIZE or file_version(data) is None:
        head = data[:FILE_HEADER_SIZE]
        torn_header = FILE_HEADER.startswith(head) or not head.strip(b"\0")
        if torn_header and _next_valid_record(data, -1) is None and tolerate_torn_tail:
            # crashed while creating the file: nothing was ever acknowledged in it
            if torn is not None and data:
                torn.append((0, "torn file header"))
            return
        raise CorruptionError(f"{path}: not a WAL file (bad header {head!r} at offset 0)")
    off = FILE_HEADER_SIZE
    end = len(data)
    while off < end:
        payload, why = _record_at(data, off)
        if payload is None:
            corrupt = _corruption(data, off)
            if corrupt is None and tolerate_torn_tail:
                if torn is not None:
                    torn.append((off, why))
                return
            detail = f"; {corrupt}" if corrupt else ""
            raise CorruptionError(f"{path}: corrupt WAL record at offset {off}: {why}{detail}")
        yield off, payload
        off += RECORD_HEAD_SIZE + len(payload)


def iter_log_payloads(paths: Sequence[str]) -> Iterator[tuple[str, int, bytes]]:
    """(path, offset, payload) of every record of a sequence of segments read as ONE log
    (end records are checked, not yielded).

    Only the end of the log may be cut short. A segment with a torn tail, or a version-2
    segment without its end record (cut exactly at a record boundary), followed by a later
    segment holding a valid record means lost data in the middle: CorruptionError, never a
    skip. That is sound because the writer writes the end record before it creates the next
    segment, and fsyncs a rolled segment before any later acknowledgement.
    """
    cut: tuple[str, str] | None = None  # (segment, why): where the log ended early
    for path in paths:
        data = read_file(path)
        torn: list = []
        records, ended = 0, False
        for off, payload in iter_payloads(path, data, torn=torn):
            n = end_count(payload)
            if ended or (n is not None and n != records):
                raise CorruptionError(
                    f"{path}: record at offset {off} " + ("follows the end record" if ended
                    else f"is an end record counting {n} records, but {records} precede it"))
            if n is not None:
                ended = True
                continue
            if cut is not None:
                raise CorruptionError(f"{cut[0]}: {cut[1]}; valid records follow in the later "
                                      f"segment {path}")
            records += 1
            yield path, off, payload
        if torn:
            cut = (path, f"corrupt WAL record at offset {torn[0][0]}: {torn[0][1]}")
        elif not ended and file_version(data) == 2:
            cut = (path, f"the segment ends at offset {len(data)} without its end record "
                         "(cut short)")


def closing_end_record(path: str) -> bytes | None:
    """The end record a version-2 segment still lacks (it was the last of a WAL that is now
    reopened and gets later segments), or None."""
    data = read_file(path)
    if file_version(data) != 2:
        return None
    records = 0
    for _, payload in iter_payloads(path, data):
        if end_count(payload) is not None:
            return None
        records += 1
    return end_record(records)


def torn_tail_offset(path: str) -> int | None:
    """Where the torn tail of a segment starts, or None if the segment ends cleanly."""
    data = read_file(path)
    torn: list = []
    for _ in iter_payloads(path, data, torn=torn):
        pass
    return torn[0][0] if torn else None


def read_file(path: str) -> bytes:
    """A whole segment or recovered-edits file (they are read whole, then parsed)."""
    with open(path, "rb") as f:
        return f.read()


def decode_or_raise(path: str, off: int, payload: bytes) -> WALEntry:
    try:
        return decode_payload(payload)
    except ValueError as e:
        # The checksum matched, so this was written this way: never a torn write.
        raise CorruptionError(f"{path}: malformed WAL record at offset {off}: {e}") from None


def iter_entries(path: str, *, tolerate_torn_tail: bool = True) -> Iterator[WALEntry]:
    data = read_file(path)
    for off, payload in iter_payloads(path, data, tolerate_torn_tail=tolerate_torn_tail):
        try:
            yield decode_payload(payload)
        except ValueError as e:
            # The checksum matched, so this was written this way: never a torn write.
            raise CorruptionError(f"{path}: malformed WAL record at offset {off}: {e}") from None
