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
    <rootdir>/.hbase-snapshot/.tmp/<name>.<attempt>/   one attempt at taking it, renamed into
                                                place when complete (each attempt its own, so
                                                a late region server never writes into another)

    manifest body (JSON): {"version": 1, "name": ..., "created_ms": ...,
        "table": TableDescriptor dict,
        "regions": [{"region": RegionInfo dict, "files": {family: [[file name, bytes], ...]}}]}

The manifest lists every file with its size, so a file missing from a snapshot, or one cut
short, is reported (CorruptionError) when the snapshot is cloned or restored, never turned into
an empty region; a restore also reads every data block's checksum before it touches the table.
Never edit a file under .hbase-snapshot in place: it is the same inode as the table's file (and
other snapshots'), so the edit would change them all.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass

from minihbase.errors import (CorruptionError, InvalidArgumentError, OperationNotAllowedError,
                              SnapshotCreationError, SnapshotExistsError)
from storage import layout
from storage.compaction import MANIFEST_SUFFIX
from storage.hfile import HFileReader, HFileWriter
from storage.region_split import open_reference, write_region_dir
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor

MANIFEST_MAGIC = b"MHSS"  # on disk (layout.checksummed JSON): never change
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SnapshotManifest:
    name: str
    table: TableDescriptor  # the schema when the snapshot was taken
    created_ms: int
    regions: tuple[RegionInfo, ...]
    # encoded region name -> family name -> ((file name, bytes), ...)
    files: dict

    def size_bytes(self) -> int:
        """The bytes of the snapshot's store files (as listed when it was taken)."""
        return sum(size for by_family in self.files.values() for names in by_family.values()
                   for _, size in names)

    def encode(self) -> bytes:
        body = json.dumps({
            "version": MANIFEST_VERSION, "name": self.name, "created_ms": self.created_ms,
            "table": self.table.to_dict(),
            "regions": [{"region": r.to_dict(), "files": self.files[r.encoded_name]}
                        for r in self.regions],
        }, sort_keys=True).encode()
        return layout.checksummed(MANIFEST_MAGIC, body)

    @classmethod
    def decode(cls, data: bytes, path: str) -> "SnapshotManifest":
        body = layout.checked_body(MANIFEST_MAGIC, data, f"snapshot manifest {path}")
        try:
            d = json.loads(body)
            if d["version"] != MANIFEST_VERSION:
                raise ValueError(f"unknown version {d['version']}")
            regions = tuple(RegionInfo.from_dict(r["region"]) for r in d["regions"])
            files = {info.encoded_name: {fam: tuple((str(n), int(size)) for n, size in names)
                                         for fam, names in r["files"].items()}
                     for info, r in zip(regions, d["regions"])}
            return cls(d["name"], TableDescriptor.from_dict(d["table"]), int(d["created_ms"]),
                       regions, files)
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptionError(f"snapshot manifest {path} is malformed: {e}") from None


# --- taking a snapshot ------------------------------------------------------------------------

def begin(rootdir: str, name: str) -> str:
    """Start an attempt at taking snapshot `name`: returns the attempt's id, whose working
    directory (layout.snapshot_work_dir) exists and is empty. Earlier attempts' directories
    (a crash, a failed attempt) are removed."""
    work_root = layout.snapshot_work_root(rootdir)
    if os.path.isdir(work_root):
        for entry in os.listdir(work_root):
            if entry.rpartition(".")[0] == name:
                shutil.rmtree(os.path.join(work_root, entry), ignore_errors=True)
    attempt = secrets.token_hex(6)
    layout.make_dirs(layout.snapshot_work_dir(rootdir, name, attempt))
    return attempt


def link_plain_files(files, dest_dir: str) -> list:
    """Hard-link the plain HFiles among `files` (StoreFiles of one family, pinned or closed:
    nothing deletes them meanwhile) into `dest_dir`; returns the references among them, for
    write_halves."""
    layout.make_dirs(dest_dir)
    for f in files:
        if f.reference is None:
            os.link(f.path, os.path.join(dest_dir, layout.hfile_name(f.file_id)))
    layout.fsync_dir(dest_dir)
    return [f for f in files if f.reference is not None]


