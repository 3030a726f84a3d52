"""WAL splitting: turn a dead (fenced) server's WAL directory into per-region recovered edits
(see docs/storage-wal.md, and step 3 of HBase's ServerCrashProcedure).

Every entry of every segment is grouped by region name and written, sorted by seqid, to
`<region dir>/recovered.edits/<first seqid:020d>.edits` in the WAL record format (same file
header, same records), atomically: temp file, fsync, rename, fsync the directory. Region.open
replays the edits newer than its HFiles, flushes and deletes the file.

- Torn tails of segments are tolerated (those records were never acknowledged); a corrupt
  record in the middle of a segment raises CorruptionError and nothing is written for it, so the
  master retries or an operator looks, instead of losing acknowledged edits silently.
- Idempotent: the output depends only on the input, so splitting twice rewrites the same files
  under the same names (a master that crashed mid-split simply splits again).
- Regions whose directory no longer exists (dropped table, merged or split parent already
  cleaned up) are skipped and logged, unless meta still has them on the dead server (the
  `regions` it splits for): then their files were lost and their edits are kept (HBase's
  splitter also creates the missing recovered.edits directory).
- Records are copied as raw checksummed payloads, sorted by seqid (stable, so a duplicate keeps
  log order): only the entry head (region, seqid) is decoded, which keeps recovery fast.
- Memory: records are spooled per region to a file in the region's .tmp directory as the log
  is read, so a split holds at most one region's edits (when its seqids were out of log order
  and must be sorted), not the whole log (up to max_wal_segments x 64 MB).
- The files are committed COMMIT_THREADS at a time: each waits for two fsyncs.
"""

from __future__ import annotations

import logging
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from minihbase.errors import CorruptionError
from storage import layout
from storage.wal import list_segments
from storage.wal_format import (END_REGION, FILE_HEADER, WALEntry, decode_entry_head, edits_file,
                                end_record, frame, iter_entries, iter_log_payloads,
                                iter_payloads, read_file)

__all__ = ["split_wal", "read_recovered_edits", "region_dir_for_name"]

log = logging.getLogger(__name__)

COMMIT_THREADS = 8  # recovered-edits files fsynced and renamed at once (split_wal)


def region_dir_for_name(rootdir: str, region: str) -> str | None:
    """The directory of a region from its full name "table,starthex,regionid.encoded"."""
    table, sep, rest = region.partition(",")
    _, dot, encoded = rest.rpartition(".")
    if not sep or not dot or not table or not encoded:
        return None
    return layout.region_dir_by_name(rootdir, table, encoded)


