"""Region.get_row_wire: the whole-row get that reuses an encoding memoized with the cached HFile
block. It must answer exactly like encode(region.get(Get(row))) in every case, reuse the memo
only when one file alone holds the row's plain cells, and charge the block cache for it."""

from __future__ import annotations

import pickle

from storage.block_cache import BlockCache
from storage.config import RegionConfig
from storage.query import Get, Mutation
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Clock, Inline

CF = b"cf"
INFO = RegionInfo("t", b"", b"", 1)
calls = []


def encode(cells) -> bytes:
    calls.append(len(cells))
    return pickle.dumps([tuple(c) for c in cells]) if cells else b""


def _open(tmp_path, cache=None, clock=None, **family):
    table = TableDescriptor("t", (FamilyDescriptor(CF, **family),))
    return Region.open(str(tmp_path), INFO, table, wal=None, background=Inline(),
                       block_cache=cache if cache is not None else BlockCache(),
                       config=RegionConfig(clock=clock or Clock()))


def _put(region, row, ts=None, n=3, value=b"v"):
    m = Mutation(row)
    for i in range(n):
        if ts is None:
            m.put(CF, b"q%d" % i, value + b"%d" % i)
        else:
            m.put(CF, b"q%d" % i, value + b"%d" % i, ts)
    region.batch_mutate([m])


def _expected(region, row) -> bytes:
    cells = region.get(Get(row))
    return pickle.dumps([tuple(c) for c in cells]) if cells else b""


def test_memo_is_reused_and_charged_to_the_block_cache(tmp_path):
    cache = BlockCache()
    r = _open(tmp_path, cache)
    _put(r, b"row1")
    r.flush()
    before = cache.size_bytes
    calls.clear()
    first = r.get_row_wire(b"row1", encode)
    assert first == _expected(r, b"row1")
    charged = cache.size_bytes - before
    assert charged >= len(first)  # the memo's bytes count against the cache's budget
    second = r.get_row_wire(b"row1", encode)
    assert second is first and calls == [3]  # encoded once, then served from the memo
    assert cache.size_bytes - before == charged


def test_writes_after_memoizing_are_seen(tmp_path):
    r = _open(tmp_path)
    _put(r, b"row1", value=b"old")
    r.flush()
    old = r.get_row_wire(b"row1", encode)
    _put(r, b"row1", value=b"new")  # memstore now holds the row: the full path answers
    got = r.get_row_wire(b"row1", encode)
    assert got != old and got == _expected(r, b"row1")
    r.flush()  # two files hold the row now
    assert r.get_row_wire(b"row1", encode) == _expected(r, b"row1")
    r.compact(major=True)  # one new file: a fresh memo
    assert r.get_row_wire(b"row1", encode) == _expected(r, b"row1")
    assert b"new" in pickle.loads(r.get_row_wire(b"row1", encode))[0][5]


def test_deletes_and_versions_take_the_full_path(tmp_path):
    r = _open(tmp_path, max_versions=3)
    _put(r, b"a", ts=10)
    _put(r, b"a", ts=20, value=b"w")  # two versions of each column in one file
    m = Mutation(b"b")
    m.put(CF, b"q", b"x", 5)
    m.delete_column(CF, b"q", 7)  # a marker masking the put, in the same file
    m2 = Mutation(b"c")
    m2.put(CF, b"q", b"y", 5)
    r.batch_mutate([m, m2])
    r.flush()
    for row in (b"a", b"b", b"c", b"absent"):
        assert r.get_row_wire(row, encode) == _expected(r, row), row
    assert r.get_row_wire(b"b", encode) == b""


def test_ttl_families_never_use_the_memo(tmp_path):
    clock = Clock()
    r = _open(tmp_path, clock=clock, ttl=10)
    _put(r, b"row1", ts=int(clock.t * 1000))
    r.flush()
    assert r.get_row_wire(b"row1", encode) == _expected(r, b"row1") != b""
    clock.t += 11  # every cell expired
    assert r.get_row_wire(b"row1", encode) == b""


def test_rows_at_and_across_block_boundaries(tmp_path):
    r = _open(tmp_path, block_size=512)
    rows = [b"r%04d" % i for i in range(200)]
    for row in rows:
        _put(r, row, n=1 + (len(row) + int(row[1:])) % 7, value=b"x" * 40)
    _put(r, b"wide", n=60, value=b"y" * 40)  # one row over several blocks
    r.flush()
    for row in rows + [b"wide", b"r", b"zzz"]:
        for _ in range(2):  # cold, then from the memo
            assert r.get_row_wire(row, encode) == _expected(r, row), row


def test_daughters_of_a_split_answer_their_half(tmp_path):
    r = _open(tmp_path)
    for i in range(20):
        _put(r, b"row%02d" % i)
    r.flush()
    lo_info, hi_info = r.split(b"row10")
    table = r.table
    for info, inside, outside in ((lo_info, b"row03", b"row15"), (hi_info, b"row15", b"row03")):
        d = Region.open(str(tmp_path), info, table, wal=None, background=Inline(),
                        block_cache=BlockCache(), config=RegionConfig(clock=Clock()))
        assert d.get_row_wire(inside, encode) == _expected(d, inside) != b""
        d.close()


def test_charge_evicts_to_fit_and_ignores_uncached_blocks():
    cache = BlockCache(1000)
    cache.put(("f", 0), "a", 400)
    cache.put(("f", 1), "b", 400)
    cache.charge(("f", 9), 10_000)  # not cached: nothing happens
    assert cache.size_bytes == 800
    cache.charge(("f", 1), 300)  # 1100 > 1000: the least recently used block goes
    assert cache.get(("f", 0)) is None and cache.get(("f", 1)) == "b"
    assert cache.size_bytes == 700
