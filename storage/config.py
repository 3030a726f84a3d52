"""RegionConfig: every size, count and clock a region uses, injectable for tests.

Defaults are HBase's (hbase-default.xml): flush at 128 MiB, minor compaction from 3 files and at
most 10 at once, writes blocked at 16 store files, split at 10 GiB. Tests pass tiny sizes and a
fake clock. Also home of the process-wide default background executor (see docs/storage.md,
"Background work").
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class RegionConfig:
    flush_size: int = 128 << 20  # bytes in a region's memstores that trigger a flush
    compaction_min_files: int = 3  # a store with this many files gets a minor compaction
    compaction_max_files: int = 10  # at most this many files in one minor compaction
    compaction_ratio: float = 1.2  # HBase's ratio: skip an old file larger than ratio * newer ones
    # A flush the memstore size asked for waits (for the compaction it requests) while a
    # store has this many files, for at most blocking_wait_seconds (HBase's blockingStoreFiles
    # and blockingWaitTime); writes go on into the memstore meanwhile.
    blocking_store_files: int = 16
    blocking_wait_seconds: float = 10.0  # also: longest wait of a write, then RegionTooBusyError
    memstore_block_multiplier: int = 4  # writes wait while memstore > multiplier * flush_size
    max_value_bytes: int = 10 << 20
    # Bytes of one row's cells a Get may read (HBase's hbase.table.max.rowsize): past it the
    # Get fails with RowTooBigError before reading the rest. Half the RPC message limit
    # (256 MiB), so the encoded row still fits a response; scans are not bounded by it.
    max_row_bytes: int = 128 << 20
    # A scan hands a row wider than this on in parts (storage/scanner.py, "Row parts"), so
    # it never holds a whole wide row: half a scan response. HBase's region server likewise
    # stops inside a row at the response's size (hbase.client.scanner.max.result.size, 2 MB)
    # and sends a partial result (HBASE-11544).
    row_part_bytes: int = 1 << 20
    memstore_segment_rows: int = 100_000  # rows per in-memory segment before it is frozen
    split_size: int = 10 << 30  # largest store's file bytes past which the region wants a split
    clock: Callable[[], float] = field(default=time.time)  # seconds, like time.time
    # The server-wide memstore limit (regionserver/memstore_flusher.py), called before every
    # write: may wait for flushes, then raise RegionTooBusyError. None: no server-wide limit.
    memstore_room: Callable[[], None] | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


class DaemonExecutor:
    """A tiny executor with daemon threads: background flushes and compactions must never keep
    a process alive at exit (concurrent.futures' pool joins its threads at exit)."""

    def __init__(self, threads: int = 2, name: str = "minihbase-bg"):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(threads):
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True).start()

    def submit(self, fn, *args, **kwargs) -> Future:
        fut: Future = Future()
        self._queue.put((fut, fn, args, kwargs))
        return fut

    def _run(self) -> None:
        while True:
            fut, fn, args, kwargs = self._queue.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:  # reported through the future; the worker lives on
                fut.set_exception(e)


_default_lock = threading.Lock()
_default: DaemonExecutor | None = None  # guarded by _default_lock


def default_background() -> DaemonExecutor:
    """The one shared background executor of this process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DaemonExecutor()
        return _default


# The garbage-collector thresholds a process hosting memstores should run with (the region
# server sets them at start; bench/storage.py --server-gc mirrors them). Memstores hold millions
# of small tuples; CPython's defaults (700, 10, 10) make full collections frequent under write
# load and each walks every memstore entry (measured: 38% of a load's CPU at 600k cells). Young
# objects are collected 100x less often and old ones rarely; garbage without cycles is freed by
# reference counting anyway.
SERVER_GC_THRESHOLDS = (100_000, 50, 100)
