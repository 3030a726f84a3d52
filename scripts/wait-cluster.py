#!/usr/bin/env python3
"""Waits until a cluster serves -- the active master answers, N region servers are ONLINE in
its status and no region is in transition -- prints how long it took and how to use it; exits
1 with a clear message on timeout.

It asks the master rather than reading ZooKeeper: after a restart, ZooKeeper still lists the
previous incarnations' znodes until their sessions expire, and they serve nothing.
"""

import argparse
import logging
import sys
import time

import client
from minihbase.errors import HBaseError
from thriftserver.idl import gateway_answers


def serving(conn, regionservers: int) -> tuple[bool, str]:
    """(whether the cluster serves, what it lacks otherwise)."""
    try:
        status = conn.status()
    except HBaseError as exc:
        return False, f"the master does not answer yet ({type(exc).__name__})"
    online = [s for s in status["servers"] if s["state"] == "ONLINE"]
    if len(online) < regionservers:
        return False, f"{len(online)} of {regionservers} region servers online"
    if status["regions_in_transition"]:
        return False, f"{len(status['regions_in_transition'])} region(s) in transition"
    return True, f"master {status['active_master']}, {len(online)} region servers"


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zk", default="127.0.0.1:2181")
    ap.add_argument("--zk-parent", default="/hbase", help="the cluster's parent znode")
    ap.add_argument("--regionservers", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--thrift", default="", metavar="HOST:PORT",
                    help="also wait for the Thrift gateway there to answer")
    args = ap.parse_args()
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # refusals while ZooKeeper starts
    start = time.monotonic()
    deadline = start + args.timeout
    conn, lacking = None, "ZooKeeper does not answer yet"
    try:
        while time.monotonic() < deadline:
            try:
                conn = conn or client.Connection(args.zk, zk_parent=args.zk_parent, timeout=5)
                ok, lacking = serving(conn, args.regionservers)
                if ok and args.thrift and not gateway_answers(*_host_port(args.thrift)):
                    ok, lacking = False, f"the Thrift gateway at {args.thrift} does not answer yet"
            except HBaseError as exc:  # ZooKeeper not reachable yet
                ok, lacking = False, f"ZooKeeper at {args.zk}: {exc}"
            if ok:
                print(f"cluster serving after {time.monotonic() - start:.1f}s: {lacking}")
                master = conn.active_master()
                info_port = (master or {}).get("info_port") or 16010
                print(f"  CLI:     .venv/bin/minihbase --zk {args.zk} status")
                print(f"  shell:   .venv/bin/minihbase --zk {args.zk} shell")
                print("  in a container: scripts/compose.sh exec master minihbase shell")
                print(f"  web UI:  http://localhost:{info_port}")
                print("  thrift:  happybase.Connection('localhost', 9090)")
                return 0
            time.sleep(0.5)
    finally:
        if conn is not None:
            conn.close()
    print(f"ERROR: cluster not serving after {args.timeout:.0f}s ({lacking}); see "
          "'scripts/compose.sh logs'", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
