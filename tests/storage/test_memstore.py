"""MemStore: HBase order, MVCC visibility, snapshot during flush, chunked reads under writes."""

from __future__ import annotations

import threading

from storage.cell import CellType, store_key
from storage.memstore import MemStore


def _k(row, q=b"q", ts=1, t=CellType.PUT):
    return store_key(row, q, ts, t)


def _items(ms: MemStore, rp=1 << 62, start=None):
    out = []
    for seg in ms.segments():
        out.extend(seg.iter_from(start, rp))
    return out


def test_cells_iterate_in_hbase_order():
    ms = MemStore()
    cells = [_k(b"300"), _k(b"20000"), _k(b"100"), _k(b"\xff"), _k(b"2", ts=5), _k(b"2", ts=9),
             _k(b"2", ts=5, t=CellType.DELETE_COLUMN), _k(b"2", q=b"a")]
    ms.add([(k, b"v") for k in cells], seqid=1, size=10)
    keys = [k for k, _ in _items(ms)]
    assert [k[0] for k in keys] == [b"100", b"2", b"2", b"2", b"2", b"20000", b"300", b"\xff"]
    two = [k for k in keys if k[0] == b"2"]
    # qualifier ascending, then timestamp descending, then delete marker before the put
    assert two == [_k(b"2", q=b"a"), _k(b"2", ts=9), _k(b"2", ts=5, t=CellType.DELETE_COLUMN),
                   _k(b"2", ts=5)]


def test_reader_sees_only_cells_at_or_below_its_read_point():
    ms = MemStore()
    ms.add([(_k(b"a"), b"1")], seqid=1, size=1)
    ms.add([(_k(b"b"), b"2")], seqid=2, size=1)
    assert [k[0] for k, _ in _items(ms, rp=1)] == [b"a"]
    assert [k[0] for k, _ in _items(ms, rp=2)] == [b"a", b"b"]
    assert [k for k, _ in ms.segments()[0].row_items(b"b", 1)] == []


def test_overwrite_of_same_key_keeps_previous_value_for_older_reader():
    ms = MemStore()
    ms.add([(_k(b"a"), b"old")], seqid=1, size=1)
    ms.add([(_k(b"a"), b"new")], seqid=2, size=1)
    assert _items(ms, rp=1) == [(_k(b"a"), b"old")]
    assert _items(ms, rp=2) == [(_k(b"a"), b"new")]


def test_overwrites_keep_every_value_a_registered_reader_may_need():
    ms = MemStore()
    oldest = lambda: 1  # noqa: E731 -- a reader still reads at read point 1
    for seq in (1, 2, 3, 4):
        ms.add([(_k(b"a"), b"v%d" % seq)], seqid=seq, size=1, oldest_reader=oldest)
    assert [_items(ms, rp=rp) for rp in (1, 2, 4)] == [
        [(_k(b"a"), b"v1")], [(_k(b"a"), b"v2")], [(_k(b"a"), b"v4")]]
    ms.add([(_k(b"a"), b"v5")], seqid=5, size=1, oldest_reader=lambda: 5)
    entry = ms.segments()[0].cells[b"a"][0][1]
    assert entry[2] is None or entry[2][2] is None  # versions nobody can see were dropped


def test_snapshot_lets_writes_continue_and_tracks_sizes():
    ms = MemStore()
    ms.add([(_k(b"a"), b"1")], seqid=1, size=100)
    snap = ms.snapshot()
    ms.add([(_k(b"b"), b"2")], seqid=2, size=50)
    assert ms.size() == 150
    assert [k[0] for k, _ in snap.flush_items()] == [b"a"]
    assert sorted(k[0] for k, _ in _items(ms)) == [b"a", b"b"]  # readers see both meanwhile
    assert ms.snapshot() is snap  # a failed flush retries the same snapshot
    ms.clear_snapshot()
    assert ms.size() == 50
    assert [k[0] for k, _ in _items(ms)] == [b"b"]


def test_chunked_iteration_is_safe_while_another_thread_inserts():
    ms = MemStore()
    ms.add([(_k(b"%06d" % i), b"v") for i in range(0, 20000, 2)], seqid=1, size=1)
    stop = threading.Event()

    def writer():
        i, seq = 1, 2
        while not stop.is_set() and i < 20000:
            ms.add([(_k(b"%06d" % i), b"w")], seqid=seq, size=1)
            i, seq = i + 2, seq + 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3):
            rows = [k[0] for k, _ in _items(ms, rp=1)]
            assert rows == [b"%06d" % i for i in range(0, 20000, 2)]
    finally:
        stop.set()
        t.join()


def test_last_row_before_walks_rows_downwards():
    ms = MemStore()
    ms.add([(_k(r), b"v") for r in (b"a", b"b", b"c")], seqid=1, size=1)
    seg = ms.segments()[0]
    assert seg.last_row_before(None) == b"c"
    assert seg.last_row_before(b"c") == b"b"
    assert seg.last_row_before(b"a") is None


def test_read_point_advances_only_over_a_prefix_of_completed_writes():
    from storage.mvcc import MVCC

    mvcc = MVCC(10)
    a, b = mvcc.begin(), mvcc.begin()
    assert (a, b) == (11, 12)
    done = threading.Event()

    def finish_b():
        mvcc.complete(b)  # waits until a completes: b must not become visible before a
        done.set()

    t = threading.Thread(target=finish_b)
    t.start()
    assert not done.wait(0.1)
    assert mvcc.read_point == 10
    mvcc.complete(a)
    assert done.wait(5)
    t.join()
    assert mvcc.read_point == 12 and mvcc.last_assigned() == 12


def test_wide_row_grows_from_tuple_to_list_and_stays_sorted():
    ms = MemStore()
    quals = [b"q%03d" % i for i in range(40)]
    for seq, q in enumerate(reversed(quals), start=1):
        ms.add([(_k(b"w", q=q), b"v")], seqid=seq, size=1)
    assert [k[1] for k, _ in _items(ms)] == quals
    assert isinstance(ms.segments()[0].cells[b"w"], list)
    ms.add([(_k(b"n"), b"v")], seqid=99, size=1)
    assert isinstance(ms.segments()[0].cells[b"n"], tuple)  # narrow rows stay GC-untracked


def test_full_active_segment_is_frozen_and_reads_merge_newest_first():
    ms = MemStore(segment_rows=2)
    ms.add([(_k(b"a"), b"old"), (_k(b"b"), b"b")], seqid=1, size=1)  # freezes at 2 rows
    ms.add([(_k(b"a"), b"new")], seqid=2, size=1)
    assert len(ms.segments()) == 2
    got = sorted(_items(ms), key=lambda kv: kv[0])  # raw segments: both values of a
    assert [v for k, v in got if k[0] == b"a"] == [b"new", b"old"]
    snap = ms.snapshot()
    assert list(snap.flush_items()) == [(_k(b"a"), b"new"), (_k(b"b"), b"b")]
    # a reader at read point 1 finds the old value in the older segment
    assert [kv for seg in ms.segments() for kv in seg.row_items(b"a", 1)] == [(_k(b"a"), b"old")]
