"""The region normalizer (hmaster/normalizer.py): its plans on their own, then against real
daemons -- a badly pre-split table brought near one region size by `normalize`, with no row
lost, the switch and the table attribute honoured."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from coordination.znodes import ENABLED, OPEN, RegionRecord
from hmaster.normalizer import MB, NormalizerConfig, RegionNormalizer, plan, select_tables
from minihbase.errors import (InvalidArgumentError, MasterNotRunningError,
                              NamespaceNotFoundError)
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor, table_attribute_value
from tests.cluster.conftest import stop_cluster, wait_for
from tests.cluster.test_client_cluster import cli

NOW_MS = 10 * 86400 * 1000
OLD = 1000  # region ids (creation ms) long before NOW_MS
CONFIG = NormalizerConfig(min_region_count=3, merge_min_age_s=86400, merge_min_bytes=MB)


def _table(**attributes) -> TableDescriptor:
    return TableDescriptor("t", (FamilyDescriptor(b"cf"),), normalization_enabled=True,
                           **attributes)


def _regions(sizes_mb, region_id=OLD):
    """Adjacent regions with those sizes: (records, sizes by name)."""
    keys = [b""] + [b"k%02d" % i for i in range(1, len(sizes_mb))] + [b""]
    records = [RegionRecord(RegionInfo("t", keys[i], keys[i + 1], region_id), OPEN, "rs", 0)
               for i in range(len(sizes_mb))]
    return records, {r.info.name: int(mb * MB) for r, mb in zip(records, sizes_mb)}


def _kinds(plans) -> list[tuple[str, list[int]]]:
    return [(p.kind, [int(r.info.start_key[1:] or b"0") for r in p.regions]) for p in plans]


def test_regions_over_twice_the_mean_are_split_and_adjacent_small_ones_merged():
    regions, sizes = _regions([20, 1, 1, 1, 1, 20])  # mean 7.3 MB
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, CONFIG)) == [
        ("split", [0]), ("split", [5]), ("merge", [1, 2, 3, 4])]


def test_a_merge_plan_takes_a_run_of_regions_while_they_fit_in_the_target():
    """HBase's computeMergeNormalizationPlans since HBASE-24419: a run grows while its regions
    together stay within the target; the region that does not fit starts the next run."""
    regions, sizes = _regions([2, 2, 2, 2, 2, 2, 9, 9, 9, 9, 9, 9])  # mean 5.5 MB
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, CONFIG)) == [
        ("merge", [0, 1]), ("merge", [2, 3]), ("merge", [4, 5])]  # 2 + 2 + 2 > 5.5
    regions, sizes = _regions([1, 1, 1, 1, 2, 1, 20, 1, 1])  # mean 3.2 MB
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, CONFIG)) == [
        ("split", [6]), ("merge", [0, 1, 2]), ("merge", [3, 4]), ("merge", [7, 8])]
    capped = NormalizerConfig(min_region_count=3, merge_min_age_s=0, merge_min_bytes=0,
                              merge_max_regions=3)
    regions, sizes = _regions([0] * 9)
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, capped)) == [
        ("merge", [0, 1, 2]), ("merge", [3, 4, 5]), ("merge", [6, 7, 8])]


def test_a_target_region_count_or_size_sets_what_is_too_big():
    regions, sizes = _regions([10, 10, 10])
    assert plan(_table(), regions, sizes, NOW_MS, CONFIG) == []  # even: nothing to do
    by_count = plan(_table(normalizer_target_region_count=6), regions, sizes, NOW_MS, CONFIG)
    assert _kinds(by_count) == []  # target 5 MB: 10 is not over twice it
    by_count = plan(_table(normalizer_target_region_count=9), regions, sizes, NOW_MS, CONFIG)
    assert [k for k, _ in _kinds(by_count)] == ["split"] * 3  # target 3.3 MB
    by_size = plan(_table(normalizer_target_region_size_mb=40), regions, sizes, NOW_MS, CONFIG)
    assert _kinds(by_size) == [("merge", [0, 1, 2])]  # 10 + 10 + 10 fit in 40


@pytest.mark.parametrize("why,regions_sizes,table,config", [
    ("regions too young", _regions([1, 1, 1, 9], region_id=NOW_MS - 1000), _table(), CONFIG),
    ("regions under the minimum size", _regions([0.5, 0.5, 0.5, 9]), _table(), CONFIG),
    ("fewer regions than min_region_count", _regions([1, 1]), _table(),
     NormalizerConfig(min_region_count=3, merge_min_age_s=0, merge_min_bytes=0)),
    ("MERGE_ENABLED false", _regions([1, 1, 1, 9]), _table(merge_enabled=False), CONFIG),
])
def test_no_merge_plan_for(why, regions_sizes, table, config):
    regions, sizes = regions_sizes
    assert [p for p in plan(table, regions, sizes, NOW_MS, config) if p.kind == "merge"] == []


def test_no_split_plan_with_split_disabled_and_unreported_regions_are_left_out():
    regions, sizes = _regions([1, 1, 30])
    assert _kinds(plan(_table(split_enabled=False), regions, sizes, NOW_MS, CONFIG)) == [
        ("merge", [0, 1])]  # no split of the 30 MB region
    del sizes[regions[2].info.name]  # not reported yet: neither the big one nor in the mean
    assert plan(_table(), regions, sizes, NOW_MS, CONFIG) == []


# -- against real daemons ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ncluster(cluster_factory):
    # No periodic run (normalizer_period): only `normalize` may touch the tables here.
    c = cluster_factory("normalizer", masters=1, regionservers=2, balancer_period=3600,
                        normalizer_period=3600, normalizer_merge_min_age=0,
                        normalizer_merge_min_bytes=0)
    yield c
    stop_cluster(c)


def test_normalize_splits_the_big_region_and_merges_empty_ones_losing_no_row(
        ncluster, connection_for):
    conn = connection_for(ncluster, timeout=60)
    conn.create_table("norm", {"cf": {}}, split_keys=[b"b", b"c", b"d", b"e"],
                      normalization_enabled=True)
    conn.create_table("plain", {"cf": {}}, split_keys=[b"b", b"c", b"d", b"e"])
    rows = {b"a%05d" % i: {b"cf:q": b"v" * 100} for i in range(3000)}
    for name in ("norm", "plain"):
        with conn.table(name).batch(batch_size=500) as b:
            for row, data in rows.items():
                b.put(row, data)
        conn.flush(name)
    wait_for(lambda: all(_reported(conn, n) for n in ("norm", "plain")), 30,
             "the load reports")

    assert conn.normalizer_switch(False) is True  # on by default
    assert conn.normalize() == {"ran": False, "splits": 0, "merges": 0}
    assert len(conn.regions("norm")) == 5
    assert conn.normalizer_switch(True) is False

    out = cli(ncluster, "normalize")
    assert out.returncode == 0, out.stderr
    # ['', b) holds everything: split; [b, c) ... [e, '') are empty: merged in one
    assert out.stdout.strip() == "true (1 split(s), 1 merge(s))"
    wait_for(lambda: all(r["state"] == "OPEN" for r in conn.regions("norm")), 30, "settled")
    bounds = [(r["start_key"], r["end_key"]) for r in conn.regions("norm")]
    assert len(bounds) == 3 and bounds[0][0] == b"" and bounds[-1] == (b"b", b"")
    assert b"a" < bounds[0][1] < b"b"  # the mid key of the full region
    assert dict(conn.table("norm").scan()) == rows
    assert len(conn.regions("plain")) == 5  # NORMALIZATION_ENABLED is off there
    assert cli(ncluster, "normalizer_enabled").stdout.strip() == "true"


def _reported(conn, name: str) -> bool:
    """Whether the master has a load report of every region of `name` since its flush (the
    normalizer plans with the regions it has sizes of: an empty region not yet reported would
    shrink the table's average, and with it the plans)."""
    regions = conn.regions(name)
    return (all("store_bytes" in r for r in regions)
            and regions[0]["store_bytes"] > 0)


def _load_five_regions(conn, name: str, **attributes) -> dict:
    """A table split at b, c, d, e whose rows are all in ['', b), flushed and reported: the
    normalizer splits ['', b) and merges [b, c) ... [e, '') into one."""
    conn.create_table(name, {"cf": {}}, split_keys=[b"b", b"c", b"d", b"e"], **attributes)
    rows = {b"a%05d" % i: {b"cf:q": b"v" * 100} for i in range(3000)}
    with conn.table(name).batch(batch_size=500) as b:
        for row, data in rows.items():
            b.put(row, data)
    conn.flush(name)
    return rows


def test_a_filtered_normalize_leaves_the_tables_it_does_not_select_alone(
        ncluster, connection_for):
    """HBase 2.4's normalize {TABLE_NAMES => [...]} / {REGEX => ...} / {NAMESPACE => ...}:
    only the tables selected, and of those only the ones with NORMALIZATION_ENABLED."""
    conn = connection_for(ncluster, timeout=60)
    conn.create_namespace("nsn")
    rows = _load_five_regions(conn, "fa", normalization_enabled=True)
    _load_five_regions(conn, "nsn:fb", normalization_enabled=True)
    _load_five_regions(conn, "fc")  # named below, but NORMALIZATION_ENABLED is off
    wait_for(lambda: all(_reported(conn, n) for n in ("fa", "nsn:fb", "fc")), 30,
             "the load reports")

    # A missing table named is skipped, as HBase's getTableDescriptors does.
    done = conn.normalize(table_names=["fa", "fc", "nosuch"])
    assert done == {"ran": True, "splits": 1, "merges": 1}
    wait_for(lambda: all(r["state"] == "OPEN" for r in conn.regions("fa")), 30, "settled")
    assert len(conn.regions("fa")) == 3
    assert dict(conn.table("fa").scan()) == rows
    assert len(conn.regions("fc")) == 5  # named, but not NORMALIZATION_ENABLED
    assert len(conn.regions("nsn:fb")) == 5  # enabled, but not named: untouched

    out = cli(ncluster, "normalize", "--regex", "nsn:.*", "--namespace", "default")
    assert (out.returncode, out.stdout.strip()) == (0, "true (0 split(s), 0 merge(s))")
    assert len(conn.regions("nsn:fb")) == 5  # the regex matches it, the namespace does not

    out = cli(ncluster, "normalize", "--namespace", "nsn", "--regex", "nsn:f.*")
    assert (out.returncode, out.stdout.strip()) == (0, "true (1 split(s), 1 merge(s))")
    wait_for(lambda: all(r["state"] == "OPEN" for r in conn.regions("nsn:fb")), 30, "settled")
    assert len(conn.regions("nsn:fb")) == 3

    out = cli(ncluster, "normalize", "--regex", "f[a")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("ERROR: normalize: invalid regex 'f[a': "), out.stderr
    with pytest.raises(NamespaceNotFoundError, match="nosuchns"):
        conn.normalize(namespace="nosuchns")


def _meta(tables, namespaces=("default", "hbase")) -> SimpleNamespace:
    return SimpleNamespace(tables=lambda: sorted(tables),
                           namespace_exists=lambda name: name in namespaces)


@pytest.mark.parametrize("names, regex, namespace, expected", [
    ((), None, "", ["a1", "a2", "ns1:a1", "ns1:b"]),  # no filter: every table
    (("a1", "default:a2", "nosuch", "ns1:b"), None, "", ["a1", "a2", "ns1:b"]),
    (("a1",), None, "ns1", ["a1"]),  # table names given: the namespace is ignored
    ((), None, "ns1", ["ns1:a1", "ns1:b"]),
    ((), "a.", "", ["a1", "a2"]),  # the whole name must match
    ((), "default:a1|ns1:.*", "", ["a1", "ns1:a1", "ns1:b"]),  # default: spelled or not
    ((), ".*1", "ns1", ["ns1:a1"]),
    (("a1", "a2", "ns1:b"), ".*2", "", ["a2"]),
    ((), "", "", []),  # an empty regex matches no name (HBase tells it from no regex)
])
def test_the_table_filter_selects_as_hbase_s_normalize_table_filter_params(
        names, regex, namespace, expected):
    meta = _meta(["a1", "a2", "ns1:a1", "ns1:b"], namespaces=("default", "hbase", "ns1"))
    assert sorted(select_tables(meta, names, regex, namespace)) == expected


def test_a_bad_table_filter_is_an_error_naming_what_is_wrong():
    meta = _meta(["a1"])
    with pytest.raises(InvalidArgumentError, match=r"normalize: invalid regex 'a\(': "):
        select_tables(meta, (), "a(", "")
    with pytest.raises(NamespaceNotFoundError, match="namespace 'nons' does not exist"):
        select_tables(meta, (), None, "nons")
    with pytest.raises(InvalidArgumentError, match="invalid namespace name 'a b'"):
        select_tables(meta, (), None, "a b")
    with pytest.raises(InvalidArgumentError, match="invalid table name 'a b'"):
        select_tables(meta, ("a b",), None, "")


def test_a_run_over_some_tables_plans_only_those():
    regions, sizes = _regions([40, 1, 40, 1, 1, 1])
    split = []
    splits = SimpleNamespace(split=lambda name, key: split.append(name))
    normalizer = _normalizer(lambda: regions, sizes, splits)
    assert normalizer.run(forced=True, tables=[]) == (True, 0, 0)
    assert split == []
    assert normalizer.run(forced=True, tables=["t"]) == (True, 2, 0)


def test_a_region_not_open_is_left_out_not_the_whole_table():
    # HBase (SimpleRegionNormalizer.skipForSplit / skipForMerge) skips only the region whose
    # state is not OPEN: one unassigned or FAILED_OPEN region must not stop the rest.
    regions, sizes = _regions([30, 1, 1, 1, 1, 1])
    regions[5] = RegionRecord(regions[5].info, "CLOSED", "", 0)
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, CONFIG)) == [
        ("split", [0]), ("merge", [1, 2, 3, 4])]
    regions[0] = RegionRecord(regions[0].info, "FAILED_OPEN", "", 0)
    assert ("split", [0]) not in _kinds(plan(_table(), regions, sizes, NOW_MS, CONFIG))


