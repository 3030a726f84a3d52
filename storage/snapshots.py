"""Table snapshots on disk: HBase's snapshot, clone_snapshot and restore_snapshot (see
docs/storage.md, "Snapshots"; the master's side is hmaster/snapshots.py).

A snapshot copies no data. Store files are immutable, so taking one hard-links every store
file of every region into the snapshot's directory, and cloning or restoring hard-links them
back into new region directories. A compaction or a drop that later deletes a table's file
removes one name of it; the snapshot's name keeps the data. A reference file (half of a split
parent's file, see region_split.py) is not linked: the rows of its half are written out as a
new HFile, so a snapshot never depends on another region's directory.

    <rootdir>/.hbase-snapshot/<name>/
        .snapshotinfo                           manifest: "MHSS" | crc32 u32 of body | body
        <encoded region>/<family>/<id>.hfile    the region's store files when it was taken
    <rootdir>/.hbase-snapshot/.tmp/<name>/      one being taken, renamed into place when done

    manifest body (JSON): {"version": 1, "name": ..., "created_ms": ...,
                           "table": TableDescriptor dict, "regions": [RegionInfo dict, ...]}
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass

from minihbase.errors import CorruptionError
from storage import layout
from storage.hfile import HFileReader, HFileWriter
from storage.region_split import open_reference, write_region_dir
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor

MANIFEST_MAGIC = b"MHSS"  # on disk: never change
MANIFEST_VERSION = 1
_MANIFEST_HEADER = struct.Struct(">4sI")


@dataclass(frozen=True)
class SnapshotManifest:
    name: str
    table: TableDescriptor  # the schema when the snapshot was taken
    created_ms: int
    regions: tuple[RegionInfo, ...]

    def encode(self) -> bytes:
        body = json.dumps({
            "version": MANIFEST_VERSION, "name": self.name, "created_ms": self.created_ms,
            "table": self.table.to_dict(), "regions": [r.to_dict() for r in self.regions],
        }, sort_keys=True).encode()
        return _MANIFEST_HEADER.pack(MANIFEST_MAGIC, zlib.crc32(body)) + body

    @classmethod
    def decode(cls, data: bytes, path: str) -> "SnapshotManifest":
        if len(data) < _MANIFEST_HEADER.size:
            raise CorruptionError(f"snapshot manifest {path} is truncated")
        magic, crc = _MANIFEST_HEADER.unpack_from(data)
        body = data[_MANIFEST_HEADER.size:]
        if magic != MANIFEST_MAGIC or zlib.crc32(body) != crc:
            raise CorruptionError(f"snapshot manifest {path} failed its checksum")
        try:
            d = json.loads(body)
            if d["version"] != MANIFEST_VERSION:
                raise ValueError(f"unknown version {d['version']}")
            return cls(d["name"], TableDescriptor.from_dict(d["table"]), int(d["created_ms"]),
                       tuple(RegionInfo.from_dict(r) for r in d["regions"]))
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptionError(f"snapshot manifest {path} is malformed: {e}") from None


# --- taking a snapshot ------------------------------------------------------------------------

def begin(rootdir: str, name: str) -> str:
    """An empty working directory for snapshot `name` (a leftover of a crashed attempt is
    removed first)."""
    tmp = layout.snapshot_tmp_dir(rootdir, name)
    shutil.rmtree(tmp, ignore_errors=True)
    layout.make_dirs(tmp)
    return tmp


def link_store_files(files, family: FamilyDescriptor, dest_dir: str) -> None:
    """Put `files` (StoreFiles of one family, pinned or closed: nothing deletes them meanwhile)
    into `dest_dir`: a hard link per HFile, the rows of a reference's half written out."""
    layout.make_dirs(dest_dir)
    for f in files:
        dest = os.path.join(dest_dir, layout.hfile_name(f.file_id))
        if f.reference is None:
            os.link(f.path, dest)
        else:
            _write_rows(f.reader, family, dest)
    layout.fsync_dir(dest_dir)


def _write_rows(reader, family: FamilyDescriptor, dest: str) -> None:
    w = HFileWriter(dest, family=family.name, block_size=family.block_size, bloom=family.bloom,
                    compression=family.compression)
    with w:
        for key, value in reader.iter_from(cache_blocks=False):
            w.append(key, value)
        w.finish(max_seqid=reader.info.max_seqid)


