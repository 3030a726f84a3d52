"""Table DDL through the Master gRPC service of a real master process, with precise errors,
and meta written atomically (see docs/coordination.md, "Tables" and "Meta")."""

from __future__ import annotations

import os

import grpc
import pytest
from kazoo.exceptions import NodeExistsError

from coordination import meta_reader
from coordination import zk as zk_mod
from coordination.znodes import (CLOSED, DISABLED, ENABLED, OPEN, Paths, RegionRecord,
                                 TableRecord)
from hmaster.meta import MetaStore
from minihbase import errors
from protos import minihbase_pb2 as pb
from protos.status import from_rpc_error
from storage import layout
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from tests.cluster.conftest import new_chroot, wait_for
from tests.cluster.master_fakes import FakeRegionServer, MasterProcess


@pytest.fixture(scope="module")
def cluster(zookeeper, tmp_path_factory):
    """One master process and two fake region servers for the whole module."""
    quorum = new_chroot(zookeeper.quorum)
    d = tmp_path_factory.mktemp("ddl")
    rootdir = str(d / "root")
    master = MasterProcess(quorum, rootdir, str(d))
    servers = [FakeRegionServer(quorum).start() for _ in range(2)]
    zk = zk_mod.connect(quorum, session_timeout=10.0)
    try:
        wait_for(lambda: len(master.stub.GetClusterStatus(pb.Empty(), timeout=2).servers) == 2,
                 30, "master active with two servers")
        yield master, servers, zk, rootdir
    finally:
        zk.stop()
        zk.close()
        for s in servers:
            s.stop()
        master.stop()


def call(fn, request):
    try:
        return fn(request, timeout=30)
    except grpc.RpcError as e:
        raise from_rpc_error(e) from None


def schema(name, *families):
    return pb.TableSchema(name=name, families=list(families) or [pb.FamilySchema(name="cf")])


def test_create_with_split_keys_opens_every_region_across_servers(cluster):
    master, servers, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(
        schema=schema("presplit", pb.FamilySchema(name="cf", max_versions=3, ttl_seconds=60,
                                                  bloom="ROWCOL", compression="ZSTD")),
        split_keys=[b"300", b"100", b"20000"]))
    regions = meta_reader.list_regions(zk, "presplit")
    # sorted by start key in byte order: b"100" < b"20000" < b"300"
    assert [(r.info.start_key, r.info.end_key) for r in regions] == [
        (b"", b"100"), (b"100", b"20000"), (b"20000", b"300"), (b"300", b"")]
    assert all(r.state == OPEN for r in regions)
    assert {r.server for r in regions} == {s.name for s in servers}
    assert sorted(len([r for r in regions if r.server == s.name]) for s in servers) == [2, 2]
    rec = meta_reader.read_table(zk, "presplit")
    fam = rec.descriptor.family(b"cf")
    assert (rec.state, fam.max_versions, fam.ttl, fam.bloom, fam.compression) == (
        ENABLED, 3, 60, "ROWCOL", "ZSTD")
    desc = call(master.stub.DescribeTable, pb.TableName(name="presplit"))
    assert desc.state == ENABLED and len(desc.regions) == 4
    assert desc.schema.families[0].max_versions == 3


def test_create_existing_table_is_table_exists_error(cluster):
    master, _, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("dup")))
    # the record of the directories it wrote went with the commit (meta.record_leftovers)
    assert not zk.exists(Paths().leftovers_of("dup"))
    with pytest.raises(errors.TableExistsError, match="table 'dup' already exists"):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("dup")))


