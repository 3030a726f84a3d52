"""The gateway's open scanners (HBase's Thrift scanner map): a Thrift scanner id names a
client scan (client/scanner.py) that the caller pages through with scannerGetList.

Ids are positive i32s, never reused while their scanner is open. A scanner idle for longer
than its lease is closed (with its server-side scanner) by `expire()`, which the gateway runs
every few seconds, so a client that never calls scannerClose does not leak one; its id then
reads as invalid, as in HBase. Thread-safe: calls on one scanner are serialized by its own
lock; the map is guarded by the registry's.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from minihbase.errors import InvalidArgumentError

_MAX_ID = 2**31 - 1
INVALID = "scanner ID is invalid"  # HBase's IllegalArgument message


@dataclass
class _Scanner:
    rows: object  # the client scan's generator of (row, data)
    sorted_columns: bool
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scanners:
    def __init__(self, lease: float = 60.0, clock=time.monotonic):
        self.lease = lease
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[int, _Scanner] = {}  # guarded by _lock
        # Scans that failed, by id -> when: dropped (reading one is invalid), but the client's
        # close after the error (happybase closes in a `finally`) must not answer "scanner ID
        # is invalid" in place of the scan's own error. Kept until closed or a lease passed.
        self._failed: dict[int, float] = {}  # guarded by _lock
        self._next_id = 1  # guarded by _lock
        self.expired = 0  # scanners closed by their lease; guarded by _lock

    def __len__(self) -> int:
        return len(self._open)

    def open(self, rows, sorted_columns: bool) -> int:
        with self._lock:
            while self._next_id in self._open or self._next_id in self._failed:  # 2**31 opens
                self._next_id = self._next_id % _MAX_ID + 1
            sid = self._next_id
            self._next_id = sid % _MAX_ID + 1
            self._open[sid] = _Scanner(rows, sorted_columns, self._clock())
            return sid

    def _get(self, sid) -> _Scanner:
        with self._lock:
            scanner = self._open.get(sid)
        if scanner is None:
            raise InvalidArgumentError(INVALID)
        return scanner

    def next(self, sid, n: int) -> tuple[list, bool]:
        """Up to `n` more (row, data) items of scanner `sid` and whether its columns are to be
        sorted; [] at the end. A scan that fails is closed and its error raised."""
        scanner = self._get(sid)
        with scanner.lock:
            with self._lock:
                current = self._open.get(sid)
            if current is not scanner:  # closed or expired while this call waited for it
                raise InvalidArgumentError(INVALID)
            scanner.last_used = self._clock()
            try:
                items = list(itertools.islice(scanner.rows, max(n, 0)))
            except BaseException:
                with self._lock:
                    if self._open.pop(sid, None) is not None:
                        self._failed[sid] = self._clock()
                raise
            scanner.last_used = self._clock()
            return items, scanner.sorted_columns

    def close(self, sid) -> None:
        with self._lock:
            scanner = self._open.pop(sid, None)
            if scanner is None and self._failed.pop(sid, None) is not None:
                return  # its scan ended with the error its last call answered
        if scanner is None:
            raise InvalidArgumentError(INVALID)
        _end(scanner)

    def expire(self) -> int:
        """Close every scanner idle past its lease (not one in use); how many were closed."""
        now = self._clock()
        with self._lock:
            idle = [sid for sid, s in self._open.items()
                    if now - s.last_used > self.lease and not s.lock.locked()]
            closed = [self._open.pop(sid) for sid in idle]
            for sid in [sid for sid, when in self._failed.items() if now - when > self.lease]:
                del self._failed[sid]
            self.expired += len(closed)
        for scanner in closed:
            _end(scanner)
        return len(closed)

    def close_all(self) -> None:
        with self._lock:
            scanners, self._open = list(self._open.values()), {}
        for scanner in scanners:
            _end(scanner)


def _end(scanner: _Scanner) -> None:
    """Close a scanner's scan (and its server-side scanner), once no call is using it."""
    with scanner.lock:
        scanner.rows.close()
