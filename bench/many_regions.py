"""Many-regions benchmark: what the cluster's admin paths, client and recovery cost at
HBase-typical region counts (hundreds of regions per region server), on a local cluster of
real processes (see docs/benchmarks.md, "Many regions").

    .venv/bin/python bench/many_regions.py                       # 3 tables x 200 regions, ~2 min
    .venv/bin/python bench/many_regions.py --tables 2 --regions 100   # smaller

Measures, each printed as it is done:
    create      each table's create (pre-split into --regions regions), and drop of one more
    admin       describe, list_regions, status, hbck, the master's web pages, the master's
                read of all of meta
    client      a cold Connection's first get, a scan over every region of a table
    crash       SIGKILL of a region server: kill to every region OPEN elsewhere, and to a
                writer's first write to every region the dead server held
    failover    SIGKILL of the active master: kill to the backup serving a create
    join        a region server joining: until the balancer evened the load, client errors
Every wait is bounded (--timeout); the cluster is stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import client  # noqa: E402
from coordination.zk import connect  # noqa: E402
from coordination.znodes import Paths  # noqa: E402
from hmaster.meta import MetaStore  # noqa: E402
from minihbase.local_cluster import LocalCluster  # noqa: E402

FAMILY = "cf"


def split_keys(regions: int) -> list[bytes]:
    """regions-1 boundaries spread over the 6-digit keys row_key makes."""
    step = 1_000_000 // regions
    return [b"%06d" % (i * step) for i in range(1, regions)]


def row_key(i: int, rows: int) -> bytes:
    return b"%06d" % (i * (1_000_000 // rows))


def timed(label: str, fn):
    t0 = time.perf_counter()
    value = fn()
    print(f"  {label:<44} {time.perf_counter() - t0:8.3f} s", flush=True)
    return value


def regions_not_serving(zk, victim: str = "") -> int:
    """Regions of every table not OPEN, or OPEN on `victim`, read straight from meta."""
    bad = 0
    for table in zk.get_children("/hbase/meta"):
        path = f"/hbase/meta/{table}"
        futures = [zk.get_async(f"{path}/{c}") for c in zk.get_children(path)]
        for f in futures:
            rec = json.loads(f.get()[0])
            bad += rec["state"] != "OPEN" or rec["server"] == victim
    return bad


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def run(cluster: LocalCluster, args) -> None:
    conn = client.Connection(cluster.quorum, timeout=args.timeout)
    zk = connect(cluster.quorum, session_timeout=10.0, connect_timeout=30.0)
    tables = [f"many{i}" for i in range(args.tables)]
    keys = split_keys(args.regions)
    print(f"create: {args.tables} tables x {args.regions} regions, 3 region servers")
    for t in tables:
        timed(f"create {t}", lambda: conn.create_table(t, {FAMILY: {}}, split_keys=keys))
    timed("create + disable + drop of one more", lambda: (
        conn.create_table("dropme", {FAMILY: {}}, split_keys=keys),
        conn.delete_table("dropme", disable=True)))

    print("admin:")
    timed(f"describe {tables[0]}", lambda: conn.describe_table(tables[0]))
    timed(f"list_regions {tables[0]}", lambda: conn.regions(tables[0]))
    timed("status", conn.status)
    timed("hbck", conn.hbck)
    meta = MetaStore(zk, Paths())
    n = len(timed("the master's read of every region record", meta.all_regions))
    print(f"  ({n} region records; the master reads them each chore round and each crash)")
    master = cluster.master_daemon()
    for page in ("/", f"/table/{tables[0]}", "/api/status"):
        url = f"http://127.0.0.1:{master.info_port}{page}"
        timed(f"GET {page}", lambda: urllib.request.urlopen(url, timeout=args.timeout).read())

    print("client:")
    rows = args.rows
    for t in tables:
        with conn.table(t).batch(batch_size=1000) as b:
            for i in range(rows):
                b.put(row_key(i, rows), {b"cf:q": b"v%d" % i})
    cold = client.Connection(cluster.quorum, timeout=args.timeout)
    timed("cold connection, first get", lambda: cold.table(tables[0]).row(row_key(0, rows)))
    count = timed(f"scan of {tables[0]} ({args.regions} regions)",
                  lambda: sum(1 for _ in cold.table(tables[0]).scan()))
    assert count == rows, count
    cold.close()

    print(f"crash (session timeout {args.session_timeout:g} s):")
    victim = cluster.regionservers[0]
    held = [r for t in tables for r in conn.regions(t) if r.get("server") == victim.name]
    held_rows = [r["start_key"] or b"\x00" for r in held if r.get("table") == tables[0]]
    cluster.kill_regionserver(0)
    t0 = time.monotonic()
    done = {}

    def writer():
        table = conn.table(tables[0])
        for key in held_rows:
            table.put(key, {b"cf:w": b"x"})
        done["write"] = time.monotonic() - t0

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    t_open = wait(lambda: regions_not_serving(zk, victim.name) == 0, args.timeout,
                  "every region OPEN elsewhere")
    w.join(args.timeout)
    print(f"  {len(held)} regions held: all OPEN elsewhere after {t_open - t0:.2f} s; writes to "
          f"its {len(held_rows)} regions of {tables[0]} done after {done.get('write', -1):.2f} s")
    for line in open(cluster.master_daemon().log_path, errors="replace"):
        if "regions reassigned in" in line or "WAL split into" in line:
            print("  master:", line.split("hmaster.crash: ")[-1].rstrip())

    print("failover:")
    cluster.kill_master(active=True)
    t0 = time.monotonic()
    conn.create_table("after_failover", {FAMILY: {}})
    print(f"  backup master served a create {time.monotonic() - t0:.2f} s after the kill")

    print("join:")
    errors = []
    stop = threading.Event()

    def reader():
        table = conn.table(tables[0])
        while not stop.is_set():
            for i in range(0, rows, max(1, rows // 50)):
                try:
                    table.row(row_key(i, rows))
                except Exception as e:  # noqa: BLE001 -- counted and shown
                    errors.append(repr(e)[:120])

    r = threading.Thread(target=reader, daemon=True)
    r.start()
    t0 = time.monotonic()
    cluster.add_regionserver()
    joined = time.monotonic()

    def balanced():
        counts = [s["regions"] for s in conn.status()["servers"] if s["state"] == "ONLINE"]
        return len(counts) == 3 and max(counts) - min(counts) <= 1
    conn.balance()
    t_bal = wait(balanced, args.timeout, "the balancer to even the load")
    stop.set()
    r.join(args.timeout)
    print(f"  new server registered after {joined - t0:.2f} s, load even after "
          f"{t_bal - t0:.2f} s; reader errors: {len(errors)} {errors[:2]}")
    conn.close()
    zk.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", help="directory for the cluster (default: temp)")
    p.add_argument("--tables", type=int, default=3)
    p.add_argument("--regions", type=int, default=200, help="regions per table")
    p.add_argument("--rows", type=int, default=5000, help="rows per table")
    p.add_argument("--session-timeout", type=float, default=4.0)
    p.add_argument("--timeout", type=float, default=120.0, help="bound of every wait")
    args = p.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="many-regions-")
    with LocalCluster(directory, regionservers=3, masters=2,
                      session_timeout=args.session_timeout, balancer_period=3600) as cluster:
        run(cluster, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
