"""Region: HBase read/write semantics, atomicity under threads, flush, recovery, bad input."""

from __future__ import annotations

import os
import threading
import time

import pytest

from minihbase.errors import (InvalidArgumentError, NoSuchColumnFamilyError, NotACounterError,
                              NotServingRegionError, RegionTooBusyError, RowTooBigError)
from storage import layout
from storage.config import RegionConfig
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Clock, Inline

CF, CG = b"cf", b"cg"
TABLE = TableDescriptor("t", (FamilyDescriptor(CF, max_versions=3), FamilyDescriptor(CG)))
INFO = RegionInfo("t", b"", b"", 1)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=[100_000, 2], ids=["one-segment", "frozen-segments"])
def region(tmp_path, clock, request):
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock, flush_size=1 << 30,
                                        memstore_segment_rows=request.param))
    yield r
    r.close(flush=False)


def vals(cells):
    return [(c.row, c.family, c.qualifier, c.timestamp, c.value) for c in cells]


def rows_of(scanner):
    out = []
    while True:
        page = scanner.next(7)
        if not page:
            return out
        out.extend(page)


def put(r, row, q, v, ts, fam=CF):
    r.mutate(Mutation(row).put(fam, q, v, ts))


@pytest.mark.parametrize("flush_between", [False, True])
def test_delete_markers_of_every_kind_mask_older_puts_and_not_newer(region, flush_between):
    for ts in (10, 20, 30):
        for q in (b"a", b"b"):
            put(region, b"r", q, b"%s%d" % (q, ts), ts)
    if flush_between:
        region.flush()
    get = lambda: vals(region.get(Get(b"r", columns=((CF, None),), max_versions=3)))  # noqa: E731
    region.mutate(Mutation(b"r").delete_version(CF, b"a", 20))  # exactly ts 20 of a
    assert [c[3] for c in get() if c[2] == b"a"] == [30, 10]
    region.mutate(Mutation(b"r").delete_column(CF, b"b", 20))  # b at <= 20
    assert [c[3] for c in get() if c[2] == b"b"] == [30]
    region.mutate(Mutation(b"r").delete_family_version(CF, 30))  # every column at exactly 30
    assert [(c[2], c[3]) for c in get()] == [(b"a", 10)]
    region.mutate(Mutation(b"r").delete_family(CF, 15))  # everything <= 15
    assert get() == []
    put(region, b"r", b"a", b"new", 40)  # newer than every marker: visible
    assert [(c[2], c[3]) for c in get()] == [(b"a", 40)]


def test_marker_masks_a_put_written_later_with_an_older_timestamp(region):
    region.mutate(Mutation(b"r").delete_column(CF, b"a", 50))
    put(region, b"r", b"a", b"late", 40)
    assert region.get(Get(b"r")) == []
    region.flush()
    put(region, b"r", b"a", b"later", 45)
    assert region.get(Get(b"r")) == []
    region.compact(major=True)  # removes the marker and the puts it masked
    assert region.get(Get(b"r")) == []
    put(region, b"r", b"a", b"after", 30)  # the marker is gone now (HBase semantics)
    assert vals(region.get(Get(b"r"))) == [(b"r", CF, b"a", 30, b"after")]


def test_delete_with_latest_timestamp_deletes_the_latest_version(region, clock):
    put(region, b"r", b"a", b"v1", 10)
    put(region, b"r", b"a", b"v2", 20)
    region.mutate(Mutation(b"r").delete_version(CF, b"a"))
    assert vals(region.get(Get(b"r", max_versions=3))) == [(b"r", CF, b"a", 10, b"v1")]
    region.mutate(Mutation(b"r").delete_version(CF, b"zz"))  # nothing to delete: marker at now
    put(region, b"r", b"zz", b"x", int(clock.t * 1000))  # exactly now: masked
    put(region, b"r", b"zz", b"y", 5)  # a Delete masks one timestamp only
    assert vals(region.get(Get(b"r"))) == [(b"r", CF, b"a", 10, b"v1"), (b"r", CF, b"zz", 5, b"y")]


