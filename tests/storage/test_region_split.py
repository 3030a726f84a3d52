"""Split and merge through reference files."""

from __future__ import annotations

import os

import pytest

from minihbase.errors import CorruptionError, InvalidArgumentError, NotServingRegionError
from storage import layout
from storage.block_cache import BlockCache
from storage.config import RegionConfig
from storage.query import Get, Mutation, Scan
from storage.region import Region, read_region_info
from storage.region_split import delete_parent_if_unreferenced, read_reference, references_to
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor

CF, CG = b"cf", b"cg"
TABLE = TableDescriptor("t", (FamilyDescriptor(CF, max_versions=2, block_size=512),
                              FamilyDescriptor(CG, block_size=512)))
ROOT_INFO = RegionInfo("t", b"", b"", 1)


class Deferred:
    """Holds background work until the test runs it: daughters keep their references."""

    def __init__(self):
        self.queued = []

    def submit(self, fn):
        self.queued.append(fn)

    def run(self):
        while self.queued:
            self.queued.pop(0)()


def _open(root, info, background=None):
    return Region.open(root, info, TABLE, wal=None, background=background or Deferred(),
                       config=RegionConfig(compaction_min_files=100, clock=lambda: 5000.0))


def _dump(r):
    return [(c.row, c.family, c.qualifier, c.timestamp, c.value)
            for row in r.scanner(Scan(max_versions=5)) for c in row]


def _fill(r):
    for i in range(60):
        m = Mutation(b"r%03d" % i).put(CF, b"a", b"%d" % i, 1).put(CF, b"a", b"new%d" % i, 2)
        if i % 3 == 0:
            m.put(CG, b"b", b"g%d" % i, 1)
        r.mutate(m)
        if i % 20 == 19:
            r.flush()
    r.mutate(Mutation(b"r010").delete_column(CF, b"a", 2))
    r.mutate(Mutation(b"r040").delete_family(CG, 9))
    r.mutate(Mutation(b"r041").put(CF, b"z", b"mem", 3))  # still in the memstore at split time


def _ref_count(root, info):
    path = layout.region_dir(root, info)
    return sum(1 for fam in (CF, CG) for n in os.listdir(layout.family_dir(path, fam))
               if n.endswith(layout.REFERENCE_SUFFIX))


