"""The regions this server has open, and the work it does on them (see docs/rpc.md).

Commands from the master: open, close (with or without flush), flush, compact, split, merge.
Background work, in one "chore" thread (HBase's MemStoreFlusher / LogRoller / CompactionChecker
/ split policy, folded into one loop):
- flush a region whose memstore passed --flush-size (a safety net: the region schedules its own
  flushes too);
- WAL-driven forced flushes: when the WAL has more than `max_wal_segments` segments, flush the
  regions that pin the oldest one, so old segments can be archived and recovery stays short;
- ask the master to split a region whose largest store passed --split-size (at most once per
  `split_request_interval` seconds per region; the master decides and calls SplitRegion).

Concurrency: `_regions` maps RegionInfo.name -> Region. It is replaced, never mutated in place
(copy-on-write under `_lock`), so the hot path of every data call is one lock-free dict lookup.
A region is removed from the map *before* it is closed or split: calls that arrive meanwhile get
NotServingRegionError and the client re-reads meta.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from minihbase.errors import InvalidArgumentError, NotServingRegionError, RegionOfflineError
from storage import layout
from storage.config import DaemonExecutor
from storage.nonces import NonceManager
from storage.schema import RegionInfo, TableDescriptor

log = logging.getLogger(__name__)


class OnlineRegions:
    def __init__(self, rootdir: str, *, wal, block_cache, region_config, background=None,
                 server_name: str = "", scanners=None,
                 request_split: Callable[[str, bytes], None] | None = None,
                 max_wal_segments: int = 32, split_request_interval: float = 30.0,
                 clock=time.monotonic, nonces=None,
                 abort: Callable[[str], None] | None = None,
                 periodic_flush_interval: float = 3600.0, wal_roll_period: float = 3600.0):
        self.rootdir = rootdir
        self.wal = wal
        self.block_cache = block_cache
        self.region_config = region_config
        self.background = background
        self.server_name = server_name
        self.scanners = scanners
        self.request_split = request_split
        self.max_wal_segments = max_wal_segments
        self.split_request_interval = split_request_interval
        self.nonces = nonces if nonces is not None else NonceManager()  # shared by every region
        self.abort = abort  # the server's: called when a region cannot be closed cleanly
        self.periodic_flush_interval = periodic_flush_interval
        self.wal_roll_period = wal_roll_period
        self._clock = clock
        self._compactions = DaemonExecutor(threads=1, name="compactions")  # requested ones
        self._lock = threading.Lock()  # serialises changes to the maps below
        self._regions: dict[str, object] = {}  # name -> Region; copy-on-write, guarded by _lock
        self._states: dict[str, str] = {}  # name -> OPENING/OPEN/CLOSING...; guarded by _lock
        # name -> clock of last split request. Written by the chore thread only; _forget pops
        # under _lock, so a racing chore may leave a stale entry, which at worst delays the next
        # request for a reopened region by split_request_interval.
        self._split_requested: dict[str, float] = {}
        self._families: dict[str, frozenset] = {}  # name -> family names; copy-on-write
        # OPENING regions whose close was asked for meanwhile (the master gave up on a slow
        # open and will open the region elsewhere): dropped when their open ends; guarded by
        # _lock
        self._cancelled_opens: set[str] = set()
        # name -> (region.flushes, clock) when the chore first saw edits in its memstore since
        # that flush: the age of its oldest unflushed edit, to the chore's period. Chore only.
        self._edits_seen: dict[str, tuple[int, float]] = {}
        self.flushes_forced = 0  # written by the chore thread only; read by web and tests
        self.flushes_periodic = 0  # idem
        self.split_requests = 0  # idem

    # --- hot path ----------------------------------------------------------------------------
    def get(self, name: str):
        region = self._regions.get(name)
        if region is None:
            raise NotServingRegionError(
                f"region {name} is not online on {self.server_name}")
        return region

    def get_with_families(self, name: str):
        region = self._regions.get(name)
        if region is None:
            raise NotServingRegionError(
                f"region {name} is not online on {self.server_name}")
        return region, self._families[name]

    def names(self) -> list[str]:
        return list(self._regions)

    def regions(self) -> list:
        return list(self._regions.values())

    def items(self) -> list[tuple[str, object]]:
        return list(self._regions.items())

    def states(self) -> dict[str, str]:
        return dict(self._states)

    def __len__(self) -> int:
        return len(self._regions)

    # --- commands ----------------------------------------------------------------------------
    def open(self, info: RegionInfo, table: TableDescriptor):
        """Open (replaying recovered edits) and serve. Idempotent for an already open region."""
        from storage.region import Region  # late: the storage engine is imported on first use

        name = info.name
        with self._lock:
            if name in self._regions:
                return self._regions[name]
            if self._states.get(name) in ("OPENING", "CLOSING"):
                raise RegionOfflineError(
                    f"region {name} is {self._states[name]} on {self.server_name}; retry")
            self._states[name] = "OPENING"
        t0 = time.perf_counter()
        try:
            region = Region.open(self.rootdir, info, table, wal=self.wal,
                                 block_cache=self.block_cache, config=self.region_config,
                                 background=self.background, nonces=self.nonces,
                                 must_exist=True)
        except BaseException:
            with self._lock:
                self._states.pop(name, None)
                self._cancelled_opens.discard(name)
            raise
        with self._lock:
            cancelled = name in self._cancelled_opens
            self._cancelled_opens.discard(name)
            if cancelled:
                self._states.pop(name, None)
        if cancelled:
            region.close(flush=False)  # it served nothing; its replayed edits are flushed
            raise RegionOfflineError(f"open of region {name} on {self.server_name} was "
                                     "cancelled by a close while it was opening")
        with self._lock:
            self._regions = {**self._regions, name: region}
            self._families = {**self._families, name: frozenset(table.family_names())}
            self._states[name] = "OPEN"
        log.info("opened region %s in %.0f ms", name, (time.perf_counter() - t0) * 1000)
        return region

    def _take(self, name: str, state: str):
        """Remove a region from service (new calls get NotServingRegion) before closing it."""
        with self._lock:
            region = self._regions.get(name)
            if region is None:
                raise NotServingRegionError(f"region {name} is not online on {self.server_name}")
            regions = dict(self._regions)
            del regions[name]
            self._regions = regions
            self._states[name] = state
        if self.scanners is not None:
            self.scanners.close_region(name)
        return region

    def _forget(self, name: str) -> None:
        with self._lock:
            self._states.pop(name, None)
            self._split_requested.pop(name, None)
            self._edits_seen.pop(name, None)
            families = dict(self._families)
            families.pop(name, None)
            self._families = families

    def _abort_unflushed(self, name: str, error: BaseException) -> None:
        """A region whose closing flush failed (disk full, I/O error) is out of service with
        edits only in this server's WAL. Serving on would let the master reopen it elsewhere
        without them; aborting makes the master fence and split the WAL first (HBase aborts a
        region server on a failed flush for the same reason)."""
        if self.abort is not None:
            self.abort(f"region {name} could not be flushed while closing ({error}); its "
                       "edits are in this server's WAL")

    def _put_back(self, name: str, region) -> None:
        with self._lock:
            self._regions = {**self._regions, name: region}
            self._states[name] = "OPEN"

    def close(self, name: str, flush: bool = True) -> None:
        with self._lock:
            opening = name not in self._regions and self._states.get(name) == "OPENING"
            if opening:
                # never served yet: it is closed (not served) as soon as its open ends, so it
                # cannot end up open here and where the master opens it next
                self._cancelled_opens.add(name)
        if opening:
            log.info("region %s is still opening: it will be closed when its open ends", name)
            return
        region = self._take(name, "CLOSING")
        try:
            region.close(flush=flush)
        except BaseException as e:
            log.exception("closing region %s failed", name)
            self._forget(name)
            if flush:
                self._abort_unflushed(name, e)
            raise
        if flush:
            try:
                self.wal.forget_region(name)
            except Exception:  # a fenced WAL: nothing more to forget
                log.debug("forget_region(%s) failed", name, exc_info=True)
        self._forget(name)
        log.info("closed region %s (flush=%s)", name, flush)

    def close_all(self, flush: bool = True) -> None:
        for name in list(self._regions):
            try:
                self.close(name, flush=flush)
            except Exception:
                pass  # logged by close(); the others still get their chance

    def flush(self, name: str) -> bool:
        return self.get(name).flush()

    def compact(self, name: str, major: bool = False, family: bytes | None = None,
                wait: bool = True) -> None:
        """Compact region `name` now (wait), or request it (HBase's compaction request: run
        by the one compaction thread, apart from flushes, so a table's worth of major
        compactions never delays a flush)."""
        region = self.get(name)
        if wait:
            region.compact(major=major, family=family)
        else:
            region.request_compaction(self._compactions, major, family)

    def snapshot(self, name: str, snapshot: str, attempt: str, flush: bool = True) -> None:
        """Link the region's files into the working directory of an attempt at a snapshot."""
        work = layout.snapshot_work_dir(self.rootdir, snapshot, attempt)
        if not os.path.isdir(work):  # the master gave this attempt up
            raise InvalidArgumentError(f"snapshot {snapshot!r}: attempt {attempt} is over")
        region = self.get(name)
        region.snapshot(os.path.join(work, region.info.encoded_name), flush=flush)

    def split(self, name: str, split_key: bytes | None = None):
        region = self._take(name, "SPLITTING")
        try:
            left, right = region.split(split_key or None)
        except BaseException as e:
            if region.is_closing:  # its close (flush) ran: it cannot serve again
                log.exception("split of %s failed after closing it", name)
                self._forget(name)
                self._abort_unflushed(name, e)
                raise
            if isinstance(e, InvalidArgumentError):  # the caller's key, or nothing to split
                log.warning("split of %s refused: %s; serving it again", name, e)
            else:
                log.exception("split of %s failed; serving it again", name)
            self._put_back(name, region)
            raise
        try:
            self.wal.forget_region(name)
        except Exception:
            log.debug("forget_region(%s) failed", name, exc_info=True)
        self._forget(name)
        log.info("split region %s into %s and %s", name, left.name, right.name)
        return left, right

    def merge(self, parents: list[RegionInfo], table: TableDescriptor) -> RegionInfo:
        """Write the region covering `parents` (two or more adjacent regions the master has
        closed)."""
        from storage.region import Region

        for info in parents:
            if info.name in self._regions:
                raise RegionOfflineError(
                    f"region {info.name} is still open on {self.server_name}: close it before "
                    "merging")
        merged = Region.merge(self.rootdir, parents, table)
        log.info("merged regions %s into %s", ", ".join(p.name for p in parents), merged.name)
        return merged

    # --- background chore ----------------------------------------------------------------------
    def chore(self) -> None:
        """One round of background maintenance (called every second by the server)."""
        self.nonces.expire()
        now = self._clock()
        for name, region in list(self._regions.items()):
            try:
                size = region.memstore_size()
                if size >= region.flush_size() or self._edits_too_old(name, region, size, now):
                    region.flush()
                if self.request_split is not None and region.split_size() and \
                        region.needs_split():
                    self._maybe_request_split(name, region)
            except Exception as e:
                log.warning("background work on region %s failed: %s", name, e)
        self._force_flush_for_wal()
        if self.wal is not None:
            # edits of ASYNC_WAL tables reach the disk within a chore period (HBase's
            # hbase.regionserver.optionallogflushinterval, 1 s); at once if nothing is new
            self.wal.sync(self.wal.last_txid)
            self.wal.roll_if_older(self.wal_roll_period)

    def _edits_too_old(self, name: str, region, size: int, now: float) -> bool:
        """HBase's periodic flush (hbase.regionserver.optionalcacheflushinterval): a memstore
        holding an edit older than the interval is flushed however small, so a quiet region
        does not pin WAL segments, and a crash replays little, for as long as it stays open."""
        if not size:
            self._edits_seen.pop(name, None)
            return False
        seen = self._edits_seen.get(name)
        if seen is None or seen[0] != region.flushes:
            self._edits_seen[name] = (region.flushes, now)
            return False
        if now - seen[1] < self.periodic_flush_interval:
            return False
        log.info("region %s has held unflushed edits for %.0f s (periodic flush interval %g "
                 "s): flushing", name, now - seen[1], self.periodic_flush_interval)
        self.flushes_periodic += 1
        return True

    def _maybe_request_split(self, name: str, region) -> None:
        now = self._clock()
        last = self._split_requested.get(name)
        if last is not None and now - last < self.split_request_interval:
            return
        self._split_requested[name] = now
        self.split_requests += 1
        log.info("region %s holds %d bytes (split size %d): asking the master to split it",
                 name, region.store_size(), region.split_size())
        self.request_split(name, b"")

    def _force_flush_for_wal(self) -> None:
        if self.wal is None or self.wal.segment_count() <= self.max_wal_segments:
            return
        for name in self.wal.regions_pinning_oldest_segment():
            region = self._regions.get(name)
            if region is None:
                continue
            log.info("WAL has %d segments (max %d): flushing %s to release the oldest",
                     self.wal.segment_count(), self.max_wal_segments, name)
            self.flushes_forced += 1
            region.flush()
