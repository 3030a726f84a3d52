"""Region split and merge through reference files (see docs/storage.md, "Split and merge").

A split does not copy data. Each daughter's store gets one *reference file* per parent store
file: a small checksummed file naming the parent's HFile and the half of it the daughter owns
(bottom = rows < split key, top = rows >= split key). Daughters read through references
(`HalfReader` clamps the parent file to its row range) until a compaction rewrites them into
plain HFiles; a store with references always compacts all of its files at once. Unlike HBase, a
region that still has references may split again: references always name the underlying HFile
with the intersected row range, so no chains form. The parent's directory is deleted (by
`delete_parent_if_unreferenced`, the janitor step) once no daughter references it.

Merging a run of two or more adjacent closed regions is the reverse: the merged region gets
references to every store file of every parent, each clamped to its parent's range. A reference
to a reference is resolved to the underlying HFile with the intersected range, so chains never
form.

Reference file layout (all integers big-endian)::

    0        4          5              9            13
    +--------+----------+--------------+------------+------------------+
    | "MHRF" | version  | body_len u32 | crc32 u32  | body (JSON utf-8)|
    +--------+----------+--------------+------------+------------------+
    body: {"target": HFile path relative to the root dir, "half": "bottom"|"top"|"range",
           "lo": hex row or null (inclusive), "hi": hex row or null (exclusive),
           "parent": parent region name}
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass

from minihbase.bytes_text import quoted
from minihbase.errors import CorruptionError, InvalidArgumentError
from storage import layout
from storage.cell import MAX_ROW_LENGTH
from storage.hfile import HFileReader
from storage.schema import RegionInfo, TableDescriptor

REF_MAGIC = b"MHRF"  # written to disk: never change
REF_VERSION = 1
_REF_HEADER = struct.Struct(">4sBII")


@dataclass(frozen=True)
class Reference:
    target: str  # relative to the root dir
    half: str
    lo: bytes | None
    hi: bytes | None
    parent: str

    def size_estimate(self, info) -> int:
        return info.file_size // 2 if self.half in ("top", "bottom") else info.file_size

    def encode(self) -> bytes:
        body = json.dumps({
            "target": self.target, "half": self.half, "parent": self.parent,
            "lo": self.lo.hex() if self.lo is not None else None,
            "hi": self.hi.hex() if self.hi is not None else None,
        }, sort_keys=True).encode()
        return _REF_HEADER.pack(REF_MAGIC, REF_VERSION, len(body), zlib.crc32(body)) + body

    @classmethod
    def decode(cls, data: bytes, path: str) -> "Reference":
        if len(data) < _REF_HEADER.size:
            raise CorruptionError(f"reference file {path} is truncated")
        magic, version, n, crc = _REF_HEADER.unpack_from(data)
        body = data[_REF_HEADER.size:]
        if magic != REF_MAGIC or version != REF_VERSION or len(body) != n or zlib.crc32(body) != crc:
            raise CorruptionError(f"reference file {path} failed its checksum or magic")
        d = json.loads(body)
        return cls(d["target"], d["half"], _unhex(d["lo"]), _unhex(d["hi"]), d["parent"])


def _unhex(s):
    return bytes.fromhex(s) if s is not None else None


def _max_lo(a, b):
    if a is None:
        return b
    return a if b is None or a >= b else b


def _min_hi(a, b):
    if a is None:
        return b
    return a if b is None or a <= b else b


class HalfReader:
    """An HFileReader clamped to rows [lo, hi): the read side of a reference file."""

    def __init__(self, reader: HFileReader, lo: bytes | None, hi: bytes | None):
        self._r = reader
        self.info = reader.info
        self.lo, self.hi = lo, hi

    def _inside(self, row: bytes) -> bool:
        return (self.lo is None or row >= self.lo) and (self.hi is None or row < self.hi)

    def might_contain_row(self, row: bytes) -> bool:
        return self._inside(row) and self._r.might_contain_row(row)

    def might_contain_column(self, row: bytes, qualifier: bytes) -> bool:
        return self._inside(row) and self._r.might_contain_column(row, qualifier)

    def row_cells(self, row: bytes, qualifiers: frozenset | None = None,
                  max_bytes: int = 0) -> list | None:
        return self._r.row_cells(row, qualifiers, max_bytes) if self._inside(row) else []

    def row_wire(self, row: bytes, family: bytes, encode):
        return self._r.row_wire(row, family, encode) if self._inside(row) else None

    def iter_from(self, key: tuple | None = None, **kw):
        lo, hi = self.lo, self.hi
        if lo is not None and (key is None or key < (lo,)):
            key = (lo,)
        it = self._r.iter_from(key, **kw)
        if hi is None:
            yield from it
            return
        for kv in it:
            if kv[0][0] >= hi:
                return
            yield kv

    def last_row_before(self, row: bytes | None) -> bytes | None:
        if self.hi is not None and (row is None or row > self.hi):
            row = self.hi
        r = self._r.last_row_before(row)
        if r is None or (self.lo is not None and r < self.lo):
            return None
        return r

    def mid_row(self) -> bytes | None:
        r = self._r.mid_row()
        return r if r is not None and self._inside(r) else None

    def evict_cached_blocks(self) -> int:
        return self._r.evict_cached_blocks()

    def close(self) -> None:
        self._r.close()


def read_reference(path: str) -> Reference:
    with open(path, "rb") as f:
        return Reference.decode(f.read(), path)


def open_reference(rootdir: str, path: str, file_id: int, block_cache=None):
    from storage.store import StoreFile

    ref = read_reference(path)
    target = os.path.join(rootdir, ref.target)
    try:
        hfile = HFileReader(target, block_cache=block_cache)
    except FileNotFoundError:
        raise CorruptionError(
            f"reference file {path} names {target}, which no longer exists (parent region "
            f"{ref.parent} deleted while a child still referenced it)") from None
    reader = HalfReader(hfile, ref.lo, ref.hi)
    return StoreFile(path, file_id, reader, lo=ref.lo, hi=ref.hi, reference=ref)


def _family_file_refs(rootdir: str, region_path: str, family: bytes, lo, hi, half, parent):
    """References covering [lo, hi) of every store file in one family dir of a closed region."""
    fdir = layout.family_dir(region_path, family)
    if not os.path.isdir(fdir):
        return []
    refs = []
    for name in sorted(os.listdir(fdir)):
        path = os.path.join(fdir, name)
        stem, ext = os.path.splitext(name)
        if not stem.isdigit():
            continue
        if ext == layout.HFILE_SUFFIX:
            target, flo, fhi = os.path.relpath(path, rootdir), None, None
        elif ext == layout.REFERENCE_SUFFIX:
            r = read_reference(path)
            target, flo, fhi = r.target, r.lo, r.hi
        else:
            continue
        rlo, rhi = _max_lo(flo, lo), _min_hi(fhi, hi)
        if rlo is not None and rhi is not None and rlo >= rhi:
            continue  # this file holds nothing of the wanted range
        refs.append(Reference(target, half, rlo, rhi, parent))
    return refs


def write_region_dir(rootdir: str, info: RegionInfo, table: TableDescriptor, fill_family,
                     parents: list[RegionInfo] = ()):
    """Build a new region's dir beside its final place, then rename it in (all or nothing).
    fill_family(family, family_dir) writes one family's files (references, hard links).
    `parents` (of a split or merge): the nonces their close handed over are copied in."""
    from storage.region import write_region_info

    final = layout.region_dir(rootdir, info)
    if os.path.exists(final):
        raise InvalidArgumentError(f"region directory {final} already exists")
    tmp = final + ".creating"
    shutil.rmtree(tmp, ignore_errors=True)
    layout.make_dirs(tmp)
    write_region_info(layout.region_info_path(tmp), info)
    for fam in table.family_names():
        fdir = layout.family_dir(tmp, fam)
        os.makedirs(fdir)
        fill_family(fam, fdir)
        layout.fsync_dir(fdir)
    _copy_nonces(rootdir, parents, tmp)
    layout.fsync_dir(tmp)
    os.rename(tmp, final)
    layout.fsync_dir(os.path.dirname(final))


def _copy_nonces(rootdir: str, parents: list[RegionInfo], region_path: str) -> None:
    """Each parent's nonce handover files (Region._hand_over_nonces) into the new region's
    recovered.edits, so a retry that reaches a child is answered, not applied again."""
    for p in parents:
        src = layout.recovered_edits_dir(layout.region_dir(rootdir, p))
        names = os.listdir(src) if os.path.isdir(src) else []
        for name in (n for n in names if n.endswith(layout.NONCES_SUFFIX)):
            dest = layout.recovered_edits_dir(region_path)
            layout.make_dirs(dest)
            with open(os.path.join(src, name), "rb") as f:
                layout.atomic_write(os.path.join(dest, f"{p.encoded_name}.{name}"), f.read())


def remove_region_dirs(rootdir: str, infos: list[RegionInfo]) -> None:
    """Undo write_region_dir for regions that never made it into meta."""
    for info in infos:
        remove_region_dir(layout.region_dir(rootdir, info))


def remove_region_dir(path: str) -> None:
    """Undo write_region_dir for the region directory `path`: it, or the one being built."""
    shutil.rmtree(path + ".creating", ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def _write_references(refs_by_family):
    def fill(fam: bytes, fdir: str) -> None:
        for i, ref in enumerate(refs_by_family.get(fam, ()), start=1):
            layout.atomic_write(os.path.join(fdir, layout.reference_name(i)), ref.encode())
    return fill


def check_split_key(key: bytes) -> None:
    """A split key becomes a region boundary: a row key, within the row-key limit (a longer
    one would put a region name past 64 KB in meta and in every call to the region)."""
    if len(key) > MAX_ROW_LENGTH:
        raise InvalidArgumentError(
            f"a split key is a row key: at most {MAX_ROW_LENGTH} bytes, got one of {len(key)} "
            "bytes")


def write_daughters(rootdir: str, parent: RegionInfo, table: TableDescriptor, split_key: bytes,
                    now_ms: int) -> tuple[RegionInfo, RegionInfo]:
    """Create both daughters' directories of a closed, flushed parent."""
    if not (split_key > parent.start_key and (not parent.end_key or split_key < parent.end_key)):
        raise InvalidArgumentError(
            f"split key {quoted(split_key)} is not inside region {parent.name}")
    rid = max(now_ms, parent.region_id + 1)
    a = RegionInfo(parent.table, parent.start_key, split_key, rid)
    b = RegionInfo(parent.table, split_key, parent.end_key, rid)
    ppath = layout.region_dir(rootdir, parent)
    for d, lo, hi, half in ((a, None, split_key, "bottom"), (b, split_key, None, "top")):
        refs = {fam: _family_file_refs(rootdir, ppath, fam, lo, hi, half, parent.name)
                for fam in table.family_names()}
        write_region_dir(rootdir, d, table, _write_references(refs), [parent])
    return a, b