def test_each_latest_version_delete_of_one_mutation_deletes_the_next_newest(region, clock):
    """HBase's prepareDeleteTimestamps: the n-th Delete of a column with the latest timestamp
    in one mutation takes the n-th newest version's timestamp (a Get of n versions), so two
    of them delete the two newest versions; past the versions there are, the marker is at
    now."""
    for ts in (10, 20, 30):
        put(region, b"r", b"a", b"v%d" % ts, ts)
    put(region, b"r", b"b", b"b10", 10)
    region.mutate(Mutation(b"r").delete_version(CF, b"a").delete_version(CF, b"b")
                  .delete_version(CF, b"a"))
    assert vals(region.get(Get(b"r", max_versions=3))) == [(b"r", CF, b"a", 10, b"v10")]
    region.mutate(Mutation(b"r").delete_version(CF, b"a").delete_version(CF, b"a"))
    assert region.get(Get(b"r", max_versions=3)) == []
    markers = [(q, ts) for _, q, ts, t, _ in raw_scan(region) if t == 8]
    assert sorted(markers) == [(b"a", 10), (b"a", 20), (b"a", 30), (b"a", int(clock.t * 1000)),
                               (b"b", 10)]


def raw_scan(region, **kw):
    return [(c.row, c.qualifier, c.timestamp, c.type, c.value)
            for cells in region.scanner(Scan(raw=True, max_versions=10, **kw)) for c in cells]


def test_a_raw_scan_shows_markers_and_what_they_mask_until_a_major_compaction(region):
    """HBase's RAW scan: for debugging deletes."""
    for ts in (1, 2, 3, 4, 5):
        put(region, b"r", b"a", b"v%d" % ts, ts)
    region.mutate(Mutation(b"r").delete_version(CF, b"a", 4))
    region.mutate(Mutation(b"s").put(CF, b"b", b"x", 7).delete_family(CF, 6))
    put(region, b"s", b"c", b"old", 5)
    assert [c.timestamp for c in region.get(Get(b"r", max_versions=10))] == [5, 3, 2]
    stored = [(b"r", b"a", 5, 4, b"v5"), (b"r", b"a", 4, 8, b""), (b"r", b"a", 4, 4, b"v4"),
              (b"r", b"a", 3, 4, b"v3"), (b"r", b"a", 2, 4, b"v2"), (b"r", b"a", 1, 4, b"v1"),
              (b"s", b"", 6, 14, b""), (b"s", b"b", 7, 4, b"x"), (b"s", b"c", 5, 4, b"old")]
    assert raw_scan(region) == stored  # versions past the family's 3 until a compaction
    region.flush()
    assert raw_scan(region) == stored
    assert raw_scan(region, columns=((CF, b"c"),)) == [(b"s", b"c", 5, 4, b"old")]
    assert raw_scan(region, time_range=(4, 6)) == [(b"r", b"a", 5, 4, b"v5"),
                                                   (b"r", b"a", 4, 8, b""),
                                                   (b"r", b"a", 4, 4, b"v4"),
                                                   (b"s", b"c", 5, 4, b"old")]
    assert [c[2] for c in raw_scan(region, reversed=True)][:3] == [6, 7, 5]  # row s first
    region.compact(major=True)
    assert raw_scan(region) == [(b"r", b"a", 5, 4, b"v5"), (b"r", b"a", 3, 4, b"v3"),
                                (b"r", b"a", 2, 4, b"v2"), (b"s", b"b", 7, 4, b"x")]


def test_max_versions_and_time_range(region):
    for ts in (1, 2, 3, 4, 5):
        put(region, b"r", b"a", b"v%d" % ts, ts)
    # the family keeps 3 versions: 1 and 2 are invisible at once
    assert [c.timestamp for c in region.get(Get(b"r", max_versions=10))] == [5, 4, 3]
    assert [c.timestamp for c in region.get(Get(b"r"))] == [5]
    assert [c.timestamp for c in region.get(Get(b"r", max_versions=2))] == [5, 4]
    assert [c.timestamp for c in region.get(Get(b"r", max_versions=10, time_range=(3, 5)))] == [4, 3]
    assert region.get(Get(b"r", max_versions=10, time_range=(1, 3))) == []  # surplus stays hidden
    region.flush()
    assert [c.timestamp for c in region.get(Get(b"r", max_versions=10, time_range=(4, 100)))] == [5, 4]


