"""A Jepsen-style register workload and its checker: are reads consistent while the cluster
moves, splits, merges, crashes and freezes (docs/chaos.md, "Reads under chaos")?

HBase promises strong consistency per row: once a put is acknowledged, every read that starts
after the acknowledgement sees it or something newer. The BigLinkedList run checks for lost
rows at the end; this checks every read made during the chaos.

Workload. `rows` registers (row keys `rows[i]`). One writer thread per row puts sequence
numbers 1, 2, 3... one at a time, each value unique (`<row>:<seq>`) and the same value into
every column of `COLUMNS` in one put (so a read also checks row atomicity). Reader threads get
random rows and scan random ranges of rows (a few rows per RPC, so scanners are resumed across
the chaos). Every operation records its invoke and complete times (time.monotonic(), one
process) and its result; a write that fails is "indeterminate" (it may or may not have been
applied), not acknowledged.

Checks, per row (a scan counts as one read of every row of its range, over the scan's whole
interval; a row the scan did not return is read as seq 0, "absent"):
  phantom     the value was never written (of another row, unparseable, or a seq whose write
              had not even been invoked when the read completed)
  torn        the columns of one row hold different values (or only some columns are there)
  stale       the read started after the write of seq n was acknowledged and returned < n
  regressed   the read started after another read of the row completed with seq n and
              returned < n (monotonic reads)

Bounded: every thread stops at its deadline or its `stop()`, and the history is kept in memory
(a few hundred bytes an operation; `max_ops` per thread caps it).
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from dataclasses import dataclass, field

FAMILY = b"cf"
COLUMNS = (b"cf:a", b"cf:b", b"cf:c")


def register_rows(count: int) -> list[bytes]:
    """`count` row keys that sort in index order."""
    return [b"reg%03d" % i for i in range(count)]


def value_of(row: bytes, seq: int) -> bytes:
    return row + b":" + str(seq).encode()


def seq_of(row: bytes, value: bytes) -> int | None:
    """The seq a value of `row` carries, or None if it is no value written to `row`."""
    prefix, sep, digits = value.rpartition(b":")
    if sep and prefix == row and digits.isdigit():
        return int(digits)
    return None


@dataclass
class Write:
    seq: int
    invoke: float
    complete: float
    ok: bool  # acknowledged; False: indeterminate (the put raised)


@dataclass
class Read:
    kind: str  # "get" or "scan"
    invoke: float
    complete: float
    row: bytes
    values: tuple | None  # COLUMNS' values (None per absent column); None: the row is absent


@dataclass
class Violation:
    check: str  # phantom, torn, stale, regressed
    row: bytes
    read: Read
    detail: str

    def describe(self, origin: float) -> str:
        r = self.read
        return (f"{self.check}: {r.kind} of {r.row.decode()} [{r.invoke - origin:.3f}s, "
                f"{r.complete - origin:.3f}s]: {self.detail}")


class RegisterWriter(threading.Thread):
    """Puts seq 1, 2, 3... into `row`, one at a time, until stopped or `seconds` elapsed."""

    def __init__(self, table, row: bytes, *, seconds: float, pause: float = 0.005,
                 max_ops: int = 100_000):
        super().__init__(daemon=True, name=f"register-writer-{row.decode()}")
        self.table, self.row, self.seconds, self.pause = table, row, seconds, pause
        self.max_ops = max_ops
        self.writes: list[Write] = []  # appended by this thread only; read after join
        self.errors: list[BaseException] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        for seq in range(1, self.max_ops + 1):
            if self._stop_event.is_set() or time.monotonic() > deadline:
                break
            value = value_of(self.row, seq)
            t0 = time.monotonic()
            try:
                self.table.put(self.row, {c: value for c in COLUMNS})
                ok = True
            except Exception as exc:  # noqa: BLE001 -- an error leaves the write indeterminate
                self.errors.append(exc)
                ok = False
            self.writes.append(Write(seq, t0, time.monotonic(), ok))
            if self.pause:
                self._stop_event.wait(self.pause)

    def stop(self) -> None:
        self._stop_event.set()


class RegisterReader(threading.Thread):
    """Gets random rows of `rows` and (a `scan_share` of its reads) scans random ranges of
    them, `scan_batch` rows per RPC, until stopped or `seconds` elapsed."""

    def __init__(self, table, rows: list[bytes], *, seconds: float, seed: int,
                 scan_share: float = 0.3, scan_batch: int = 2, pause: float = 0.002,
                 max_ops: int = 100_000):
        super().__init__(daemon=True, name=f"register-reader-{seed}")
        self.table, self.rows, self.seconds, self.pause = table, rows, seconds, pause
        self.rnd = random.Random(seed)
        self.scan_share, self.scan_batch, self.max_ops = scan_share, scan_batch, max_ops
        self.reads: list[Read] = []  # appended by this thread only; read after join
        self.errors: list[BaseException] = []
        self.scans = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        for _ in range(self.max_ops):
            if self._stop_event.is_set() or time.monotonic() > deadline:
                break
            try:
                if self.rnd.random() < self.scan_share:
                    self._scan()
                else:
                    self._get()
            except Exception as exc:  # noqa: BLE001 -- a failed read says nothing; count it
                self.errors.append(exc)
            if self.pause:
                self._stop_event.wait(self.pause)

    def _get(self) -> None:
        row = self.rnd.choice(self.rows)
        t0 = time.monotonic()
        data = self.table.row(row)
        self.reads.append(Read("get", t0, time.monotonic(), row, _values(data)))

    def _scan(self) -> None:
        i = self.rnd.randrange(len(self.rows))
        j = self.rnd.randrange(i, min(len(self.rows), i + 6))
        start = self.rows[i]
        stop = self.rows[j + 1] if j + 1 < len(self.rows) else None
        t0 = time.monotonic()
        found = {key: data for key, data in self.table.scan(
            row_start=start, row_stop=stop, batch_size=self.scan_batch)}
        t1 = time.monotonic()
        self.scans += 1
        for row in self.rows[i:j + 1]:
            self.reads.append(Read("scan", t0, t1, row, _values(found.get(row))))
        for row in set(found) - set(self.rows[i:j + 1]):  # a phantom: outside the range
            self.reads.append(Read("scan outside its range", t0, t1, row, _values(found[row])))

    def stop(self) -> None:
        self._stop_event.set()


def _values(data: dict | None) -> tuple | None:
    if not data:
        return None
    return tuple(data.get(c) for c in COLUMNS)


@dataclass
class Report:
    writes: int = 0
    acked: int = 0
    reads: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check(writes: dict[bytes, list[Write]], reads: list[Read]) -> Report:
    """Judge `reads` against `writes` (row -> that row's writes, in seq order)."""
    report = Report(writes=sum(len(w) for w in writes.values()),
                    acked=sum(w.ok for ws in writes.values() for w in ws), reads=len(reads))
    by_row: dict[bytes, list[tuple[Read, int]]] = {}
    for r in reads:
        seq = _read_seq(r, writes.get(r.row, ()), report.violations)
        if seq is not None:
            by_row.setdefault(r.row, []).append((r, seq))
    for row, row_reads in by_row.items():
        acked = [w for w in writes.get(row, ()) if w.ok]
        acked.sort(key=lambda w: w.complete)
        ack_times = [w.complete for w in acked]
        ack_max = _prefix_max([w.seq for w in acked])
        done = sorted(row_reads, key=lambda rs: rs[0].complete)
        done_times = [r.complete for r, _ in done]
        done_max = _prefix_max([s for _, s in done])
        for r, seq in row_reads:
            i = bisect.bisect_left(ack_times, r.invoke)  # acknowledged before r began
            if i and ack_max[i - 1] > seq:
                report.violations.append(Violation(
                    "stale", row, r, f"returned seq {seq}, but seq {ack_max[i - 1]} was "
                    f"acknowledged {r.invoke - _ack_time(acked, ack_max[i - 1]):.3f}s before "
                    "the read began"))
                continue
            j = bisect.bisect_left(done_times, r.invoke)  # reads completed before r began
            if j and done_max[j - 1] > seq:
                report.violations.append(Violation(
                    "regressed", row, r, f"returned seq {seq}, but an earlier read (completed "
                    f"before this one began) returned seq {done_max[j - 1]}"))
    return report


def _read_seq(r: Read, row_writes, violations: list) -> int | None:
    """The seq `r` returned (0: absent), or None after recording a phantom or torn read."""
    if r.kind != "get" and r.kind != "scan":
        violations.append(Violation("phantom", r.row, r, f"returned by a {r.kind}"))
        return None
    if r.values is None:
        return 0
    if len(set(r.values)) != 1 or r.values[0] is None:
        violations.append(Violation("torn", r.row, r, f"columns {COLUMNS} = {r.values}"))
        return None
    seq = seq_of(r.row, r.values[0])
    if seq is None or seq > len(row_writes) or row_writes[seq - 1].invoke > r.complete:
        violations.append(Violation("phantom", r.row, r, f"value {r.values[0]!r} was never "
                                    "written (or not yet, when the read completed)"))
        return None
    return seq


def _prefix_max(xs: list[int]) -> list[int]:
    out, best = [], 0
    for x in xs:
        best = max(best, x)
        out.append(best)
    return out


def _ack_time(acked: list[Write], seq: int) -> float:
    return next(w.complete for w in acked if w.seq == seq)


def reads_during(reads: list[Read], actions) -> dict[str, int]:
    """For each chaos action (name #index), how many reads overlapped it."""
    out = {}
    for i, a in enumerate(actions):
        end = a.ended or time.monotonic()
        out[f"{a.name}#{i}"] = sum(1 for r in reads if r.invoke <= end and r.complete >= a.started)
    return out
