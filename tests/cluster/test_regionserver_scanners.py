"""ScannerRegistry in isolation: leases on an injected clock, limit and partial bookkeeping,
prefetch delivery. No gRPC, no ZooKeeper."""

from __future__ import annotations

import pytest

from minihbase.errors import UnknownScannerError
from regionserver.scanners import ScannerRegistry
from storage.cell import Cell


class ListScanner:
    """RegionScanner stand-in: pages over prepared results; [] = done (and closed)."""

    def __init__(self, results):
        self.results = list(results)
        self.closed = False

    def next(self, max_rows=100, max_cells=0, deadline=None):
        out, self.results = self.results[:max_rows], self.results[max_rows:]
        self.closed = self.closed or not out
        return out

    def close(self):
        self.closed = True


def row(key: bytes, n: int = 1):
    return [Cell(key, b"cf", b"q%d" % i, 1, 4, b"v") for i in range(n)]


def keep(results, partial, more):
    return [(r[0].row, len(r), p) for r, p in zip(results, partial)]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_idle_scanner_is_reaped_after_its_lease_and_its_id_becomes_unknown():
    clock = Clock()
    reg = ScannerRegistry(10.0, clock=clock, prefetch_threads=0)
    sc = ListScanner([row(b"a"), row(b"b"), row(b"c")])
    lease = reg.open("r1", sc, batch=0, limit=0)
    reg.next_batch(lease, 1, 0, keep)
    clock.now += 9
    reg.lookup(lease.scanner_id)  # a call renews the lease
    clock.now += 9
    assert reg.reap_expired() == 0
    clock.now += 2
    assert reg.reap_expired() == 1 and sc.closed
    with pytest.raises(UnknownScannerError, match=str(lease.scanner_id)):
        reg.lookup(lease.scanner_id)


def test_limit_counts_a_batch_split_row_once_and_last_response_says_no_more():
    reg = ScannerRegistry(60, prefetch_threads=0)
    a = row(b"a", 4)
    results = [a[:2], a[2:], row(b"b"), row(b"c")]
    lease = reg.open("r1", ListScanner(results), batch=2, limit=2)
    out, more = reg.next_batch(lease, 2, 0, keep)
    assert out == [(b"a", 2, True), (b"a", 2, False)] and more
    out, more = reg.next_batch(lease, 2, 0, keep)
    assert out == [(b"b", 1, False)] and not more
    assert len(reg) == 0  # closed with the last response


def test_prefetched_response_is_delivered_to_the_next_call():
    reg = ScannerRegistry(60, prefetch_threads=1)
    try:
        sc = ListScanner([row(b"%03d" % i) for i in range(7)])
        lease = reg.open("r1", sc, batch=0, limit=0)
        seen = []
        more = True
        while more:
            out, more = reg.next_batch(lease, 3, 0, keep)
            seen.extend(k for k, _, _ in out)
        assert seen == [b"%03d" % i for i in range(7)]
        assert sc.closed and len(reg) == 0
    finally:
        reg.stop()


def as_bytes(results, partial, more):
    """A render of real size: the rows' values, as the region server renders bytes."""
    return b"".join(c.value for r in results for c in r)


def test_abandoned_scanners_hold_no_more_prefetched_bytes_than_the_budget():
    """Scanners opened and then left (a client that went away) each kept a prefetched
    response until their lease ran out: 2,000 of them held ~1.6 GB of a region server for a
    minute. Prefetches now stop while the held responses are at the budget; the scanners
    past it answer their next call without one, and closing gives the bytes back."""
    clock = Clock()
    reg = ScannerRegistry(10.0, clock=clock, prefetch_threads=1)
    reg.prefetch_budget = 10_000
    try:
        leases = []
        for i in range(40):
            values = [Cell(b"%03d" % j, b"cf", b"q", 1, 4, b"x" * 1000) for j in range(6)]
            lease = reg.open("r1", ListScanner([[c] for c in values]), batch=0, limit=0)
            out, more = reg.next_batch(lease, 2, 0, as_bytes)
            assert len(out) == 2000 and more
            leases.append(lease)
        for lease in leases:
            if lease.prefetch is not None:
                lease.prefetch.result()
        assert sum(lease.prefetch is not None for lease in leases) == 5
        assert reg.prefetched_bytes() == 10_000
        # every scanner still reads the rest, prefetched or not
        lease = leases[-1]
        assert lease.prefetch is None
        assert reg.next_batch(lease, 2, 0, as_bytes) == (b"x" * 2000, True)
        assert reg.next_batch(lease, 2, 0, as_bytes) == (b"x" * 2000, False)
        clock.now += 11
        assert reg.reap_expired() == 39
        assert reg.prefetched_bytes() == 0
    finally:
        reg.stop()


