"""BigLinkedList with a chaos monkey: HBase's IntegrationTestBigLinkedList for minihbase
(docs/chaos.md). Generator threads write circular linked lists of rows while a chaos monkey
kills, freezes and restarts servers and moves, splits and merges regions; then Verify scans
the table (and counts it with the CLI) and prints PASS or FAIL (exit status 1).

    .venv/bin/python bench/biglinkedlist.py --duration 300     # its own LocalCluster, ~6 min
    .venv/bin/python bench/biglinkedlist.py --zk 127.0.0.1:2181 --duration 60
                                                 # a running cluster: table actions only
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from minihbase import chaos, linkedlist  # noqa: E402

SAMPLE = 5  # keys printed per problem


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zk", help="use a running cluster at this quorum (default: start one)")
    p.add_argument("--dir", help="directory of the cluster started here (default: temp; "
                                 "kept on FAIL for its logs/)")
    p.add_argument("--regionservers", type=int, default=3)
    p.add_argument("--session-timeout", type=float, default=6.0,
                   help="ZooKeeper session timeout of the daemons started here (s)")
    p.add_argument("--flush-size", type=int, default=1 << 20)
    p.add_argument("--table", default="IntegrationTestBigLinkedList")
    p.add_argument("--regions", type=int, default=6, help="pre-split regions")
    p.add_argument("--generators", type=int, default=2)
    p.add_argument("--width", type=int, default=500, help="rows per batch")
    p.add_argument("--wrap", type=int, default=10, help="batches per circle")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of writes and chaos")
    p.add_argument("--max-rows", type=int, default=2_000_000,
                   help="rows per generator at most (Verify keeps every key in memory)")
    p.add_argument("--max-actions", type=int, default=40)
    p.add_argument("--pause", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"),
                   help="seconds between two actions")
    p.add_argument("--actions", help="comma-separated subset of " + ",".join(
        chaos.TABLE_ACTIONS + chaos.PROCESS_ACTIONS))
    p.add_argument("--timeout", type=float, default=30.0, help="client operation timeout (s)")
    p.add_argument("--seed", type=int, help="for the monkey and the keys (default: random)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    known = chaos.TABLE_ACTIONS + (() if args.zk else chaos.PROCESS_ACTIONS)
    unknown = set(args.actions.split(",") if args.actions else ()) - set(known)
    if unknown:
        p.error(f"--actions: {','.join(sorted(unknown))} not among {','.join(known)}"
                + (" (--zk: only table actions)" if args.zk else ""))
    return args


def cli_count(quorum: str, table: str) -> int:
    """The row count that `minihbase count` prints (a second, independent full scan)."""
    out = subprocess.run([sys.executable, "-m", "client.cli", "--zk", quorum, "--json",
                          "--timeout", "300", "count", table], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"minihbase count failed: {out.stderr.strip()}")
    return json.loads(out.stdout)["count"]


def run(args, quorum: str, cluster) -> dict:
    import client

    conn = client.Connection(quorum, timeout=args.timeout)
    if conn.exists(args.table):
        conn.delete_table(args.table, disable=True)
    linkedlist.create_table(conn, args.table, args.regions)
    seed = args.seed if args.seed is not None else int(time.time())
    gens = [linkedlist.Generator(client.Connection(quorum, timeout=args.timeout), args.table,
                                 i, width=args.width, wrap=args.wrap, seconds=args.duration,
                                 max_rows=args.max_rows,
                                 seed=seed * 100 + i) for i in range(args.generators)]
    monkey = chaos.ChaosMonkey(conn, args.table, cluster, duration=args.duration,
                               max_actions=args.max_actions, pause=tuple(args.pause),
                               allowed=args.actions.split(",") if args.actions else None,
                               session_timeout=args.session_timeout, seed=seed,
                               log=lambda line: print(line, flush=True))
    print(f"seed {seed}; {args.generators} generators x {args.width} rows x {args.wrap} "
          f"batches per circle; chaos for {args.duration:g}s", flush=True)
    t0 = time.monotonic()
    for g in gens:
        g.start()
    monkey.start()
    monkey.join(args.duration + 600)
    for g in gens:
        g.stop()
    write_seconds = time.monotonic() - t0
    if monkey.is_alive():
        raise chaos.ChaosError("the chaos monkey did not finish its last action in 600 s")
    print("verifying ...", flush=True)
    report = linkedlist.verify(conn, args.table, gens)
    result = summarize(args, report, gens, monkey, write_seconds)
    result["cli_count"] = cli_count(quorum, args.table)
    result["checks"]["CLI count = rows found + side rows"] = (
        result["cli_count"] == report.rows_found + report.side_rows)
    result["checks"].update(cluster_checks(conn, cluster))
    for g in gens:
        g.table.connection.close()
    conn.close()
    return result


def summarize(args, report, gens, monkey, write_seconds) -> dict:
    errors = [e for g in gens for e in g.errors]
    outside = [e for e in errors
               if not monkey.active_during(e.at - args.timeout - 5.0, e.at)]
    unexpected = [e for g in gens for e in g.unexpected]
    checks = {
        "no UNDEFINED (referenced but missing)": not report.undefined,
        "no acknowledged row lost": not report.lost,
        "no phantom row (never written)": not report.phantom,
        "UNREFERENCED only at open circles' tails": not report.unexpected_unreferenced,
        "increments and appends exactly once": not report.counter_problems,
        "write errors only while the monkey acted": not outside,
        "only minihbase errors reached the client": not unexpected,
        "every chaos action recovered": not monkey.failed,
    }
    return {
        "rows_acked": report.rows_acked, "rows_found": report.rows_found,
        "rows_per_s": round(report.rows_acked / write_seconds, 1),
        "undefined": len(report.undefined), "unreferenced": report.unreferenced,
        "unexpected_unreferenced": len(report.unexpected_unreferenced),
        "lost": len(report.lost), "phantom": len(report.phantom),
        "circles_closed": sum(g.circles_closed for g in gens),
        "batches": sum(g.batches for g in gens),
        "write_errors": [f"at {e.at - monkey.started:.1f}s {e.what}: "
                         f"{type(e.error).__name__}: {e.error}" for e in errors],
        "write_errors_outside_chaos": len(outside),
        "samples": {"undefined": report.undefined[:SAMPLE], "lost": report.lost[:SAMPLE],
                    "phantom": report.phantom[:SAMPLE],
                    "unexpected_unreferenced": report.unexpected_unreferenced[:SAMPLE],
                    "counters": report.counter_problems},
        "actions": [dict(name=a.name, target=a.target, at=round(a.started - monkey.started, 1),
                         seconds=round(a.seconds, 1), ok=a.ok, detail=a.detail)
                    for a in monkey.actions],
        "checks": checks,
    }


def cluster_checks(conn, cluster) -> dict:
    """After the chaos: nothing in transition, and every daemon started here still runs."""
    status = conn.status()
    checks = {"no region in transition": not status["regions_in_transition"]}
    if cluster is not None:
        dead = [f"{d.role}-{d.index}" for d in cluster.all_daemons() if not d.is_alive()]
        checks["every daemon running at the end"] = not dead
    return checks


def print_result(r: dict) -> bool:
    print("\n=== BigLinkedList with chaos ===")
    print(f"rows written (acknowledged) {r['rows_acked']:>10}   ({r['rows_per_s']} rows/s, "
          f"{r['batches']} batches, {r['circles_closed']} circles closed)")
    print(f"rows found                  {r['rows_found']:>10}   (CLI count {r['cli_count']}, "
          f"incl. side rows)")
    for key in ("undefined", "unreferenced", "unexpected_unreferenced", "lost", "phantom"):
        print(f"{key.upper():<28}{r[key]:>10}")
    print(f"write errors seen           {len(r['write_errors']):>10}   "
          f"({r['write_errors_outside_chaos']} outside chaos actions)")
    for e in r["write_errors"][:10]:
        print(f"    {e}")
    print("\nchaos actions (seconds = action started -> every region serving again):")
    for a in r["actions"]:
        print(f"  [{a['at']:6.1f}s] {a['name']:<20} {a['seconds']:6.1f}s "
              f"{'ok' if a['ok'] else 'FAILED'}  {a['target']} {a['detail']}")
    for name in sorted({a["name"] for a in r["actions"]}):
        secs = [a["seconds"] for a in r["actions"] if a["name"] == name]
        print(f"  {name:<20} x{len(secs):<3} median {statistics.median(secs):5.1f}s "
              f"max {max(secs):5.1f}s")
    for what, sample in r["samples"].items():
        if sample:
            print(f"  {what}: {sample}")
    print()
    for check, ok in r["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {check}")
    passed = all(r["checks"].values())
    print(f"\n{'PASS' if passed else 'FAIL'}")
    return passed


def start_cluster(args):
    """2 masters, so that a backup takes over when the monkey kills the active one."""
    from minihbase.local_cluster import LocalCluster

    directory = args.dir or tempfile.mkdtemp(prefix="minihbase-itbll-")
    print(f"starting a local cluster in {directory} ...", flush=True)
    return LocalCluster(directory, regionservers=args.regionservers, masters=2,
                        session_timeout=args.session_timeout, flush_size=args.flush_size,
                        balancer_period=60).start()


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.getLogger("kazoo").setLevel(logging.ERROR)  # reconnect chatter during kills
    cluster = None if args.zk else start_cluster(args)
    passed = False
    try:
        result = run(args, args.zk or cluster.quorum, cluster)
        passed = print_result(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2, default=repr)
    finally:
        if cluster is not None:
            cluster.stop()
            if passed and not args.dir:  # ~700 MB after 5 minutes; kept on FAIL for its logs
                shutil.rmtree(cluster.directory)
            else:
                print(f"cluster stopped; logs in {cluster.log_dir}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
