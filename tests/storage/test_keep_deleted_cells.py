"""KEEP_DELETED_CELLS (HBase's KeepDeletedCells): deleted cells and their markers survive major
compactions, reads with a time range ending before a marker see what it masks, and VERSIONS
and TTL still bound what is kept."""

from __future__ import annotations

import pytest

from minihbase.errors import InvalidArgumentError
from storage.config import RegionConfig
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Clock, Inline

CF = b"cf"
INFO = RegionInfo("t", b"", b"", 1)
BEFORE_20 = (0, 20)  # a time range that ends before the markers at ts 20


def _open(tmp_path, clock=None, **family):
    table = TableDescriptor("t", (FamilyDescriptor(CF, **family),))
    return Region.open(str(tmp_path), INFO, table, wal=None, background=Inline(),
                       config=RegionConfig(clock=clock or Clock(), compaction_min_files=100))


def _timestamps(cells):
    return [c.timestamp for c in cells]


def _raw(r):
    """(qualifier, ts, type) of every stored cell, as a RAW scan shows them."""
    rows = list(r.scanner(Scan(raw=True, max_versions=100)))
    return [(c.qualifier, c.timestamp, int(c.type)) for row in rows for c in row]


def _put(r, ts, q=b"q", row=b"r"):
    r.mutate(Mutation(row).put(CF, q, b"v%d" % ts, ts))


def _flush_and_major_compact(r):
    r.flush()
    r.compact(major=True)


@pytest.mark.parametrize("keep", ["TRUE", "FALSE"])
def test_deleted_cells_and_markers_survive_major_compaction_only_when_kept(tmp_path, keep):
    r = _open(tmp_path, max_versions=3, keep_deleted_cells=keep)
    _put(r, 10)
    _put(r, 15)
    r.mutate(Mutation(b"r").delete_column(CF, b"q", 20))
    _flush_and_major_compact(r)
    assert r.get(Get(b"r", max_versions=3)) == []  # a plain read never sees deleted cells
    if keep == "TRUE":
        assert _raw(r) == [(b"q", 20, 12), (b"q", 15, 4), (b"q", 10, 4)]
        assert _timestamps(r.get(Get(b"r", time_range=BEFORE_20, max_versions=3))) == [15, 10]
    else:
        assert _raw(r) == []
        assert r.get(Get(b"r", time_range=BEFORE_20, max_versions=3)) == []
    r.close()


@pytest.mark.parametrize("flushed", [False, True])
def test_time_range_ending_before_the_marker_sees_the_cells_it_masks(tmp_path, flushed):
    r = _open(tmp_path, max_versions=3, keep_deleted_cells=True)
    for row in (b"a", b"b"):
        _put(r, 10, row=row)
    r.mutate(Mutation(b"a").delete_family(CF, 20))
    r.mutate(Mutation(b"b").delete_version(CF, b"q", 10))
    if flushed:
        r.flush()
    assert r.get(Get(b"a")) == [] and r.get(Get(b"b")) == []
    assert list(r.scanner(Scan())) == []
    assert _timestamps(r.get(Get(b"a", time_range=BEFORE_20))) == [10]
    assert [[c.row for c in row] for row in r.scanner(Scan(time_range=BEFORE_20))] == [[b"a"]]
    # a range that holds the marker applies it (the Delete at 10 is inside [0, 20) for b)
    assert r.get(Get(b"a", time_range=(0, 21))) == []
    assert r.get(Get(b"b", time_range=(0, 11))) == []
    assert _timestamps(r.get(Get(b"b", time_range=(0, 10)))) == []  # 10 itself is outside
    r.close()


def test_without_the_option_a_marker_hides_older_cells_from_every_time_range(tmp_path):
    r = _open(tmp_path, max_versions=3)
    _put(r, 10)
    r.mutate(Mutation(b"r").delete_family(CF, 20))
    assert r.get(Get(b"r", time_range=BEFORE_20)) == []
    r.close()


def test_max_versions_bound_the_deleted_cells_kept(tmp_path):
    r = _open(tmp_path, max_versions=2, keep_deleted_cells="true")
    for ts in (1, 2, 3, 4, 5):
        _put(r, ts)
    r.mutate(Mutation(b"r").delete_family(CF, 20))
    _flush_and_major_compact(r)
    assert _raw(r) == [(b"", 20, 14), (b"q", 5, 4), (b"q", 4, 4)]
    assert _timestamps(r.get(Get(b"r", time_range=BEFORE_20, max_versions=5))) == [5, 4]
    r.close()


def test_major_compaction_does_not_change_a_plain_read(tmp_path):
    # the deleted newest version counts as a version (HBase), yet the one a read shows stays
    r = _open(tmp_path, max_versions=1, keep_deleted_cells="TRUE")
    _put(r, 10)
    _put(r, 20)
    r.mutate(Mutation(b"r").delete_version(CF, b"q", 20))
    assert _timestamps(r.get(Get(b"r"))) == [10]
    _flush_and_major_compact(r)
    assert _timestamps(r.get(Get(b"r"))) == [10]
    assert _raw(r) == [(b"q", 20, 8), (b"q", 20, 4), (b"q", 10, 4)]
    r.close()