def test_split_daughters_hold_exactly_the_parents_data(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    assert parent.mid_key() is not None
    a, b = parent.split(b"r030")
    with pytest.raises(NotServingRegionError):
        parent.get(Get(b"r001"))
    assert (a.start_key, a.end_key, b.start_key, b.end_key) == (b"", b"r030", b"r030", b"")
    assert read_region_info(layout.region_info_path(layout.region_dir(root, a))) == a
    ra, rb = _open(root, a), _open(root, b)
    assert ra.has_references() and rb.has_references()
    da, db = _dump(ra), _dump(rb)
    assert da + db == before
    assert all(c[0] < b"r030" for c in da) and all(c[0] >= b"r030" for c in db)
    with pytest.raises(NotServingRegionError):
        ra.get(Get(b"r030"))
    assert [c.value for c in rb.get(Get(b"r046"))] == [b"new46"]
    # reversed scans through references
    assert [row[0].row for row in rb.scanner(Scan(reversed=True))][:2] == [b"r059", b"r058"]
    ra.close()
    rb.close()


def test_a_parent_stays_while_grand_daughters_still_read_it(tmp_path):
    """A daughter that splits again before compacting leaves grand-daughters whose references
    point straight into the first parent: the janitor must not delete it for them."""
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split()
    ra = _open(root, a)
    a1, a2 = ra.split(b"r015")
    ra.close()
    rb = _open(root, b)
    rb.compact(major=True)  # b no longer reads the parent
    # a holds only references, and its daughters point past it, into the first parent
    assert delete_parent_if_unreferenced(root, a, [a1, a2])
    assert not delete_parent_if_unreferenced(root, ROOT_INFO, [a, b])
    assert os.path.exists(layout.region_dir(root, ROOT_INFO))
    r1, r2 = _open(root, a1), _open(root, a2)
    assert _dump(r1) + _dump(r2) + _dump(rb) == before
    for r in (r1, r2, rb):
        r.close()


def test_after_compaction_no_references_remain_and_the_parent_can_go(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split()
    ra, rb = _open(root, a), _open(root, b)
    assert not delete_parent_if_unreferenced(root, ROOT_INFO, [a, b])
    ra.mutate(Mutation(b"r000").put(CF, b"x", b"after-split", 7))
    ra.compact()  # a minor compaction rewrites every reference of a store at once
    rb.compact(major=True)
    assert not ra.has_references() and not rb.has_references()
    assert _ref_count(root, a) == 0 and _ref_count(root, b) == 0
    assert references_to(root, ROOT_INFO, [a, b]) == 0
    assert delete_parent_if_unreferenced(root, ROOT_INFO, [a, b])
    assert not os.path.exists(layout.region_dir(root, ROOT_INFO))
    after = [c for c in _dump(ra) + _dump(rb) if c[2] != b"x"]
    # major compaction dropped only what was invisible anyway
    assert after == before
    ra.close()
    rb.close()


def test_merge_is_the_reverse_of_split(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    ra = _open(root, a)
    ra.compact(major=True)  # one parent of the merge has plain HFiles, the other references
    ra.close()
    merged = Region.merge(root, [b, a], TABLE, now_ms=10)
    assert (merged.start_key, merged.end_key) == (b"", b"")
    assert merged.region_id > max(a.region_id, b.region_id)
    rm = _open(root, merged)
    assert _dump(rm) == before
    for ref in os.listdir(layout.family_dir(layout.region_dir(root, merged), CF)):
        target = read_reference(os.path.join(layout.family_dir(
            layout.region_dir(root, merged), CF), ref)).target
        assert target.endswith(layout.HFILE_SUFFIX)  # references never point at references
    rm.compact(major=True)
    assert not rm.has_references()
    assert delete_parent_if_unreferenced(root, a, [merged])
    assert delete_parent_if_unreferenced(root, b, [merged])
    assert delete_parent_if_unreferenced(root, ROOT_INFO, [a, b])
    assert _dump(rm) == before
    rm.close()


def test_merge_of_three_regions_given_in_any_order_holds_all_their_data(tmp_path):
    """HBase 2.3+ (HBASE-22777) merges a chain of N adjacent regions in one step."""
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r020")
    rb = _open(root, b)
    b1, b2 = rb.split(b"r045")  # b1 and b2 reference the root's files through b
    ra = _open(root, a)
    ra.compact(major=True)  # a has plain HFiles, b1 and b2 references
    ra.close()
    merged = Region.merge(root, [b2, a, b1], TABLE, now_ms=10)
    assert (merged.start_key, merged.end_key) == (b"", b"")
    assert merged.region_id > max(p.region_id for p in (a, b1, b2))
    rm = _open(root, merged)
    assert _dump(rm) == before
    assert [references_to(root, p, [merged]) > 0 for p in (a, ROOT_INFO)] == [True, True]
    rm.compact(major=True)
    assert not rm.has_references() and _dump(rm) == before
    for p in (a, b1, b2, b, ROOT_INFO):
        assert delete_parent_if_unreferenced(root, p, [merged])
    assert _dump(rm) == before
    rm.close()


def test_merge_of_a_middle_run_keeps_its_outer_keys(tmp_path):
    root = str(tmp_path)
    infos = [RegionInfo("t", s, e, 1) for s, e in
             ((b"", b"b"), (b"b", b"d"), (b"d", b"f"), (b"f", b""))]
    for info in infos:
        _open(root, info).close()
    merged = Region.merge(root, infos[1:3], TABLE, now_ms=10)
    assert (merged.start_key, merged.end_key, merged.region_id) == (b"b", b"f", 10)


@pytest.mark.parametrize("keys, message", [
    ([(b"c", b""), (b"", b"b")], r"regions t,,1\.\w+, t,63,1\.\w+ are not adjacent: "
                                 r"t,,1\.\w+ ends at 'b', t,63,1\.\w+ starts at 'c'"),
    ([(b"", b"b"), (b"b", b"c"), (b"d", b"")], r"not adjacent: t,62,1\.\w+ ends at 'c', "
                                                 r"t,64,1\.\w+ starts at 'd'"),
    ([(b"", b"b")], r"needs at least 2 regions, got 1: t,,1\."),
    ([], "needs at least 2 regions, got 0"),
    ([(b"", b"b"), (b"", b"b")], r"region t,,1\..* is named twice"),
    ([(b"a", b"b"), (b"a", b"c")], "not adjacent"),  # overlapping
])
def test_merge_refuses_anything_but_one_chain_of_two_or_more(tmp_path, keys, message):
    infos = [RegionInfo("t", s, e, 1) for s, e in keys]
    with pytest.raises(InvalidArgumentError, match=message):
        Region.merge(str(tmp_path), infos, TABLE)
    assert not os.listdir(tmp_path)


def test_merge_refuses_regions_of_two_tables(tmp_path):
    a, b = RegionInfo("t", b"", b"b", 1), RegionInfo("u", b"b", b"", 1)
    with pytest.raises(InvalidArgumentError, match="regions of different tables: 't', 'u'"):
        Region.merge(str(tmp_path), [a, b], TABLE)


def test_a_daughter_with_references_can_split_again(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    rb = _open(root, b)
    b1, b2 = rb.split(b"r045")
    r1, r2 = _open(root, b1), _open(root, b2)
    ra = _open(root, a)
    assert _dump(ra) + _dump(r1) + _dump(r2) == before
    for r in (ra, r1, r2):
        r.close()


def test_corrupt_reference_file_is_detected(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    a, _ = parent.split(b"r030")
    fdir = layout.family_dir(layout.region_dir(root, a), CF)
    path = os.path.join(fdir, sorted(os.listdir(fdir))[0])
    data = bytearray(open(path, "rb").read())
    data[-3] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptionError):
        _open(root, a)


def test_split_key_must_be_inside_the_region(tmp_path):
    root = str(tmp_path)
    r = _open(root, RegionInfo("t", b"b", b"d", 1))
    r.mutate(Mutation(b"c").put(CF, b"a", b"v", 1))
    for key in (b"a", b"b", b"d", b"e"):
        with pytest.raises(InvalidArgumentError):
            r.split(key)
    r.close()


def test_a_split_key_over_the_row_key_limit_is_refused_and_the_region_stays_open(tmp_path):
    r = _open(str(tmp_path), ROOT_INFO)
    r.mutate(Mutation(b"c").put(CF, b"a", b"v", 1))
    with pytest.raises(InvalidArgumentError, match="at most 32767 bytes, got one of 32768"):
        r.split(b"m" * 32768)
    assert r.get(Get(b"c")) and not r.is_closing
    left, right = r.split(b"m" * 32767)  # the longest row key is a split key
    assert left.end_key == right.start_key == b"m" * 32767


def test_a_split_without_a_key_flushes_a_region_whose_rows_are_all_in_memory(tmp_path):
    """The split point comes from the files; with every row still in the memstore, split
    flushes first and looks again (as HBase does), rather than refusing."""
    root = str(tmp_path)
    r = _open(root, ROOT_INFO)
    for i in range(50):
        r.mutate(Mutation(b"r%03d" % i).put(CF, b"a", b"v%d" % i, 1))
    assert r.store_file_count() == 0 and r.mid_key() is None
    before = _dump(r)
    a, b = r.split()
    assert a.end_key == b.start_key and b"r000" < a.end_key <= b"r049"
    ra, rb = _open(root, a), _open(root, b)
    assert _dump(ra) + _dump(rb) == before
    ra.close()
    rb.close()
    single = _open(root, RegionInfo("t", b"x1", b"", 2))  # only its first row: nowhere to split
    single.mutate(Mutation(b"x1").put(CF, b"a", b"v", 1))
    with pytest.raises(InvalidArgumentError, match="no split point"):
        single.split()
    single.close()


def test_a_tables_max_filesize_overrides_the_servers_split_size(tmp_path):
    from dataclasses import replace

    root = str(tmp_path)
    r = Region.open(root, ROOT_INFO, replace(TABLE, max_filesize=64 << 10), wal=None,
                    background=Deferred(), config=RegionConfig(split_size=10 << 30))
    for i in range(300):
        r.mutate(Mutation(b"r%03d" % i).put(CF, b"a", b"x" * 400, 1))
    r.flush()
    assert r.split_size() == 64 << 10 and r.store_size() > 64 << 10 and r.needs_split()
    r.close()
    with pytest.raises(InvalidArgumentError, match="MAX_FILESIZE must be at least 65536"):
        replace(TABLE, max_filesize=1000)


def test_opening_a_daughter_schedules_the_compaction_that_rewrites_its_references(tmp_path):
    root = str(tmp_path)
    parent = _open(root, ROOT_INFO)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    bg = Deferred()
    ra = _open(root, a, bg)
    assert ra.has_references() and len(bg.queued) == 1
    bg.run()
    assert not ra.has_references()
    rb = _open(root, b)
    assert _dump(ra) + _dump(rb) == before
    ra.close()
    rb.close()


# --- the block cache across splits and merges -----------------------------------------------

def _open_cached(root, info, cache):
    return Region.open(root, info, TABLE, wal=None, background=Deferred(), block_cache=cache,
                       config=RegionConfig(compaction_min_files=100, clock=lambda: 5000.0))


def _dead_bytes(cache, root, regions):
    """Bytes cached for files no open store file of `regions` reads (directly or through a
    reference): they can never be hit again, and push live blocks out."""
    live = set()
    for r in regions:
        for store in r.stores.values():
            for f in store.files():
                path = os.path.join(root, f.reference.target) if f.is_reference else f.path
                live.add(os.path.abspath(path))
    return sum(n for fk, n in cache.bytes_by_file().items() if fk[0] not in live)


def test_blocks_read_through_references_are_evicted_when_the_references_are_compacted(tmp_path):
    """Both daughters read the parent's files through references until they compact: those
    blocks must leave the cache with the last reference, as a compacted plain file's do."""
    root, cache = str(tmp_path), BlockCache(8 << 20)
    parent = _open_cached(root, ROOT_INFO, cache)
    _fill(parent)
    a, b = parent.split(b"r030")
    ra, rb = _open_cached(root, a, cache), _open_cached(root, b, cache)
    _dump(ra), _dump(rb)  # every block of the parent's files, through both daughters
    assert cache.size_bytes > 0 and _dead_bytes(cache, root, [ra, rb]) == 0
    ra.compact()
    rb.compact()
    assert not ra.has_references() and not rb.has_references()
    assert _dead_bytes(cache, root, [ra, rb]) == 0
    assert delete_parent_if_unreferenced(root, ROOT_INFO, [a, b])
    _dump(ra), _dump(rb)
    assert _dead_bytes(cache, root, [ra, rb]) == 0
    ra.close()
    rb.close()
    assert cache.size_bytes == 0


def test_one_daughter_compacting_keeps_the_blocks_the_other_still_reads(tmp_path):
    """The daughters share the parent's file (one file_key): the first to compact its
    references must not evict what the other reads through its own."""
    root, cache = str(tmp_path), BlockCache(8 << 20)
    parent = _open_cached(root, ROOT_INFO, cache)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    ra, rb = _open_cached(root, a, cache), _open_cached(root, b, cache)
    _dump(ra), _dump(rb)
    ra.compact()
    assert rb.has_references() and _dead_bytes(cache, root, [ra, rb]) == 0
    misses = cache.misses
    db = _dump(rb)
    assert cache.misses == misses  # every block rb reads is still cached
    assert _dump(ra) + db == before
    rb.compact()
    assert _dead_bytes(cache, root, [ra, rb]) == 0
    ra.close()
    rb.close()


def test_a_merged_regions_reference_blocks_are_evicted_when_it_compacts(tmp_path):
    root, cache = str(tmp_path), BlockCache(8 << 20)
    parent = _open_cached(root, ROOT_INFO, cache)
    _fill(parent)
    before = _dump(parent)
    a, b = parent.split(b"r030")
    merged = Region.merge(root, [a, b], TABLE, now_ms=10)
    rm = _open_cached(root, merged, cache)
    assert _dump(rm) == before and cache.size_bytes > 0
    rm.compact(major=True)
    assert not rm.has_references() and _dead_bytes(cache, root, [rm]) == 0
    rm.close()
    assert cache.size_bytes == 0


def test_closing_daughters_that_still_read_references_evicts_their_blocks(tmp_path):
    """A region moving away drops its files' blocks on close (plain files always did); the
    parent's blocks go with the last daughter that read them."""
    root, cache = str(tmp_path), BlockCache(8 << 20)
    parent = _open_cached(root, ROOT_INFO, cache)
    _fill(parent)
    a, b = parent.split(b"r030")
    ra, rb = _open_cached(root, a, cache), _open_cached(root, b, cache)
    _dump(ra), _dump(rb)
    ra.close()
    assert cache.size_bytes > 0 and _dead_bytes(cache, root, [rb]) == 0
    rb.close()
    assert cache.size_bytes == 0