@pytest.mark.parametrize("bad, message", [
    (schema("bad name!"), "invalid table name 'bad name!'"),
    (schema("-dash"), "invalid table name '-dash'"),
    (schema("a:b:c"), "invalid table name 'a:b:c'"),  # [namespace:]name
    (schema(":t"), "invalid table name ':t'"),
    (schema("n-s:t"), "invalid table name 'n-s:t'"),  # namespaces take no '-' or '.'
    (pb.TableSchema(name="nofam"), "needs at least one column family"),
    (schema("badbloom", pb.FamilySchema(name="cf", bloom="BIG")), "bloom must be one of"),
    (schema("badcomp", pb.FamilySchema(name="cf", compression="LZO")), "compression must be"),
    (schema("badkdc", pb.FamilySchema(name="cf", keep_deleted_cells="maybe")),
     "column family 'cf': KEEP_DELETED_CELLS must be one of FALSE, TRUE, TTL"),
    (schema("badenc", pb.FamilySchema(name="cf", data_block_encoding="ZIP")),
     "column family 'cf': DATA_BLOCK_ENCODING must be one of NONE, PREFIX, FAST_DIFF"),
    (schema("diffenc", pb.FamilySchema(name="cf", data_block_encoding="DIFF")),
     "DATA_BLOCK_ENCODING DIFF is not supported by minihbase"),
    (schema("badver", pb.FamilySchema(name="cf", max_versions=-2)), "must not be negative"),
    (schema("badfam", pb.FamilySchema(name="c f")), "invalid column family name 'c f'"),
    (schema("twice", pb.FamilySchema(name="cf"), pb.FamilySchema(name="cf")), "twice"),
])
def test_invalid_table_name_or_family_options_are_invalid_argument(cluster, bad, message):
    master, _, zk, _ = cluster
    with pytest.raises(errors.InvalidArgumentError, match=message):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=bad))
    assert bad.name not in meta_reader.list_tables(zk)


def test_empty_or_duplicate_split_keys_are_invalid_argument(cluster):
    master, _, _, rootdir = cluster
    with pytest.raises(errors.InvalidArgumentError, match="must not be empty"):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("sk1"),
                                                            split_keys=[b""]))
    with pytest.raises(errors.InvalidArgumentError, match="distinct"):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("sk2"),
                                                            split_keys=[b"a", b"a"]))
    with pytest.raises(errors.InvalidArgumentError, match="at most 32767 bytes"):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("sk3"),
                                                            split_keys=[b"k" * 40_000]))
    # Each key fits, all together would not fit one ZooKeeper transaction (1 MB): refused
    # before it is sent, instead of ZooKeeper dropping the master's connection -- and before
    # the regions' directories are written (3,600 of them took 10 s to be refused).
    with pytest.raises(errors.InvalidArgumentError,
                       match=r"one ZooKeeper transaction.*: table 'sk4' with 21 regions does not fit"):
        call(master.stub.CreateTable, pb.CreateTableRequest(
            schema=schema("sk4"), split_keys=[b"%02d" % i + b"k" * 30_000 for i in range(20)]))
    assert not os.path.exists(layout.table_dir(rootdir, "sk4"))
    master_log = master.log()
    assert "connection suspended" not in master_log.lower(), master_log[-2000:]
    assert "sk4" not in [t.schema.name for t in call(master.stub.ListTables, pb.Empty()).tables]


def test_unknown_table_is_table_not_found_for_every_call(cluster):
    master, *_ = cluster
    name = pb.TableName(name="ghost")
    for fn in (master.stub.DescribeTable, master.stub.DisableTable, master.stub.EnableTable,
               master.stub.DeleteTable):
        with pytest.raises(errors.TableNotFoundError, match="table 'ghost' does not exist"):
            call(fn, name)
    with pytest.raises(errors.TableNotFoundError):
        call(master.stub.AlterTable, pb.AlterTableRequest(name="ghost", remove=["cf"]))