def write_halves(references, family: FamilyDescriptor, dest_dir: str) -> None:
    """Write the rows each reference reads (its half of a parent's file) as a new HFile."""
    for f in references:
        w = HFileWriter(os.path.join(dest_dir, layout.hfile_name(f.file_id)),
                        family=family.name, block_size=family.block_size, bloom=family.bloom,
                        compression=family.compression,
                        data_block_encoding=family.data_block_encoding)
        with w:
            for key, value in f.reader.iter_from(cache_blocks=False):
                w.append(key, value)
            w.finish(max_seqid=f.reader.info.max_seqid)


def link_closed_region(rootdir: str, info: RegionInfo, table: TableDescriptor,
                       dest_region_dir: str) -> None:
    """What Region.snapshot does, for a region no server has open (its table is disabled):
    its files are read from its directory. A region with edits not replayed yet (its server
    died while the table was being disabled) or an interrupted compaction is refused: its
    files alone are not its data."""
    region_path = layout.region_dir(rootdir, info)
    if not os.path.exists(layout.region_info_path(region_path)):
        raise SnapshotCreationError(
            f"region {info.name}: its directory {region_path} or its .regioninfo is missing "
            "(its files are lost, see hbck): a snapshot would take it as empty")
    edits = layout.recovered_edits_dir(region_path)
    if os.path.isdir(edits) and any(n.endswith(layout.EDITS_SUFFIX) for n in os.listdir(edits)):
        raise SnapshotCreationError(
            f"region {info.name} holds recovered edits not replayed yet (its server died while "
            "the table was being disabled): enable and disable the table, then snapshot it")
    for fd in table.families:
        files = []
        fdir = layout.family_dir(region_path, fd.name)
        try:
            for name in sorted(os.listdir(fdir) if os.path.isdir(fdir) else ()):
                stem, ext = os.path.splitext(name)
                path = os.path.join(fdir, name)
                if name.endswith(MANIFEST_SUFFIX):
                    raise SnapshotCreationError(
                        f"region {info.name} has an interrupted compaction ({path}): enable "
                        "and disable the table, then snapshot it")
                if not stem.isdigit():
                    continue
                if ext == layout.HFILE_SUFFIX:
                    files.append(_ClosedFile(path, int(stem), None, None))
                elif ext == layout.REFERENCE_SUFFIX:
                    sf = open_reference(rootdir, path, int(stem))
                    files.append(_ClosedFile(path, int(stem), sf.reference, sf.reader))
            dest = layout.family_dir(dest_region_dir, fd.name)
            write_halves(link_plain_files(files, dest), fd, dest)
        finally:
            for f in files:
                if f.reader is not None:
                    f.reader.close()


@dataclass(frozen=True)
class _ClosedFile:  # the parts of a StoreFile that link_plain_files and write_halves read
    path: str
    file_id: int
    reference: object
    reader: object


def commit(rootdir: str, name: str, attempt: str, table: TableDescriptor,
           regions: list[RegionInfo], created_ms: int) -> SnapshotManifest:
    """Write the manifest (listing every file the attempt's directory holds) and rename the
    directory into place: the snapshot exists from this rename on, complete."""
    work = layout.snapshot_work_dir(rootdir, name, attempt)
    files = {}
    for info in regions:
        files[info.encoded_name] = by_family = {}
        for fam in table.family_names():
            fdir = layout.family_dir(os.path.join(work, info.encoded_name), fam)
            by_family[fam.decode()] = tuple(
                (n, os.stat(os.path.join(fdir, n)).st_size)
                for n in sorted(os.listdir(fdir)) if n.endswith(layout.HFILE_SUFFIX))
    manifest = SnapshotManifest(name, table, created_ms, tuple(regions), files)
    layout.atomic_write(os.path.join(work, layout.SNAPSHOT_INFO), manifest.encode())
    final = layout.snapshot_dir(rootdir, name)
    os.rename(work, final)
    layout.fsync_dir(os.path.dirname(final))
    return manifest


# --- reading, deleting ------------------------------------------------------------------------

