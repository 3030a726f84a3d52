"""The server-wide memstore limit: HBase's MemStoreFlusher and global memstore size.

Each region flushes when its own memstores reach the flush size, but a server that takes writes
for many regions at once can still hold many flush sizes in memory. As in HBase
(hbase.regionserver.global.memstore.size and its lower limit, 95 %):
- above the low-water mark, the flusher thread flushes the region with the largest memstores,
  then the next largest, until the server's total is below the mark again;
- at the limit itself, every write on the server waits for those flushes ("blocking updates"),
  for at most `wait_seconds`, then fails with RegionTooBusyError, which clients retry with
  back-off.
The total is summed from the regions' own memstore sizes on every write, so it cannot drift
from what the regions hold.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from minihbase.errors import RegionTooBusyError, ServerAbortedError

log = logging.getLogger(__name__)

LOW_WATER_FRACTION = 0.95  # hbase.regionserver.global.memstore.size.lower.limit


class MemstoreFlusher:
    def __init__(self, regions: Callable[[], list], limit: int, *, wait_seconds: float = 10.0,
                 stopped: threading.Event | None = None,
                 on_fenced: Callable[[str], None] | None = None):
        if limit <= 0:
            raise ValueError(f"global memstore size must be positive, not {limit}")
        self._regions = regions
        self.limit = limit
        self.low_water = int(limit * LOW_WATER_FRACTION)
        self.wait_seconds = wait_seconds
        self._stopped = stopped or threading.Event()
        self._on_fenced = on_fenced
        self._cond = threading.Condition()
        self._wanted = False  # guarded by _cond: a write saw the total over the low-water mark
        self.flushes = 0  # flushes made for the server-wide limit (written by the thread only)
        self.blocked_writes = 0  # writes that had to wait at the limit (approximate count)
        self._last_warning = 0.0

    def start(self) -> "MemstoreFlusher":
        threading.Thread(target=self._run, name="memstore-flusher", daemon=True).start()
        return self

    def total(self) -> int:
        """Bytes in every open region's memstores, snapshots being flushed included."""
        return sum(r.memstore_size() for r in self._regions())

    def room(self) -> None:
        """Called before every write (RegionConfig.memstore_room): returns at once below the
        limit; at the limit waits for the flusher, then raises RegionTooBusyError."""
        total = self.total()
        if total < self.low_water:
            return
        self._wake()
        if total < self.limit:
            return
        self.blocked_writes += 1
        self._warn_blocked(total)
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while total >= self.limit:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped.is_set():
                    raise RegionTooBusyError(
                        f"region server memstores hold {total} bytes, at the global limit of "
                        f"{self.limit} (global-memstore-size): flushes are behind, retry later")
                self._cond.wait(min(0.1, left))
                total = self.total()

    def _wake(self) -> None:
        with self._cond:
            if not self._wanted:
                self._wanted = True
                self._cond.notify_all()

    def _warn_blocked(self, total: int) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10.0:  # one line per 10 s, not one per blocked write
            self._last_warning = now
            log.warning("blocking updates: memstores hold %d bytes, global limit %d",
                        total, self.limit)

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self._cond:
                if not self._wanted:  # also look once a second: the last write may have
                    self._cond.wait(1.0)  # crossed the mark after its own check
                self._wanted = False
            try:
                self._flush_down()
            except ServerAbortedError as e:  # the WAL was fenced: this server must stop
                if self._on_fenced is not None:
                    self._on_fenced(str(e))
                return
            finally:
                with self._cond:
                    self._cond.notify_all()  # blocked writers look at the total again

    def _flush_down(self) -> None:
        """Flush the largest regions until the total is below the low-water mark (each region
        at most once per round, so a region whose flush fails cannot stall the others)."""
        tried: set[str] = set()
        while not self._stopped.is_set() and self.total() >= self.low_water:
            sizes = [(r.memstore_size(), r) for r in self._regions() if r.name not in tried]
            size, region = max(sizes, key=lambda pair: pair[0], default=(0, None))
            if region is None or size == 0:
                return
            tried.add(region.name)
            log.info("memstores hold %d bytes (low-water mark %d of limit %d): flushing %s "
                     "(%d bytes)", self.total(), self.low_water, self.limit, region.name, size)
            try:
                if region.flush():
                    self.flushes += 1
            except ServerAbortedError:
                raise
            except Exception as e:  # a failed flush keeps its snapshot for the next attempt
                log.warning("flush of region %s for the global memstore limit failed: %s",
                            region.name, e)
            with self._cond:
                self._cond.notify_all()