def test_ttl_expiry_with_injected_clock(tmp_path, clock):
    table = TableDescriptor("t", (FamilyDescriptor(CF, ttl=10, max_versions=5),))
    r = Region.open(str(tmp_path), INFO, table, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock))
    now = int(clock.t * 1000)
    put(r, b"r", b"old", b"x", now - 9_000)
    put(r, b"r", b"new", b"y", now)
    assert [c.qualifier for c in r.get(Get(b"r"))] == [b"new", b"old"]
    clock.t += 2
    assert [c.qualifier for c in r.get(Get(b"r"))] == [b"new"]
    assert [c.qualifier for row in rows_of(r.scanner(Scan())) for c in row] == [b"new"]
    r.flush()
    r.compact(major=True)
    clock.t += 100
    assert r.get(Get(b"r")) == []
    r.close()


def test_reversed_scan_walks_rows_downwards(region):
    for row in (b"a", b"b", b"c", b"d"):
        put(region, row, b"q", row, 1)
    region.flush()
    put(region, b"bb", b"q", b"bb", 1)
    put(region, b"c", b"z", b"cz", 1, fam=CG)
    got = [(row[0].row, len(row)) for row in rows_of(region.scanner(Scan(reversed=True)))]
    assert got == [(b"d", 1), (b"c", 2), (b"bb", 1), (b"b", 1), (b"a", 1)]
    got = [row[0].row for row in rows_of(region.scanner(Scan(start_row=b"c", stop_row=b"a",
                                                             reversed=True)))]
    assert got == [b"c", b"bb", b"b"]  # start inclusive, stop exclusive, going down


def test_column_and_family_selection(region):
    m = Mutation(b"r").put(CF, b"a", b"1", 1).put(CF, b"b", b"2", 1).put(CG, b"c", b"3", 1)
    region.mutate(m)
    assert [c.qualifier for c in region.get(Get(b"r"))] == [b"a", b"b", b"c"]
    assert [c.qualifier for c in region.get(Get(b"r", columns=((CG, None),)))] == [b"c"]
    assert [c.qualifier for c in region.get(Get(b"r", columns=((CF, b"b"), (CG, b"c"))))] == [
        b"b", b"c"]
    rows = rows_of(region.scanner(Scan(columns=((CF, b"a"),))))
    assert [[c.qualifier for c in row] for row in rows] == [[b"a"]]


def test_limit_and_batch_pagination(region):
    for i in range(10):
        region.mutate(Mutation(b"r%d" % i).put(CF, b"a", b"x", 1).put(CF, b"b", b"y", 1)
                      .put(CF, b"c", b"z", 1))
    sc = region.scanner(Scan(start_row=b"r2", stop_row=b"r8", limit=4))
    rows = rows_of(sc)
    assert [r[0].row for r in rows] == [b"r2", b"r3", b"r4", b"r5"]
    sc = region.scanner(Scan(batch=2, limit=2))
    assert [len(r) for r in rows_of(sc)] == [2, 1, 2, 1]
    sc = region.scanner(Scan())
    page = sc.next(100, max_cells=4)  # pagination by cells splits the second row
    assert [len(r) for r in page] == [3, 1]
    assert [len(r) for r in sc.next(2)] == [2, 3]
    sc.close()
    assert sc.next(5) == []


def test_no_half_row_is_visible_to_a_concurrent_reader(region):
    stop = threading.Event()
    bad = []

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            v = b"%d" % i
            region.batch_mutate([Mutation(b"row%d" % k).put(CF, b"a", v, 1).put(CG, b"b", v, 1)
                                 .put(CF, b"c", v, 1) for k in range(3)])
            if i % 50 == 0:
                region.flush()

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for row in rows_of(region.scanner(Scan())):
                if len({c.value for c in row}) != 1 or len(row) != 3:
                    bad.append(row)
            cells = region.get(Get(b"row1"))
            if cells and len({c.value for c in cells}) != 1:
                bad.append(cells)
    finally:
        stop.set()
        t.join()
    assert not bad