def test_an_empty_region_joins_its_neighbour_when_empty_regions_may_merge():
    # HBase's computeMergeNormalizationPlans always adds a 0-size region to the range, and a
    # range seeded by a 0-size region takes the next one: empty regions do not linger.
    config = NormalizerConfig(min_region_count=3, merge_min_age_s=0, merge_min_bytes=0)
    regions, sizes = _regions([0, 10, 10, 10])  # mean 7.5 MB: 0 + 10 is over it
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, config)) == [("merge", [0, 1])]
    regions, sizes = _regions([10, 10, 10, 0])
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, config)) == [("merge", [2, 3])]


def test_a_region_to_split_is_not_also_merged_with_an_empty_neighbour():
    config = NormalizerConfig(min_region_count=3, merge_min_age_s=0, merge_min_bytes=0)
    regions, sizes = _regions([30, 0, 0, 0, 0])
    assert _kinds(plan(_table(), regions, sizes, NOW_MS, config)) == [
        ("split", [0]), ("merge", [1, 2, 3, 4])]


def _normalizer(regions, sizes, splits, **kwargs) -> RegionNormalizer:
    """A RegionNormalizer over one table "t" (MERGE_ENABLED false) whose meta lists
    `regions()` and whose one server reported `sizes`; `splits` stands for the procedures."""
    meta = SimpleNamespace(switch_on=lambda name: True, tables=lambda: ["t"],
                           read_table=lambda name: SimpleNamespace(
                               state=ENABLED, descriptor=_table(merge_enabled=False)),
                           regions=lambda name: regions())
    load = SimpleNamespace(regions=[SimpleNamespace(region=n, store_bytes=s)
                                    for n, s in sizes.items()])
    servers = SimpleNamespace(online=lambda: ["rs"], load=lambda server: load)
    return RegionNormalizer(meta, servers, splits, CONFIG, **kwargs)


