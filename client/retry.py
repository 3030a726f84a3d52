"""HBase's client back-off under one overall operation timeout (see docs/cli.md, "Retries").

Contract: `RetryPolicy.call(what, attempt)` runs `attempt(deadline_s)` until it returns. An
exception whose class says `retryable = True` (declared once in minihbase/errors.py) is retried
after `pause * BACKOFF[n]` seconds (HBase's RETRY_BACKOFF: 1, 2, 3, 5, 10, 20, 40, 100, ...)
plus up to 1% of jitter, as HBase's ConnectionUtils.getPauseTime adds, so clients that failed
together do not retry in step; anything else propagates at once. No attempt, and no sleep,
extends past the overall timeout: when it runs out, OperationTimeoutError says what was tried,
how often, for how long, and the last error. `deadline_s` is the time the attempt may spend in
one RPC, so a call to a server that hangs is cut off too -- the caller never hangs.

The clock, sleep and the jitter's random source are injected (kazoo's KazooRetry does the
same) so tests never sleep and see an exact schedule.
"""

from __future__ import annotations

import contextlib
import contextvars
import random as _random
import time
from typing import Callable, TypeVar

from minihbase.errors import HBaseError, InvalidArgumentError, OperationTimeoutError

T = TypeVar("T")

# HConstants.RETRY_BACKOFF: multipliers of the base pause, the last one repeats.
BACKOFF = (1, 2, 3, 5, 10, 20, 40, 100, 100, 100, 100, 200, 200)
DEFAULT_PAUSE_S = 0.1
DEFAULT_TIMEOUT_S = 30.0
# One RPC never waits longer than this even with a long overall timeout, so a server that
# silently stopped answering costs one slice, not the whole budget.
DEFAULT_RPC_TIMEOUT_S = 10.0
# getPauseTime's jitter: a pause grows by a random fraction of up to this much of itself.
JITTER = 0.01
# Below this much time left, another attempt could not even complete an RPC: give up.
MIN_ATTEMPT_S = 0.05


# When the running attempt must end (time.monotonic()), for the waits inside it that are not
# its RPC: ZooKeeper meta reads, waiting for another thread's meta read (attempt_time_left).
_attempt_ends: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "minihbase_attempt_ends", default=None)


def attempt_time_left(limit: float) -> float:
    """How long a blocking wait may take: at most `limit` seconds and, inside an attempt run by
    RetryPolicy.call, no longer than that attempt may (so a meta read cannot outlast the
    operation timeout)."""
    ends = _attempt_ends.get()
    if ends is None:
        return limit
    return max(0.0, min(limit, ends - time.monotonic()))


@contextlib.contextmanager
def bounded_waits(seconds: float):
    """Within this block, attempt_time_left() never exceeds `seconds` from now."""
    ends = _attempt_ends.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _attempt_ends.reset(ends)


def backoff_delay(pause: float, attempt: int,
                  random: Callable[[], float] = _random.random) -> float:
    """Pause before retry number `attempt` (0-based), as HBase's getPauseTime computes it: the
    back-off step plus `random()` (in [0, 1)) times JITTER of it."""
    normal = pause * BACKOFF[min(attempt, len(BACKOFF) - 1)]
    return normal + normal * random() * JITTER


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, HBaseError) and exc.retryable


class RetryPolicy:
    """Immutable settings, safe to share between threads: every `call` keeps its own state."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S, *, pause: float = DEFAULT_PAUSE_S,
                 rpc_timeout: float = DEFAULT_RPC_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 random: Callable[[], float] = _random.random):
        if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
            raise InvalidArgumentError(
                f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.pause = float(pause)
        self.rpc_timeout = float(rpc_timeout)
        self.clock = clock
        self.sleep = sleep
        self.random = random  # the back-off's jitter

    def call(self, what: str, attempt: Callable[[float], T],
             on_error: Callable[[BaseException], None] | None = None,
             retryable: Callable[[BaseException], bool] = is_retryable,
             started: float | None = None, whole_budget_per_attempt: bool = False,
             wait: Callable[[float], bool] | None = None,
             explain: Callable[[BaseException], str | None] | None = None) -> T:
        """Run `attempt(rpc_deadline_seconds)` with back-off until it succeeds or time runs out.

        `on_error(exc)` runs after every retryable failure (e.g. drop cached locations) before
        the pause. `what` names the operation in the timeout message ("put to table 't1'").
        `started` (a clock() reading) counts time already spent, e.g. by a first fast attempt.
        `whole_budget_per_attempt`: an attempt may use all the time left instead of at most
        rpc_timeout (slow, non-idempotent calls: a retry after a deadline could run them twice).
        `wait(seconds)` pauses instead of `sleep`, and returns True when it ended early because
        what the call waits for changed (a region reopened, a new master): the back-off then
        starts again from its first step -- a new state, not the one that has lasted.
        `explain(last_exc)`: what the last error means for the caller ("the active master is
        down; a backup takes over..."), said in the timeout message instead of the raw last
        error; None keeps the raw one. It must not block: it only formats what is known.
        """
        start = self.clock() if started is None else started
        deadline = start + self.timeout
        tries = 0
        step = 0  # position in BACKOFF: failures since the start or the last change
        last_chance = False
        while True:
            remaining = deadline - self.clock()
            tries += 1
            per_attempt = max(0.001, remaining if whole_budget_per_attempt
                              else min(self.rpc_timeout, remaining))
            try:
                with bounded_waits(per_attempt):
                    return attempt(per_attempt)
            except Exception as exc:  # noqa: BLE001 - classified right below
                if not retryable(exc):
                    raise
                if on_error is not None:
                    on_error(exc)
                now = self.clock()
                left = deadline - now
                delay = backoff_delay(self.pause, step, self.random)
                if left <= MIN_ATTEMPT_S or (last_chance and delay + MIN_ATTEMPT_S >= left):
                    tried = (f"gave up after {tries} attempt(s) in {now - start:.1f}s "
                             f"(operation timeout {self.timeout:g}s)")
                    meaning = explain(exc) if explain is not None else None
                    raise OperationTimeoutError(
                        f"{what}: {meaning}; {tried}" if meaning else
                        f"{what}: {tried}; last error: {type(exc).__name__}: {exc}"
                    ) from exc
                if delay + MIN_ATTEMPT_S >= left:
                    # Shorten the last pause so one more attempt still fits in the budget.
                    delay, last_chance = left - MIN_ATTEMPT_S, True
                if wait is None:
                    self.sleep(delay)
                    step += 1
                elif wait(delay):  # what the call waits for changed: a new state
                    step, last_chance = 0, False
                else:
                    step += 1

    def remaining(self, start: float) -> float:
        return self.timeout - (self.clock() - start)