def test_increment_is_atomic_under_threads(region):
    def work():
        for _ in range(200):
            region.increment(b"ctr", CF, b"n", 1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cells = region.get(Get(b"ctr"))
    assert int.from_bytes(cells[0].value, "big", signed=True) == 800
    assert region.increment(b"ctr", CF, b"n", -800) == 0


def test_increments_in_one_millisecond_keep_every_version(region):
    """HBase's reckonDelta: each increment is stamped after the previous version, so with a
    frozen clock three increments leave three versions (cf keeps 3), newest = the total."""
    for _ in range(3):
        region.increment(b"ctr", CF, b"n", 1)
    cells = region.get(Get(b"ctr", max_versions=3))
    assert [int.from_bytes(c.value, "big") for c in cells] == [3, 2, 1]
    assert len({c.timestamp for c in cells}) == 3


def test_an_increment_by_zero_is_written_like_any_other_as_in_hbase_2(region):
    """HBase 2's HRegion.reckonDeltasByStore applies every delta, 0 included: a new version
    (stamped after the previous one) on an existing counter, a cell holding 0 on an absent
    one. Not HBASE-10252's rule (0.98 until early 2.0 development): nothing written for 0."""
    assert region.increment(b"ctr", CF, b"n", 0) == 0
    assert [c.value for c in region.get(Get(b"ctr"))] == [(0).to_bytes(8, "big")]
    assert region.increment(b"ctr", CF, b"n", 5) == 5
    assert region.increment(b"ctr", CF, b"n", 0) == 5
    cells = region.get(Get(b"ctr", max_versions=3))
    assert [int.from_bytes(c.value, "big") for c in cells] == [5, 5, 0]
    assert cells[0].timestamp > cells[1].timestamp


def test_an_increment_wraps_past_the_long_range_as_in_hbase(region):
    """HBase adds with Java long arithmetic: past 2**63 - 1 the counter wraps to -2**63."""
    region.mutate(Mutation(b"ctr").put(CF, b"n", (2**63 - 1).to_bytes(8, "big", signed=True)))
    assert region.increment(b"ctr", CF, b"n", 1) == -2**63
    assert region.increment(b"ctr", CF, b"n", -1) == 2**63 - 1
    assert region.increment(b"ctr", CF, b"n", 2**63 - 1) == -2
    cells = region.get(Get(b"ctr"))
    assert int.from_bytes(cells[0].value, "big", signed=True) == -2


def test_an_increment_of_a_non_counter_is_its_own_error(region):
    """HBase's DoNotRetryIOException "Field is not a long": an argument error to the native
    client, an IOError to the Thrift gateway (docs/thrift.md)."""
    region.mutate(Mutation(b"r").put(CF, b"n", b"abc"))
    with pytest.raises(NotACounterError, match="holds 3 bytes, not an 8-byte counter"):
        region.increment(b"r", CF, b"n", 1)
    assert issubclass(NotACounterError, InvalidArgumentError)


def test_check_and_put_is_not_hidden_under_a_future_checked_cell(region, clock):
    """The checked cell is newer than the server's clock (written with an explicit future
    timestamp, or by a server whose clock ran ahead): the put that passes the check is stamped
    no older than it, as HBase does, so it is what a read returns."""
    future = int(clock() * 1000) + 60_000
    region.mutate(Mutation(b"r").put(CF, b"a", b"1", future))
    assert region.check_and_mutate(b"r", CF, b"a", b"1", Mutation(b"r").put(CF, b"a", b"2"))
    assert [(c.value, c.timestamp) for c in region.get(Get(b"r"))] == [(b"2", future)]


@pytest.mark.parametrize("stored", [None, b""], ids=["absent", "empty"])
@pytest.mark.parametrize("expected", [None, b""], ids=["expect-None", "expect-empty"])
def test_check_for_none_or_empty_matches_an_absent_or_empty_column(region, stored, expected):
    """HBase: a null or empty expected value matches a column that is absent or empty."""
    if stored is not None:
        region.mutate(Mutation(b"r").put(CF, b"a", stored))
    assert region.check_and_mutate(b"r", CF, b"a", expected, Mutation(b"r").put(CF, b"b", b"x"))
    region.mutate(Mutation(b"r").put(CF, b"a", b"taken"))
    assert not region.check_and_mutate(b"r", CF, b"a", expected,
                                       Mutation(b"r").put(CF, b"b", b"y"))


def test_check_and_mutate_is_atomic_under_threads(region):
    wins = []

    def contender(i):
        ok = region.check_and_mutate(b"lock", CF, b"owner", None,
                                     Mutation(b"lock").put(CF, b"owner", b"%d" % i))
        if ok:
            wins.append(i)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert region.get(Get(b"lock"))[0].value == b"%d" % wins[0]
    assert not region.check_and_mutate(b"lock", CF, b"owner", b"nobody",
                                       Mutation(b"lock").put(CF, b"owner", b"x"))
    assert region.check_and_mutate(b"lock", CF, b"owner", b"%d" % wins[0],
                                   Mutation(b"lock").delete_column(CF, b"owner"))
    assert region.get(Get(b"lock")) == []


def test_flush_is_triggered_by_memstore_size(tmp_path, clock):
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock, flush_size=4000, compaction_min_files=100))
    for i in range(5):
        put(r, b"r%d" % i, b"q", b"x" * 100, 1)
    assert r.store_file_count() == 0
    for i in range(5, 40):
        put(r, b"r%d" % i, b"q", b"x" * 100, 1)
    assert r.store_file_count() >= 1
    assert r.memstore_size() < 4000
    assert len(rows_of(r.scanner(Scan()))) == 40
    r.close()


