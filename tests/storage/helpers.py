"""Small stand-ins shared by the storage tests: deterministic background work and a clock."""

from __future__ import annotations


class Inline:
    """Runs background work (flushes, compactions) at once in the caller's thread."""

    def submit(self, fn):
        fn()


class Clock:
    """A clock the test moves by hand (seconds, like time.time)."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self):
        return self.t