def merge_chain(parents: list[RegionInfo]) -> list[RegionInfo]:
    """`parents` ordered by start key, once checked to be one contiguous run of two or more
    regions of one table (as HBase 2.3+ merges, HBASE-22777; no 'force' past a gap)."""
    names = ", ".join(p.name for p in parents)
    if len(parents) < 2:
        raise InvalidArgumentError(
            f"a merge needs at least 2 regions, got {len(parents)}: {names or 'none'}")
    tables = sorted({p.table for p in parents})
    if len(tables) > 1:
        raise InvalidArgumentError("cannot merge regions of different tables: " +
                                   ", ".join(map(repr, tables)))
    seen: set[str] = set()
    for p in parents:
        if p.encoded_name in seen:
            raise InvalidArgumentError(f"region {p.name} is named twice in one merge")
        seen.add(p.encoded_name)
    chain = sorted(parents, key=lambda p: (p.start_key, p.end_key == b"", p.end_key))
    for prev, nxt in zip(chain, chain[1:]):
        if not prev.end_key or prev.end_key != nxt.start_key:
            raise InvalidArgumentError(
                f"regions {', '.join(p.name for p in chain)} are not adjacent: {prev.name} "
                f"ends at {quoted(prev.end_key)}, {nxt.name} starts at {quoted(nxt.start_key)}")
    return chain


