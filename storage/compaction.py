"""Compaction: rewrite several store files of one family into one (docs/storage.md, "Compaction").

Minor compaction merges a contiguous run of files (by age, so "newest source wins" for equal
keys stays true) and keeps every cell, delete markers included: a marker may still mask a put
in a file that was not part of the compaction. Only exact duplicates (same key) collapse to
the newest.

Major compaction merges ALL files of the store and drops what no reader can see any more:
delete markers and the puts they mask, expired cells (TTL) and versions beyond max_versions.
A put written after the marker with an older timestamp that is still in the memstore becomes
visible once the marker is gone (HBase behaves the same); Region.compact(major=True) flushes
first so that only puts written after the compaction started can do this. A family with
KEEP_DELETED_CELLS keeps its markers and deleted cells instead (major_items_keeping_deleted).

Selection (minor): files oldest first; HBase's ratio rule skips old files larger than
ratio x the sum of the newer ones, then at most compaction_max_files are taken. The input
files stay readable (and pinned by running scanners) until the store swaps in the output.

A close (move, split, merge, disable) interrupts a running compaction, as HBase's does: the
region serves nothing until its close ends, so it must not wait for a rewrite of every file.
The output so far is discarded and the inputs stay; the next open compacts again.
"""

from __future__ import annotations

import json
import os
from heapq import merge
from operator import itemgetter

from minihbase.errors import CorruptionError
from storage import layout
from storage.config import RegionConfig

# A compaction manifest `<output id>.compacted` lists the input files. It is written (atomically)
# after the output is in place and before any input is deleted, and removed after: on open, a
# manifest left by a crash means "finish deleting these inputs". Without it a crash in the middle
# of deleting inputs could leave some inputs beside the output and resurrect masked puts.
# Layout: magic "MHCM" | crc32 u32 of body | body (JSON list of input file names). Never change.
MANIFEST_SUFFIX = ".compacted"
_MANIFEST_MAGIC = b"MHCM"  # layout.checksummed JSON; never change

_key0 = itemgetter(0)
_CHECK_EVERY = 1000  # cells written between two checks for an interrupting close


class CompactionInterrupted(Exception):
    """Raised inside compact_store when `interrupted()` turned true; the region catches it
    (it never reaches a caller: an interrupted compaction is not an error)."""


def select_minor(files_oldest_first: list, config: RegionConfig) -> list | None:
    files = files_oldest_first
    if len(files) < config.compaction_min_files:
        return None
    sizes = [f.size for f in files]
    start = 0
    while len(files) - start >= config.compaction_min_files:
        newer = sum(sizes[start + 1:start + config.compaction_max_files])
        if sizes[start] <= newer * config.compaction_ratio:
            break
        start += 1
    chosen = files[start:start + config.compaction_max_files]
    return chosen if len(chosen) >= config.compaction_min_files else None


def merged_items(files_oldest_first: list):
    """(key, value) ascending over the files; on equal keys the newest file comes first."""
    sources = [f.reader.iter_from(None, cache_blocks=False) if _plain(f) else f.reader.iter_from(None)
               for f in reversed(files_oldest_first)]
    if len(sources) == 1:
        return sources[0]
    return merge(*sources, key=_key0)


def _plain(f) -> bool:
    return f.reference is None


def minor_items(items):
    """Drop exact duplicates (older sources' copies), keep everything else."""
    prev = None
    for kv in items:
        k = kv[0]
        if k == prev:
            continue
        prev = k
        yield kv