def test_two_runs_at_once_do_not_plan_the_same_regions_twice():
    # HBase runs its plans on one RegionNormalizerWorker thread; here the chore and a
    # `normalize` call may overlap, and must not both split (or report) the same region.
    regions, sizes = _regions([40, 1, 40, 1, 1, 1])
    live = {r.info.name: r for r in regions}
    attempts = []

    class Splits:
        def split(self, name, key):
            attempts.append(name)
            time.sleep(0.2)
            live.pop(name, None)  # the daughters are not reported yet: left out

    normalizer = _normalizer(lambda: list(live.values()), sizes, Splits(),
                             clock=lambda: NOW_MS / 1000)
    results = []
    threads = [threading.Thread(target=lambda: results.append(normalizer.run(forced=True)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(attempts) == sorted([regions[0].info.name, regions[2].info.name])
    assert sorted(results) == [(True, 0, 0), (True, 2, 0)]


def test_the_chore_skips_its_turn_while_a_normalize_call_runs():
    meta = SimpleNamespace(switch_on=lambda name: True, tables=lambda: [])
    normalizer = RegionNormalizer(meta, SimpleNamespace(online=lambda: []), None, CONFIG)
    normalizer._run_lock.acquire()  # a normalize call under way
    try:
        done = []
        chore = threading.Thread(target=lambda: done.append(normalizer.run()))
        chore.start()
        chore.join(5)
        assert done == [(True, 0, 0)]  # did not wait for it
    finally:
        normalizer._run_lock.release()


def test_a_run_stops_between_plans_once_the_master_stops():
    # HBase stops its RegionNormalizerWorker with the master; here a run went on splitting
    # after "master stopping" and its caller got "internal error: RuntimeError: cannot
    # schedule new futures after shutdown" instead of a retryable MasterNotRunningError.
    regions, sizes = _regions([40, 1, 40, 1, 1, 1])
    attempts, active = [], [True]

    class Splits:
        def split(self, name, key):
            attempts.append(name)
            active[0] = False  # the master is told to stop meanwhile

    normalizer = _normalizer(lambda: regions, sizes, Splits(), active=lambda: active[0])
    with pytest.raises(MasterNotRunningError, match="after 1 split"):
        normalizer.run(forced=True)
    assert attempts == [regions[0].info.name]


def test_a_plan_cut_short_by_the_master_stopping_is_a_retryable_error():
    regions, sizes = _regions([40, 1, 1, 1])
    active = [True]

    class Splits:
        def split(self, name, key):  # as the assignment pool refuses work in a stopping master
            active[0] = False
            raise RuntimeError("cannot schedule new futures after shutdown")

    normalizer = _normalizer(lambda: regions, sizes, Splits(), active=lambda: active[0])
    with pytest.raises(MasterNotRunningError, match="stopped during the normalizer's split"):
        normalizer.run(forced=True)


def test_a_target_of_minus_one_is_hbases_unset():
    assert table_attribute_value("NORMALIZER_TARGET_REGION_COUNT", -1) == 0
    assert table_attribute_value("NORMALIZER_TARGET_REGION_SIZE_MB", "-1") == 0
    with pytest.raises(ValueError, match="NORMALIZER_TARGET_REGION_COUNT must be a whole"):
        table_attribute_value("NORMALIZER_TARGET_REGION_COUNT", -2)


def test_the_periodic_run_normalizes_without_being_asked(cluster_factory, connection_for):
    """The master's chore starts a run every --normalizer-period (on its own thread)."""
    c = cluster_factory("normalizer-chore", masters=1, regionservers=1, balancer_period=3600,
                        normalizer_period=1)
    try:
        conn = connection_for(c, timeout=60)
        conn.create_table("auto", {"cf": {}}, split_keys=[b"m", b"t"],
                          normalization_enabled=True)
        with conn.table("auto").batch(batch_size=500) as b:
            for i in range(2000):
                b.put(b"a%05d" % i, {b"cf:q": b"v" * 100})
        conn.flush("auto")  # ['', m) holds everything: over twice the mean, a split is due
        wait_for(lambda: len(conn.regions("auto")) >= 4, 60, "the chore's split")
        assert conn.table("auto").count() == 2000
    finally:
        stop_cluster(c)