def test_disable_closes_every_region_enable_reopens_drop_deletes_meta_and_dir(cluster):
    master, servers, zk, rootdir = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("life"),
                                                        split_keys=[b"m"]))
    names = {r.info.name for r in meta_reader.list_regions(zk, "life")}
    assert names <= set().union(*(s.open_names() for s in servers))
    with pytest.raises(errors.TableNotDisabledError, match="disable it before dropping"):
        call(master.stub.DeleteTable, pb.TableName(name="life"))
    call(master.stub.DisableTable, pb.TableName(name="life"))
    regions = meta_reader.list_regions(zk, "life")
    assert [r.state for r in regions] == [CLOSED, CLOSED]
    assert meta_reader.read_table(zk, "life").state == DISABLED
    assert not names & set().union(*(s.open_names() for s in servers))
    with pytest.raises(errors.TableNotEnabledError, match="already disabled"):
        call(master.stub.DisableTable, pb.TableName(name="life"))
    call(master.stub.EnableTable, pb.TableName(name="life"))
    assert [r.state for r in meta_reader.list_regions(zk, "life")] == [OPEN, OPEN]
    assert names <= set().union(*(s.open_names() for s in servers))
    with pytest.raises(errors.TableNotDisabledError, match="already enabled"):
        call(master.stub.EnableTable, pb.TableName(name="life"))
    call(master.stub.DisableTable, pb.TableName(name="life"))
    for fn, request in ((master.stub.Flush, pb.TableActionRequest(table="life")),
                        (master.stub.Compact, pb.TableActionRequest(table="life")),
                        (master.stub.Split, pb.SplitRequest(table="life")),
                        (master.stub.Split, pb.SplitRequest(table="life", split_key=b"q"))):
        with pytest.raises(errors.TableNotEnabledError, match="is disabled: cannot"):
            call(fn, request)  # nothing is open: "done" would mislead
    os.makedirs(layout.table_dir(rootdir, "life") + "/somefile-dir")  # what region servers made
    call(master.stub.DeleteTable, pb.TableName(name="life"))
    assert "life" not in meta_reader.list_tables(zk)
    assert zk.exists(Paths().table_meta("life")) is None
    assert not os.path.exists(layout.table_dir(rootdir, "life"))


def test_alter_online_reopens_regions_with_the_new_schema(cluster):
    master, servers, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("alt")))
    before = sum(len(s.opened) for s in servers)
    call(master.stub.AlterTable, pb.AlterTableRequest(
        name="alt", add_or_modify=[pb.FamilySchema(name="cf", max_versions=5),
                                   pb.FamilySchema(name="extra", ttl_seconds=10)]))
    rec = meta_reader.read_table(zk, "alt")
    assert rec.descriptor.family(b"cf").max_versions == 5
    assert rec.descriptor.family(b"extra").ttl == 10
    assert sum(len(s.opened) for s in servers) == before + 1  # reopened once
    assert [r.state for r in meta_reader.list_regions(zk, "alt")] == [OPEN]
    call(master.stub.AlterTable, pb.AlterTableRequest(name="alt", remove=["extra"]))
    assert meta_reader.read_table(zk, "alt").descriptor.family_names() == [b"cf"]
    with pytest.raises(errors.NoSuchColumnFamilyError, match="no such family"):
        call(master.stub.AlterTable, pb.AlterTableRequest(name="alt", remove=["nope"]))
    with pytest.raises(errors.InvalidArgumentError, match="without any family"):
        call(master.stub.AlterTable, pb.AlterTableRequest(name="alt", remove=["cf"]))
    with pytest.raises(errors.InvalidArgumentError, match="bloom"):
        call(master.stub.AlterTable, pb.AlterTableRequest(
            name="alt", add_or_modify=[pb.FamilySchema(name="cf", bloom="HUGE")]))


def test_list_tables_describes_each(cluster):
    master, *_ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("listed")))
    tables = {t.schema.name: t for t in call(master.stub.ListTables, pb.Empty()).tables}
    assert "listed" in tables and tables["listed"].state == ENABLED
    assert tables["listed"].regions[0].state == OPEN


