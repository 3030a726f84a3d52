"""Every on-disk path under the root directory is produced here, and only here.

    <rootdir>/
      WALs/<server>/wal.<segment:020d>            live WAL segments of one region server
      WALs/<server>-splitting/                    the same directory once the master fenced it
      oldWALs/<server>.wal.<segment:020d>         archived segments (every edit flushed)
      data/<table>/<encoded region>/
          .regioninfo                             the region's RegionInfo (checksummed JSON)
          <family>/<file id>.hfile                store files
          <family>/<file id>.ref                  reference to half of a parent's store file
          recovered.edits/<first seqid:020d>.edits  edits split out of a dead server's WAL
          .tmp/                                   files being written (renamed into place)
      .hbase-snapshot/<snapshot>/                 a table snapshot (storage/snapshots.py)
          .snapshotinfo                           its manifest (checksummed JSON)
          <encoded region>/<family>/<id>.hfile    hard links of the table's store files
      .hbase-snapshot/.tmp/<snapshot>.<attempt>/  a snapshot being taken (renamed when complete)

Server names are HBase's `host,port,startcode`.
"""

from __future__ import annotations

import os
import struct
import zlib

from minihbase.errors import CorruptionError, InvalidArgumentError
from storage.schema import RegionInfo, validate_snapshot_name, validate_table_name

WALS = "WALs"
OLD_WALS = "oldWALs"
DATA = "data"
SPLITTING_SUFFIX = "-splitting"
WAL_SEGMENT_PREFIX = "wal."
HFILE_SUFFIX = ".hfile"
REFERENCE_SUFFIX = ".ref"
RECOVERED_EDITS = "recovered.edits"
EDITS_SUFFIX = ".edits"
# In recovered.edits too: the nonces of a region closed cleanly, for its next server (not
# edits: a snapshot of a disabled table need not wait for them; see storage/region.py)
NONCES_SUFFIX = ".nonces"
REGION_INFO = ".regioninfo"
TMP = ".tmp"
SNAPSHOTS = ".hbase-snapshot"
SNAPSHOT_INFO = ".snapshotinfo"
CLUSTER_ID = "hbase.id"  # the cluster id, as in ZooKeeper (HBase's file of that name)


def wal_dir(rootdir: str, server: str) -> str:
    return os.path.join(rootdir, WALS, server)


def splitting_wal_dir(rootdir: str, server: str) -> str:
    return os.path.join(rootdir, WALS, server + SPLITTING_SUFFIX)


def old_wal_dir(rootdir: str) -> str:
    return os.path.join(rootdir, OLD_WALS)


def wal_segment_name(segment: int) -> str:
    return f"{WAL_SEGMENT_PREFIX}{segment:020d}"


def parse_wal_segment(name: str) -> int | None:
    if name.startswith(WAL_SEGMENT_PREFIX) and name[len(WAL_SEGMENT_PREFIX):].isdigit():
        return int(name[len(WAL_SEGMENT_PREFIX):])
    return None


def table_dir(rootdir: str, table: str) -> str:
    # Validated here too: a name like "/t1" or ".." must never turn into a path outside the
    # data directory (a drop removes this directory).
    return os.path.join(rootdir, DATA, validate_table_name(table))


def region_dir(rootdir: str, info: RegionInfo) -> str:
    return os.path.join(table_dir(rootdir, info.table), info.encoded_name)


def region_dir_by_name(rootdir: str, table: str, encoded_name: str) -> str:
    return os.path.join(table_dir(rootdir, table), encoded_name)


def family_dir(region_path: str, family: bytes) -> str:
    return os.path.join(region_path, family.decode())


def hfile_name(file_id: int) -> str:
    return f"{file_id:020d}{HFILE_SUFFIX}"


def reference_name(file_id: int) -> str:
    return f"{file_id:020d}{REFERENCE_SUFFIX}"


def recovered_edits_dir(region_path: str) -> str:
    return os.path.join(region_path, RECOVERED_EDITS)


def recovered_edits_name(first_seqid: int) -> str:
    return f"{first_seqid:020d}{EDITS_SUFFIX}"


def region_info_path(region_path: str) -> str:
    return os.path.join(region_path, REGION_INFO)


def tmp_dir(region_path: str) -> str:
    return os.path.join(region_path, TMP)


def snapshots_dir(rootdir: str) -> str:
    return os.path.join(rootdir, SNAPSHOTS)


def snapshot_dir(rootdir: str, name: str) -> str:
    # validated here too, as table_dir: a name must never reach outside the snapshots dir
    return os.path.join(rootdir, SNAPSHOTS, validate_snapshot_name(name))


def snapshot_work_dir(rootdir: str, name: str, attempt: str) -> str:
    """Where one attempt at taking snapshot `name` links files (attempt: hex digits)."""
    if not (isinstance(attempt, str) and 0 < len(attempt) <= 32
            and all(c in "0123456789abcdef" for c in attempt)):
        raise InvalidArgumentError(f"invalid snapshot attempt id {attempt!r}")
    return os.path.join(snapshot_work_root(rootdir), f"{validate_snapshot_name(name)}.{attempt}")


def snapshot_work_root(rootdir: str) -> str:
    return os.path.join(rootdir, SNAPSHOTS, TMP)


# The framing of the small metadata files (.regioninfo, compaction and snapshot manifests):
# magic (4 bytes) | crc32 u32 of body | body. Written to disk: never change.
_CHECKED_HEADER = struct.Struct(">4sI")


def checksummed(magic: bytes, body: bytes) -> bytes:
    return _CHECKED_HEADER.pack(magic, zlib.crc32(body)) + body


def checked_body(magic: bytes, data: bytes, what: str) -> bytes:
    """The body of `checksummed` bytes; CorruptionError ("<what> is truncated" or "<what>
    failed its checksum") for anything else."""
    if len(data) < _CHECKED_HEADER.size:
        raise CorruptionError(f"{what} is truncated")
    found, crc = _CHECKED_HEADER.unpack_from(data)
    body = data[_CHECKED_HEADER.size:]
    if found != magic or zlib.crc32(body) != crc:
        raise CorruptionError(f"{what} failed its checksum")
    return body


def fsync_dir(path: str) -> None:
    """fsync a directory so that a rename or create inside it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str) -> None:
    """os.makedirs, durably: every directory level it creates is fsynced into its parent, so a
    power loss cannot drop a directory whose files were fsynced (a new region's first flush,
    after which the WAL that held its edits is archived)."""
    path = os.path.abspath(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            pass  # created meanwhile by another thread or process
        fsync_dir(os.path.dirname(d))


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` to `path` all-or-nothing: temp file, fsync, rename, fsync the directory.
    A write that fails (a full disk) removes its temp file: nothing else would, in a region's
    root directory, and it holds the very space that is short."""
    directory = os.path.dirname(path) or "."
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never created, or already renamed into place
        raise
    fsync_dir(directory)
