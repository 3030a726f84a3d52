"""Server-side scanners with leases (see docs/rpc.md, "Scanners and leases").

A Scan call without a scanner id opens a RegionScanner and registers it here under a fresh
64-bit id; later calls pass the id. Each call renews the scanner's lease (--scanner-lease
seconds). A reaper thread closes scanners whose lease ran out, so a client that walked away
(crashed, or simply stopped iterating) does not pin memstore snapshots and open files forever.
An id that is not (or no longer) registered is UnknownScannerError.

After each response that leaves more to read, the next response is computed in the background
(prefetch), overlapping server work with the network and the client (see next_batch), while
the prefetched responses of all scanners stay under PREFETCH_BUDGET_BYTES.

Each scanner keeps a one-result look-ahead ("carry"): after filling a response it peeks one more
result, which tells (a) whether the region is exhausted -- so the last batch already says
more_in_region=false and the client saves a round trip -- and (b) whether a batch-split wide row
continues in the next response (Result.partial).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from minihbase.errors import UnknownScannerError

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100
DEFAULT_TIME_LIMIT_S = 5.0  # a response is sent after this long even with no rows (heartbeat)
MAX_RESPONSE_BYTES = 2 << 20  # a scan response stops adding rows past this (HBase: 2 MB)
# Bytes of prefetched responses the server holds for all its scanners together: a response is
# prefetched only while they are under it. Each would otherwise keep one response (up to
# MAX_RESPONSE_BYTES) until its next call or its lease's end, so a client opening thousands of
# scanners and walking away grew the server by ~1 MB each for a minute (the lease).
PREFETCH_BUDGET_BYTES = 64 << 20


def _cut_at_bytes(results: list) -> tuple[list, list]:
    """(what fits one response, the rest): results up to about MAX_RESPONSE_BYTES, at least
    one cell. HBase caps a scan response by size (hbase.client.scanner.max.result.size, 2 MB)
    for the same reason: rows of large values must not add up past the RPC's message limit.
    A row larger than that is cut between two cells, as HBase's scanner returns partial
    results: the rest of it leads the next response (the client puts the parts back
    together unless the scan asked for them, with `batch`), so no row is too large to scan."""
    total = 0
    last = len(results) - 1
    for i, cells in enumerate(results):
        n = len(cells)
        for j, c in enumerate(cells):
            total += len(c[0]) + len(c[2]) + len(c[5]) + 32
            if total >= MAX_RESPONSE_BYTES and (j < n - 1 or i < last):
                if j == n - 1:
                    return results[:i + 1], results[i + 1:]
                return results[:i] + [cells[:j + 1]], [cells[j + 1:]] + results[i + 1:]
    return results, []


def _size(response) -> int:
    """Bytes of a rendered response (the region server renders bytes; tests may not)."""
    return len(response) if isinstance(response, bytes) else 0


class ScannerLease:
    """One open scanner. Calls on one lease are serialised by its lock (a client that retries a
    call while the first is still running must not interleave two next() calls)."""

    __slots__ = ("scanner_id", "region_name", "scanner", "batch", "limit", "time_limit",
                 "rows_returned", "last_row", "carry", "expires_at", "lock", "closed",
                 "prefetch", "prefetch_bytes", "call_lock")

    def __init__(self, scanner_id: int, region_name: str, scanner, batch: int, limit: int,
                 expires_at: float, time_limit: float | None):
        self.scanner_id = scanner_id
        self.region_name = region_name
        self.scanner = scanner
        self.batch = batch
        self.limit = limit
        self.time_limit = time_limit  # seconds one response may search; None = unbounded
        self.rows_returned = 0  # distinct rows handed out so far (for limit)
        self.last_row = None  # row of the last result handed out (a continued row is not new)
        self.carry: list = []  # look-ahead results not yet handed out
        self.expires_at = expires_at
        self.lock = threading.Lock()
        self.closed = False  # guarded by lock
        self.prefetch: Future | None = None  # guarded by call_lock: the next response
        # Its share of the registry's prefetch budget (0 once released); guarded by the
        # registry's _lock.
        self.prefetch_bytes = 0
        # One call at a time takes the prefetched response and starts the next one (two calls
        # on one id must neither both get the same batch nor lose one).
        self.call_lock = threading.Lock()


class ScannerRegistry:
    def __init__(self, lease_seconds: float = 60.0, *, clock=time.monotonic,
                 reaper_period: float | None = None, prefetch_threads: int = 2):
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: dict[int, ScannerLease] = {}  # guarded by self._lock
        self._rand = random.Random()
        self._stop = threading.Event()
        self._reaper_period = reaper_period or max(0.05, min(1.0, lease_seconds / 4))
        self._reaper: threading.Thread | None = None
        self.expired_total = 0
        self.prefetch_budget = PREFETCH_BUDGET_BYTES
        self._prefetched = 0  # guarded by self._lock: bytes reserved by leases' prefetches
        self._prefetch_pool = (ThreadPoolExecutor(prefetch_threads,
                                                  thread_name_prefix="scan-prefetch")
                               if prefetch_threads > 0 else None)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "ScannerRegistry":
        self._reaper = threading.Thread(target=self._reap_loop, name="scanner-reaper",
                                        daemon=True)
        self._reaper.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._prefetch_pool is not None:
            self._prefetch_pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            leases = list(self._leases.values())
            self._leases.clear()
        for lease in leases:
            self._close_lease(lease)

    def __len__(self) -> int:
        return len(self._leases)

    # --- calls -------------------------------------------------------------------------------
    def open(self, region_name: str, scanner, batch: int, limit: int,
             time_limit: float | None = DEFAULT_TIME_LIMIT_S) -> ScannerLease:
        """Register `scanner`. time_limit: seconds a response may spend looking for rows before
        it is sent with what it has (capped at half the lease); None: until it has them."""
        if time_limit is not None:
            time_limit = min(time_limit, self.lease_seconds / 2)
        with self._lock:
            sid = self._rand.getrandbits(63) or 1
            while sid in self._leases:
                sid = self._rand.getrandbits(63) or 1
            lease = ScannerLease(sid, region_name, scanner, batch, limit,
                                 self._clock() + self.lease_seconds, time_limit)
            self._leases[sid] = lease
        return lease

    def lookup(self, scanner_id: int) -> ScannerLease:
        lease = self._leases.get(scanner_id)
        if lease is None:
            raise UnknownScannerError(
                f"scanner {scanner_id} is unknown: its lease expired, it was closed, or its "
                "region moved; open a new scanner")
        lease.expires_at = self._clock() + self.lease_seconds
        return lease

    def close(self, scanner_id: int) -> None:
        with self._lock:
            lease = self._leases.pop(scanner_id, None)
        if lease is not None:
            self._close_lease(lease)

    def close_region(self, region_name: str) -> int:
        """Close every scanner of a region that is closing (split, move, stop)."""
        with self._lock:
            doomed = [l for l in self._leases.values() if l.region_name == region_name]
            for lease in doomed:
                del self._leases[lease.scanner_id]
        for lease in doomed:
            self._close_lease(lease)
        return len(doomed)

    def next_batch(self, lease: ScannerLease, max_rows: int, max_cells: int, render,
                   prefetch: bool = True):
        """The next response of a scanner -> (render(results, partial_flags, more), more).

        Up to max_rows results (about max_cells cells when > 0). `more` is False when the region
        has nothing further for this scanner (exhausted, or the scan's limit reached); the lease
        is then closed and forgotten.

        Prefetch: when more remains, the following response is computed (and rendered) in the
        background right away, with the same max_rows/max_cells, while this one travels to the
        client and the client works through it -- a scan then costs the client about one
        round trip per batch instead of round trip + server work. A prefetched response is
        always delivered to the next call (its rows are already consumed from the scanner)."""
        with lease.call_lock:
            fut = lease.prefetch
            lease.prefetch = None
            if fut is not None:
                try:
                    out, more = fut.result()  # re-raises what the background computation raised
                finally:
                    self._release_prefetch(lease)
            else:
                out, more = self._compute(lease, max_rows, max_cells, render)
            if more and prefetch and self._prefetch_pool is not None \
                    and self._reserve_prefetch(lease, _size(out)):
                try:
                    lease.prefetch = self._prefetch_pool.submit(
                        self._prefetch, lease, max_rows, max_cells, render)
                except RuntimeError:  # the pool is shut down: the server is stopping
                    self._release_prefetch(lease)
        if not more:
            self.close(lease.scanner_id)
        return out, more

    def prefetched_bytes(self) -> int:
        return self._prefetched

    def _reserve_prefetch(self, lease: ScannerLease, estimate: int) -> bool:
        """Reserve `estimate` bytes (the size of the response just sent, the best guess for
        the next) of the prefetch budget for `lease`; False when the budget is used up: the
        next call then computes its response itself."""
        with self._lock:
            if self._prefetched + estimate > self.prefetch_budget:
                return False
            self._prefetched += estimate
            lease.prefetch_bytes = estimate
            return True

    def _release_prefetch(self, lease: ScannerLease) -> None:
        with self._lock:
            self._prefetched -= lease.prefetch_bytes
            lease.prefetch_bytes = 0

    def _prefetch(self, lease: ScannerLease, max_rows: int, max_cells: int, render):
        """_compute in the background; the reservation then becomes the response's real size
        (unless the lease was closed and released it meanwhile)."""
        out, more = self._compute(lease, max_rows, max_cells, render)
        with self._lock:
            if lease.prefetch_bytes:
                self._prefetched += _size(out) - lease.prefetch_bytes
                lease.prefetch_bytes = _size(out)
        return out, more

    def _compute(self, lease: ScannerLease, max_rows: int, max_cells: int, render):
        max_rows = max_rows if max_rows > 0 else DEFAULT_MAX_ROWS
        deadline = None if lease.time_limit is None else time.monotonic() + lease.time_limit
        with lease.lock:
            if lease.closed:
                raise UnknownScannerError(f"scanner {lease.scanner_id} was closed")
            scanner = lease.scanner
            results = lease.carry
            lease.carry = []
            want = max_rows - len(results)
            if want > 0:
                got = scanner.next(want, max_cells, deadline)
                if got:
                    results = results + got if results else got
            results, lease.carry = _cut_at_bytes(results)
            results, more = self._apply_limit(lease, results)
            if more:
                if not lease.carry and not scanner.closed:  # look ahead: is there more?
                    lease.carry = scanner.next(1, 0, deadline)
                if lease.carry:
                    if lease.limit and lease.rows_returned >= lease.limit and \
                            lease.carry[0][0].row != lease.last_row:
                        more = False
                else:  # the region is exhausted, unless the deadline cut the search short
                    more = not scanner.closed
            partial = self._partial_flags(lease, results)
            return render(results, partial, more), more

    # --- internals ---------------------------------------------------------------------------
    @staticmethod
    def _apply_limit(lease: ScannerLease, results: list):
        """Count distinct rows (a batch-split row counts once) and cut at the scan's limit."""
        last = lease.last_row
        count = lease.rows_returned
        limit = lease.limit
        for i, res in enumerate(results):
            row = res[0].row if res else last
            if row != last:
                if limit and count >= limit:
                    lease.rows_returned, lease.last_row = count, last
                    return results[:i], False
                count += 1
                last = row
        lease.rows_returned, lease.last_row = count, last
        return results, True

    @staticmethod
    def _partial_flags(lease: ScannerLease, results: list) -> list[bool]:
        """A result is partial when the next one (possibly the look-ahead) continues its row:
        rows are split by the scan's batch or by the response's max_cells."""
        n = len(results)
        flags = [False] * n
        for i in range(n):
            res = results[i]
            if i + 1 < n:
                nxt = results[i + 1]
            elif lease.carry:
                nxt = lease.carry[0]
            else:
                break
            if res and nxt and nxt[0].row == res[0].row:
                flags[i] = True
        return flags

    def _close_lease(self, lease: ScannerLease) -> None:
        self._release_prefetch(lease)
        with lease.lock:
            if lease.closed:
                return
            lease.closed = True
            lease.carry = []
            lease.prefetch = None  # a response nobody will ask for
            try:
                lease.scanner.close()
            except Exception:  # a scanner of a region closed underneath it: nothing to free
                log.debug("closing scanner %d failed", lease.scanner_id, exc_info=True)

    def reap_expired(self) -> int:
        now = self._clock()
        with self._lock:
            expired = [l for l in self._leases.values() if l.expires_at <= now]
            for lease in expired:
                del self._leases[lease.scanner_id]
        for lease in expired:
            log.info("scanner %d on %s expired (lease %.1fs): closed", lease.scanner_id,
                     lease.region_name, self.lease_seconds)
            self._close_lease(lease)
        self.expired_total += len(expired)
        return len(expired)

    def _reap_loop(self) -> None:
        while not self._stop.wait(self._reaper_period):
            try:
                self.reap_expired()
            except Exception:
                log.exception("scanner reaper failed")
