"""Region location cache (client/location_cache.py) over an in-memory meta: bisect in byte
order, state filtering, invalidation by errors and by watches."""

import threading
import time

import pytest

from client.location_cache import LocationCache
from client.retry import bounded_waits
from coordination import znodes
from coordination.znodes import RegionRecord, TableRecord
from minihbase.errors import (ConnectionClosedError, RegionOfflineError, ServerUnavailableError,
                              TableNotEnabledError, TableNotFoundError)
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor


class FakeMeta:
    """MetaReader in memory; remembers the watch so a test can fire it like ZooKeeper."""

    def __init__(self):
        self.tables, self.records, self.watches, self.reads = {}, {}, [], 0

    def add_table(self, name, splits, state=znodes.ENABLED, server="rs1,16020,1"):
        self.tables[name] = TableRecord(TableDescriptor(name, (FamilyDescriptor(b"cf"),)), state)
        keys = [b""] + list(splits) + [b""]
        self.records[name] = [RegionRecord(RegionInfo(name, keys[i], keys[i + 1], 1),
                                           znodes.OPEN, server)
                              for i in range(len(keys) - 1)]

    def table(self, table, watch=None):
        self.reads += 1
        if watch:
            self.watches.append(watch)
        return self.tables.get(table)

    def regions(self, table, watch=None):
        return list(self.records.get(table, []))

    def server_address(self, server):
        host, port, _ = znodes.parse_server_name(server)
        return f"{host}:{port}"

    def fire_watches(self):
        watches, self.watches = self.watches, []
        for w in watches:
            w(None)


@pytest.fixture
def meta():
    m = FakeMeta()
    m.add_table("t1", [b"100", b"300"])
    return m


def test_row_routes_to_region_by_byte_order_not_numeric_order(meta):
    cache = LocationCache(meta)
    assert cache.locate("t1", b"20000").info.start_key == b"100"  # b"100" < b"20000" < b"300"
    assert cache.locate("t1", b"099").info.start_key == b""
    assert cache.locate("t1", b"100").info.start_key == b"100"  # start is inclusive
    assert cache.locate("t1", b"300").info.start_key == b"300"  # end is exclusive
    assert cache.locate("t1", b"\xff\xff").info.start_key == b"300"
    assert cache.locate("t1", b"2").info.start_key == b"100"   # b"2" > b"100"
    assert cache.locate("t1", b"20000").address == "rs1:16020"


def test_lookups_hit_the_cache_without_reading_meta_again(meta):
    cache = LocationCache(meta)
    for row in (b"a", b"b", b"150", b"350"):
        cache.locate("t1", row)
    assert meta.reads == 1 and cache.loads == 1


def _slow_table_reads(meta, wait) -> None:
    """Every meta.table read calls wait() first (a slow ZooKeeper)."""
    read = meta.table

    def slow(table, watch=None):
        wait()
        return read(table, watch)
    meta.table = slow