def write_merged(rootdir: str, parents: list[RegionInfo], table: TableDescriptor,
                 now_ms: int) -> RegionInfo:
    """Create the merged region's directory from a run of adjacent closed regions: reference
    files to every store file of every parent, each clamped to its parent's range."""
    chain = merge_chain(list(parents))
    rid = max([now_ms] + [p.region_id + 1 for p in chain])
    merged = RegionInfo(chain[0].table, chain[0].start_key, chain[-1].end_key, rid)
    refs: dict = {}
    for p in chain:
        ppath = layout.region_dir(rootdir, p)
        for fam in table.family_names():
            refs.setdefault(fam, []).extend(_family_file_refs(
                rootdir, ppath, fam, p.start_key or None, p.end_key or None, "range", p.name))
    write_region_dir(rootdir, merged, table, _write_references(refs), chain)
    return merged


def references_to(rootdir: str, parent: RegionInfo, children: list[RegionInfo]) -> int:
    """How many reference files of `children` still point into `parent`'s directory."""
    return _references_in([layout.region_dir(rootdir, c) for c in children], rootdir, parent)


def _references_in(region_paths: list[str], rootdir: str, parent: RegionInfo) -> int:
    prefix = os.path.relpath(layout.region_dir(rootdir, parent), rootdir) + os.sep
    n = 0
    for cpath in region_paths:
        if not os.path.isdir(cpath):
            continue
        for fam in os.listdir(cpath):
            fdir = os.path.join(cpath, fam)
            if not os.path.isdir(fdir):
                continue
            for name in os.listdir(fdir):
                if name.endswith(layout.REFERENCE_SUFFIX) and name[:-4].isdigit():
                    if read_reference(os.path.join(fdir, name)).target.startswith(prefix):
                        n += 1
    return n


def delete_parent_if_unreferenced(rootdir: str, parent: RegionInfo,
                                  children: list[RegionInfo]) -> bool:
    """The janitor step after a split or merge: delete the parent's directory once no region
    of the table (its children, or theirs) reads through a reference into it. Returns True if
    it was deleted (or already gone)."""
    path = layout.region_dir(rootdir, parent)
    if not os.path.exists(path):
        return True
    # Every region directory of the table, not only `children`: a daughter that split again
    # leaves grand-daughters whose references point straight into this parent's files.
    table_dir = os.path.dirname(path)
    others = [os.path.join(table_dir, n) for n in os.listdir(table_dir)
              if os.path.join(table_dir, n) != path]
    if _references_in(others, rootdir, parent):
        return False
    shutil.rmtree(path)
    layout.fsync_dir(os.path.dirname(path))
    return True