def major_items(items, max_versions: int, ttl_cutoff: int, min_versions: int = 0):
    """Keep only puts that a reader with no time range could see; drop every marker."""
    row = None
    prev = None
    fam_del = -1
    fam_vers = col = col_vers = None
    col_del = count = 0
    for kv in items:
        key = kv[0]
        r, q, nts, nt = key
        if r != row:
            row = r
            fam_del = -1
            fam_vers = col = None
        elif key == prev:
            continue
        prev = key
        ts = -nts
        if nt != -4:
            if nt == -14:
                if ts > fam_del:
                    fam_del = ts
            elif nt == -10:
                if fam_vers is None:
                    fam_vers = set()
                fam_vers.add(ts)
            else:
                if q != col:
                    col, col_del, col_vers, count = q, -1, None, 0
                if nt == -12:
                    if ts > col_del:
                        col_del = ts
                else:
                    if col_vers is None:
                        col_vers = set()
                    col_vers.add(ts)
            continue
        if q != col:
            col, col_del, col_vers, count = q, -1, None, 0
        if ts <= fam_del or ts <= col_del:
            continue
        if (col_vers is not None and ts in col_vers) or (fam_vers is not None and ts in fam_vers):
            continue
        count += 1
        if count > max_versions or (ts < ttl_cutoff and count > min_versions):
            continue
        yield kv


def major_items_keeping_deleted(items, max_versions: int, ttl_cutoff: int,
                                min_versions: int = 0, ttl_mode: bool = False):
    """Major compaction of a KEEP_DELETED_CELLS family, as HBase's compaction matchers: markers
    are kept and do not drop the puts they mask, which count as versions like any put: a
    column keeps its max_versions newest puts, deleted or not, and TTL drops expired ones
    (unless within min_versions). Also kept: the puts a plain read sees (the max_versions
    newest not masked), so a major compaction never changes what a read without a time
    range returns.

    An expired marker (older than the TTL cutoff) is applied as in a family without the
    option -- it masks, and goes with the puts it masks -- with KEEP_DELETED_CELLS => TTL,
    and with TRUE when min_versions is 0 (what it masks has expired anyway); with TRUE and
    min_versions > 0 it stays, as in HBase. A column marker met once the column already has
    max_versions puts goes: every older put goes too unless a plain read sees it, and then
    the marker does not mask it."""
    row = prev = col = None
    fam: _Masks = _Masks()  # every marker of the row: what a plain read applies
    dead_fam: _Masks = _Masks()  # the applied (expired) ones only
    cols, dead_cols = _Masks(), _Masks()  # the same for the current column
    count = live = 0  # the column's puts so far: all of them / those a plain read sees
    for kv in items:
        key = kv[0]
        r, q, nts, nt = key
        if r != row:
            row, col, fam, dead_fam = r, None, _Masks(), _Masks()
        elif key == prev:
            continue
        prev = key
        ts = -nts
        family_wide = nt == -14 or nt == -10  # at the empty qualifier, in no column's run
        if q != col and not family_wide:
            col, cols, dead_cols, count, live = q, _Masks(), _Masks(), 0, 0
        if nt != -4:
            applied = ts < ttl_cutoff and (ttl_mode or min_versions == 0)
            (fam if family_wide else cols).add(nt, ts)
            if applied:
                (dead_fam if family_wide else dead_cols).add(nt, ts)
            elif family_wide or count < max_versions:
                yield kv  # (a column marker past max_versions puts can mask only puts that go)
            continue
        if dead_fam.masks(ts) or dead_cols.masks(ts):
            continue  # an applied marker masks it: both go
        count += 1
        visible = not (fam.masks(ts) or cols.masks(ts))
        live += visible
        versions = max_versions if ts >= ttl_cutoff else min_versions
        if count <= versions or (visible and live <= versions):
            yield kv


class _Masks:
    """The markers met so far in a row (family-wide) or column: every timestamp <= `upto`
    (DeleteFamily, DeleteColumn), and single timestamps (DeleteFamilyVersion, Delete)."""

    __slots__ = ("upto", "exact")

    def __init__(self):
        self.upto = -1
        self.exact = None

    def add(self, type_code: int, ts: int) -> None:
        if type_code in (-14, -12):
            self.upto = max(self.upto, ts)
        else:
            if self.exact is None:
                self.exact = set()
            self.exact.add(ts)

    def masks(self, ts: int) -> bool:
        return ts <= self.upto or (self.exact is not None and ts in self.exact)


