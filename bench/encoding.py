"""DATA_BLOCK_ENCODING benchmark: the same cells written as NONE, PREFIX and FAST_DIFF HFiles
(docs/benchmarks.md, "Data block encoding").

    .venv/bin/python bench/encoding.py                  # 200,000 cells
    .venv/bin/python bench/encoding.py --cells 50000    # quicker

Two data sets of the same cell count, both in store-key order:
  narrow  bench/storage.py's rows: b"user%012d", one column, a 100-byte random value, one
          timestamp per row (mostly distinct: the write time in ms)
  wide    HBase's typical wide rows: b"com.example.www/user/%08d" rows of 20 columns, short
          values, one timestamp for the whole load
For each encoding: the file size, a full scan with no block cache (every block read from disk,
checked and decoded: the cost an encoding adds), random gets with a warm cache (decoded blocks:
what a region server mostly serves) and random gets with no cache. Rates are measured in
rounds that alternate the encodings, and every figure is printed as a ratio to NONE measured in
the same run (the machine is shared; absolute rates mean little).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from storage.block_cache import BlockCache  # noqa: E402
from storage.cell import CellType, store_key  # noqa: E402
from storage.hfile import HFileReader, HFileWriter  # noqa: E402

ENCODINGS = ("NONE", "PREFIX", "FAST_DIFF")
ROUNDS = 3


def narrow_cells(n: int) -> list:
    rng = random.Random(1)
    t0 = 1_700_000_000_000
    return [(store_key(b"user%012d" % i, b"q", t0 + i // 10, CellType.PUT), rng.randbytes(100))
            for i in range(n)]


def wide_cells(n: int) -> list:
    ts = 1_700_000_000_000
    return [(store_key(b"com.example.www/user/%08d" % (i // 20), b"col%02d" % (i % 20), ts,
                       CellType.PUT), b"value-%d" % (i * 7 % 100_000))
            for i in range(n)]


def write(path: str, cells: list, encoding: str) -> float:
    start = time.perf_counter()
    w = HFileWriter(path, family=b"cf", data_block_encoding=encoding)
    for key, value in cells:
        w.append(key, value)
    w.finish(max_seqid=1)
    return time.perf_counter() - start


def scan_rate(path: str) -> float:
    with HFileReader(path) as r:  # no cache: every block from disk, verified and decoded
        start = time.perf_counter()
        n = sum(1 for _ in r.iter_from())
        return n / (time.perf_counter() - start)


def get_rate(path: str, rows: list, cache: BlockCache | None) -> float:
    with HFileReader(path, block_cache=cache) as r:
        if cache is not None:
            for row in rows:  # warm: every block decoded and cached once
                r.row_cells(row)
        start = time.perf_counter()
        for row in rows:
            r.row_cells(row)
        return len(rows) / (time.perf_counter() - start)


def bench(name: str, cells: list, root: str, gets: int) -> None:
    paths = {e: os.path.join(root, f"{name}-{e}.hfile") for e in ENCODINGS}
    write_s = {e: write(paths[e], cells, e) for e in ENCODINGS}
    rng = random.Random(2)
    rows = [cells[rng.randrange(len(cells))][0][0] for _ in range(gets)]
    rates = {e: {"scan": [], "get warm": [], "get cold": []} for e in ENCODINGS}
    for _ in range(ROUNDS):  # alternate the encodings: load changes hit them alike
        for e in ENCODINGS:
            rates[e]["scan"].append(scan_rate(paths[e]))
            rates[e]["get warm"].append(get_rate(paths[e], rows, BlockCache(1 << 30)))
            rates[e]["get cold"].append(get_rate(paths[e], rows[: gets // 4], None))
    size = {e: os.path.getsize(paths[e]) for e in ENCODINGS}
    print(f"\n{name}: {len(cells):,} cells, {size['NONE'] / len(cells):.1f} bytes/cell as NONE")
    print(f"  {'encoding':9} {'file bytes':>11} {'ratio':>5} {'write':>5} "
          f"{'scan cells/s':>12} {'ratio':>5} {'warm gets/s':>11} {'ratio':>5} "
          f"{'cold gets/s':>11} {'ratio':>5}")
    base = {k: statistics.median(v) for k, v in rates["NONE"].items()}
    for e in ENCODINGS:
        med = {k: statistics.median(v) for k, v in rates[e].items()}
        print(f"  {e:9} {size[e]:>11,} {size[e] / size['NONE']:>5.3f} "
              f"{write_s[e] / write_s['NONE']:>5.2f} "
              f"{med['scan']:>12,.0f} {med['scan'] / base['scan']:>5.2f} "
              f"{med['get warm']:>11,.0f} {med['get warm'] / base['get warm']:>5.2f} "
              f"{med['get cold']:>11,.0f} {med['get cold'] / base['get cold']:>5.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=200_000)
    ap.add_argument("--gets", type=int, default=20_000)
    args = ap.parse_args(argv)
    print(f"minihbase data block encoding benchmark: python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus;\nmedians of {ROUNDS} alternating rounds; ratios to NONE")
    root = tempfile.mkdtemp(prefix="minihbase-bench-enc-")
    try:
        bench("narrow", narrow_cells(args.cells), root, args.gets)
        bench("wide", wide_cells(args.cells), root, args.gets)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
