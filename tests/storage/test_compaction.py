"""Compaction: minor keeps markers and merges a contiguous run; major drops what nobody sees."""

from __future__ import annotations

import os
from dataclasses import dataclass

from storage.compaction import select_minor
from storage.config import RegionConfig
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Clock, Inline

CF = b"cf"
INFO = RegionInfo("t", b"", b"", 1)


def _open(tmp_path, clock=None, family=None, **cfg):
    table = TableDescriptor("t", (family or FamilyDescriptor(CF, max_versions=2),))
    return Region.open(str(tmp_path), INFO, table, wal=None, background=Inline(),
                       config=RegionConfig(clock=clock or Clock(), **cfg))


def _cells_in_files(r):
    store = r.stores[CF]
    view = store.acquire()
    try:
        return [k for f in view.files for k, _ in f.reader.iter_from(None)]
    finally:
        view.release()


def test_minor_compaction_merges_files_and_keeps_delete_markers(tmp_path):
    r = _open(tmp_path, compaction_min_files=3)
    r.mutate(Mutation(b"a").put(CF, b"q", b"1", 1))
    r.flush()
    r.mutate(Mutation(b"a").delete_column(CF, b"q", 1))
    r.flush()
    r.mutate(Mutation(b"b").put(CF, b"q", b"2", 1))
    r.flush()  # third file: the flush schedules a minor compaction (inline here)
    assert r.store_file_count() == 1
    keys = _cells_in_files(r)
    assert len(keys) == 3  # the marker and the put it masks both survive a minor compaction
    assert [c.row for c in sum(list(r.scanner(Scan())), [])] == [b"b"]
    r.close()


def test_major_compaction_drops_deleted_expired_and_surplus_versions(tmp_path):
    clock = Clock()
    fam = FamilyDescriptor(CF, max_versions=2, ttl=60)
    r = _open(tmp_path, clock, fam, compaction_min_files=100)
    now = int(clock.t * 1000)
    for ts in (now - 3, now - 2, now - 1):  # three versions, the family keeps two
        r.mutate(Mutation(b"v").put(CF, b"q", b"%d" % ts, ts))
    r.flush()
    r.mutate(Mutation(b"d").put(CF, b"q", b"x", now))
    r.mutate(Mutation(b"e").put(CF, b"q", b"old", now - 50_000))
    r.flush()
    r.mutate(Mutation(b"d").delete_family(CF, now))
    r.flush()
    clock.t += 20  # b"e" is now past its TTL
    r.compact(major=True)
    assert r.store_file_count() == 1
    keys = _cells_in_files(r)
    assert keys == [(b"v", b"q", -(now - 1), -4), (b"v", b"q", -(now - 2), -4)]
    assert [c.value for c in r.get(Get(b"v", max_versions=5))] == [b"%d" % (now - 1),
                                                                  b"%d" % (now - 2)]
    r.close()


def test_major_compaction_of_everything_deleted_keeps_an_empty_file_with_the_seqid(tmp_path):
    r = _open(tmp_path, compaction_min_files=100)
    r.mutate(Mutation(b"a").put(CF, b"q", b"1", 1))
    r.mutate(Mutation(b"a").delete_family(CF, 5))
    r.compact(major=True)
    store = r.stores[CF]
    assert store.file_count() == 1 and store.max_seqid() == 2
    assert list(r.scanner(Scan())) == []
    r.close()


@dataclass(eq=False)
class F:
    size: int


def test_minor_selection_skips_big_old_files_and_caps_the_count():
    cfg = RegionConfig(compaction_min_files=3, compaction_max_files=4)
    files = [F(1000), F(10), F(10), F(10), F(10), F(10)]  # oldest first
    chosen = select_minor(files, cfg)
    assert chosen == files[1:5]  # contiguous, big old file skipped, at most 4
    assert select_minor(files[:2], cfg) is None
    assert select_minor([F(1000), F(1), F(1)], cfg) is None


def test_close_interrupts_a_running_major_compaction_instead_of_waiting_for_it(
        tmp_path, monkeypatch):
    """A move, split or merge closes the region, which serves nothing until the close ends: a
    compaction in progress is abandoned (HBase interrupts it too), its inputs stay, and the
    region reopens with every cell. Found by bench/biglinkedlist.py: a merge right after a
    major_compact under load took 18 s instead of < 1 s."""
    import threading
    import time

    from storage import compaction

    r = _open(tmp_path, compaction_min_files=100)
    for f in range(3):
        for i in range(3000):
            r.mutate(Mutation(b"r%d-%05d" % (f, i)).put(CF, b"q", b"v", 1))
        r.flush()
    started = threading.Event()
    real = compaction.merged_items

    def slow_merged_items(files):  # ~9 s for the 9000 cells
        for n, item in enumerate(real(files)):
            started.set()
            time.sleep(0.001)
            yield item

    monkeypatch.setattr(compaction, "merged_items", slow_merged_items)
    compacting = threading.Thread(target=r.compact, kwargs=dict(major=True))
    compacting.start()
    assert started.wait(10)
    t0 = time.monotonic()
    r.close()
    closed_in = time.monotonic() - t0
    compacting.join(30)
    assert not compacting.is_alive()
    assert closed_in < 3.0, f"close waited {closed_in:.1f}s for the compaction"
    monkeypatch.setattr(compaction, "merged_items", real)
    r = _open(tmp_path, compaction_min_files=100)
    assert r.store_file_count() == 3  # the compaction's inputs, its output abandoned
    assert sum(len(row) for row in r.scanner(Scan())) == 9000
    assert not [n for n in os.listdir(r.stores[CF].dir) if n.endswith(".tmp")]
    r.close()