def exists(rootdir: str, name: str) -> bool:
    return os.path.lexists(layout.snapshot_dir(rootdir, name))


def names(rootdir: str) -> list[str]:
    top = layout.snapshots_dir(rootdir)
    if not os.path.isdir(top):
        return []
    return sorted(n for n in os.listdir(top)
                  if not n.startswith(".") and os.path.isdir(os.path.join(top, n)))


def read_manifest(rootdir: str, name: str) -> SnapshotManifest:
    """FileNotFoundError if the snapshot has no manifest; CorruptionError if it is bad or
    names another snapshot (a directory renamed by hand)."""
    path = os.path.join(layout.snapshot_dir(rootdir, name), layout.SNAPSHOT_INFO)
    with open(path, "rb") as f:
        m = SnapshotManifest.decode(f.read(), path)
    if m.name != name:
        raise CorruptionError(f"snapshot manifest {path} names snapshot {m.name!r}, not "
                              f"{name!r} (was its directory renamed?)")
    return m


def delete(rootdir: str, name: str) -> None:
    """Rename out of sight first, so a crash mid-delete leaves no half snapshot listed."""
    final = layout.snapshot_dir(rootdir, name)
    doomed = os.path.join(layout.snapshot_work_root(rootdir), f"{name}.deleting")
    layout.make_dirs(os.path.dirname(doomed))
    shutil.rmtree(doomed, ignore_errors=True)
    os.rename(final, doomed)
    layout.fsync_dir(os.path.dirname(final))
    shutil.rmtree(doomed, ignore_errors=True)


def remove_unfinished(rootdir: str) -> int:
    """Remove every attempt's working directory and every half-deleted snapshot (the active
    master, when it starts: nothing is being taken then). Returns how many."""
    work_root = layout.snapshot_work_root(rootdir)
    entries = os.listdir(work_root) if os.path.isdir(work_root) else []
    for entry in entries:
        shutil.rmtree(os.path.join(work_root, entry), ignore_errors=True)
    return len(entries)


# --- export (HBase's ExportSnapshot) ---------------------------------------------------------

def export(rootdir: str, name: str, dest_rootdir: str) -> tuple[int, int]:
    """Copy snapshot `name` into `dest_rootdir`'s .hbase-snapshot/ (another cluster's root
    directory, or a backup), where that cluster's list_snapshots, clone_snapshot and
    restore_snapshot find it. Each file is copied, fsynced and checked as the copy (its
    manifest size; every block's checksum), into an attempt directory renamed into place with
    the manifest last: the destination holds the whole snapshot or none of it. Returns (files,
    bytes) copied. SnapshotExistsError if the destination has one of that name;
    OperationNotAllowedError if this process is exporting it into that root already (a
    second attempt would remove the first one's copy); CorruptionError naming the file if
    the snapshot is damaged (nothing is left behind)."""
    m = read_manifest(rootdir, name)
    source, dest = os.path.realpath(rootdir), os.path.realpath(dest_rootdir)
    if dest == os.path.dirname(dest) or os.path.commonpath([source, dest]) == source:
        raise InvalidArgumentError(f"export of snapshot {name!r}: {dest_rootdir} is not "
                                   "another root directory (it is / or inside this "
                                   f"cluster's, {rootdir})")
    key = (dest, name)
    with _exports_lock:
        if key in _exports:
            raise OperationNotAllowedError(
                f"an export of snapshot {name!r} into {dest_rootdir} is already running: "
                "wait for it to finish (list the snapshots there), then try again if it failed")
        _exports.add(key)
    try:
        return _export(rootdir, m, dest_rootdir)
    finally:
        with _exports_lock:
            _exports.discard(key)


# Exports running in this process, (real destination root, snapshot name); guarded by
# _exports_lock. A second one would remove the first one's copy (begin).
_exports: set[tuple[str, str]] = set()
_exports_lock = threading.Lock()


