"""The region-count balancer (see docs/coordination.md, "Balancer").

Plan: count OPEN regions per online server; while the busiest holds more than ceil(average),
or the idlest fewer than floor(average), move one region from the busiest to the idlest. Like
HBase, it does nothing while any region is in transition (moves would race recovery), and each
move is an ordinary close-then-open through the assignment manager.

Runs periodically (--balancer-period) and on demand (Master.Balance), and after a server joins,
unless switched off (Master.SetBalancerSwitch, kept in ZooKeeper at /hbase/balancer).
"""

from __future__ import annotations

import logging
import math
import threading

from coordination.znodes import OPEN, RegionRecord
from hmaster.assignment import AssignmentManager
from hmaster.meta import MetaStore
from hmaster.status import in_transition
from minihbase.errors import TableNotFoundError

log = logging.getLogger(__name__)


def plan_moves(by_server: dict[str, list[RegionRecord]]) -> list[tuple[RegionRecord, str]]:
    """Pure planning: [(region, target server)] that evens out region counts."""
    if len(by_server) < 2:
        return []
    regions = {s: sorted(rs, key=lambda r: r.info.name) for s, rs in by_server.items()}
    total = sum(len(rs) for rs in regions.values())
    lo, hi = math.floor(total / len(regions)), math.ceil(total / len(regions))
    moves = []
    while True:
        busiest = max(regions, key=lambda s: (len(regions[s]), s))
        idlest = min(regions, key=lambda s: (len(regions[s]), s))
        if len(regions[busiest]) <= hi and len(regions[idlest]) >= lo:
            break
        if len(regions[busiest]) - len(regions[idlest]) <= 1:
            break
        region = regions[busiest].pop()
        regions[idlest].append(region)
        moves.append((region, idlest))
    return moves


class Balancer:
    def __init__(self, meta: MetaStore, assignment: AssignmentManager):
        self.meta = meta
        self.assignment = assignment
        self._lock = threading.Lock()  # one balancer run at a time

    def switch(self, on: bool) -> bool:
        """Switch the balancer on or off; returns the state before. Waits for a run in
        progress, so that once switched off no move is still under way (as HBase's
        synchronous balance switch)."""
        with self._lock:
            return self.meta.set_balancer(on)

    def balance(self) -> int | None:
        """Run once; returns the number of regions moved (0 while regions are in transition),
        or None when the balancer is switched off (HBase's balance_switch)."""
        with self._lock:
            if not self.meta.balancer_on():
                log.debug("balancer: switched off (balance_switch), not run")
                return None
            records = self.meta.all_regions()
            tables = {}
            for t in {r.info.table for r in records}:
                try:
                    tables[t] = self.meta.read_table(t).state
                except TableNotFoundError:
                    continue  # dropped since the listing: its regions are no one's to move
            records = [r for r in records if r.info.table in tables]
            rit = [r for r in records if in_transition(r, tables.get(r.info.table, ""))]
            if rit:
                log.info("balancer: skipped, %d regions in transition", len(rit))
                return 0
            # decommissioned servers neither take regions nor count (decommission offloads)
            by_server: dict[str, list[RegionRecord]] = {
                s: [] for s in self.assignment.servers.assignable()}
            for r in records:
                if r.state == OPEN and r.server in by_server:
                    by_server[r.server].append(r)
            moves = plan_moves(by_server)
            if not moves:
                return 0
            log.info("balancer: moving %d regions", len(moves))
            futures = [self.assignment.pool.submit(self.assignment.move, r, target)
                       for r, target in moves]
            moved = 0
            for f in futures:
                try:
                    rec = f.result()
                    moved += rec is not None and rec.state == OPEN
                except Exception:  # noqa: BLE001
                    log.exception("balancer move failed")
            return moved
