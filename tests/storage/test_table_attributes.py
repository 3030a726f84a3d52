"""HBase's table attributes in a region: MEMSTORE_FLUSHSIZE, READONLY, COMPACTION_ENABLED,
SPLIT_ENABLED, DURABILITY; and the descriptor's stored form (tables written before them still
load)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from minihbase.errors import InvalidArgumentError, TableReadOnlyError
from storage import layout
from storage.config import DaemonExecutor, RegionConfig
from storage.query import Get, Mutation
from storage.region import Region
from storage.schema import (FamilyDescriptor, RegionInfo, TableDescriptor,
                            table_attribute_value, table_attributes_text)
from storage.wal import WAL
from storage.wal_splitter import split_wal
from tests.storage.helpers import Clock, Inline

CF = b"cf"
TABLE = TableDescriptor("t", (FamilyDescriptor(CF, max_versions=3),))
INFO = RegionInfo("t", b"", b"", 1)


def open_region(root, table=TABLE, **config):
    config = {"clock": Clock(), "flush_size": 1 << 30, **config}
    return Region.open(str(root), INFO, table, wal=None, background=Inline(),
                       config=RegionConfig(**config))


def put_rows(region, n, size=1000, prefix=b"r"):
    for i in range(n):
        region.mutate(Mutation(b"%s%04d" % (prefix, i)).put(CF, b"q", b"x" * size, 1))


def test_a_tables_memstore_flushsize_overrides_the_servers_flush_size(tmp_path):
    plain = open_region(tmp_path / "plain")
    put_rows(plain, 100)  # about 100 KB: far below the server's 1 GiB
    assert plain.store_file_count() == 0 and plain.flush_size() == 1 << 30
    plain.close(flush=False)

    own = open_region(tmp_path / "own", replace(TABLE, memstore_flushsize=64 << 10))
    assert own.flush_size() == 64 << 10
    put_rows(own, 100)
    assert own.store_file_count() >= 1 and own.memstore_size() < 64 << 10
    assert len(own.get(Get(b"r0000"))) == 1
    own.close()


def test_memstore_flushsize_below_its_floor_is_refused_naming_it():
    with pytest.raises(InvalidArgumentError,
                       match="MEMSTORE_FLUSHSIZE must be at least 65536 bytes .* got 1000"):
        replace(TABLE, memstore_flushsize=1000)


def test_a_readonly_table_refuses_every_kind_of_mutation_and_still_serves_reads(tmp_path):
    r = open_region(tmp_path)
    r.mutate(Mutation(b"row").put(CF, b"q", b"before", 1))
    r.close()
    r = open_region(tmp_path, replace(TABLE, readonly=True))  # an alter reopens the region
    attempts = {
        "put": lambda: r.mutate(Mutation(b"row").put(CF, b"q", b"after", 2)),
        "delete": lambda: r.mutate(Mutation(b"row").delete_column(CF, b"q")),
        "batch": lambda: r.batch_mutate([Mutation(b"a").put(CF, b"q", b"v", 1),
                                         Mutation(b"b").put(CF, b"q", b"v", 1)]),
        "increment": lambda: r.increment(b"row", CF, b"n", 1),
        "append": lambda: r.append(b"row", [(CF, b"q", b"more")]),
        "checkAndMutate": lambda: r.check_and_mutate(
            b"row", CF, b"q", b"before", Mutation(b"row").put(CF, b"q", b"after", 2)),
    }
    for what, attempt in attempts.items():
        with pytest.raises(TableReadOnlyError, match="table 't' is read-only .*READONLY"):
            attempt()
    assert [c.value for c in r.get(Get(b"row"))] == [b"before"]
    assert r.memstore_size() == 0
    r.close()
    r = open_region(tmp_path)  # READONLY => false again: writes are allowed
    r.mutate(Mutation(b"row").put(CF, b"q", b"after", 2))
    assert r.get(Get(b"row"))[0].value == b"after"
    r.close()


def test_compaction_disabled_runs_none_asked_or_not_while_flushes_go_on(tmp_path):
    r = open_region(tmp_path, replace(TABLE, compaction_enabled=False), compaction_min_files=2,
                    blocking_store_files=3, blocking_wait_seconds=0.1)
    for i in range(4):  # past the minor compaction threshold and the blocking file count
        put_rows(r, 1, prefix=b"f%d" % i)
        assert r.flush()
    assert r.store_file_count() == 4
    r.compact(major=True)
    executor = DaemonExecutor(threads=1, name="test-compactions")
    r.request_compaction(executor, major=True)
    executor.submit(lambda: None).result(timeout=5)  # the request has run
    assert r.store_file_count() == 4 and r.compactions == 0
    assert r.compaction_state() == "NONE"
    put_rows(r, 1, prefix=b"late")  # not blocked by the file count: nothing would lower it
    r.close()
    r = open_region(tmp_path, compaction_min_files=2)  # enabled again: compactions run
    r.compact(major=True)
    assert r.store_file_count() == 1 and r.compactions == 1
    r.close()


def test_split_disabled_region_never_asks_to_be_split(tmp_path):
    table = replace(TABLE, max_filesize=64 << 10)
    r = open_region(tmp_path, table)
    put_rows(r, 100)
    r.flush()
    assert r.needs_split()
    r.close()
    r = open_region(tmp_path, replace(table, split_enabled=False))
    assert not r.needs_split()
    r.close()


def test_a_table_stored_before_the_attributes_existed_loads_with_their_defaults():
    old = {"name": "old", "families": [FamilyDescriptor(CF).to_dict()], "max_filesize": 65536}
    desc = TableDescriptor.from_dict(old)
    assert desc.attributes() == {"compaction_enabled": True, "max_filesize": 65536,
                                 "memstore_flushsize": 0, "merge_enabled": True,
                                 "readonly": False, "split_enabled": True,
                                 "durability": "USE_DEFAULT", "normalization_enabled": False,
                                 "normalizer_target_region_count": 0,
                                 "normalizer_target_region_size_mb": 0}
    assert desc.to_dict() == old  # defaults are not written


def test_every_attribute_round_trips_through_the_stored_form():
    desc = replace(TABLE, max_filesize=1 << 20, memstore_flushsize=1 << 21, readonly=True,
                   compaction_enabled=False, split_enabled=False, merge_enabled=False,
                   durability="skip_wal")
    assert TableDescriptor.from_dict(desc.to_dict()) == desc
    assert table_attributes_text(desc.attributes()) == (
        "COMPACTION_ENABLED => 'false', DURABILITY => 'SKIP_WAL', MAX_FILESIZE => '1048576', "
        "MEMSTORE_FLUSHSIZE => '2097152', MERGE_ENABLED => 'false', READONLY => 'true', "
        "SPLIT_ENABLED => 'false'")
    assert table_attributes_text(TABLE.attributes()) == ""


@pytest.mark.parametrize("key, text, value", [
    ("READONLY", "TRUE", True), ("READONLY", b"false", False), ("SPLIT_ENABLED", False, False),
    ("MEMSTORE_FLUSHSIZE", "134217728", 134217728), ("MAX_FILESIZE", 65536, 65536),
    ("DURABILITY", b"async_wal", "ASYNC_WAL")])
def test_attribute_values_are_read_from_what_the_shell_gives(key, text, value):
    assert table_attribute_value(key, text) == value


@pytest.mark.parametrize("key, text, message", [
    ("READONLY", "yes", "READONLY must be true or false, got 'yes'"),
    ("MAX_FILESIZE", True, "MAX_FILESIZE must be a whole number of bytes, got True"),
    ("MAX_FILESIZE", 10 ** 23, "MAX_FILESIZE must be a whole number of bytes, got 1000"),
    ("MEMSTORE_FLUSHSIZE", 2097152.5, "MEMSTORE_FLUSHSIZE must be a whole number of bytes"),
    ("MEMSTORE_FLUSHSIZE", "-1", "MEMSTORE_FLUSHSIZE must be a whole number of bytes"),
    ("DURABILITY", "LATER", "DURABILITY must be one of USE_DEFAULT, SKIP_WAL, ASYNC_WAL"),
    ("OWNER", "me", "unknown table attribute 'OWNER'")])
def test_a_bad_attribute_value_is_refused_naming_it(key, text, message):
    with pytest.raises(InvalidArgumentError, match=message):
        table_attribute_value(key, text)


@pytest.mark.parametrize("durability, appends, syncs, recovered", [
    ("SYNC_WAL", 1, 1, [b"row"]), ("USE_DEFAULT", 1, 1, [b"row"]),
    ("ASYNC_WAL", 1, 0, [b"row"]), ("SKIP_WAL", 0, 0, [])])
def test_durability_decides_how_an_acknowledged_write_meets_the_wal(
        tmp_path, durability, appends, syncs, recovered):
    """SYNC_WAL: logged and synced before the write is acknowledged. ASYNC_WAL: logged but not
    synced (the region server's chore syncs it within a second; a killed process keeps it, the
    file has it). SKIP_WAL: in the memstore only, so a crash loses it."""
    wal = WAL(layout.wal_dir(str(tmp_path), "host,1,1"))
    table = replace(TABLE, durability=durability)
    r = Region.open(str(tmp_path), INFO, table, wal=wal, background=Inline(),
                    config=RegionConfig(clock=Clock(), flush_size=1 << 30))
    r.mutate(Mutation(b"row").put(CF, b"q", b"v", 1))
    assert r.get(Get(b"row")) and (wal.stats.appends, wal.stats.syncs) == (appends, syncs)
    r.close(flush=False)  # a crash: the memstore is lost, nothing was flushed
    wal.close()
    split_wal(wal.directory, str(tmp_path))
    r = open_region(tmp_path, table)
    assert [c.row for c in r.get(Get(b"row"))] == recovered
    r.close()