def link_closed_region(rootdir: str, info: RegionInfo, table: TableDescriptor,
                       dest_region_dir: str) -> None:
    """link_store_files for a region no server has open (its table is disabled): its files are
    read from its directory."""
    region_path = layout.region_dir(rootdir, info)
    for fd in table.families:
        files = []
        fdir = layout.family_dir(region_path, fd.name)
        try:
            for name in sorted(os.listdir(fdir) if os.path.isdir(fdir) else ()):
                stem, ext = os.path.splitext(name)
                if not stem.isdigit():
                    continue
                path = os.path.join(fdir, name)
                if ext == layout.HFILE_SUFFIX:
                    files.append(_ClosedFile(path, int(stem), None, None))
                elif ext == layout.REFERENCE_SUFFIX:
                    sf = open_reference(rootdir, path, int(stem))
                    files.append(_ClosedFile(path, int(stem), sf.reference, sf.reader))
            link_store_files(files, fd, layout.family_dir(dest_region_dir, fd.name))
        finally:
            for f in files:
                if f.reader is not None:
                    f.reader.close()


@dataclass(frozen=True)
class _ClosedFile:  # the parts of a StoreFile that link_store_files reads
    path: str
    file_id: int
    reference: object
    reader: object


def commit(rootdir: str, manifest: SnapshotManifest) -> None:
    """Write the manifest and rename the working directory into place: the snapshot exists
    from this rename on, complete."""
    tmp = layout.snapshot_tmp_dir(rootdir, manifest.name)
    layout.atomic_write(os.path.join(tmp, layout.SNAPSHOT_INFO), manifest.encode())
    final = layout.snapshot_dir(rootdir, manifest.name)
    os.rename(tmp, final)
    layout.fsync_dir(os.path.dirname(final))


# --- reading, deleting ------------------------------------------------------------------------

def exists(rootdir: str, name: str) -> bool:
    return os.path.isdir(layout.snapshot_dir(rootdir, name))


def names(rootdir: str) -> list[str]:
    top = layout.snapshots_dir(rootdir)
    if not os.path.isdir(top):
        return []
    return sorted(n for n in os.listdir(top) if not n.startswith("."))


def read_manifest(rootdir: str, name: str) -> SnapshotManifest:
    """FileNotFoundError if there is no such snapshot; CorruptionError if its manifest is bad."""
    path = os.path.join(layout.snapshot_dir(rootdir, name), layout.SNAPSHOT_INFO)
    with open(path, "rb") as f:
        return SnapshotManifest.decode(f.read(), path)


def delete(rootdir: str, name: str) -> None:
    """Rename out of sight first, so a crash mid-delete leaves no half snapshot listed."""
    final = layout.snapshot_dir(rootdir, name)
    doomed = layout.snapshot_tmp_dir(rootdir, name) + ".deleting"
    layout.make_dirs(os.path.dirname(doomed))
    shutil.rmtree(doomed, ignore_errors=True)
    os.rename(final, doomed)
    layout.fsync_dir(os.path.dirname(final))
    shutil.rmtree(doomed, ignore_errors=True)


# --- clone and restore ------------------------------------------------------------------------

def write_region_from(rootdir: str, manifest: SnapshotManifest, source: RegionInfo,
                      target: RegionInfo, table: TableDescriptor) -> None:
    """Create region `target`'s directory holding hard links of region `source`'s files in the
    snapshot (every file is verified to open first: a damaged snapshot file is reported here,
    not served)."""
    src = os.path.join(layout.snapshot_dir(rootdir, manifest.name), source.encoded_name)

    def fill(family: bytes, fdir: str) -> None:
        sdir = layout.family_dir(src, family)
        for name in sorted(os.listdir(sdir) if os.path.isdir(sdir) else ()):
            if name.endswith(layout.HFILE_SUFFIX):
                path = os.path.join(sdir, name)
                HFileReader(path).close()  # CorruptionError names the file
                os.link(path, os.path.join(fdir, name))

    write_region_dir(rootdir, target, table, fill)