def test_flush_and_compaction_run_in_the_background_by_default(tmp_path, clock):
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None,
                    config=RegionConfig(clock=clock, flush_size=1500, compaction_min_files=3))
    for i in range(200):
        put(r, b"r%03d" % i, b"q", b"x" * 100, 1)
    deadline = time.monotonic() + 10
    while r.flushes < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.flushes >= 3
    deadline = time.monotonic() + 10
    while r.compactions < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.compactions >= 1
    r.close()
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, config=RegionConfig(clock=clock))
    assert len(rows_of(r.scanner(Scan()))) == 200
    r.close()


def test_too_many_store_files_hold_up_the_size_flush_for_a_while_not_the_writes(tmp_path,
                                                                             clock):
    """HBase's blockingStoreFiles: with a store at the limit, the flush the memstore size asks
    for waits for the compaction it requests (here one that never runs), for at most
    blocking_wait_seconds, then flushes anyway; writes go on meanwhile, and only a memstore at
    its blocking size (multiplier x flush size) makes them wait, then fail busy."""
    class FlushesOnly:  # runs flushes at once; the compactions asked for never run
        compactions = 0

        def submit(self, fn):
            if fn.__name__ == "_background_compaction":
                self.compactions += 1
            else:
                fn()

    background = FlushesOnly()
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=background,
                    config=RegionConfig(clock=clock, blocking_store_files=3,
                                        blocking_wait_seconds=0.5, flush_size=4096,
                                        memstore_block_multiplier=4))
    for i in range(3):
        put(r, b"r%d" % i, b"q", b"v", 1)
        r.flush()
    t0 = time.monotonic()
    for i in range(20):  # ~8.5 KB: past the flush size (4 KB), below the blocking size (16 KB)
        put(r, b"w%03d" % i, b"q", b"x" * 100, 1)
    assert time.monotonic() - t0 < 0.4, "writes waited for the store file count"
    assert r.store_file_count() == 3 and r.memstore_size() >= 4096  # the flush waits
    assert background.compactions >= 1
    deadline = time.monotonic() + 5
    while r.store_file_count() == 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.store_file_count() == 4 and time.monotonic() - t0 >= 0.5  # then flushed anyway
    r.close()


def test_writes_wait_then_fail_busy_when_the_memstore_reaches_its_blocking_size(tmp_path,
                                                                                clock):
    class Never:  # background work never runs: nothing flushes the memstore
        def submit(self, fn):
            pass

    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Never(),
                    config=RegionConfig(clock=clock, flush_size=4096,
                                        memstore_block_multiplier=2, blocking_wait_seconds=0.2))
    with pytest.raises(RegionTooBusyError, match="memstore over its blocking size"):
        for i in range(1000):
            put(r, b"w%03d" % i, b"q", b"x" * 100, 1)
    t0 = time.monotonic()
    with pytest.raises(RegionTooBusyError):
        put(r, b"x", b"q", b"v", 1)
    assert time.monotonic() - t0 >= 0.2
    r.flush()  # an operator (or the background) flushes: writes flow again
    put(r, b"x", b"q", b"v", 1)
    r.close()