def test_threads_missing_together_share_one_meta_read(meta):
    """16 threads sharing a Connection all miss after an error dropped the table: one of
    them reads meta, the others wait for its entry instead of reading it again."""
    _slow_table_reads(meta, lambda: time.sleep(0.05))
    cache = LocationCache(meta)
    start = threading.Barrier(16)
    found = []

    def look():
        start.wait()
        found.append(cache.locate("t1", b"150").info.start_key)
    threads = [threading.Thread(target=look) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert found == [b"100"] * 16
    assert meta.reads == 1 and cache.loads == 1


def test_invalidate_rereads_meta_and_sees_the_region_moved(meta):
    cache = LocationCache(meta)
    assert cache.locate("t1", b"200").server == "rs1,16020,1"
    meta.add_table("t1", [b"100", b"300"], server="rs2,16021,2")
    assert cache.locate("t1", b"200").server == "rs1,16020,1"  # still cached
    cache.invalidate("t1")
    assert cache.locate("t1", b"200").address == "rs2:16021"


def test_zookeeper_watch_drops_the_cached_table(meta):
    cache = LocationCache(meta)
    cache.locate("t1", b"200")
    meta.add_table("t1", [b"100", b"200", b"300"], server="rs3,1,3")
    meta.fire_watches()
    loc = cache.locate("t1", b"250")
    assert (loc.info.start_key, loc.server) == (b"200", "rs3,1,3")


def test_region_in_transition_is_retryable_and_says_why(meta):
    meta.records["t1"][1] = RegionRecord(
        meta.records["t1"][1].info, znodes.OPENING, "rs2,1,2", waiting_for="replaying edits")
    cache = LocationCache(meta)
    with pytest.raises(RegionOfflineError) as info:
        cache.locate("t1", b"200")
    assert info.value.retryable
    assert "OPENING" in str(info.value) and "replaying edits" in str(info.value)
    assert cache.locate("t1", b"050").info.start_key == b""


def test_split_parent_is_ignored_in_favour_of_its_daughters(meta):
    parent = meta.records["t1"][1]
    parent.state = znodes.SPLIT
    meta.records["t1"] += [RegionRecord(RegionInfo("t1", b"100", b"200", 2), znodes.OPEN, "rs1,1,1"),
                           RegionRecord(RegionInfo("t1", b"200", b"300", 2), znodes.OPEN, "rs1,1,1")]
    cache = LocationCache(meta)
    assert cache.locate("t1", b"150").info.end_key == b"200"
    assert cache.locate("t1", b"250").info.start_key == b"200"


def test_hole_in_meta_raises_region_offline_and_invalidates(meta):
    del meta.records["t1"][1]  # [100, 300) missing mid-split
    cache = LocationCache(meta)
    with pytest.raises(RegionOfflineError):
        cache.locate("t1", b"200")
    assert "t1" not in cache.cached_tables()


def test_reversed_scan_helpers_find_last_region_and_region_before(meta):
    cache = LocationCache(meta)
    assert cache.locate_last("t1").info.start_key == b"300"
    assert cache.locate_before("t1", b"300").info.start_key == b"100"
    assert cache.locate_before("t1", b"100").info.start_key == b""


def test_unknown_and_disabled_tables_are_clear_errors(meta):
    meta.add_table("off", [], state=znodes.DISABLED)
    cache = LocationCache(meta)
    with pytest.raises(TableNotFoundError, match="'nope' does not exist"):
        cache.locate("nope", b"r")
    with pytest.raises(TableNotEnabledError, match="disabled"):
        cache.locate("off", b"r")


def test_zookeeper_blip_keeps_locations_and_reconnect_drops_them(meta):
    from client.connection import Connection

    conn = Connection("unused:1", autoconnect=False)
    conn.locations = LocationCache(meta)
    conn.locations.locate("t1", b"200")
    conn._on_zk_state("SUSPENDED")  # ZooKeeper unreachable: region servers may be fine
    assert conn.locations.cached_tables() == ["t1"]
    conn._on_zk_state("CONNECTED")  # back: watch events may have been missed
    assert conn.locations.cached_tables() == []
    conn.locations.locate("t1", b"200")
    conn._on_zk_state("LOST")       # session expired: its watches are gone
    assert conn.locations.cached_tables() == []


def test_unresolvable_advertised_host_is_dialled_on_the_zookeeper_host(monkeypatch):
    """A region server in Docker advertises its service name (rs1); from the host that name does
    not resolve, so the client dials the same port where it reached ZooKeeper."""
    import socket

    from client.rpc_channels import dialable

    def resolve(host, port, *args, **kwargs):
        if host == "rs1":
            raise socket.gaierror("Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert dialable("rs1:16021", "127.0.0.1") == "127.0.0.1:16021"
    assert dialable("localhost:16021", "127.0.0.1") == "localhost:16021"
    assert dialable("rs1:16021", None) == "rs1:16021"


def test_waiting_for_another_threads_meta_read_ends_with_the_attempt(meta):
    """A thread that missed while another reads meta waits no longer than its attempt may:
    a retryable error, so the retry policy decides (and times out) instead of a hang."""
    release = threading.Event()
    _slow_table_reads(meta, lambda: release.wait(10))
    cache = LocationCache(meta)
    first = threading.Thread(target=cache.locate, args=("t1", b"150"))
    first.start()
    try:
        time.sleep(0.05)  # the first thread holds the table's load
        start = time.monotonic()
        with bounded_waits(0.2), pytest.raises(ServerUnavailableError, match="meta read"):
            cache.locate("t1", b"150")
        assert time.monotonic() - start < 1.0
    finally:
        release.set()
        first.join(10)
    assert cache.locate("t1", b"150").info.start_key == b"100"


def test_a_closed_cache_refuses_lookups_at_once(meta):
    cache = LocationCache(meta)
    cache.locate("t1", b"150")
    cache.close()
    assert not cache.cached("t1")
    with pytest.raises(ConnectionClosedError, match="closed"):
        cache.locate("t1", b"150")


def test_servers_that_left_are_forgotten_unless_a_live_name_shares_the_address(meta):
    """A restarted server comes back under a new name (new start code): the old name's
    address is returned for closing only when no known live name still uses it."""
    meta.add_table("t2", [], server="rs2,16020,1")
    meta.add_table("t3", [], server="rs1,16020,2")  # rs1 restarted on the same port
    cache = LocationCache(meta)
    for table in ("t1", "t2", "t3"):
        cache.locate(table, b"a")
    assert cache.servers_gone(["rs1,16020,1"]) == []          # rs1,16020,2 still dials it
    assert cache.servers_gone(["rs2,16020,1", "rs9,1,1"]) == ["rs2:16020"]
    assert cache.servers_gone(["rs2,16020,1"]) == []          # already forgotten


def test_a_watch_that_fires_ends_a_back_off_wait_on_that_table_only(meta):
    """A retry pausing in its back-off goes on once the table's meta changes; a change of
    another table does not wake it, and without a change the pause is served in full."""
    meta.add_table("t2", [])
    cache = LocationCache(meta)
    cache.locate("t1", b"a")
    cache.locate("t2", b"a")
    changes = cache.changes
    mark = changes.mark("t1")
    started = time.monotonic()
    assert changes.wait("t1", mark, 0.2) is False
    assert time.monotonic() - started >= 0.2

    t1_watch, t2_watch = meta.watches
    threading.Timer(0.2, lambda: t2_watch(None)).start()
    threading.Timer(0.4, lambda: t1_watch(None)).start()
    started = time.monotonic()
    assert changes.wait("t1", mark, 10.0, at_least=0.1) is True
    assert 0.4 <= time.monotonic() - started < 5.0
    assert not cache.cached("t1") and not cache.cached("t2")  # both were dropped
    assert changes.wait("t1", mark, 10.0) is True  # the change stays seen: no wait at all


def test_tables_that_come_and_go_leave_no_state_behind(meta):
    """A long-lived Connection (the Thrift gateway) sees tables with generated names come and
    go: once a table is dropped, nothing is kept for its name -- no load lock, no change count
    -- however many such tables it used. A retry waiting on a table still wakes when it is
    dropped, and one waiting on a table of the same name created again too."""
    cache = LocationCache(meta)
    changes = cache.changes

    def kept():
        return len(cache._load_locks), len(changes)

    cache.locate("t1", b"a")
    baseline = kept()
    for i in range(15):
        name = f"tmp_{i}"
        meta.add_table(name, [b"m"])
        cache.locate(name, b"a")  # used
        mark = changes.mark(name)  # a retry of an operation on it, in its back-off
        cache.invalidate(name)  # the error it retries
        del meta.tables[name], meta.records[name]  # dropped: its znodes deleted, watches fire
        meta.fire_watches()
        assert changes.wait(name, mark, 10.0) is True  # the waiting retry goes on at once
        with pytest.raises(TableNotFoundError):
            cache.locate(name, b"a")
        meta.add_table(name, [])  # the same name again, while a retry waits on it
        cache.locate(name, b"a")
        mark = changes.mark(name)
        threading.Timer(0.05, meta.fire_watches).start()
        assert changes.wait(name, mark, 10.0) is True
        del meta.tables[name], meta.records[name], mark
        cache.locate("t1", b"a")  # re-arms t1's watch, which fire_watches consumed
    assert kept() == baseline
