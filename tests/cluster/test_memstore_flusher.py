"""The server-wide memstore limit (regionserver/memstore_flusher.py) over real regions."""

from __future__ import annotations

import threading
import time

import pytest

from minihbase.errors import RegionTooBusyError
from regionserver.memstore_flusher import MemstoreFlusher
from storage.config import RegionConfig
from storage.query import Get, Mutation
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.storage.helpers import Inline

TABLE = TableDescriptor("t", (FamilyDescriptor(b"cf"),))
VALUE = b"v" * 1000
LIMIT = 100_000


@pytest.fixture
def server(tmp_path):
    """Three regions of one server sharing a flusher; their own flush size is out of reach."""
    stopped = threading.Event()
    regions: list[Region] = []
    flusher = MemstoreFlusher(lambda: list(regions), LIMIT, wait_seconds=0.5, stopped=stopped)
    config = RegionConfig(flush_size=1 << 40, memstore_room=flusher.room)
    for i, (start, end) in enumerate([(b"", b"g"), (b"g", b"p"), (b"p", b"")]):
        regions.append(Region.open(str(tmp_path), RegionInfo("t", start, end, i + 1), TABLE,
                                   wal=None, background=Inline(), config=config))
    yield flusher, regions
    stopped.set()
    for r in regions:
        r.close(flush=False)


def write(region: Region, prefix: bytes, rows: int) -> list[bytes]:
    keys = [prefix + b"%05d" % i for i in range(rows)]
    for key in keys:
        region.mutate(Mutation(key).put(b"cf", b"q", VALUE))
    return keys


def fill(flusher: MemstoreFlusher, region: Region, prefix: bytes, total: int) -> list[bytes]:
    """Write rows to `region` until the server's memstores hold `total` bytes."""
    keys = []
    while flusher.total() < total:
        keys += write(region, prefix + b"%05d" % len(keys), 1)
    return keys


def test_writes_at_the_limit_wait_then_fail_while_nothing_flushes(server):
    flusher, (a, b, c) = server  # the flusher thread is not started: nothing ever flushes
    write(a, b"a", 20)
    fill(flusher, b, b"h", LIMIT)
    t0 = time.monotonic()
    with pytest.raises(RegionTooBusyError, match="global limit of 100000"):
        c.mutate(Mutation(b"q").put(b"cf", b"q", b"x"))
    assert time.monotonic() - t0 >= 0.45  # it waited for flushes first
    assert c.get(Get(b"q")) == []  # refused, so not applied
    assert flusher.blocked_writes >= 1


def test_the_largest_region_is_flushed_first_and_every_write_is_kept(server):
    flusher, (a, b, c) = server
    flusher.start()
    small = write(a, b"a", 10)
    big = fill(flusher, b, b"h", flusher.low_water)  # b is flushed; a is not needed
    deadline = time.monotonic() + 10
    while flusher.total() >= flusher.low_water and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flusher.total() < flusher.low_water
    assert b.store_file_count() >= 1 and a.store_file_count() == 0
    assert a.memstore_size() > 0
    more = write(c, b"q", 300)  # three times the limit through one region: never refused
    assert flusher.flushes >= 3
    for region, keys in ((a, small), (b, big), (c, more)):
        for key in keys:
            assert region.get(Get(key))[0].value == VALUE


def test_a_limit_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        MemstoreFlusher(list, 0)