def test_create_table_meta_is_all_or_nothing(zookeeper):
    """A create whose transaction fails half-way (a region znode already exists) leaves no
    table record behind: the multi-op is atomic."""
    zk = zk_mod.connect(new_chroot(zookeeper.quorum), session_timeout=10.0)
    try:
        meta = MetaStore(zk, Paths())
        meta.ensure_layout()
        desc = TableDescriptor("atomic", (FamilyDescriptor(b"cf"),))
        regions = [RegionRecord(RegionInfo("atomic", s, e, 1)) for s, e in
                   ((b"", b"k"), (b"k", b""))]
        zk.create(meta.region_path(regions[1]), b"squatter", makepath=True)  # makes it fail
        with pytest.raises(NodeExistsError):
            meta.commit([meta.create_region_op(r) for r in regions] +
                         [meta.journal_op("x", {}, create=True)])
        with pytest.raises(errors.TableExistsError):  # meta/atomic exists, so create fails
            meta.create_table(TableRecord(desc), regions)
        assert zk.exists(Paths().table("atomic")) is None
        assert zk.get_children(Paths().table_meta("atomic")) == [regions[1].info.encoded_name]
        assert zk.exists(Paths().split_journal("x")) is None
    finally:
        zk.stop()
        zk.close()


def test_info_port_lists_servers_tables_and_regions(cluster):
    import json
    import urllib.request

    from coordination.znodes import MasterRecord

    master, servers, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("web"),
                                                        split_keys=[b"k"]))
    info_port = MasterRecord.from_bytes(zk.get(Paths().master)[0]).info_port
    base = f"http://127.0.0.1:{info_port}"
    page = urllib.request.urlopen(base + "/", timeout=5).read().decode()
    assert '<a href="/table/web">web</a>' in page and all(s.name in page for s in servers)
    doc = json.loads(urllib.request.urlopen(base + "/status.json", timeout=5).read())
    assert {s["state"] for s in doc["servers"]} == {"ONLINE"}
    metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert 'minihbase_master_servers{state="ONLINE"} 2.0' in metrics


def test_split_of_a_table_at_a_key_splits_only_the_region_holding_it(cluster):
    """HBase: `split 't', 'key'` splits the one region holding the key (the others stay
    whole), and a key that is already a region boundary is refused."""
    master, _, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("splitkey"),
                                                        split_keys=[b"m"]))
    wait_for(lambda: all(r.state == OPEN for r in meta_reader.list_regions(zk, "splitkey")),
             30, "regions open")
    call(master.stub.Split, pb.SplitRequest(table="splitkey", split_key=b"c"))

    def live_starts():
        regions = meta_reader.list_regions(zk, "splitkey")
        return sorted(r.info.start_key for r in regions if r.state == OPEN)
    assert wait_for(lambda: live_starts() == [b"", b"c", b"m"] and live_starts(), 30,
                    "the daughters of ['', m) open")
    with pytest.raises(errors.InvalidArgumentError, match="already a region boundary"):
        call(master.stub.Split, pb.SplitRequest(table="splitkey", split_key=b"m"))
    assert live_starts() == [b"", b"c", b"m"]


@pytest.mark.parametrize("alias", ["/pathy", "pathy/", "", "..", "pathy\n"])
def test_names_that_are_not_table_names_are_refused_and_touch_nothing(cluster, alias):
    """"/pathy" used to reach table pathy through ZooKeeper while a drop removed the
    directory "/pathy" on the master's host: every DDL call now refuses such names."""
    master, _, zk, rootdir = cluster
    if "pathy" not in meta_reader.list_tables(zk):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema("pathy")))
        call(master.stub.DisableTable, pb.TableName(name="pathy"))
    os.makedirs(layout.table_dir(rootdir, "pathy"), exist_ok=True)
    for fn in (master.stub.DescribeTable, master.stub.EnableTable, master.stub.DisableTable,
               master.stub.DeleteTable):
        with pytest.raises(errors.InvalidArgumentError, match="invalid table name"):
            call(fn, pb.TableName(name=alias))
    with pytest.raises(errors.InvalidArgumentError, match="invalid table name"):
        call(master.stub.CreateTable, pb.CreateTableRequest(schema=schema(alias)))
    assert meta_reader.read_table(zk, "pathy").state == DISABLED
    assert os.path.isdir(layout.table_dir(rootdir, "pathy"))


