"""Nonces: an increment retried by its client is applied once (HBase's ServerNonceManager; see
docs/storage.md, "Nonces").

A client picks a random nonce for each increment and sends the same one with every retry of it,
together with a nonce group that names the client (protos: IncrementRequest.nonce_group/nonce).
The region server remembers (group, nonce) -> the operation's result for `grace` seconds
after the operation ended (less once it holds `max_entries`):
- a retry of an operation that succeeded gets that result back and is not applied again;
- a retry that arrives while the first attempt still runs waits for it to end;
- a failed attempt is forgotten, so its retry proceeds.
The region logs the nonce in the same WAL entry as the increment's cells (storage.wal_format
NONCE_CELL_TYPE), so the server that replays a dead server's edits learns the nonce with the
edit: a client retrying after the failover gets the result instead of a second increment.

One manager per region server, shared by its regions (split daughters opened on the same
server keep the parent's nonces). Thread-safe: every field is guarded by `_cond`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Callable

from minihbase.errors import RegionTooBusyError

log = logging.getLogger(__name__)

NonceKey = tuple[int, int]  # (nonce group, nonce); nonce 0 means "no nonce"


class NonceManager:
    def __init__(self, grace: float = 1800.0, max_entries: int = 200_000,
                 clock: Callable[[], float] = time.time):
        self.grace = grace  # HBase's hbase.server.hashNonce.gracePeriod: 30 minutes
        # memory bound (~250 bytes an entry, so ~50 MB full): past it, the nonces of the
        # oldest finished operations are forgotten first, before their grace period is over
        self.max_entries = max_entries
        self._clock = clock
        self._cond = threading.Condition()
        self._running: set[NonceKey] = set()  # guarded by _cond
        # key -> (result, seconds when it ended), in the order operations ended, so expiry
        # pops from the front in O(1) (a plain dict's front would be rescanned past every
        # deleted slot: quadratic); guarded by _cond
        self._done: OrderedDict[NonceKey, tuple[int, float]] = OrderedDict()
        self.duplicates = 0  # retries answered from a recorded result (for metrics and tests)

    def __len__(self) -> int:
        with self._cond:
            return len(self._done) + len(self._running)

    def start(self, key: NonceKey, wait: float = 10.0) -> tuple[bool, int | None]:
        """(True, None): the caller runs the operation and must call end(key, ...) afterwards.
        (False, result): it already succeeded with `result`; do not apply it again. Waits while
        another attempt with this key runs, and raises RegionTooBusyError after `wait` seconds
        (the client's per-attempt deadline: a handler thread is not held for longer than the
        client waits; its retry comes back)."""
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                done = self._done.get(key)
                if done is not None:
                    self.duplicates += 1
                    return False, done[0]
                if key not in self._running:
                    self._running.add(key)
                    return True, None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RegionTooBusyError(
                        f"an earlier attempt of the operation with nonce {key[1]} (group "
                        f"{key[0]}) is still running")
                self._cond.wait(left)

    def end(self, key: NonceKey, result: int | None) -> None:
        """The attempt started by start(key) ended: with `result`, or failed (None). A second
        call is harmless: once ended with a result, end(key, None) changes nothing."""
        with self._cond:
            if key not in self._running:
                return
            self._running.discard(key)
            if result is not None:
                self._remember(key, result, self._clock())
            self._cond.notify_all()

    def record(self, key: NonceKey, result: int, when: float) -> None:
        """A nonce read back from the WAL (region open replaying a dead server's edits), for an
        operation that ended at `when` (seconds): remembered unless already past its grace."""
        if when + self.grace < self._clock():
            return
        with self._cond:
            self._remember(key, result, when)

    def _remember(self, key: NonceKey, result: int, when: float) -> None:
        done = self._done
        done[key] = (result, when)
        done.move_to_end(key)
        while len(done) > self.max_entries:
            done.popitem(last=False)

    def expire(self) -> int:
        """Forget finished operations older than the grace period (the region server's chore
        calls this); returns how many. An entry recorded out of order may outlive its grace
        until the entries before it go: the grace is a lower bound."""
        cutoff = self._clock() - self.grace
        n = 0
        with self._cond:
            done = self._done
            while done:
                key = next(iter(done))  # O(1): OrderedDict iterates its own linked list
                if done[key][1] >= cutoff:
                    break
                del done[key]
                n += 1
        return n