def compaction_state(major: bool, minor: bool) -> str:
    """HBase's CompactionState name for major and/or minor compactions running or queued."""
    if major:
        return "MAJOR_AND_MINOR" if minor else "MAJOR"
    return "MINOR" if minor else "NONE"


def compact_store(store, files: list, major: bool, now_ms: int, before_swap=None,
                  interrupted=None):
    """Rewrite `files` (reserved by store.take_for_compaction) into one file and swap it in.
    Returns the new StoreFile (None if nothing survived a major compaction). `before_swap()`
    may raise to abandon the output before any input is deleted (the region's WAL was
    fenced). `interrupted()` is asked every _CHECK_EVERY cells; once true the output is
    abandoned with CompactionInterrupted."""
    try:
        items = merged_items(files)
        fd = store.family
        if major:
            cutoff = now_ms - fd.ttl * 1000 if fd.ttl else -1
            if fd.keeps_deleted:
                items = major_items_keeping_deleted(items, fd.max_versions, cutoff,
                                                    fd.min_versions,
                                                    fd.keep_deleted_cells == "TTL")
            else:
                items = major_items(items, fd.max_versions, cutoff, fd.min_versions)
        else:
            items = minor_items(items)
        if interrupted is not None:
            items = _interruptible(items, interrupted)
        max_seqid = max(f.max_seqid for f in files)
        # An empty output file is still written: it carries max_seqid, which recovery needs.
        new = store.write_file(items, max_seqid)
        if before_swap is not None:
            try:
                before_swap()
            except BaseException:
                store.discard_unused(new)
                raise
        store.replace_files(files, new)
    except BaseException:
        store.untake(files)  # else the store could never compact again, and writes block
        raise
    return new


def _interruptible(items, interrupted):
    for n, item in enumerate(items):
        if n % _CHECK_EVERY == 0 and interrupted():
            raise CompactionInterrupted(f"interrupted after {n} cells")
        yield item


def manifest_path(store_dir: str, output_id: int) -> str:
    return os.path.join(store_dir, f"{output_id:020d}{MANIFEST_SUFFIX}")


def write_manifest(store_dir: str, output_id: int, input_paths: list[str]) -> str:
    body = json.dumps([os.path.basename(p) for p in input_paths]).encode()
    path = manifest_path(store_dir, output_id)
    layout.atomic_write(path, layout.checksummed(_MANIFEST_MAGIC, body))
    return path


def remove_manifest(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def recover_interrupted_compactions(store_dir: str) -> None:
    """Finish what a crash interrupted: delete the inputs named by any manifest left behind."""
    for name in sorted(os.listdir(store_dir)):
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        path = os.path.join(store_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        try:
            body = layout.checked_body(_MANIFEST_MAGIC, data, f"{path}: compaction manifest")
        except CorruptionError as e:
            # a torn manifest cannot exist (atomic_write): this is corruption, and silently
            # dropping it could leave a major compaction's masked puts beside its output
            raise CorruptionError(f"{e}; it names the inputs of an interrupted "
                                  "compaction") from None
        stem = name[:-len(MANIFEST_SUFFIX)]
        output_id = int(stem) if stem.isdigit() else 0
        output = os.path.join(store_dir, layout.hfile_name(output_id))
        if output_id and not os.path.exists(output):
            # written only once its output is in place: without it, deleting the inputs
            # would lose their cells
            raise CorruptionError(f"{path}: compaction manifest names the output {output}, "
                                  "which does not exist; its inputs are kept")
        for input_name in json.loads(body):
            try:
                os.unlink(os.path.join(store_dir, os.path.basename(input_name)))
            except FileNotFoundError:
                pass
        os.unlink(path)
    layout.fsync_dir(store_dir)