def test_closing_a_region_closes_only_its_scanners():
    reg = ScannerRegistry(60, prefetch_threads=0)
    s1, s2 = ListScanner([row(b"a")]), ListScanner([row(b"a")])
    reg.open("r1", s1, 0, 0)
    keep_lease = reg.open("r2", s2, 0, 0)
    assert reg.close_region("r1") == 1
    assert s1.closed and not s2.closed
    assert reg.lookup(keep_lease.scanner_id) is keep_lease


def big_row(key: bytes, value_bytes: int):
    return [Cell(key, b"cf", b"q", 1, 4, b"x" * value_bytes)]


@pytest.mark.parametrize("limit", [0, 5])
def test_a_response_stops_near_two_megabytes_and_the_rest_follows(limit):
    """Rows of large values: a response carries ~MAX_RESPONSE_BYTES (at least one row), so
    rows that each fit never add up past the RPC message limit (HBase's max result size);
    every row comes exactly once, and the scan's limit still holds."""
    from regionserver.scanners import MAX_RESPONSE_BYTES

    reg = ScannerRegistry(60, prefetch_threads=0)
    rows = [big_row(b"%02d" % i, MAX_RESPONSE_BYTES // 3) for i in range(10)]
    lease = reg.open("r1", ListScanner(rows), batch=0, limit=limit)
    seen, sizes, more = [], [], True
    while more:
        out, more = reg.next_batch(lease, 1000, 0, keep)
        seen += [key for key, _, _ in out]
        sizes.append(len(out))
    assert seen == [b"%02d" % i for i in range(limit or 10)]
    assert max(sizes) == 3  # the third row reaches the budget


def test_one_cell_over_the_budget_still_goes_alone():
    from regionserver.scanners import MAX_RESPONSE_BYTES

    reg = ScannerRegistry(60, prefetch_threads=0)
    lease = reg.open("r1", ListScanner([big_row(b"a", 2 * MAX_RESPONSE_BYTES), row(b"b")]),
                     batch=0, limit=0)
    assert reg.next_batch(lease, 1000, 0, keep) == ([(b"a", 1, False)], True)
    assert reg.next_batch(lease, 1000, 0, keep) == ([(b"b", 1, False)], False)


@pytest.mark.parametrize("limit", [0, 1])
def test_a_row_over_the_budget_is_sent_in_partial_results(limit):
    """A wide row (here ~5 budgets) goes in parts of about MAX_RESPONSE_BYTES, each but the
    last partial, as HBase's scanner cuts a row at its max result size: one response holding
    the whole row could pass the RPC's message limit (256 MB), and the scan would fail."""
    from regionserver.scanners import MAX_RESPONSE_BYTES

    reg = ScannerRegistry(60, prefetch_threads=0)
    value = MAX_RESPONSE_BYTES // 10
    wide = [Cell(b"a", b"cf", b"q%03d" % i, 1, 4, b"x" * value) for i in range(50)]
    lease = reg.open("r1", ListScanner([wide, row(b"b")]), batch=0, limit=limit)
    answers, more = [], True
    while more and len(answers) < 20:
        out, more = reg.next_batch(lease, 1000, 0, keep)
        answers.append(out)
    parts = [r for out in answers for r in out if r[0] == b"a"]
    assert sum(n for _, n, _ in parts) == 50 and len(parts) == 5
    assert [p for _, _, p in parts] == [True] * 4 + [False]
    assert all(len(out) == 1 for out in answers[:4])  # each response about one budget
    assert [r[0] for out in answers for r in out][-1] == (b"a" if limit else b"b")


class SlowFilterScanner(ListScanner):
    """A filtered scan whose first calls run out of time before any row matches."""

    def __init__(self, results, empty_calls):
        super().__init__(results)
        self.empty_calls = empty_calls
        self.deadlines = []

    def next(self, max_rows=100, max_cells=0, deadline=None):
        self.deadlines.append(deadline)
        if self.empty_calls:
            self.empty_calls -= 1
            return []  # the deadline passed: nothing yet, not closed
        return super().next(max_rows, max_cells, deadline)


def test_a_response_cut_short_by_its_time_limit_says_more_until_the_scanner_is_done():
    reg = ScannerRegistry(10.0, prefetch_threads=0)
    sc = SlowFilterScanner([row(b"a"), row(b"b")], empty_calls=2)  # next + look-ahead
    lease = reg.open("r1", sc, batch=0, limit=0, time_limit=60.0)
    assert lease.time_limit == 5.0  # at most half the lease
    answers = [reg.next_batch(lease, 1, 0, keep)]
    while answers[-1][1] and len(answers) < 10:
        answers.append(reg.next_batch(lease, 1, 0, keep))
    assert answers == [([], True), ([(b"a", 1, False)], True), ([(b"b", 1, False)], False)]
    assert all(d is not None for d in sc.deadlines)
    untimed = SlowFilterScanner([], empty_calls=0)
    reg.next_batch(reg.open("r2", untimed, 0, 0, time_limit=None), 1, 0, keep)
    assert untimed.deadlines == [None]
