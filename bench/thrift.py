"""What the Thrift gateway costs: the same reads through happybase -> gateway -> cluster and
through the native client -> cluster, in the same run, as ratios (docs/thrift.md).

    .venv/bin/python bench/thrift.py [--records 5000] [--seconds 6] [--json FILE]

Starts a local cluster (ZooKeeper, a master, three region servers, one Thrift gateway) in a
temporary directory, loads `records` rows of 10 x 100-byte cells with the native client, reads
every row once (a warm cache for both), then measures single-row gets at 1 and 16 threads (one
happybase connection per thread: happybase's are not thread-safe; the native threads share one
Connection, as its users do) and one client scanning the table. Bounded: every workload runs
`seconds`, the whole run about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import happybase  # noqa: E402

import client  # noqa: E402
from bench.cluster import (FAMILY, TABLE, fields_for, load, print_row, row_key,  # noqa: E402
                           run_threads, summary, warm_up)
from minihbase.local_cluster import LocalCluster  # noqa: E402

SPLITS = [b"user%d" % i for i in range(1, 10)]


def gets(make_table, records: int, threads: int, seconds: float, name: str) -> dict:
    def make_op(idx):
        table, rng = make_table(), random.Random(idx)

        def op():
            return len(table.row(row_key(rng.randrange(records))))
        return op

    return summary(name, *run_threads(threads, seconds, make_op))


def scan(table, name: str) -> dict:
    import time

    t0, rows, cells = time.monotonic(), 0, 0
    for _, data in table.scan(batch_size=1000):
        rows, cells = rows + 1, cells + len(data)
    return summary(name, rows, cells, [], [], time.monotonic() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-thrift-") as directory, \
            LocalCluster(directory, regionservers=3, masters=1, thrift_servers=1,
                         balancer_period=3600) as cluster:
        port = cluster.thrift_servers[0].port
        conn = client.Connection(cluster.quorum, timeout=60)
        conn.create_table(TABLE, {FAMILY.decode(): {}}, split_keys=SPLITS)
        load(conn, args.records, 10, 100, 1000, 2)
        assert conn.table(TABLE).row(row_key(0)) == fields_for(0, 10, 100)
        conn.flush(TABLE)
        warm_up(conn, args.records)
        hb_conns: list = []

        def happybase_table():
            hb = happybase.Connection("127.0.0.1", port, timeout=60_000)
            hb_conns.append(hb)
            return hb.table(TABLE)

        results = []
        print(f"{'workload':<22} {'ops/s':>10} {'cells/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'ratio':>7} {'errors':>6}")
        for threads in (1, 16):
            native = gets(lambda: conn.table(TABLE), args.records, threads, args.seconds,
                          f"get native x{threads}")
            thrift = gets(happybase_table, args.records, threads, args.seconds,
                          f"get thrift x{threads}")
            thrift["ratio_to_echo"] = round(thrift["ops_per_s"] / native["ops_per_s"], 3)
            results += [native, thrift]
            print_row(native)
            print_row(thrift)
        native = scan(conn.table(TABLE), "scan native")
        thrift = scan(happybase_table(), "scan thrift")
        thrift["ratio_to_echo"] = round(thrift["cells_per_s"] / native["cells_per_s"], 3)
        results += [native, thrift]
        print_row(native)
        print_row(thrift)
        print("(ratio: thrift / native in the same run)")
        for hb in hb_conns:
            hb.close()
        conn.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
