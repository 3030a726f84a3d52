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
  cleaned up) are skipped and logged.
- Records are copied as raw checksummed payloads, sorted by seqid (stable, so a duplicate keeps
  log order): only the entry head (region, seqid) is decoded, which keeps recovery fast.
"""

from __future__ import annotations

import logging
import os
import struct
from typing import Iterator

from minihbase.errors import CorruptionError
from storage import layout
from storage.wal import list_segments
from storage.wal_format import (FILE_HEADER, WALEntry, decode_entry_head, frame, iter_entries,
                                iter_log_payloads)

__all__ = ["split_wal", "read_recovered_edits", "region_dir_for_name"]

log = logging.getLogger(__name__)


def region_dir_for_name(rootdir: str, region: str) -> str | None:
    """The directory of a region from its full name "table,starthex,regionid.encoded"."""
    table, sep, rest = region.partition(",")
    _, dot, encoded = rest.rpartition(".")
    if not sep or not dot or not table or not encoded:
        return None
    return layout.region_dir_by_name(rootdir, table, encoded)


def _group_by_region(wal_dir: str, regions: set[str] | None) -> dict[str, list[tuple[int, bytes]]]:
    grouped: dict[str, list[tuple[int, bytes]]] = {}
    for path, off, payload in iter_log_payloads(list_segments(wal_dir)):
        try:
            region, seqid = decode_entry_head(payload)
        except (struct.error, UnicodeDecodeError) as e:
            raise CorruptionError(f"{path}: malformed WAL record at offset {off}: {e}") from None
        if regions is not None and region not in regions:
            continue
        grouped.setdefault(region, []).append((seqid, payload))
    return grouped


def split_wal(wal_dir: str, rootdir: str, *, regions: set[str] | None = None) -> dict[str, str]:
    """Write one recovered-edits file per region found in `wal_dir`; returns {region: path}.

    `regions` limits the split to those region names. Raises CorruptionError on corruption in
    the middle of a segment (before writing anything)."""
    grouped = _group_by_region(wal_dir, regions)
    written: dict[str, str] = {}
    for region, records in sorted(grouped.items()):
        region_path = region_dir_for_name(rootdir, region)
        if region_path is None or not os.path.isdir(region_path):
            log.warning("split of %s: skipping %d edits of region %s: no region directory %s",
                        wal_dir, len(records), region, region_path)
            continue
        records.sort(key=lambda r: r[0])
        parts = [FILE_HEADER]
        for _, payload in records:
            parts.append(frame(payload))
            parts.append(payload)
        edits_dir = layout.recovered_edits_dir(region_path)
        layout.make_dirs(edits_dir)
        path = os.path.join(edits_dir, layout.recovered_edits_name(records[0][0]))
        layout.atomic_write(path, b"".join(parts))
        written[region] = path
        log.info("split of %s: %d edits of region %s (seqids %d..%d) -> %s", wal_dir,
                 len(records), region, records[0][0], records[-1][0], path)
    return written


def read_recovered_edits(path: str) -> Iterator[WALEntry]:
    """Every entry of a recovered-edits file, in seqid order. The file was written atomically,
    so unlike a WAL segment any bad byte, torn tail included, raises CorruptionError."""
    return iter_entries(path, tolerate_torn_tail=False)
