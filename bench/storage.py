"""Storage engine benchmark: one Region, a real synced WAL, real HFiles (docs/benchmarks.md).

    .venv/bin/python bench/storage.py                 # 1,000,000 cells of 100-byte values
    .venv/bin/python bench/storage.py --cells 200000  # quicker
    .venv/bin/python bench/storage.py --profile puts  # cProfile one phase (puts|gets|scan)
    .venv/bin/python bench/storage.py --server-gc     # with the region server's GC thresholds
    .venv/bin/python bench/storage.py --encoding FAST_DIFF  # the family's DATA_BLOCK_ENCODING
    (bench/encoding.py compares the encodings with each other in one run)

Phases (each printed as a rate and as a ratio to a baseline measured in the same run, in slices
interleaved with the phase, because the machine is shared and its load changes by the second):

  puts   batch_mutate of 1000 rows (one 100-byte cell each), WAL synced per batch; the time
         inside batch_mutate only (the Mutations are built beforehand)
         baseline: the same keys inserted into a plain SortedDict that grows alike, and raw
         append+fsync of 1000 WAL-sized records (records/s)
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


class Interleaved:
    """A baseline measured in small slices *between* slices of the measured work, so that both
    see the same machine load (which changes by the second here); its rate is the total units
    over the total seconds of its slices."""

    def __init__(self, one_slice):
        self._slice = one_slice  # () -> (units, seconds)
        self.units = 0
        self.seconds = 0.0

    def tick(self):
        units, seconds = self._slice()
        self.units += units
        self.seconds += seconds

    @property
    def rate(self):
        return rate(self.units, self.seconds)


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
        """Inserts into a plain SortedDict that grows like the memstore: 1000 keys a slice."""
        keys = [(row_key(i), b"q", -1, -4) for i in self.order]
        sd = SortedDict()
        pos = [0]

        def one_slice():
            start = pos[0] % len(keys)
            chunk = keys[start:start + BATCH]
            if start == 0:
                sd.clear()
            t0 = time.perf_counter()
            for k in chunk:
                sd[k] = b"x"
            pos[0] += len(chunk)
            return len(chunk), time.perf_counter() - t0
        return Interleaved(one_slice)

    def baseline_fsync(self):
        """Raw append of 1000 WAL-sized records + fdatasync, per slice (records/s)."""
        path = os.path.join(self.root, "fsync-baseline")
        f = open(path, "wb")
        record = b"r" * 140  # one row's WAL record, roughly

        def one_slice():
            t0 = time.perf_counter()
            f.write(b"".join([record] * BATCH))
            f.flush()
            os.fdatasync(f.fileno())
            return BATCH, time.perf_counter() - t0
        return Interleaved(one_slice)

    def baseline_dict_lookups(self):
        d = {row_key(i): i for i in range(min(self.n, 100_000))}
        keys = [row_key(self.rng.randrange(len(d))) for _ in range(1000)]

        def one_slice():
            t0 = time.perf_counter()
            for k in keys:
                d.get(k)
            return len(keys), time.perf_counter() - t0
        return Interleaved(one_slice)

    def baseline_list_iteration(self):
        items = [((row_key(i), b"q", -1, -4), b"v") for i in range(10_000)]

        def one_slice():
            t0 = time.perf_counter()
            c = 0
            for k, v in items:
                c += 1
            return c, time.perf_counter() - t0
        return Interleaved(one_slice)

    # -- phases ------------------------------------------------------------------------------
    def open_region(self, name, rows, wal):
        info = RegionInfo("bench", b"", b"", 1 + len(self.results))
        config = RegionConfig(flush_size=1 << 40, compaction_min_files=1000,
                              blocking_store_files=10_000, memstore_block_multiplier=1 << 20)
        cache = BlockCache(max(64 << 20, rows * 400))
        return Region.open(os.path.join(self.root, name), info, TABLE, wal=wal,
                           block_cache=cache, config=config)

    def load(self, region, order, baselines=()):
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
            for n, batch in enumerate(batches):
                t0 = clock()
                region.batch_mutate(batch)
                spent += clock() - t0
                for every, base in baselines:
                    if n % every == 0:
                        base.tick()
            return spent
        return self.timed("puts", run)[0]

    def random_gets(self, region, rows, count, baseline=None):
        """Seconds for `count` random gets (a baseline slice runs between groups of 1000)."""
        keys = [row_key(self.rng.randrange(rows)) for _ in range(count)]

        def run():
            spent = 0.0
            clock = time.perf_counter
            for start in range(0, count, 1000):
                t0 = clock()
                for k in keys[start:start + 1000]:
                    if not region.get(Get(k)):
                        raise AssertionError(f"row {k!r} missing")
                spent += clock() - t0
                if baseline is not None:
                    baseline.tick()
            return spent
        return self.timed("gets", run)[0]

    def warm(self, region, rows):
        step = max(1, rows // 20_000)
        for i in range(0, rows, step):
            region.get(Get(row_key(i)))

    def full_scan(self, region, baseline=None):
        """(cells, seconds inside the scanner); a baseline slice runs between pages."""
        def run():
            clock = time.perf_counter
            spent = 0.0
            t0 = clock()
            sc = region.scanner(Scan())
            n = 0
            try:
                while True:
                    batch = sc.next(1000)
                    for cells in batch:
                        n += len(cells)
                    spent += clock() - t0
                    if not batch:
                        return n, spent
                    if baseline is not None and n % 10_000 < 1000:
                        baseline.tick()
                    t0 = clock()
            finally:
                sc.close()
        return self.timed("scan", run)[0]

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
              f"gc thresholds {gc.get_threshold()}, data block encoding "
              f"{TABLE.families[0].data_block_encoding}", flush=True)
        # Every baseline runs in slices interleaved with the phase it is compared with: the
        # load of a shared machine changes by the second, a ratio taken apart means little.
        wal = WAL(layout.wal_dir(self.root, "bench,1,1"), sync=True,
                  archive_dir=layout.old_wal_dir(self.root))
        region = self.open_region("big", n, wal)
        sd = self.baseline_sorteddict()
        fs = self.baseline_fsync()
        dt = self.load(region, self.order, baselines=((1, sd), (10, fs)))
        self.report("baseline SortedDict inserts", sd.rate, "keys/s")
        self.report("baseline append+fsync (1000/batch)", fs.rate, "records/s")
        puts = rate(n, dt)
        self.report("puts (batch_mutate, WAL synced)", puts, "cells/s", sd.rate,
                    "SortedDict inserts")
        self.results["puts (batch_mutate, WAL synced)"]["vs_fsync"] = puts / fs.rate
        print(f"{'':<36} {'':>12}         = {puts / fs.rate:6.3f} x raw append+fsync"
              f" ({fmt_rate(fs.rate)}/s); WAL syncs: {wal.stats.syncs}", flush=True)

        sd = self.baseline_sorteddict()
        for _ in range(100):
            sd.tick()
        t0 = time.perf_counter()
        region.flush()
        dt_flush = time.perf_counter() - t0
        t0 = time.perf_counter()
        region.compact(major=True)
        dt_major = time.perf_counter() - t0
        for _ in range(100):
            sd.tick()
        self.report("baseline SortedDict inserts", sd.rate, "keys/s")
        self.report("flush (memstore -> HFile)", rate(n, dt_flush), "cells/s", sd.rate,
                    "SortedDict inserts")
        self.report("major compaction", rate(n, dt_major), "cells/s", sd.rate,
                    "SortedDict inserts")
        print(f"{'':<36} store files: {region.store_file_count()}, "
              f"size {region.store_size() / 1e6:.1f} MB", flush=True)

        self.warm(region, n)
        count = min(50_000, max(5_000, n // 20))
        dl = self.baseline_dict_lookups()
        dt = self.random_gets(region, n, count, dl)
        get_rate_big = rate(count, dt)
        self.report("baseline dict lookups", dl.rate, "lookups/s")
        self.report("gets (random, warm block cache)", get_rate_big, "gets/s", dl.rate,
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

        it = self.baseline_list_iteration()
        (scanned, dt) = self.full_scan(region, it)
        assert scanned == n, f"scan saw {scanned} cells, expected {n}"
        self.report("baseline list iteration", it.rate, "items/s")
        self.report("scan (full, cells)", rate(n, dt), "cells/s", it.rate, "list iteration")

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
                    help="gc.set_threshold(N, 20, 100) + gc.freeze(), to explore GC tuning; "
                         "default: Python's defaults (full collections traverse the memstore)")
    ap.add_argument("--server-gc", action="store_true",
                    help="run with the region server's own GC thresholds "
                         "(storage.config.SERVER_GC_THRESHOLDS), as a region server hosts regions")
    ap.add_argument("--encoding", default="NONE", type=str.upper,
                    choices=["NONE", "PREFIX", "FAST_DIFF"],
                    help="the family's DATA_BLOCK_ENCODING (default NONE)")
    args = ap.parse_args(argv)
    global TABLE
    TABLE = TableDescriptor("bench", (FamilyDescriptor(FAMILY, bloom="ROW",
                                                       data_block_encoding=args.encoding),))
    if args.gc_threshold or args.server_gc:
        import gc

        from storage.config import SERVER_GC_THRESHOLDS

        gc.freeze()
        gc.set_threshold(*((args.gc_threshold, 20, 100) if args.gc_threshold
                           else SERVER_GC_THRESHOLDS))
    root = args.dir or tempfile.mkdtemp(prefix="minihbase-bench-")
    os.makedirs(root, exist_ok=True)
    try:
        Bench(args.cells, root, args.profile).run()
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
