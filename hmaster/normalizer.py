"""HBase's region normalizer (SimpleRegionNormalizer): keeps the regions of the tables that ask
for it (NORMALIZATION_ENABLED) near one size, splitting the big and merging the small, so a
table pre-split badly, or one whose keys moved, does not keep hot giants and idle crumbs
(docs/coordination.md, "Region normalizer").

For each ENABLED table with NORMALIZATION_ENABLED, with the region sizes its region servers
reported (store file bytes; a region not reported yet, or not OPEN, is left out of the plans):
  - the target size is NORMALIZER_TARGET_REGION_SIZE_MB if set, else the table's size over
    NORMALIZER_TARGET_REGION_COUNT if set, else the mean region size;
  - split: every region larger than twice the target (the split key is the region server's
    mid key, as for any split);
  - merge (tables with at least `min_region_count` regions): runs of adjacent regions, each old
    enough (`merge_min_age_s`, from its region id) and at least `merge_min_bytes`, whose total
    stays within the target (an empty region joins its neighbour whatever the target, as in
    HBase), each run merged in one (HBase since HBASE-24419).
Plans honour the split and merge switches and the table's SPLIT_ENABLED and MERGE_ENABLED: a
refused one is skipped. The master runs it every `period` (a chore) while the normalizer
switch (/hbase/switch/normalizer) is on; `normalize` runs it now, over every table or those
a filter selects (select_tables: HBase's NormalizeTableFilterParams).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from coordination.znodes import ENABLED, OPEN, RegionRecord
from minihbase.errors import (HBaseError, InvalidArgumentError, MasterNotRunningError,
                              NamespaceNotFoundError, TableNotFoundError)
from storage.schema import (DEFAULT_NAMESPACE, namespace_of, validate_namespace,
                            validate_table_name)

log = logging.getLogger(__name__)

MB = 1 << 20


@dataclass
class NormalizerConfig:
    """HBase's hbase.normalizer.* settings, as master flags."""
    period: float = 300.0  # hbase.normalizer.period (5 min)
    min_region_count: int = 3  # hbase.normalizer.min.region.count: fewer regions, no merges
    merge_min_age_s: float = 3 * 86400.0  # hbase.normalizer.merge.min_region_age.days (3)
    merge_min_bytes: int = 1 * MB  # hbase.normalizer.merge.min_region_size.mb (1)
    # hbase.normalizer.merge.merge_request_max_number_of_regions (100): regions in one merge
    merge_max_regions: int = 100


@dataclass(frozen=True)
class Plan:
    kind: str  # "split" or "merge"
    regions: tuple[RegionRecord, ...]  # one to split, a run of adjacent ones to merge


def target_size(descriptor, sizes: list[int]) -> float:
    """The region size the table's plans aim at (bytes)."""
    if descriptor.normalizer_target_region_size_mb > 0:
        return descriptor.normalizer_target_region_size_mb * MB
    if descriptor.normalizer_target_region_count > 0:
        return sum(sizes) / descriptor.normalizer_target_region_count
    return sum(sizes) / len(sizes) if sizes else 0.0


def plan(descriptor, regions: list[RegionRecord], sizes: dict[str, int], now_ms: int,
         config: NormalizerConfig) -> list[Plan]:
    """The table's split and merge plans; `regions` in key order, `sizes` by region name."""
    known = [r for r in regions if r.info.name in sizes]
    if not known:
        return []
    target = target_size(descriptor, [sizes[r.info.name] for r in known])
    plans = []
    if descriptor.split_enabled:  # a region not OPEN (closed, failed, busy) is left alone
        plans += [Plan("split", (r,)) for r in known
                  if r.state == OPEN and sizes[r.info.name] > 2 * target]
    if descriptor.merge_enabled and len(regions) >= config.min_region_count:
        splitting = {p.regions[0].info.name for p in plans}  # one plan per region at most
        plans += _merges(regions, sizes, target, now_ms, config, splitting)
    return plans


def _merges(regions, sizes, target, now_ms, config, splitting=frozenset()) -> list[Plan]:
    """Runs of adjacent mergeable regions, one merge plan each, as HBase's
    computeMergeNormalizationPlans since HBASE-24419: a run takes the next region while the
    run's size with it stays within the target; an empty region always joins, and a lone empty
    one takes its neighbour whatever its size (else it would linger); at most
    `merge_max_regions` regions. A region that does not fit starts the next run; one that
    cannot merge ends the run."""
    def mergeable(r: RegionRecord) -> bool:
        size = sizes.get(r.info.name)
        return (r.info.name not in splitting and r.state == OPEN and size is not None
                and size >= config.merge_min_bytes
                and now_ms - r.info.region_id >= config.merge_min_age_s * 1000)

    plans, run, total = [], [], 0

    def close_run() -> None:
        if len(run) > 1:
            plans.append(Plan("merge", tuple(run)))

    for r in regions:
        if not mergeable(r):
            close_run()
            run, total = [], 0
            continue
        size = sizes[r.info.name]
        if run and not _joins(len(run), total, size, target, config.merge_max_regions):
            close_run()
            run, total = [], 0
        run.append(r)
        total += size
    close_run()
    return plans


def _joins(run_length: int, run_size: int, size: int, target: float, cap: int) -> bool:
    """Whether a mergeable region of `size` joins the run before it (HBase's range rules)."""
    if run_length >= cap:
        return False
    return not size or (run_length == 1 and not run_size) or run_size + size <= target


