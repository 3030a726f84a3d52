#!/usr/bin/env python3
"""Waits until a cluster serves (an active master and N live region servers in ZooKeeper),
prints how long it took and how to use it; exits 1 with a clear message on timeout."""

import argparse
import sys
import time

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

from coordination.znodes import MasterRecord, Paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--zk", default="127.0.0.1:2181")
    ap.add_argument("--zk-parent", default="/hbase", help="the cluster's parent znode")
    ap.add_argument("--regionservers", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    start = time.monotonic()
    deadline = start + args.timeout
    paths = Paths(args.zk_parent)
    zk = KazooClient(hosts=args.zk, timeout=15)
    while True:
        try:
            zk.start(timeout=max(1.0, deadline - time.monotonic()))
            break
        except KazooTimeoutError:
            if time.monotonic() > deadline:
                print(f"ERROR: cannot reach ZooKeeper at {args.zk}", file=sys.stderr)
                return 1
    master, servers = None, []
    try:
        while time.monotonic() < deadline:
            if zk.exists(paths.master):
                master = MasterRecord.from_bytes(zk.get(paths.master)[0])
            servers = zk.get_children(paths.rs) if zk.exists(paths.rs) else []
            if master and len(servers) >= args.regionservers:
                took = time.monotonic() - start
                print(f"cluster serving after {took:.1f}s: master {master.name}, "
                      f"{len(servers)} region servers")
                print(f"  CLI:     .venv/bin/minihbase --zk {args.zk} status")
                print(f"  shell:   .venv/bin/minihbase --zk {args.zk} shell")
                print(f"  web UI:  http://localhost:{master.info_port or 16010}")
                print("  thrift:  happybase.Connection('localhost', 9090)")
                return 0
            time.sleep(0.5)
    finally:
        zk.stop()
    print(f"ERROR: cluster not serving after {args.timeout:.0f}s (master: "
          f"{master.name if master else 'none'}, region servers: {len(servers)}); "
          "see 'scripts/compose.sh logs'", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
