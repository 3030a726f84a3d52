"""Store: one column family of one region = a MemStore plus immutable store files (HFiles and
reference files). See docs/storage.md, "Store" and "Consistent views".

The file set is an immutable tuple, newest first (by max seqid, then file id), replaced as a
whole under `self._lock` when a flush adds a file or a compaction swaps files. A reader takes a
`StoreView` (memstore segments + file tuple) under the same lock, which pins (refcounts) its
files: a file that a compaction removed is closed and unlinked only once no view uses it, so a
scan in progress keeps a consistent view while files change underneath.
"""

from __future__ import annotations

import logging
import os
import threading
from heapq import merge
from operator import itemgetter

from minihbase.errors import NotServingRegionError
from storage import layout
from storage.config import RegionConfig
from storage.hfile import HFileReader, HFileWriter, is_temp_file
from storage.memstore import MemStore, Segment, Snapshot
from storage.schema import FamilyDescriptor

log = logging.getLogger(__name__)
_key0 = itemgetter(0)


class StoreFile:
    """One HFile, or one reference (half/range of another region's HFile), as the store sees it.

    `lo`/`hi` bound the rows it may serve ([lo, hi), None = unbounded); for a plain HFile they
    are None. Attributes other than `refcount`/`removed` are immutable."""

    def __init__(self, path: str, file_id: int, reader, *, lo=None, hi=None, reference=None):
        self.path = path
        self.file_id = file_id
        self.reader = reader  # HFileReader, or region_split.HalfReader for a reference
        self.reference = reference  # region_split.Reference or None
        info = reader.info
        self.info = info
        self.max_seqid = info.max_seqid
        self.min_ts = info.min_timestamp
        self.max_ts = info.max_timestamp
        self.lo, self.hi = lo, hi
        first = info.first_key[0] if info.first_key else None
        last = info.last_key[0] if info.last_key else None
        if first is not None and lo is not None and first < lo:
            first = lo
        self.first_row, self.last_row = first, last  # last may be >= hi for a reference
        self.empty = first is None or (hi is not None and first >= hi) or (
            lo is not None and last < lo)
        self.size = info.file_size if reference is None else reference.size_estimate(info)
        self.refcount = 0  # guarded by Store._lock
        self.removed = False  # guarded by Store._lock: compacted away, delete at refcount 0

    @property
    def is_reference(self) -> bool:
        return self.reference is not None

    def may_have_row(self, row: bytes) -> bool:
        if self.empty or row < self.first_row or row > self.last_row:
            return False
        return self.hi is None or row < self.hi

    def overlaps(self, start: bytes, stop: bytes) -> bool:
        """Rows [start, stop) (b"" stop = unbounded) may hit this file."""
        if self.empty:
            return False
        if stop and self.first_row >= stop:
            return False
        return not start or self.last_row >= start

    def sort_key(self):
        return (self.max_seqid, self.file_id)


class StoreView:
    """A consistent read view of one store: memstore segments and pinned files, newest first."""

    __slots__ = ("store", "segments", "files", "released", "plain")

    def __init__(self, store: "Store", segments: list[Segment], files: tuple, files_plain: bool):
        self.store = store
        self.segments = segments
        self.files = files
        self.released = False
        # no delete marker anywhere in the view: readers may take the fast path
        self.plain = files_plain and all(seg.delete_count == 0 for seg in segments)

    def row_items(self, row: bytes, read_point: int, min_ts: int = 0,
                  qualifiers: frozenset | None = None,
                  max_bytes: int = 0) -> tuple[list | None, int]:
        """Every (key, value) of one row, ascending, newest source first among equal keys;
        and how many sources contributed. qualifiers: the files' cells of other columns may be
        left out (HFileReader.row_cells). max_bytes > 0: (None, 0) as soon as one file's cells
        of the row pass it, without reading the rest (the memstore's are in memory already)."""
        lists = []
        for seg in self.segments:
            if seg.cells:
                items = seg.row_items(row, read_point)
                if items:
                    lists.append(items)
        for f in self.files:
            if f.max_ts < min_ts or not f.may_have_row(row):
                continue
            items = f.reader.row_cells(row, qualifiers, max_bytes)
            if items is None:
                return None, 0
            if items:
                lists.append(items)
        if not lists:
            return [], 0
        if len(lists) == 1:
            return lists[0], 1
        out = [kv for lst in lists for kv in lst]
        out.sort(key=_key0)  # stable: equal keys keep newest-source-first order
        return out, len(lists)

    def row_wire(self, row: bytes, encode) -> bytes | None:
        """encode(this family's cells of `row`) for a whole-row get (newest version of every
        column, no time range, no TTL: the caller checks), b"" when the family has none of the
        row, or None when only the full read path can answer: the row is in the memstore, in
        more than one file, or has delete markers or several versions (HFileReader.row_wire)."""
        for seg in self.segments:
            if row in seg.cells:  # visible or not: any memstore cell means the full path
                return None
        found = None
        family = self.store.name
        for f in self.files:
            if not f.may_have_row(row):
                continue
            wire = f.reader.row_wire(row, family, encode)
            if wire is None:
                continue
            if wire is False or found is not None:
                return None
            found = wire
        return b"" if found is None else found

    def iter_from(self, start: bytes, stop: bytes, read_point: int, min_ts: int = 0):
        """((key, value) ascending from row `start` merged over every source, newest first on
        equal keys; it runs past `stop`: the caller stops), and the number of sources."""
        start_key = (start,) if start else None
        sources = [seg.iter_from(start_key, read_point) for seg in self.segments if seg.cells]
        for f in self.files:
            if f.max_ts >= min_ts and f.overlaps(start, stop):
                sources.append(f.reader.iter_from(start_key))
        if not sources:
            return iter(()), 0
        if len(sources) == 1:
            return sources[0], 1
        return merge(*sources, key=_key0), len(sources)

    def last_row_before(self, row: bytes | None) -> bytes | None:
        best = None
        for src in self.segments:
            r = src.last_row_before(row)
            if r is not None and (best is None or r > best):
                best = r
        for f in self.files:
            if f.empty:
                continue
            r = f.reader.last_row_before(row)
            if r is not None and (best is None or r > best):
                best = r
        return best

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.store._release(self.files)


