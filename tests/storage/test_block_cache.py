"""BlockCache: LRU order, byte bound, counters, evict_file, concurrent use."""

import random
import threading

from storage.block_cache import BlockCache
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Inline

F1 = ("/d/f1.hfile", 11, 100)
F2 = ("/d/f2.hfile", 12, 100)


def test_least_recently_used_block_is_evicted_first():
    c = BlockCache(300)
    for off in (0, 1, 2):
        c.put((F1, off), f"b{off}", 100)
    assert c.get((F1, 0)) == "b0"  # 0 is now the most recent; 1 the least
    c.put((F1, 3), "b3", 100)
    assert c.get((F1, 1)) is None
    assert [c.get((F1, o)) for o in (0, 2, 3)] == ["b0", "b2", "b3"]
    assert c.evictions == 1


def test_total_size_stays_within_byte_bound():
    c = BlockCache(1000)
    for off in range(50):
        c.put((F1, off), off, 70 + off)
        assert c.size_bytes <= c.capacity_bytes
    assert c.size_bytes == sum(70 + o for o in range(50) if c.get((F1, o)) is not None)


def test_block_larger_than_cache_is_not_kept():
    c = BlockCache(100)
    c.put((F1, 0), "small", 60)
    c.put((F1, 1), "huge", 101)
    assert c.get((F1, 1)) is None
    assert c.get((F1, 0)) == "small"  # and nothing was evicted to make room for it


def test_replacing_a_key_does_not_double_count_its_size():
    c = BlockCache(1000)
    c.put((F1, 0), "a", 300)
    c.put((F1, 0), "b", 200)
    assert c.size_bytes == 200 and len(c) == 1 and c.get((F1, 0)) == "b"


def test_hit_and_miss_counters():
    c = BlockCache(1000)
    assert c.get((F1, 0)) is None
    c.put((F1, 0), "x", 10)
    c.get((F1, 0))
    c.get((F1, 0))
    assert (c.hits, c.misses) == (2, 1)
    assert c.stats()["blocks"] == 1


def test_evict_file_drops_only_that_files_blocks():
    c = BlockCache(10_000)
    for off in range(5):
        c.put((F1, off), "a", 10)
        c.put((F2, off), "b", 10)
    assert c.evict_file(F1) == 5
    assert all(c.get((F1, o)) is None for o in range(5))
    assert all(c.get((F2, o)) == "b" for o in range(5))
    assert c.size_bytes == 50
    assert c.evict_file(F1) == 0


def test_evict_file_accepts_a_plain_path():
    c = BlockCache(10_000)
    c.put((F1, 0), "a", 10)
    c.put((("/d/f1.hfile", 99, 5), 0), "older incarnation", 10)
    c.put((F2, 0), "b", 10)
    assert c.evict_file("/d/f1.hfile") == 2
    assert len(c) == 1 and c.size_bytes == 10


def test_concurrent_put_get_evict_keeps_accounting_consistent():
    c = BlockCache(5_000)
    files = [("/d/f%d" % i, i, 1) for i in range(4)]
    errors = []

    def worker(seed):
        rnd = random.Random(seed)
        try:
            for _ in range(3000):
                f = rnd.choice(files)
                op = rnd.random()
                if op < 0.5:
                    c.put((f, rnd.randrange(50)), seed, rnd.randrange(1, 300))
                elif op < 0.95:
                    c.get((f, rnd.randrange(50)))
                else:
                    c.evict_file(f)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert c.size_bytes <= c.capacity_bytes
    assert c.size_bytes == sum(size for _, size in c._entries.values())
    assert sum(len(keys) for keys in c._by_file.values()) == len(c._entries)


def test_a_family_with_block_cache_off_reads_from_disk_and_caches_nothing(tmp_path):
    """HBase's BLOCKCACHE => false (happybase's block_cache_enabled=False): the family's data
    blocks are read from its files each time and never take cache room; other families of
    the region still cache theirs."""
    table = TableDescriptor("t", (FamilyDescriptor(b"raw", block_cache=False),
                                  FamilyDescriptor(b"hot")))
    assert TableDescriptor.from_dict(table.to_dict()) == table
    cache = BlockCache(1 << 20)
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    block_cache=cache, background=Inline())
    try:
        for i in range(50):
            r.mutate(Mutation(b"r%02d" % i).put(b"raw", b"q", b"x%d" % i).put(b"hot", b"q", b"y"))
        r.flush()
        for _ in range(3):
            assert [c.value for c in r.get(Get(b"r07", columns=((b"raw", None),)))] == [b"x7"]
        assert cache.size_bytes == 0 and cache.hits == 0
        for _ in range(3):
            assert [c.value for c in r.get(Get(b"r07", columns=((b"hot", None),)))] == [b"y"]
        assert cache.size_bytes > 0 and cache.hits == 2
    finally:
        r.close(flush=False)


def test_in_memory_blocks_outlive_a_flood_of_other_blocks_within_their_share():
    c = BlockCache(1000)
    mem = c.in_memory_view()
    for off in range(2):
        mem.put((F1, off), f"m{off}", 100)
    for off in range(30):  # a scan passing through ten times the rest of the cache
        c.put((F2, off), f"s{off}", 100)
    assert [c.get((F1, o)) for o in range(2)] == ["m0", "m1"]
    assert c.size_bytes == 1000 and c.memory_bytes == 200
    for off in range(2, 6):  # past their 25 % share, their own least recent go first
        mem.put((F1, off), f"m{off}", 100)
    assert c.memory_bytes == 250 - 50 and c.get((F1, 0)) is None and c.get((F1, 5)) == "m5"
    mem.charge((F1, 5), 60)  # a block's memo grows: charged in its own bucket
    assert c.memory_bytes <= 250 and c.size_bytes <= 1000
    cached = len([o for o in range(6) if c.get((F1, o)) is not None])
    assert cached > 0 and c.evict_file(F1) == cached
    assert c.memory_bytes == 0 and c.stats()["in_memory_bytes"] == 0
    assert c.size_bytes == sum(100 for o in range(30) if c.get((F2, o)) is not None)


def test_an_in_memory_family_keeps_its_blocks_through_a_scan_of_another(tmp_path):
    """HBase's IN_MEMORY => true: a family's cached blocks are evicted after every other."""
    table = TableDescriptor("t", (FamilyDescriptor(b"meta", in_memory=True, block_size=1024),
                                  FamilyDescriptor(b"bulk", block_size=1024)))
    assert TableDescriptor.from_dict(table.to_dict()) == table
    cache = BlockCache(256 << 10)
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    block_cache=cache, background=Inline())
    try:
        for i in range(2000):
            r.mutate(Mutation(b"r%04d" % i).put(b"meta", b"q", b"m%d" % i)
                     .put(b"bulk", b"q", b"x" * 400))
        r.flush()
        meta_rows = [b"r%04d" % i for i in range(0, 2000, 400)]
        for row in meta_rows:
            r.get(Get(row, columns=((b"meta", None),)))
        assert 0 < cache.memory_bytes <= cache.capacity_bytes // 4
        for _ in range(2):  # the bulk family's ~1 MB pass through a 256 KB cache
            assert sum(1 for _ in r.scanner(Scan(columns=((b"bulk", None),)))) == 2000
        assert cache.evictions > 0
        hits = cache.hits
        for row in meta_rows:
            assert [c.value for c in r.get(Get(row, columns=((b"meta", None),)))] == \
                [b"m%d" % int(row[1:])]
        assert cache.hits == hits + len(meta_rows), "an IN_MEMORY block was evicted"
    finally:
        r.close(flush=False)