def select_tables(meta, table_names=(), regex: str | None = None,
                  namespace: str = "") -> list[str]:
    """The tables a `normalize` filter selects, as HBase's HMaster.getTableDescriptors: those
    of `table_names` that exist, else every table of `namespace` (which must exist), else
    every table; then, with a regex, those whose whole name matches it (a table of the
    default namespace also as default:NAME). NORMALIZATION_ENABLED is checked by the run."""
    pattern = _compile(regex)
    if table_names:
        named, existing = [validate_table_name(t) for t in table_names], set(meta.tables())
        names = [t for t in named if t in existing]
        if len(names) < len(named):
            log.info("normalize: table(s) not found, skipped: %s",
                     ", ".join(t for t in named if t not in existing))
    elif namespace:
        _check_namespace(meta, namespace)
        names = [t for t in meta.tables() if namespace_of(t) == namespace]
    else:
        names = meta.tables()
    return names if pattern is None else [t for t in names if _matches(pattern, t)]


def _compile(regex: str | None) -> re.Pattern | None:
    try:
        return None if regex is None else re.compile(regex)
    except re.error as e:
        raise InvalidArgumentError(f"normalize: invalid regex {regex!r}: {e}") from None


def _check_namespace(meta, namespace: str) -> None:
    if not meta.namespace_exists(validate_namespace(namespace)):
        raise NamespaceNotFoundError(f"namespace {namespace!r} does not exist")


def _matches(pattern: re.Pattern, table: str) -> bool:
    return bool(pattern.fullmatch(table) or (namespace_of(table) == DEFAULT_NAMESPACE
                                             and pattern.fullmatch(f"{DEFAULT_NAMESPACE}:{table}")))


class RegionNormalizer:
    def __init__(self, meta, servers, splits, config: NormalizerConfig, clock=time.time,
                 active=lambda: True):
        self.meta, self.servers, self.splits = meta, servers, splits
        self.config = config
        self._clock = clock
        self._active = active  # False once this master stops or is no longer the active one
        # One run at a time (HBase's single RegionNormalizerWorker): the chore and `normalize`
        # would otherwise plan, try and report the same regions from one stale view.
        self._run_lock = threading.Lock()

    def switch_on(self) -> bool:
        return self.meta.switch_on("normalizer")

    def run(self, forced: bool = False, tables: list[str] | None = None) -> tuple[bool, int, int]:
        """The plans of every table (or of `tables`), done: (ran, splits, merges); not while
        switched off (HBase's normalize answers false then, forced or not)."""
        # The chore (not forced) skips its turn rather than hold up the master's other chores
        # behind a `normalize` call; that call waits for the run under way, then runs.
        if not self._run_lock.acquire(blocking=forced):
            log.info("normalizer: a run is under way; this one is skipped")
            return True, 0, 0
        try:
            return self._run(forced, tables)
        finally:
            self._run_lock.release()

    def _run(self, forced: bool, tables: list[str] | None) -> tuple[bool, int, int]:
        if not self.switch_on():
            return False, 0, 0
        done = {"split": 0, "merge": 0}
        sizes = self._region_sizes()
        for name in self.meta.tables() if tables is None else tables:
            for p in self._table_plans(name, sizes):
                if not self._active():  # as HBase stops its worker with the master: the
                    raise MasterNotRunningError(  # next active master runs it anew
                        f"the master stopped during the normalizer run, after "
                        f"{done['split']} split(s) and {done['merge']} merge(s)")
                if self._execute(p):
                    done[p.kind] += 1
        if forced or any(done.values()):
            log.info("normalizer: %d split(s), %d merge(s)", done["split"], done["merge"])
        return True, done["split"], done["merge"]

    def _table_plans(self, name: str, sizes: dict[str, int]) -> list[Plan]:
        try:
            rec = self.meta.read_table(name)
            if rec.state != ENABLED or not rec.descriptor.normalization_enabled:
                return []
            regions = sorted(self.meta.regions(name), key=lambda r: r.info.start_key)
        except TableNotFoundError:
            return []  # dropped meanwhile
        # As HBase, a region not OPEN (a split, merge or move under way, unassigned, failed)
        # is left out of the plans (plan), not the whole table.
        return plan(rec.descriptor, regions, sizes, int(self._clock() * 1000), self.config)

    def _region_sizes(self) -> dict[str, int]:
        """Store file bytes by region name, from the region servers' last load reports."""
        sizes = {}
        for server in self.servers.online():
            load = self.servers.load(server)
            for region in (load.regions if load is not None else ()):
                sizes[region.region] = region.store_bytes
        return sizes

    def _execute(self, p: Plan) -> bool:
        names = [r.info.name for r in p.regions]
        try:
            if p.kind == "split":
                self.splits.split(names[0], None)
            else:
                self.splits.merge(*names)
        except HBaseError as e:  # a switch off, the region moved meanwhile...: skip it
            log.info("normalizer: %s of %s skipped: %s", p.kind, ", ".join(names), e)
            return False
        except Exception as e:  # noqa: BLE001
            if self._active():
                raise
            # The master stopping under the procedure (its pools shut down): the next active
            # master resumes it from its journal, and runs the normalizer anew.
            raise MasterNotRunningError(f"the master stopped during the normalizer's {p.kind} "
                                        f"of {', '.join(names)}: {type(e).__name__}") from None
        log.info("normalizer: %s of %s done", p.kind, ", ".join(names))
        return True