class Store:
    def __init__(self, region_path: str, rootdir: str, family: FamilyDescriptor,
                 config: RegionConfig, block_cache=None):
        self.family = family
        self.name = family.name
        self.rootdir = rootdir
        self.dir = layout.family_dir(region_path, family.name)
        self.config = config
        if block_cache is not None and family.in_memory:  # IN_MEMORY => true
            block_cache = block_cache.in_memory_view()
        self.block_cache = block_cache if family.block_cache else None  # BLOCKCACHE => false
        self.memstore = MemStore(config.memstore_segment_rows)
        self._lock = threading.Lock()
        self._files: tuple[StoreFile, ...] = ()  # guarded by self._lock; newest first
        self._files_plain = True  # guarded by self._lock: no file holds a delete marker
        self._compacting: set[StoreFile] = set()  # guarded by self._lock
        self._next_file_id = 1  # guarded by self._lock
        self._closed = False  # guarded by self._lock: no view may be taken any more
        self.files_changed = threading.Condition(self._lock)  # notified when the set shrinks

    # --- opening and closing ----------------------------------------------------------------

    def open_files(self) -> None:
        from storage.region_split import open_reference

        from storage.compaction import recover_interrupted_compactions

        layout.make_dirs(self.dir)
        recover_interrupted_compactions(self.dir)
        files = []
        max_id = 0
        try:
            for name in sorted(os.listdir(self.dir)):
                path = os.path.join(self.dir, name)
                if is_temp_file(name) or ".tmp." in name:
                    os.unlink(path)  # a crashed writer's leftover, never renamed into place
                    continue
                stem, ext = os.path.splitext(name)
                if not stem.isdigit():
                    continue
                fid = int(stem)
                max_id = max(max_id, fid)
                if ext == layout.HFILE_SUFFIX:
                    files.append(StoreFile(path, fid,
                                           HFileReader(path, block_cache=self.block_cache)))
                elif ext == layout.REFERENCE_SUFFIX:
                    files.append(open_reference(self.rootdir, path, fid, self.block_cache))
        except BaseException:
            for f in files:  # a corrupt file fails the open: keep none of the others open
                self._close_file(f)
            raise
        files.sort(key=StoreFile.sort_key, reverse=True)
        with self._lock:
            self._set_files(tuple(files))
            self._next_file_id = max_id + 1

    def close(self) -> None:
        """No new views; files close as soon as no view uses them (a reader that took its
        view just before the close finishes on it instead of failing)."""
        doomed = []
        with self._lock:
            self._closed = True
            files, self._files = self._files, ()
            for f in files:
                f.removed = True
                if f.refcount == 0:
                    doomed.append(f)
        for f in doomed:
            self._close_file(f)

    def _set_files(self, files: tuple) -> None:  # self._lock held
        self._files = files
        self._files_plain = all(f.info.delete_count == 0 for f in files)

    # --- reading ------------------------------------------------------------------------------

    def acquire(self) -> StoreView:
        with self._lock:  # segments and files together: a flush swaps both under this lock
            if self._closed:  # a reader that checked the region open just before it closed
                raise NotServingRegionError(f"store {self.dir} is closed")
            segments = self.memstore.segments()
            files = self._files
            for f in files:
                f.refcount += 1
            plain = self._files_plain
        return StoreView(self, segments, files, plain)

    def _release(self, files) -> None:
        doomed = []
        with self._lock:
            for f in files:
                f.refcount -= 1
                if f.refcount == 0 and f.removed:
                    doomed.append(f)
        for f in doomed:
            self._close_file(f)

    # --- sizes ----------------------------------------------------------------------------------

    def files(self) -> tuple[StoreFile, ...]:
        with self._lock:
            return self._files

    def file_count(self) -> int:
        with self._lock:
            return len(self._files)

    def size_bytes(self) -> int:
        with self._lock:
            return sum(f.size for f in self._files)

    def max_seqid(self) -> int:
        with self._lock:
            return max((f.max_seqid for f in self._files), default=0)

    def has_references(self) -> bool:
        with self._lock:
            return any(f.is_reference for f in self._files)

    def mid_row(self) -> bytes | None:
        """Middle row of the largest file: where a split would cut."""
        view = self.acquire()  # pinned: a compaction must not close it while it is read
        try:
            files = [f for f in view.files if not f.empty]
            if not files:
                return None
            # a reference answers only if the parent's middle row falls in its half
            return max(files, key=lambda f: f.size).reader.mid_row()
        finally:
            view.release()

    # --- writing files --------------------------------------------------------------------------

    def _new_file_path(self) -> tuple[int, str]:
        with self._lock:
            fid = self._next_file_id
            self._next_file_id += 1
        return fid, os.path.join(self.dir, layout.hfile_name(fid))

    def write_file(self, items, max_seqid: int) -> StoreFile:
        """Write (key, value) pairs (ascending) to a new HFile and open it (not yet added)."""
        fid, path = self._new_file_path()
        fd = self.family
        w = HFileWriter(path, family=fd.name, block_size=fd.block_size, bloom=fd.bloom,
                        compression=fd.compression,
                        data_block_encoding=fd.data_block_encoding)
        try:
            append = w.append
            for k, v in items:
                append(k, v)
            w.finish(max_seqid=max_seqid)
        except BaseException:
            w.abort()
            raise
        return StoreFile(path, fid, HFileReader(path, block_cache=self.block_cache))

    def write_snapshot(self, snapshot: Snapshot, max_seqid: int) -> StoreFile:
        """Write a memstore snapshot out as an HFile (not yet visible to readers)."""
        return self.write_file(snapshot.flush_items(), max_seqid)

    def install_flushed(self, sf: StoreFile) -> None:
        """Make a flushed file visible and drop the snapshot it came from, atomically: a reader
        sees the snapshot or the file, never neither."""
        with self._lock:
            self._set_files(tuple(sorted(self._files + (sf,), key=StoreFile.sort_key,
                                         reverse=True)))
            self.memstore.clear_snapshot()

    def flush_snapshot(self, snapshot: Snapshot, max_seqid: int) -> StoreFile:
        sf = self.write_snapshot(snapshot, max_seqid)
        self.install_flushed(sf)
        return sf

    # --- compaction -----------------------------------------------------------------------------

    def take_for_compaction(self, major: bool) -> list[StoreFile] | None:
        """Choose and reserve files to compact (oldest first), or None."""
        from storage.compaction import select_minor

        with self._lock:
            if self._compacting:
                return None
            files = list(reversed(self._files))  # oldest first
            if major or any(f.is_reference for f in files):
                chosen = files if files else None  # references are always rewritten at once
            else:
                chosen = select_minor(files, self.config)
            if not chosen or (len(chosen) < 2 and not major and
                              not any(f.is_reference for f in chosen)):
                return None
            self._compacting.update(chosen)
            return chosen

    def untake(self, files) -> None:
        with self._lock:
            self._compacting.difference_update(files)
            self.files_changed.notify_all()

    def discard_unused(self, sf: StoreFile) -> None:
        """Delete a file this store wrote but never installed (a flush or compaction that
        failed after writing it)."""
        self._close_file(sf)
        try:
            os.unlink(sf.path)
        except FileNotFoundError:
            pass
        layout.fsync_dir(self.dir)

    def replace_files(self, old: list[StoreFile], new: StoreFile | None) -> None:
        """Swap compacted files for their output atomically. The inputs are unlinked at once (an
        open reader keeps an unlinked file readable on POSIX) and closed once no view uses them.
        If the manifest cannot be written, the output is deleted unless a manifest naming the
        inputs made it to disk after all (then a reopen finishes the swap with that output)."""
        from storage.compaction import manifest_path, remove_manifest, write_manifest

        output_id = new.file_id if new else 0
        try:
            manifest = write_manifest(self.dir, output_id, [f.path for f in old])
        except BaseException:
            if new is not None and not os.path.exists(manifest_path(self.dir, output_id)):
                self.discard_unused(new)
            raise
        doomed = []
        with self._lock:
            gone = set(old)
            files = [f for f in self._files if f not in gone]
            if new is not None:
                files.append(new)
            self._set_files(tuple(sorted(files, key=StoreFile.sort_key, reverse=True)))
            self._compacting.difference_update(old)
            for f in old:
                f.removed = True
                if f.refcount == 0:
                    doomed.append(f)
            self.files_changed.notify_all()
        for f in old:
            try:
                os.unlink(f.path)
            except FileNotFoundError:
                pass
        layout.fsync_dir(self.dir)
        remove_manifest(manifest)
        for f in doomed:
            self._close_file(f)

    def _close_file(self, f: StoreFile) -> None:
        try:
            f.reader.evict_cached_blocks()  # the last reader of a shared parent's file drops it
            f.reader.close()
        except Exception:
            log.exception("could not close compacted store file %s", f.path)