def test_a_new_master_finishes_an_alter_its_predecessor_left_half_done(zookeeper, tmp_path):
    """An alter writes its new descriptor and what it has left to do in one step; a master
    killed before it deleted a removed family's files must not leave them to come back when
    the family is added again: the next master finishes the alter."""
    quorum = new_chroot(zookeeper.quorum)
    rootdir = str(tmp_path / "root")
    zk = zk_mod.connect(quorum, session_timeout=10.0)
    master = None
    try:
        meta = MetaStore(zk, Paths())
        meta.ensure_layout()
        info = RegionInfo("half", b"", b"", 1)
        desc = TableDescriptor("half", (FamilyDescriptor(b"cf"),))  # cf2 already removed
        meta.create_table(TableRecord(desc, DISABLED, alter_pending=("cf2",)),
                          [RegionRecord(info, CLOSED)])
        old_files = layout.family_dir(layout.region_dir(rootdir, info), b"cf2")
        os.makedirs(old_files)
        assert TableRecord.from_bytes(zk.get(Paths().table("half"))[0]).alter_pending == ("cf2",)
        master = MasterProcess(quorum, rootdir, str(tmp_path))
        wait_for(lambda: meta_reader.read_table(zk, "half").alter_pending is None, 30,
                 "the new master to finish the alter")
        assert not os.path.exists(old_files)
        assert os.path.isdir(layout.region_dir(rootdir, info))  # the rest of the region stays
        assert meta_reader.read_table(zk, "half").state == DISABLED
    finally:
        if master is not None:
            master.stop()
        zk.stop()
        zk.close()


def test_alter_table_attributes_reaches_every_region_and_keeps_the_others(cluster):
    """HBase's alter 't', READONLY => true, MEMSTORE_FLUSHSIZE => ...: the new descriptor is in
    meta and reaches each region (reopened) on its server; attributes not named are kept, and
    one set to its default is unset."""
    master, servers, zk, _ = cluster
    call(master.stub.CreateTable, pb.CreateTableRequest(
        schema=pb.TableSchema(name="attrs", families=[pb.FamilySchema(name="cf")],
                              max_filesize=1 << 20, compaction_enabled=False),
        split_keys=[b"m"]))
    call(master.stub.AlterTable, pb.AlterTableRequest(
        name="attrs", readonly=True, memstore_flushsize=1 << 21, max_filesize=0,
        durability="ASYNC_WAL"))
    desc = meta_reader.read_table(zk, "attrs").descriptor
    assert desc.attributes() == {"compaction_enabled": False, "max_filesize": 0,
                                 "memstore_flushsize": 1 << 21, "merge_enabled": True,
                                 "readonly": True, "split_enabled": True,
                                 "durability": "ASYNC_WAL", "normalization_enabled": False,
                                 "normalizer_target_region_count": 0,
                                 "normalizer_target_region_size_mb": 0}
    names = {r.info.name for r in meta_reader.list_regions(zk, "attrs")}
    opened = {n: s.schemas[n] for s in servers for n in names & s.open_names()}
    assert set(opened) == names and all(d == desc for d in opened.values())
    assert call(master.stub.DescribeTable, pb.TableName(name="attrs")).schema.readonly
    with pytest.raises(errors.InvalidArgumentError,
                       match="'attrs': MEMSTORE_FLUSHSIZE must be at least 65536 bytes"):
        call(master.stub.AlterTable, pb.AlterTableRequest(name="attrs", memstore_flushsize=5))
    assert meta_reader.read_table(zk, "attrs").descriptor == desc  # a refused alter: unchanged