def test_reopen_replays_recovered_edits_only_above_the_hfile_max_seqid(tmp_path, clock):
    from storage.wal import WAL
    from storage.wal_splitter import split_wal

    root = str(tmp_path)
    wal_dir = layout.wal_dir(root, "host,1,1")
    wal = WAL(wal_dir)
    r = Region.open(root, INFO, TABLE, wal=wal, config=RegionConfig(clock=clock))
    put(r, b"a", b"q", b"flushed", 1)
    r.flush()
    put(r, b"b", b"q", b"only-in-wal", 1)
    r.mutate(Mutation(b"a").delete_column(CF, b"q", 5))
    r.close(flush=False)  # crash: memstore lost
    wal.close()
    # plant an edit that the HFiles already hold (seqid 1): replay must skip it
    split_wal(wal_dir, root)
    edits = os.listdir(layout.recovered_edits_dir(layout.region_dir(root, INFO)))
    assert edits
    r = Region.open(root, INFO, TABLE, wal=None, config=RegionConfig(clock=clock))
    assert [c.row for c in sum(rows_of(r.scanner(Scan())), [])] == [b"b"]
    assert not os.listdir(layout.recovered_edits_dir(r.path))
    assert r.store_file_count() == 2  # the replayed edits were flushed
    r.mutate(Mutation(b"c").put(CF, b"q", b"v", 1))
    assert r._mvcc.read_point > 3  # seqids continue above everything seen
    r.close()


def test_row_outside_the_region_raises_not_serving(tmp_path, clock):
    info = RegionInfo("t", b"b", b"d", 1)
    r = Region.open(str(tmp_path), info, TABLE, wal=None, config=RegionConfig(clock=clock))
    for row in (b"a", b"d", b"zz"):
        with pytest.raises(NotServingRegionError):
            put(r, row, b"q", b"v", 1)
        with pytest.raises(NotServingRegionError):
            r.get(Get(row))
    put(r, b"b", b"q", b"v", 1)
    put(r, b"c\xff", b"q", b"v", 1)
    assert len(rows_of(r.scanner(Scan()))) == 2  # a scan is clipped to the region
    r.close()
    with pytest.raises(NotServingRegionError):
        r.get(Get(b"b"))


def test_unknown_family_and_oversize_value_are_rejected_whole(tmp_path, clock):
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None,
                    config=RegionConfig(clock=clock, max_value_bytes=10))
    with pytest.raises(NoSuchColumnFamilyError):
        r.mutate(Mutation(b"r").put(CF, b"a", b"ok", 1).put(b"nope", b"a", b"v", 1))
    with pytest.raises(InvalidArgumentError):
        r.mutate(Mutation(b"r").put(CF, b"a", b"ok", 1).put(CF, b"b", b"x" * 11, 1))
    with pytest.raises(InvalidArgumentError):
        r.mutate(Mutation(b"").put(CF, b"a", b"v", 1))
    with pytest.raises(NoSuchColumnFamilyError):
        r.get(Get(b"r", columns=((b"nope", None),)))
    assert r.get(Get(b"r")) == []  # nothing of the rejected mutations was applied
    r.close()


def _wide_row_region(tmp_path, clock, columns: int, max_row_bytes: int = 128 << 20,
                     **config) -> Region:
    """A region whose row b"wide" has `columns` cells of 1000 bytes in one file of 1 KiB
    blocks (about one cell a block), and a small row b"small"; no block cache."""
    table = TableDescriptor("t", (FamilyDescriptor(CF, block_size=1024),))
    r = Region.open(str(tmp_path), INFO, table, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock, max_row_bytes=max_row_bytes, **config))
    m = Mutation(b"wide")
    for i in range(columns):
        m.put(CF, b"q%04d" % i, b"%04d" % i * 250, 1)
    r.mutate(m)
    r.mutate(Mutation(b"small").put(CF, b"q", b"v", 1))
    return r