@pytest.mark.parametrize("keep", ["TTL", "TRUE"])
def test_markers_and_deleted_cells_go_once_past_the_ttl(tmp_path, keep):
    clock = Clock()
    r = _open(tmp_path, clock, max_versions=3, ttl=10, keep_deleted_cells=keep)
    now = int(clock.t * 1000)
    _put(r, now - 1)
    r.mutate(Mutation(b"r").delete_column(CF, b"q", now))
    _put(r, now, q=b"live")
    clock.t += 5  # within the TTL: kept, and visible before the marker
    _flush_and_major_compact(r)
    assert _raw(r) == [(b"live", now, 4), (b"q", now, 12), (b"q", now - 1, 4)]
    assert _timestamps(r.get(Get(b"r", columns=((CF, b"q"),), time_range=(0, now)))) == [now - 1]
    clock.t += 10  # past the TTL: the marker, the deleted put and the live put all go
    r.compact(major=True)
    assert _raw(r) == []
    r.close()


def test_ttl_mode_drops_an_expired_marker_with_what_it_masks_despite_min_versions(tmp_path):
    clock = Clock()
    r = _open(tmp_path, clock, max_versions=3, min_versions=1, ttl=10, keep_deleted_cells="TTL")
    now = int(clock.t * 1000)
    _put(r, now - 2)
    r.mutate(Mutation(b"r").delete_column(CF, b"q", now - 1))
    _put(r, now, q=b"kept")
    clock.t += 60
    _flush_and_major_compact(r)
    assert _raw(r) == [(b"kept", now, 4)]  # min_versions keeps the live put only
    r.close()


def test_the_option_accepts_hbase_spellings_and_names_itself_when_wrong():
    assert FamilyDescriptor(CF, keep_deleted_cells=True).keep_deleted_cells == "TRUE"
    assert FamilyDescriptor(CF, keep_deleted_cells="ttl").keep_deleted_cells == "TTL"
    assert not FamilyDescriptor(CF).keeps_deleted
    with pytest.raises(InvalidArgumentError, match="KEEP_DELETED_CELLS must be one of FALSE, "
                                                   "TRUE, TTL.*'maybe'"):
        FamilyDescriptor(CF, keep_deleted_cells="maybe")
    d = FamilyDescriptor(CF, keep_deleted_cells="TTL").to_dict()
    assert FamilyDescriptor.from_dict(d).keep_deleted_cells == "TTL"
    del d["keep_deleted_cells"]  # a schema stored before the option existed
    assert FamilyDescriptor.from_dict(d).keep_deleted_cells == "FALSE"


@pytest.mark.parametrize("keep", ["TRUE", "TTL"])
@pytest.mark.parametrize("seed", range(20))
def test_plain_reads_match_a_family_without_the_option_before_and_after_compactions(
        tmp_path, seed, keep):
    """Random puts and all four deletes at few timestamps, some past the TTL, with flushes: a
    read without a time range sees the same in a KEEP_DELETED_CELLS family as in one without,
    and a major compaction changes neither."""
    import random

    rnd = random.Random(seed)
    versions = rnd.choice([1, 2, 3])
    family = dict(max_versions=versions, min_versions=rnd.choice([0, 1]), ttl=1)
    clock = Clock(1.004)  # now 1004 ms, a TTL of 1 s: timestamps below 4 have expired
    kept = _open(tmp_path / "kept", clock, keep_deleted_cells=keep, **family)
    plain = _open(tmp_path / "plain", clock, **family)
    rows, quals = [b"a", b"b"], [b"x", b"y"]
    for _ in range(60):
        row, q, ts = rnd.choice(rows), rnd.choice(quals), rnd.randint(1, 8)
        m = Mutation(row)
        kind = rnd.random()
        if kind < 0.6:
            m.put(CF, q, b"%d" % rnd.randint(0, 99), ts)
        elif kind < 0.7:
            m.delete_version(CF, q, ts)
        elif kind < 0.8:
            m.delete_column(CF, q, ts)
        elif kind < 0.9:
            m.delete_family_version(CF, ts)
        else:
            m.delete_family(CF, ts)
        for r in (kept, plain):
            r.mutate(m)
            if rnd.random() < 0.1:
                r.flush()

    def read(r):
        return [[tuple(c) for c in r.get(Get(row, max_versions=versions))] for row in rows]

    expected = read(plain)
    assert read(kept) == expected
    kept.compact(major=True)
    assert read(kept) == expected
    plain.compact(major=True)
    assert read(plain) == expected
    for r in (kept, plain):
        r.close()


def test_a_deleted_version_after_the_time_range_does_not_hide_an_older_one(tmp_path):
    """An acceptance test's case: VERSIONS => 2, puts at 10, 15 and 20, the one at 20 deleted.
    A read of [0, 19) must see 15 and 10, as HBase's (and as with KEEP_DELETED_CELLS false):
    the deleted cell after the range must not count as one of the two versions."""
    for keep in ("TRUE", "FALSE"):
        r = _open(tmp_path / keep, max_versions=2, keep_deleted_cells=keep)
        for ts in (10, 15, 20):
            _put(r, ts)
        r.mutate(Mutation(b"r").delete_version(CF, b"q", 20))
        for flush in (False, True):
            if flush:
                r.flush()
            assert _timestamps(r.get(Get(b"r", time_range=(0, 19), max_versions=3))) == [15, 10]
            assert _timestamps(r.get(Get(b"r", time_range=(0, 12), max_versions=3))) == [10]
        r.close()