def _export(rootdir: str, m: SnapshotManifest, dest_rootdir: str) -> tuple[int, int]:
    name = m.name
    if exists(dest_rootdir, name):
        raise SnapshotExistsError(f"snapshot {name!r} already exists in {dest_rootdir}")
    attempt = begin(dest_rootdir, name)
    work = layout.snapshot_work_dir(dest_rootdir, name, attempt)
    src = layout.snapshot_dir(rootdir, name)
    copied = [0, 0]
    try:
        for region in m.regions:
            for family, files in m.files[region.encoded_name].items():
                rel = os.path.join(region.encoded_name, family)
                layout.make_dirs(os.path.join(work, rel))
                for file_name, size in files:
                    _copy_checked(os.path.join(src, rel, file_name),
                                  os.path.join(work, rel, file_name), size, name)
                    copied[0] += 1
                    copied[1] += size
                layout.fsync_dir(os.path.join(work, rel))
        _check_copied(m, work, dest_rootdir)
        layout.atomic_write(os.path.join(work, layout.SNAPSHOT_INFO), m.encode())
        final = layout.snapshot_dir(dest_rootdir, name)
        os.rename(work, final)
        layout.fsync_dir(os.path.dirname(final))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return copied[0], copied[1]


def _check_copied(m: SnapshotManifest, work: str, dest_rootdir: str) -> None:
    """Every file of `m` is in the attempt's directory `work` at its size: another process
    exporting the same snapshot into the same root removes earlier attempts (begin), and this
    one's later copies would recreate the directories, so a partial copy could be renamed."""
    for region in m.regions:
        for family, files in m.files[region.encoded_name].items():
            for file_name, size in files:
                path = os.path.join(work, region.encoded_name, family, file_name)
                try:
                    found = os.stat(path).st_size
                except FileNotFoundError:
                    found = None
                if found != size:
                    raise SnapshotCreationError(
                        f"export of snapshot {m.name!r} into {dest_rootdir}: its copy {path} "
                        f"is {'gone' if found is None else f'{found} bytes, not {size}'} (did "
                        "another export of it into that root start meanwhile?); nothing is "
                        "kept, try again")


def _copy_checked(source: str, dest: str, size: int, snapshot: str) -> None:
    try:
        shutil.copyfile(source, dest)
    except FileNotFoundError:
        raise CorruptionError(f"snapshot {snapshot!r}: {source} is missing (deleted during "
                              "the export?)") from None
    with open(dest, "rb+") as f:
        os.fsync(f.fileno())
    found = os.stat(dest).st_size
    if found != size:
        raise CorruptionError(f"snapshot {snapshot!r}: {source} has {found} bytes, its "
                              f"manifest says {size}")
    try:
        with HFileReader(dest) as reader:
            reader.verify_blocks()
    except CorruptionError as e:  # it names the copy: say which source
        raise CorruptionError(f"snapshot {snapshot!r}: {source} is damaged: {e}") from None


# --- clone and restore ------------------------------------------------------------------------

def write_region_from(rootdir: str, manifest: SnapshotManifest, source: RegionInfo,
                      target: RegionInfo, table: TableDescriptor,
                      verify_blocks: bool = False) -> None:
    """Create region `target`'s directory holding hard links of region `source`'s files in the
    snapshot. Every file the manifest lists must be there, at its size, and open (trailer,
    file info and index checksums); with verify_blocks (a restore, which replaces the table's
    data), every data block's checksum too: a damaged snapshot is reported here, not served."""
    src = os.path.join(layout.snapshot_dir(rootdir, manifest.name), source.encoded_name)
    listed = manifest.files.get(source.encoded_name, {})

    def fill(family: bytes, fdir: str) -> None:
        sdir = layout.family_dir(src, family)
        for name, size in listed.get(family.decode(), ()):
            path = os.path.join(sdir, name)
            try:
                found = os.stat(path).st_size
            except FileNotFoundError:
                raise CorruptionError(f"snapshot {manifest.name!r}: {path} is missing") from None
            if found != size or not name.endswith(layout.HFILE_SUFFIX):
                raise CorruptionError(f"snapshot {manifest.name!r}: {path} has {found} bytes, "
                                      f"its manifest says {size}")
            with HFileReader(path) as reader:  # CorruptionError names the file
                if verify_blocks:
                    reader.verify_blocks()
            os.link(path, os.path.join(fdir, name))

    write_region_dir(rootdir, target, table, fill)