def test_a_get_of_a_row_over_max_row_bytes_stops_reading_and_names_the_row(tmp_path, clock):
    """A Get of a row larger than one response may carry was read whole -- every block of it,
    its cells, then their encoding -- before the region server found it too large (a 300 MB
    row's Get peaked at 1.1 GB RSS). It now fails with RowTooBigError naming the row and the
    limit (HBase's hbase.table.max.rowsize) once the cells read pass max_row_bytes, without
    reading the row's remaining blocks; a scan still reads the row, and a Get of a few of its
    columns still answers."""
    r = _wide_row_region(tmp_path, clock, columns=200, max_row_bytes=50_000)
    wanted = "row 'wide' of table 't' holds more than 50000 bytes of cells"
    with pytest.raises(RowTooBigError, match=wanted):  # from the memstore
        r.get(Get(b"wide"))
    r.flush()
    reader = r.stores[CF].files()[0].reader
    blocks = len(reader._offsets)
    assert blocks > 150
    before = reader.data_blocks_read
    with pytest.raises(RowTooBigError, match=wanted + r".*--max-row-bytes"):
        r.get(Get(b"wide"))
    read = reader.data_blocks_read - before
    assert 50 <= read <= 60, read  # about 50 KB of 1 KB blocks, not the row's 200
    with pytest.raises(RowTooBigError, match=wanted):
        r.get_row_wire(b"wide", lambda cells: b"".join(c.value for c in cells))
    cols = ((CF, b"q0003"), (CF, b"q0150"))
    assert [c.value for c in r.get(Get(b"wide", columns=cols))] == [b"0003" * 250,
                                                                     b"0150" * 250]
    assert [c.value for c in r.get(Get(b"small"))] == [b"v"]
    assert sum(map(len, rows_of(r.scanner(Scan(start_row=b"wide"))))) == 200
    assert [len(cells) for cells in rows_of(r.scanner(Scan(batch=80)))] == [1, 80, 80, 40]
    r.close()


def test_a_get_of_a_row_under_max_row_bytes_answers_whole(tmp_path, clock):
    """The limit counts the cells the Get returns: a row just under it spanning many blocks
    is answered whole, from the memstore and from a file."""
    r = _wide_row_region(tmp_path, clock, columns=40, max_row_bytes=50_000)
    assert len(r.get(Get(b"wide"))) == 40
    r.flush()
    assert len(r.get(Get(b"wide"))) == 40
    r.close()


def test_a_scan_with_batch_reads_a_wide_row_a_part_at_a_time(tmp_path, clock):
    """A scan built each row whole before cutting it into `batch`-cell results (or a region
    server's 2 MB responses): a 300 MB row took a region server to 627 MB RSS. A row wider
    than row_part_bytes now comes out of the stores in parts, so the first results of a row
    read about one part of its blocks; the results are the same cells, in the same order."""
    r = _wide_row_region(tmp_path, clock, columns=200, row_part_bytes=20_000)
    r.mutate(Mutation(b"wide").delete_column(CF, b"q0100", 1))  # masks a cell of the file
    r.flush()
    readers = [f.reader for f in r.stores[CF].files()]
    whole = r.get(Get(b"wide"))
    assert len(whole) == 199
    before = sum(x.data_blocks_read for x in readers)
    sc = r.scanner(Scan(start_row=b"wide", batch=7))
    assert [len(cells) for cells in sc.next(2)] == [7, 7]
    read = sum(x.data_blocks_read for x in readers) - before
    assert read <= 30, read  # about 20 KB of 1 KB blocks, not the row's 200
    rest = rows_of(sc)
    assert {len(cells) for cells in rest[:-1]} == {7}  # batches stay exact across parts
    assert [c for cells in rest for c in cells] == whole[14:]
    small = r.get(Get(b"small"))
    assert rows_of(r.scanner(Scan())) == [small, whole]  # whole rows
    sc = r.scanner(Scan(start_row=b"wide"), parts=True)  # the region server's: in parts
    first = sc.next(100)
    assert 1 < len(first) and sum(map(len, first)) < 60
    assert [c for cells in first + rows_of(sc) for c in cells] == whole
    r.close()


