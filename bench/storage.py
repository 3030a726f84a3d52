"""Storage engine benchmark: one Region, a real synced WAL, real HFiles (docs/benchmarks.md).

    .venv/bin/python bench/storage.py                 # 1,000,000 cells of 100-byte values
    .venv/bin/python bench/storage.py --cells 200000  # quicker
    .venv/bin/python bench/storage.py --profile puts  # cProfile one phase (puts|gets|scan)
    .venv/bin/python bench/storage.py --gc-threshold 50000   # GC tuned as a server may

Phases (each printed as a rate and as a ratio to a baseline measured in the same run, because
the machine is shared and noisy):

  puts   batch_mutate of 1000 rows (one 100-byte cell each), WAL synced per batch; the time
         inside batch_mutate only (the Mutations are built beforehand)
         baseline: raw SortedDict inserts/s of the same keys, and raw append+fsync of 1000
         records of the same size per batch (rows/s)
  flush  the whole memstore to one HFile (cells/s)            baseline: SortedDict inserts/s
  gets   random gets served from HFiles, block cache warm, after flush + major compaction
         baseline: dict lookups/s
  bloom  a get for an absent row: data_blocks_read / bloom_rejections before and after
  scan   a full scan (cells/s)                                baseline: iterating a list of
                                                              (key, value) pairs, cells/s
  latency  mean get latency with 10^4 rows and with all rows, and their ratio (an LSM with a
         block index should be ~flat: the ratio stays near 1)

Targets on a 2-core machine: puts >= 150k cells/s, gets >= 20k/s warm, scans >= 500k cells/s.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sortedcontainers import SortedDict  # noqa: E402

from storage import layout  # noqa: E402
from storage.block_cache import BlockCache  # noqa: E402
from storage.query import Get, Mutation, Scan  # noqa: E402
from storage.region import Region, RegionConfig  # noqa: E402
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor  # noqa: E402
from storage.wal import WAL  # noqa: E402

FAMILY = b"cf"
TABLE = TableDescriptor("bench", (FamilyDescriptor(FAMILY, bloom="ROW"),))
BATCH = 1000
TARGETS = {"puts": 150_000, "gets": 20_000, "scan": 500_000}


def row_key(i: int) -> bytes:
    return b"user%012d" % i


def value_for(rng: random.Random) -> bytes:
    return rng.randbytes(100)


def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def fmt_rate(x):
    return f"{x:,.0f}"


class Bench:
    def __init__(self, cells: int, root: str, profile: str | None):
        self.n = cells
        self.root = root
        self.profile = profile
        self.rng = random.Random(42)
        self.results: dict[str, dict] = {}
        order = list(range(cells))
        self.rng.shuffle(order)
        self.order = order
        self.values = [value_for(self.rng) for _ in range(1024)]  # reused: generation is not timed

    def report(self, name, value, unit, baseline=None, baseline_name=""):
        line = f"{name:<36} {fmt_rate(value):>12} {unit}"
        entry = {"value": value, "unit": unit}
        if baseline:
            ratio = value / baseline
            line += f"   = {ratio:6.3f} x {baseline_name} ({fmt_rate(baseline)}/s)"
            entry.update(baseline=baseline, baseline_name=baseline_name, ratio=ratio)
        target = TARGETS.get(name.split()[0])
        if target and unit.endswith("/s"):
            line += f"   [target {fmt_rate(target)}: {'MET' if value >= target else 'MISSED'}]"
            entry["target"] = target
        print(line, flush=True)
        self.results[name] = entry

    def timed(self, phase, fn):
        if self.profile == phase:
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            out = fn()
            prof.disable()
            dt = time.perf_counter() - t0
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            return out, dt
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0

    # -- baselines --------------------------------------------------------------------------
    def baseline_sorteddict(self):
        n = min(self.n, 200_000)
        keys = [(row_key(i), b"q", -1, -4) for i in self.order[:n]]
        sd = SortedDict()
        t0 = time.perf_counter()
        for k in keys:
            sd[k] = b"x"
        return rate(n, time.perf_counter() - t0)

    def baseline_fsync_batches(self, batches=30):
        path = os.path.join(self.root, "fsync-baseline")
        record = b"r" * 140  # one row's WAL record, roughly
        with open(path, "wb") as f:
            t0 = time.perf_counter()
            for _ in range(batches):
                f.write(b"".join([record] * BATCH))
                f.flush()
                os.fdatasync(f.fileno())
            dt = time.perf_counter() - t0
        os.unlink(path)
        return rate(batches * BATCH, dt)

    def baseline_dict_lookups(self, n=200_000):
        d = {row_key(i): i for i in range(min(self.n, 100_000))}
        keys = [row_key(self.rng.randrange(len(d))) for _ in range(n)]
        t0 = time.perf_counter()
        for k in keys:
            d.get(k)
        return rate(n, time.perf_counter() - t0)

    def baseline_list_iteration(self):
        items = [((row_key(i), b"q", -1, -4), b"v") for i in range(min(self.n, 300_000))]
        t0 = time.perf_counter()
        c = 0
        for k, v in items:
            c += 1
        return rate(c, time.perf_counter() - t0)

    # -- phases ------------------------------------------------------------------------------
    def open_region(self, name, rows, wal):
        info = RegionInfo("bench", b"", b"", 1 + len(self.results))
        config = RegionConfig(flush_size=1 << 40, compaction_min_files=1000,
                              blocking_store_files=10_000, memstore_block_multiplier=1 << 20)
        cache = BlockCache(max(64 << 20, rows * 400))
        return Region.open(os.path.join(self.root, name), info, TABLE, wal=wal,
                           block_cache=cache, config=config)

    def load(self, region, order):
        """Seconds spent inside batch_mutate only: building the Mutations (what a region server
        does when it decodes a request) is not the storage engine's cost, and is left out."""
        values = self.values
        batches = []
        for start in range(0, len(order), BATCH):
            batch = []
            for i in order[start:start + BATCH]:
                m = Mutation(row_key(i))
                m.put(FAMILY, b"q", values[i & 1023])
                batch.append(m)
            batches.append(batch)

        def run():
            spent = 0.0
            clock = time.perf_counter
            for batch in batches:
                t0 = clock()
                region.batch_mutate(batch)
                spent += clock() - t0
            return spent
        return self.timed("puts", run)[0]

    def random_gets(self, region, rows, count):
        keys = [row_key(self.rng.randrange(rows)) for _ in range(count)]

        def run():
            for k in keys:
                cells = region.get(Get(k))
                if not cells:
                    raise AssertionError(f"row {k!r} missing")
        return self.timed("gets", run)[1]

    def warm(self, region, rows):
        step = max(1, rows // 20_000)
        for i in range(0, rows, step):
            region.get(Get(row_key(i)))

    def full_scan(self, region):
        def run():
            sc = region.scanner(Scan())
            n = 0
            try:
                while True:
                    batch = sc.next(1000)
                    if not batch:
                        return n
                    for cells in batch:
                        n += len(cells)
            finally:
                sc.close()
        return self.timed("scan", run)

    def counters(self, region):
        blocks = rejections = 0
        for store in region.stores.values():
            for f in store.files():
                reader = f.reader
                blocks += getattr(reader, "data_blocks_read", 0)
                rejections += getattr(reader, "bloom_rejections", 0)
        return blocks, rejections

    def run(self):
        n = self.n
        import gc

        print(f"minihbase storage benchmark: {n:,} cells, 100-byte values, batches of {BATCH}, "
              f"WAL synced; python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
              f"gc thresholds {gc.get_threshold()}", flush=True)
        # Each baseline is measured right before the phase it is compared with: the load of
        # a shared machine changes by the minute, a ratio taken minutes apart means little.
        wal = WAL(layout.wal_dir(self.root, "bench,1,1"), sync=True,
                  archive_dir=layout.old_wal_dir(self.root))
        region = self.open_region("big", n, wal)
        sd_rate = self.baseline_sorteddict()
        fsync_rate = self.baseline_fsync_batches()
        self.report("baseline SortedDict inserts", sd_rate, "keys/s")
        self.report("baseline append+fsync (1000/batch)", fsync_rate, "records/s")
        dt = self.load(region, self.order)
        self.report("puts (batch_mutate, WAL synced)", rate(n, dt), "cells/s", sd_rate,
                    "SortedDict inserts")
        self.results["puts (batch_mutate, WAL synced)"]["vs_fsync"] = rate(n, dt) / fsync_rate
        print(f"{'':<36} {'':>12}         = {rate(n, dt) / fsync_rate:6.3f} x raw append+fsync"
              f" ({fmt_rate(fsync_rate)}/s); WAL syncs: {wal.stats.syncs}", flush=True)

        sd_rate = self.baseline_sorteddict()
        self.report("baseline SortedDict inserts", sd_rate, "keys/s")
        t0 = time.perf_counter()
        region.flush()
        dt = time.perf_counter() - t0
        self.report("flush (memstore -> HFile)", rate(n, dt), "cells/s", sd_rate,
                    "SortedDict inserts")
        t0 = time.perf_counter()
        region.compact(major=True)
        dt = time.perf_counter() - t0
        self.report("major compaction", rate(n, dt), "cells/s", sd_rate, "SortedDict inserts")
        print(f"{'':<36} store files: {region.store_file_count()}, "
              f"size {region.store_size() / 1e6:.1f} MB", flush=True)

        self.warm(region, n)
        count = min(50_000, max(5_000, n // 20))
        dict_rate = self.baseline_dict_lookups()
        self.report("baseline dict lookups", dict_rate, "lookups/s")
        dt = self.random_gets(region, n, count)
        get_rate_big = rate(count, dt)
        self.report("gets (random, warm block cache)", get_rate_big, "gets/s", dict_rate,
                    "dict lookups")

        before = self.counters(region)
        absent = row_key(n // 2) + b"-absent"  # inside the file's key range, never written
        cells = region.get(Get(absent))
        after = self.counters(region)
        assert cells == []
        by_bloom = after[0] == before[0] and after[1] > before[1]
        print(f"bloom: get of absent row {absent!r}: data_blocks_read {before[0]} -> {after[0]}, "
              f"bloom_rejections {before[1]} -> {after[1]}"
              f"  [{'answered by the bloom filter' if by_bloom else 'READ A DATA BLOCK'}]",
              flush=True)
        self.results["bloom"] = {"data_blocks_read": [before[0], after[0]],
                                 "bloom_rejections": [before[1], after[1]]}

        iter_rate = self.baseline_list_iteration()
        self.report("baseline list iteration", iter_rate, "items/s")
        (scanned, dt) = self.full_scan(region)
        assert scanned == n, f"scan saw {scanned} cells, expected {n}"
        self.report("scan (full, cells)", rate(n, dt), "cells/s", iter_rate, "list iteration")

        # latency at 10^4 rows vs all rows
        small_rows = min(10_000, n)
        small = self.open_region("small", small_rows, None)
        self.load_quiet(small, list(range(small_rows)))
        small.flush()
        small.compact(major=True)
        self.warm(small, small_rows)
        # alternate rounds on both regions so that both see the same machine load
        small_t, big_t = [], []
        per_round = max(500, count // 10)
        for _ in range(7):
            small_t.append(self.random_gets(small, small_rows, per_round) / per_round)
            big_t.append(self.random_gets(region, n, per_round) / per_round)
        dt_small, dt_big = sorted(small_t)[3], sorted(big_t)[3]
        print(f"get latency (median of 7 alternating rounds): {dt_small * 1e6:.1f} us at "
              f"{small_rows:,} rows, {dt_big * 1e6:.1f} us at {n:,} rows, "
              f"ratio {dt_big / dt_small:.2f}", flush=True)
        self.results["latency"] = {"small_rows": small_rows, "small_us": dt_small * 1e6,
                                   "big_rows": n, "big_us": dt_big * 1e6,
                                   "ratio": dt_big / dt_small}
        small.close()
        region.close()
        wal.close()

    def load_quiet(self, region, order):
        saved, self.profile = self.profile, None
        try:
            self.load(region, order)
        finally:
            self.profile = saved


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir, removed)")
    ap.add_argument("--profile", choices=["puts", "gets", "scan"], default=None)
    ap.add_argument("--gc-threshold", type=int, default=None, metavar="N",
                    help="gc.set_threshold(N, 20, 100) + gc.freeze(), as a server may tune it; "
                         "default: Python's defaults (full collections traverse the memstore)")
    args = ap.parse_args(argv)
    if args.gc_threshold:
        import gc

        gc.freeze()
        gc.set_threshold(args.gc_threshold, 20, 100)
    root = args.dir or tempfile.mkdtemp(prefix="minihbase-bench-")
    os.makedirs(root, exist_ok=True)
    try:
        Bench(args.cells, root, args.profile).run()
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
