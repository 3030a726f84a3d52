"""minihbase/memory.py: freed heap goes back to the OS (a region server's RSS after a burst)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minihbase import memory

BURST = """
import gc, os, sys
from minihbase import memory
burst = [os.urandom(1000) for _ in range(150_000)]  # 150 MB of 1 KB values, as a big scan
kept = burst[::1000]  # what outlives the burst (cached blocks, a scanner) pins the heap
del burst
gc.collect()
before = memory.rss_bytes()
released = memory.trim() if sys.argv[1] == "trim" else 0
print(before >> 20, memory.rss_bytes() >> 20, released >> 20)
"""


def _burst(mode: str) -> tuple[int, int, int]:
    """(RSS MB after freeing the burst, RSS MB after `mode`, MB trim() reported) in a fresh
    interpreter, so the test process's own heap does not blur the numbers."""
    out = subprocess.run([sys.executable, "-c", BURST, mode], capture_output=True, text=True,
                         check=True, timeout=60)
    before, after, released = map(int, out.stdout.split())
    return before, after, released


@pytest.mark.skipif(memory._malloc_trim is None, reason="not glibc: trim() is a no-op")
def test_freed_heap_stays_resident_until_trim_returns_it():
    before, after, _ = _burst("none")
    assert before >= 140 and after >= 140, (before, after)  # glibc keeps it: the problem
    before, after, released = _burst("trim")
    assert before >= 140, before
    assert after <= before - 100, (before, after)
    assert released >= 100, released


def test_the_trimmer_runs_once_per_period_and_never_at_zero(monkeypatch):
    now = [0.0]
    calls = []
    monkeypatch.setattr(memory, "trim", lambda: calls.append(now[0]) or 0)
    trimmer = memory.HeapTrimmer(30.0, clock=lambda: now[0])
    for t in (1.0, 29.0, 30.0, 45.0, 59.0, 60.5):
        now[0] = t
        trimmer.maybe_trim()
    memory.HeapTrimmer(0, clock=lambda: 1e9).maybe_trim()
    assert calls == [30.0, 60.5]