def test_a_reader_racing_a_close_gets_not_serving_never_an_empty_answer(tmp_path, clock):
    """A get or scan that found the region open, then lost the CPU while the region closed:
    its view must not come back empty (a client would be told the row does not exist, or a
    scan would skip the region); one taken just before the close finishes normally."""
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock))
    put(r, b"row1", b"q", b"v", 1)
    r.flush()
    early = r.stores[CF].acquire()  # a reader already under way
    r.close(flush=True)
    with pytest.raises(NotServingRegionError):
        r._get_cells(Get(b"row1"))  # past _check_open, as in the race
    with pytest.raises(NotServingRegionError):
        r._acquire_views(r._row_wire_stores)  # the whole-row get's fast path, likewise
    items, _ = early.row_items(b"row1", 10 ** 9, 0)  # its files stay open until released
    assert [k[0] for k, _ in items] == [b"row1"]
    early.release()


def test_compaction_of_one_family_rewrites_only_its_store(tmp_path, clock):
    """HBase's major_compact 't1', 'cf': the other family's files stay as they are."""
    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock, compaction_min_files=100))
    for i in range(2):
        r.mutate(Mutation(b"r%d" % i).put(CF, b"q", b"v").put(CG, b"q", b"w"))
        r.flush()
    r.mutate(Mutation(b"r0").delete_column(CG, b"q"))
    cf_files = r.stores[CF].files()
    r.compact(major=True, family=CG)
    assert r.stores[CF].files() == cf_files and len(cf_files) == 2
    assert len(r.stores[CG].files()) == 1
    assert [c.value for c in r.get(Get(b"r0"))] == [b"v"]  # r0's cg:q deleted, cf:q kept
    with pytest.raises(NoSuchColumnFamilyError, match="nope"):
        r.compact(major=True, family=b"nope")
    r.close(flush=False)


def _two_files_and_a_busy_compaction_thread(tmp_path, clock):
    """A region whose cf has two files, and a compaction executor busy until gate is set
    (requests queue): (region, executor, gate)."""
    from storage.config import DaemonExecutor

    r = Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                    config=RegionConfig(clock=clock, compaction_min_files=100))
    for i in range(2):
        r.mutate(Mutation(b"r%d" % i).put(CF, b"q", b"v"))
        r.flush()
    executor = DaemonExecutor(threads=1, name="test-compactions")
    gate = threading.Event()
    executor.submit(gate.wait, 10)
    return r, executor, gate


def _wait_until_no_compaction(r) -> None:
    deadline = time.monotonic() + 10
    while r.compaction_state() != "NONE" and time.monotonic() < deadline:
        time.sleep(0.01)


def test_requested_compactions_run_on_the_executor_and_show_in_the_compaction_state(
        tmp_path, clock):
    """HBase's compaction request: queued, counted by compaction_state until it has run."""
    r, executor, gate = _two_files_and_a_busy_compaction_thread(tmp_path, clock)
    assert r.compaction_state() == "NONE"
    r.request_compaction(executor, major=True)
    assert r.compaction_state() == "MAJOR"
    r.request_compaction(executor, major=False, family=CG)
    assert r.compaction_state() == "MAJOR_AND_MINOR"
    with pytest.raises(NoSuchColumnFamilyError):
        r.request_compaction(executor, family=b"nope")
    assert len(r.stores[CF].files()) == 2  # nothing ran yet
    gate.set()
    _wait_until_no_compaction(r)
    assert r.compaction_state() == "NONE" and len(r.stores[CF].files()) == 1
    r.close(flush=False)


def test_a_requested_compaction_does_not_run_once_its_region_is_closing(tmp_path, clock):
    """A close (move, split, disable) must not wait for a major compaction queued before it."""
    r, executor, gate = _two_files_and_a_busy_compaction_thread(tmp_path, clock)
    r.request_compaction(executor, major=True)
    r.close(flush=False)
    gate.set()
    _wait_until_no_compaction(r)
    assert r.compaction_state() == "NONE" and r.compactions == 0
