"""BigLinkedList for minihbase: HBase's IntegrationTestBigLinkedList (after Accumulo's
continuous ingest), Generator and Verify, driven by bench/biglinkedlist.py and
tests/cluster/test_chaos.py while minihbase/chaos.py kills and moves things (docs/chaos.md).

Generator: each thread writes batches of `width` rows with random keys; every row of batch k
names a row of batch k-1 in its `prev` column. A batch is written only after the previous one
was acknowledged, so a row never references a row whose write was not acknowledged. After
`wrap` batches the first batch is rewritten to point at the last one, closing a circle, and
a new circle starts. Rows:

    <16 hex digits>   meta:prev = key of the previous row (b"" in an open circle's first
                      batch), meta:client = thread id, meta:count = the row's sequence number
    ~counter-<id>     meta:batches  8-byte counter, +1 per acknowledged batch (increment)
    ~log-<id>         meta:log      b"<batch>," appended per acknowledged batch (append)

Verify scans the table once: UNDEFINED = referenced but missing (data loss), UNREFERENCED =
present but nobody points at it (only allowed for the tail of a circle that was not closed:
the generator records those keys), LOST = acknowledged but missing, PHANTOM = present but
never written. The counter and the append log check that increments and appends retried by
the client (with their nonce) were applied exactly once.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
import threading
import time
from dataclasses import dataclass, field

from minihbase.errors import HBaseError

FAMILY = "meta"
PREV, CLIENT, COUNT = b"meta:prev", b"meta:client", b"meta:count"
BATCHES, LOG = b"meta:batches", b"meta:log"
SIDE_PREFIX = b"~"  # counter and log rows; sorts after every hex key


def create_table(conn, table: str, regions: int) -> None:
    """The list's table, pre-split evenly over the hex key space into `regions` regions."""
    splits = [b"%02x" % (256 * i // regions) for i in range(1, regions)]
    conn.create_table(table, {FAMILY: dict(max_versions=1)}, split_keys=splits)


@dataclass
class WriteError:
    at: float  # time.monotonic() when the error reached the generator
    what: str  # "batch", "close", "increment", "append"
    error: BaseException


class Generator(threading.Thread):
    """One writer of circles; bounded by `seconds` and `max_rows`. Everything it records is
    written by this thread only and read after join()."""

    def __init__(self, conn, table: str, client_id: int, *, width: int = 1000, wrap: int = 25,
                 seconds: float = 60.0, max_rows: int = 10**7, retries: int = 3,
                 seed: int | None = None):
        super().__init__(daemon=True, name=f"generator-{client_id}")
        self.table = conn.table(table)
        self.client_id, self.width, self.wrap = client_id, width, wrap
        self.seconds, self.max_rows, self.retries = seconds, max_rows, retries
        self.rnd = random.Random(seed)
        self.acked: set[bytes] = set()  # keys whose write was acknowledged
        self.unacked: set[bytes] = set()  # keys sent but never acknowledged
        self.tail: set[bytes] = set()  # keys allowed to stay unreferenced
        self.errors: list[WriteError] = []
        self.circles_closed = 0
        self.batches = 0  # acknowledged batches; each one increments and appends once
        self.uncertain_batches: list[int] = []  # whose increment/append outcome is unknown
        self.unexpected: list[BaseException] = []  # a non-HBaseError reached the client
        self._count = 0
        self._stop_event = threading.Event()

    def stop(self, timeout: float = 120.0) -> None:
        self._stop_event.set()
        self.join(timeout)
        if self.is_alive():
            raise RuntimeError(f"{self.name} did not finish within {timeout}s")

    def _go_on(self, deadline: float) -> bool:
        return (not self._stop_event.is_set() and time.monotonic() < deadline
                and len(self.acked) < self.max_rows)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while self._go_on(deadline):
            self._circle(deadline)

    def _circle(self, deadline: float) -> None:
        """Write one circle of `wrap` batches; on stop or failure, leave its tail open."""
        first = prev = None
        for _ in range(self.wrap):
            if not self._go_on(deadline):
                break
            keys = [b"%016x" % self.rnd.getrandbits(64) for _ in range(self.width)]
            if not self._write(keys, prev or [b""] * self.width, "batch"):
                self.tail.update(keys)  # a failed batch may be partly written
                break
            first, prev = first or keys, keys
            self._count_batch()
        else:
            if self._write(first, prev, "close"):
                self.circles_closed += 1
                return
        if prev:
            self.tail.update(prev)

    def _write(self, keys: list[bytes], prevs: list[bytes], what: str) -> bool:
        """Put keys[i] -> prevs[i], retrying the same rows (puts are idempotent)."""
        client = str(self.client_id).encode()
        for _ in range(self.retries):
            try:
                with self.table.batch() as b:
                    for key, prev in zip(keys, prevs):
                        self._count += 1
                        b.put(key, {PREV: prev, CLIENT: client, COUNT: b"%d" % self._count})
            except Exception as exc:  # noqa: BLE001 -- counted; Verify judges the outcome
                self._record(what, exc)
                continue
            self.acked.update(keys)
            self.unacked.difference_update(keys)
            return True
        self.unacked.update(keys)
        return False

    def _count_batch(self) -> None:
        """One increment and one append per acknowledged batch, each with its own nonce."""
        self.batches += 1
        suffix = str(self.client_id).encode()
        try:
            self.table.counter_inc(SIDE_PREFIX + b"counter-" + suffix, BATCHES)
            self.table.append(SIDE_PREFIX + b"log-" + suffix, {LOG: b"%d," % self.batches})
        except Exception as exc:  # noqa: BLE001 -- counted; outcome unknown
            self._record("increment/append", exc)
            self.uncertain_batches.append(self.batches)

    def _record(self, what: str, exc: BaseException) -> None:
        self.errors.append(WriteError(time.monotonic(), what, exc))
        if not isinstance(exc, HBaseError):
            self.unexpected.append(exc)


@dataclass
class Report:
    rows_acked: int = 0
    rows_found: int = 0
    side_rows: int = 0
    undefined: list[bytes] = field(default_factory=list)
    unreferenced: int = 0
    unexpected_unreferenced: list[bytes] = field(default_factory=list)
    lost: list[bytes] = field(default_factory=list)
    phantom: list[bytes] = field(default_factory=list)
    counter_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.undefined or self.unexpected_unreferenced or self.lost
                    or self.phantom or self.counter_problems)


def verify(conn, table: str, generators: list[Generator]) -> Report:
    """One full scan of `table`, judged against what the generators recorded."""
    defined: set[bytes] = set()
    referenced: set[bytes] = set()
    side: dict[bytes, dict] = {}
    for key, data in conn.table(table).scan(batch_size=1000):
        if key.startswith(SIDE_PREFIX):
            side[key] = data
            continue
        defined.add(key)
        if data.get(PREV):
            referenced.add(data[PREV])
    acked = set().union(*(g.acked for g in generators))
    attempted = acked.union(*(g.unacked for g in generators))
    tail = set().union(*(g.tail for g in generators))
    unreferenced = defined - referenced
    r = Report(rows_acked=len(acked), rows_found=len(defined), side_rows=len(side),
               unreferenced=len(unreferenced))
    r.undefined = sorted(referenced - defined)
    r.unexpected_unreferenced = sorted(unreferenced - tail)
    r.lost = sorted(acked - defined)
    r.phantom = sorted(defined - attempted)
    for g in generators:
        r.counter_problems += _counter_problems(g, side)
    return r


def _counter_problems(g: Generator, side: dict[bytes, dict]) -> list[str]:
    """Exactly once: every acknowledged increment/append counted once, uncertain ones at most
    once, none twice."""
    suffix = str(g.client_id).encode()
    raw = side.get(SIDE_PREFIX + b"counter-" + suffix, {}).get(BATCHES, struct.pack(">q", 0))
    counter = struct.unpack(">q", raw)[0]
    log = side.get(SIDE_PREFIX + b"log-" + suffix, {}).get(LOG, b"")
    entries = [int(x) for x in log.split(b",") if x]
    uncertain = set(g.uncertain_batches)
    sure = g.batches - len(uncertain)
    problems = []
    if not sure <= counter <= g.batches:
        problems.append(f"client {g.client_id}: counter {counter}, expected {sure}.."
                        f"{g.batches} (applied twice or lost)")
    twice = sorted(e for e, n in Counter(entries).items() if n > 1)
    if twice:
        problems.append(f"client {g.client_id}: appends applied twice: {twice[:10]}")
    missing = sorted(set(range(1, g.batches + 1)) - uncertain - set(entries))
    if missing:
        problems.append(f"client {g.client_id}: acknowledged appends missing: {missing[:10]}")
    return problems
