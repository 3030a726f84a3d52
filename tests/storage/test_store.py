"""Store: consistent views while files change, pinned files, interrupted compaction recovery."""

from __future__ import annotations

import os
import threading

from storage.compaction import write_manifest
from storage.config import RegionConfig
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Inline

CF = b"cf"
TABLE = TableDescriptor("t", (FamilyDescriptor(CF, block_size=512),))
INFO = RegionInfo("t", b"", b"", 1)


def _open(tmp_path, **cfg):
    return Region.open(str(tmp_path), INFO, TABLE, wal=None, background=Inline(),
                       config=RegionConfig(**cfg))


def _load(r, rows, value, flush_every=0):
    for i, row in enumerate(rows):
        r.mutate(Mutation(row).put(CF, b"q", value, 1))
        if flush_every and i % flush_every == flush_every - 1:
            r.flush()


def test_scan_sees_a_consistent_view_while_flush_and_compaction_swap_files(tmp_path):
    r = _open(tmp_path, compaction_min_files=100)
    rows = [b"r%04d" % i for i in range(400)]
    _load(r, rows, b"v1", flush_every=100)  # four files
    _load(r, rows[:50], b"v1")  # and some memstore
    sc = r.scanner(Scan())
    first = sc.next(10)
    # meanwhile: overwrite everything, flush, major-compact (the files the scan reads go away)
    _load(r, rows, b"v2")
    r.flush()
    r.compact(major=True)
    assert r.store_file_count() == 1
    rest = []
    while True:
        page = sc.next(50)
        if not page:
            break
        rest.extend(page)
    got = first + rest
    assert [row[0].row for row in got] == rows
    assert {row[0].value for row in got} == {b"v1"}  # the view as of the scan's start
    assert {c.value for c in r.get(Get(b"r0001"))} == {b"v2"}
    r.close()


def test_compacted_files_stay_readable_until_the_last_view_is_released(tmp_path):
    r = _open(tmp_path, compaction_min_files=100)
    _load(r, [b"r%03d" % i for i in range(300)], b"v", flush_every=100)
    store = r.stores[CF]
    old = store.files()
    view = store.acquire()
    r.compact(major=True)
    assert all(not os.path.exists(f.path) for f in old)  # unlinked at once
    assert sum(1 for _ in view.iter_from(b"", b"", 1 << 62)[0]) == 300  # still readable
    view.release()
    r.close()


def test_concurrent_scans_and_compactions_never_lose_rows(tmp_path):
    r = _open(tmp_path, compaction_min_files=2)
    rows = [b"r%04d" % i for i in range(200)]
    _load(r, rows, b"v", flush_every=40)
    errors = []
    stop = threading.Event()

    def compactor():
        i = 0
        while not stop.is_set():
            _load(r, rows[i % 200:(i % 200) + 20], b"v")
            r.flush()
            r.compact(major=(i % 3 == 0))
            i += 20

    t = threading.Thread(target=compactor)
    t.start()
    try:
        for _ in range(15):
            got = [row[0].row for row in r.scanner(Scan())]
            if got != rows:
                errors.append(len(got))
    finally:
        stop.set()
        t.join()
    assert not errors
    r.close()


def test_interrupted_compaction_finishes_deleting_its_inputs_on_open(tmp_path):
    r = _open(tmp_path, compaction_min_files=100)
    _load(r, [b"a", b"b"], b"v", flush_every=1)
    r.mutate(Mutation(b"a").delete_column(CF, b"q", 5))
    r.flush()
    inputs = [f.path for f in r.stores[CF].files()]
    r.close()
    # simulate a crash after the major compaction's output landed and its manifest was written
    # but before all inputs were deleted: the output holds only b"b"
    r = _open(tmp_path, compaction_min_files=100)
    store = r.stores[CF]
    files = list(reversed(store.files()))
    new = store.write_file(iter([((b"b", b"q", -1, -4), b"v")]), max(f.max_seqid for f in files))
    write_manifest(store.dir, new.file_id, inputs)
    os.unlink(inputs[0])  # the newest input (holding the marker) already deleted
    r.close(flush=False)
    r = _open(tmp_path)
    assert [f.path for f in r.stores[CF].files()] == [new.path]
    assert [row[0].row for row in r.scanner(Scan())] == [b"b"]  # no resurrected b"a"
    r.close()