class _Spool:
    """One region's edits, appended as they are read (so a split holds one region's edits in
    memory at most, not the whole log) to a file in the region's .tmp directory that is a
    valid recovered-edits file itself: renamed into place when the log already had the
    region's seqids in order, else sorted first."""

    def __init__(self, region_path: str):
        self.region_path = region_path
        tmp = layout.tmp_dir(region_path)
        layout.make_dirs(tmp)
        self.path = os.path.join(tmp, f"recovered.{os.getpid()}.spool")
        self.file = open(self.path, "wb")
        self.file.write(FILE_HEADER)
        self.count, self.first, self.last, self.in_order = 0, None, 0, True

    def add(self, seqid: int, payload: bytes) -> None:
        self.file.write(frame(payload))
        self.file.write(payload)
        self.count += 1
        self.in_order = self.in_order and seqid >= self.last
        self.first = seqid if self.first is None else min(self.first, seqid)
        self.last = max(self.last, seqid)

    def commit(self) -> str:
        """The recovered-edits file, fsynced and renamed into place (atomic, idempotent)."""
        self.file.write(end_record(self.count))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        edits_dir = layout.recovered_edits_dir(self.region_path)
        layout.make_dirs(edits_dir)
        path = os.path.join(edits_dir, layout.recovered_edits_name(self.first))
        if self.in_order:
            os.replace(self.path, path)
            layout.fsync_dir(edits_dir)
        else:
            records = [(decode_entry_head(payload)[1], payload)
                       for _, payload in iter_payloads(self.path, read_file(self.path),
                                                       tolerate_torn_tail=False)][:-1]
            records.sort(key=lambda r: r[0])  # stable: a duplicate keeps log order
            layout.atomic_write(path, edits_file([payload for _, payload in records]))
            os.unlink(self.path)
        return path

    def discard(self) -> None:
        self.file.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _spool_by_region(wal_dir: str, rootdir: str,
                     regions: set[str] | None) -> dict[str, _Spool]:
    """Every record of the log, spooled per region; regions without a directory are skipped
    (logged), but for `regions` (the regions meta still has on the dead server): a missing
    directory of one of those means its files are lost, not that it is gone, so its edits are
    kept in a new directory holding only recovered.edits (no .regioninfo: region servers
    refuse to open it until its files are restored, see Region.open). On any error the
    spools are deleted and nothing is left behind."""
    spools: dict[str, _Spool] = {}
    skipped: dict[str, list] = {}  # region -> [its directory's path, edits skipped]

    def kept(region: str) -> bool:
        if regions is None:
            return False
        log.warning("split of %s: region %s has no directory: its edits are kept in "
                    "recovered.edits of a new one, which opens once the region's files are "
                    "restored", wal_dir, region)
        return True
    try:
        for path, off, payload in iter_log_payloads(list_segments(wal_dir)):
            try:
                region, seqid = decode_entry_head(payload)
            except (struct.error, UnicodeDecodeError) as e:
                raise CorruptionError(
                    f"{path}: malformed WAL record at offset {off}: {e}") from None
            if regions is not None and region not in regions:
                continue
            spool = spools.get(region)
            if spool is None:
                if region in skipped:
                    skipped[region][1] += 1
                    continue
                region_path = region_dir_for_name(rootdir, region)
                if region_path is None or not (os.path.isdir(region_path) or kept(region)):
                    skipped[region] = [region_path, 1]
                    continue
                spool = spools[region] = _Spool(region_path)
            spool.add(seqid, payload)
    except BaseException:
        for spool in spools.values():
            spool.discard()
        raise
    for region, (region_path, count) in skipped.items():
        log.warning("split of %s: skipped %d edits of region %s: no region directory %s",
                    wal_dir, count, region, region_path)
    return spools


def split_wal(wal_dir: str, rootdir: str, *, regions: set[str] | None = None) -> dict[str, str]:
    """Write one recovered-edits file per region found in `wal_dir`; returns {region: path}.

    `regions` limits the split to those region names. Raises CorruptionError on corruption in
    the middle of a segment (before writing any recovered-edits file)."""
    spools = _spool_by_region(wal_dir, rootdir, regions)
    written: dict[str, str] = {}
    try:
        # each commit waits for two fsyncs (file, directory), which release the GIL: a dead
        # server's hundreds of regions commit COMMIT_THREADS at a time, not one by one
        with ThreadPoolExecutor(COMMIT_THREADS, thread_name_prefix="split-commit") as pool:
            futures = {region: pool.submit(spool.commit)
                       for region, spool in sorted(spools.items())}
        for region, future in futures.items():
            if future.exception() is None:
                written[region] = future.result()
        for region, path in written.items():
            spool = spools[region]
            log.info("split of %s: %d edits of region %s (seqids %d..%d) -> %s", wal_dir,
                     spool.count, region, spool.first, spool.last, path)
        for future in futures.values():
            future.result()  # the first failure, if any, once the others are done
    finally:
        for region, spool in spools.items():
            if region not in written:
                spool.discard()
    return written


def read_recovered_edits(path: str) -> Iterator[WALEntry]:
    """Every entry of a recovered-edits file, in seqid order. The file was written atomically,
    so unlike a WAL segment any bad byte, torn tail included, raises CorruptionError, and so
    does a file that does not end with its end record (cut short at a record boundary)."""
    count = 0
    for entry in iter_entries(path, tolerate_torn_tail=False):
        if entry.region == END_REGION:
            if entry.seqid != count:
                raise CorruptionError(f"{path}: its end record counts {entry.seqid} edits, "
                                      f"but {count} precede it")
            return
        count += 1
        yield entry
    raise CorruptionError(f"{path}: recovered edits end without their end record after "
                          f"{count} edits: the file was cut short")
