"""MVCC write numbers and the region's update lock (see docs/storage.md, "Write path").

Every batch of mutations gets one write number from `MVCC.begin()`; it is also the batch's WAL
sequence id. Readers take `read_point` when they start and see only memstore cells whose write
number is <= it. `complete()` advances the read point over the longest prefix of finished
writes, so a batch becomes visible whole and only after every earlier batch did.

`UpdatesLock` is shared by writers while they apply a batch and taken exclusively by a flush for
the moment it snapshots the memstores, so no snapshot ever holds half a batch.
"""

from __future__ import annotations

import threading
from collections import deque


class MVCC:
    """Write numbers and the read point. complete() advances the read point only over a
    contiguous prefix of completed writes, then waits until its own write is readable."""

    def __init__(self, start: int):
        self._cond = threading.Condition()
        self._next = start + 1  # guarded by _cond
        self._pending: deque = deque()  # guarded by _cond; begun, in order
        self._done: set = set()  # guarded by _cond
        self.read_point = start  # written under _cond; read lock-free (an int)
        self._readers: dict[int, int] = {}  # guarded by _cond: read point -> readers using it

    # --- readers ------------------------------------------------------------------------------

    def begin_read(self) -> int:
        """Take (and register) a read point; pair with end_read. Registered read points let
        the memstore drop overwritten values that no reader can still need."""
        with self._cond:
            rp = self.read_point
            self._readers[rp] = self._readers.get(rp, 0) + 1
            return rp

    def end_read(self, rp: int) -> None:
        with self._cond:
            n = self._readers.get(rp, 0) - 1
            if n > 0:
                self._readers[rp] = n
            else:
                self._readers.pop(rp, None)

    def oldest_read_point(self) -> int:
        """No reader, present or future, uses a read point below this."""
        with self._cond:
            return min(self._readers, default=self.read_point)

    # --- writers ------------------------------------------------------------------------------

    def begin(self) -> int:
        with self._cond:
            s = self._next
            self._next += 1
            self._pending.append(s)
            return s

    def complete(self, s: int) -> None:
        with self._cond:
            self._done.add(s)
            pending, done = self._pending, self._done
            advanced = False
            while pending and pending[0] in done:
                x = pending.popleft()
                done.discard(x)
                self.read_point = x
                advanced = True
            if advanced:
                self._cond.notify_all()
            while self.read_point < s:
                self._cond.wait()

    def last_assigned(self) -> int:
        with self._cond:
            return self._next - 1


class UpdatesLock:
    """Many writers share it; a flush snapshot takes it exclusively (and is preferred)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0  # guarded by _cond
        self._exclusive = False  # guarded by _cond
        self._waiting = 0  # exclusive waiters; guarded by _cond

    def acquire_shared(self) -> None:
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._shared += 1

    def release_shared(self) -> None:
        with self._cond:
            self._shared -= 1
            if not self._shared:
                self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        with self._cond:
            self._waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._exclusive = True

    def release_exclusive(self) -> None:
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()
