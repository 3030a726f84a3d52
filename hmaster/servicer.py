"""The gRPC Master service: admin calls from clients, cluster calls from region servers
(see docs/rpc.md and docs/coordination.md).

Every call goes through `_call`: a master that is not (yet) active answers
MasterNotRunningError naming the active master; a minihbase error ends the call through
protos/status.abort_with with its precise message; anything else is logged with its traceback
here and reaches the caller as an internal error -- the daemon keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from kazoo.exceptions import ConnectionLoss, NodeExistsError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from coordination.znodes import CLOSED, DEAD, ENABLED, MERGED, OPEN, SPLIT, SWITCHES
from hmaster.assignment import UNASSIGNED
from hmaster import status as status_mod
from hmaster.normalizer import select_tables
from hmaster.server_manager import names_matching
from minihbase.bytes_text import quoted
from minihbase.errors import (HBaseError, InvalidArgumentError, MasterNotRunningError,
                              NoSuchColumnFamilyError, OperationNotAllowedError,
                              OutcomeUnknownError, RegionOfflineError, RegionOpenFailedError,
                              TableNotEnabledError, TableNotFoundError)
from protos import minihbase_pb2 as pb
from protos import minihbase_pb2_grpc as pb_grpc
from protos.schema import attributes_from_pb
from protos.status import abort_with
from storage.compaction import compaction_state

log = logging.getLogger(__name__)


class MasterServicer(pb_grpc.MasterServicer):
    def __init__(self, master):
        self.m = master
        # one decommission at a time: two must not each leave the other's server the last
        self._decommission_lock = threading.Lock()

    def _call(self, context, fn, *, need_active: bool = True):
        try:
            if need_active and not self.m.active:
                active = ""
                try:
                    active = self.m.election.active_master_name()
                except Exception:  # noqa: BLE001
                    pass
                raise MasterNotRunningError(
                    f"master {self.m.name} is not the active master"
                    + (f" (active: {active})" if active else " (no active master yet)"))
            return fn()
        except HBaseError as e:
            log.info("call failed: %s: %s", type(e).__name__, e)
            abort_with(context, e)
        except (ConnectionLoss, SessionExpiredError, KazooTimeoutError) as e:
            # Not retryable in general: only calls the client can match to their first
            # attempt are resent (master_call). The chores finish or undo what the lost
            # commit left (repair, resume_stalled, finish_enables, resume_alters).
            log.warning("call failed: ZooKeeper connection lost: %s", type(e).__name__)
            abort_with(context, OutcomeUnknownError(
                f"master {self.m.name} lost its ZooKeeper connection during the call "
                f"({type(e).__name__}): it may or may not have been applied; check before "
                f"trying again"))
        except Exception as e:  # noqa: BLE001
            log.exception("internal error in master call")
            abort_with(context, e)

    def _region(self, name: str):
        rec = self.m.meta.find_region(name)
        if rec is None:
            raise InvalidArgumentError(f"unknown region {name!r}")
        return rec

    # --- DDL ---------------------------------------------------------------------------------

    def CreateTable(self, request, context):
        def run():
            self.m.ddl.create(request.schema, list(request.split_keys))
            return pb.Empty()
        return self._call(context, run)

    def DeleteTable(self, request, context):
        return self._call(context, lambda: (self.m.ddl.drop(request.name), pb.Empty())[1])

    def TruncateTable(self, request, context):
        return self._call(context, lambda: (self.m.ddl.truncate(
            request.name, request.preserve_splits), pb.Empty())[1])

    def DisableTable(self, request, context):
        return self._call(context, lambda: (self.m.ddl.disable(request.name), pb.Empty())[1])

    def EnableTable(self, request, context):
        return self._call(context, lambda: (self.m.ddl.enable(request.name), pb.Empty())[1])

    def AlterTable(self, request, context):
        def run():
            self.m.ddl.alter(request.name, list(request.add_or_modify), list(request.remove),
                             attributes_from_pb(request))
            return pb.Empty()
        return self._call(context, run)

    def CreateNamespace(self, request, context):
        return self._call(context, lambda: (self.m.ddl.create_namespace(
            request.name, dict(request.properties)), pb.Empty())[1])

    def AlterNamespace(self, request, context):
        return self._call(context, lambda: (self.m.ddl.alter_namespace(
            request.name, dict(request.set), list(request.unset)), pb.Empty())[1])

    def DescribeNamespace(self, request, context):
        return self._call(context, lambda: pb.NamespaceName(
            name=request.name, properties=self.m.ddl.namespace_properties(request.name)))

    def DeleteNamespace(self, request, context):
        return self._call(context, lambda: (self.m.ddl.drop_namespace(request.name),
                                            pb.Empty())[1])

    def ListNamespaces(self, request, context):
        return self._call(context, lambda: pb.ListNamespacesResponse(
            names=self.m.meta.namespaces()))

    def ListTables(self, request, context):
        def run():
            out = pb.ListTablesResponse()
            for t in self.m.meta.tables():
                try:
                    out.tables.append(status_mod.table_description(self.m.meta, self.m.servers, t))
                except TableNotFoundError:
                    continue
            return out
        return self._call(context, run)

    def DescribeTable(self, request, context):
        return self._call(context, lambda: status_mod.table_description(
            self.m.meta, self.m.servers, request.name))

    # --- cluster -----------------------------------------------------------------------------

    def GetClusterStatus(self, request, context):
        return self._call(context, lambda: status_mod.cluster_status(
            self.m.meta, self.m.servers, self.m.election, self.m.cluster_id))

    def Balance(self, request, context):
        def run():
            moves = self.m.balancer.balance()
            return pb.BalanceResponse(moves=moves or 0, switched_off=moves is None)
        return self._call(context, run)

    def SetBalancerSwitch(self, request, context):
        def run():
            before = self.m.balancer.switch(request.on)
            log.info("balancer switched %s (was %s)", "on" if request.on else "off",
                     "on" if before else "off")
            return pb.BalancerSwitch(on=before)
        return self._call(context, run)

    def Split(self, request, context):
        def run():
            key, nonce = bytes(request.split_key) or None, _nonce_key(request.nonce)
            if not request.region and request.table and key is None:
                self._split_every_region(request.table, nonce)  # HBase: each at its midpoint
            elif nonce and self.m.splits.earlier_attempt(nonce, "split"):
                pass  # an earlier attempt of this call did it
            elif request.region:
                self.m.splits.split(request.region, key, nonce)
            elif request.table:  # HBase: only the region holding the split point
                regions = self._enabled_regions(request.table, "split")
                self.m.splits.split(self._holding(regions, request.table, key).info.name, key,
                                    nonce)
            else:
                raise InvalidArgumentError("split needs a table or a region name")
            return pb.Empty()
        return self._call(context, run)

    def _split_every_region(self, table: str, nonce: str) -> None:
        """Split each open region at its midpoint, skipping those that cannot split (empty,
        one row...) as HBase does; an error only when not one region could. Each split has
        its own nonce record (`<nonce>.<region>`); a resent call skips the regions its earlier
        attempts made, so no region is split twice."""
        errors = []
        made = self.m.splits.children_of_earlier_attempts(nonce) if nonce else set()
        done = len(made)
        for r in self._enabled_regions(table, "split"):
            if r.state != OPEN or r.info.encoded_name in made:
                continue
            try:
                self.m.splits.split(r.info.name, None,
                                    nonce and f"{nonce}.{r.info.encoded_name}")
                done += 1
            except HBaseError as e:
                log.info("split of table %s: region %s skipped: %s", table, r.info.name, e)
                errors.append(e)
        if errors and not done:
            raise errors[0]

    def _enabled_regions(self, table: str, action: str) -> list:
        """The table's regions; a table that is not enabled has none open, and saying "done"
        for a flush, compaction or split that did nothing would mislead (HBase refuses too)."""
        state = self.m.meta.read_table(table).state  # TableNotFoundError
        if state != ENABLED:
            raise TableNotEnabledError(f"table {table!r} is {state.lower()}: cannot {action} "
                                       "its regions (enable it first)")
        return self.m.meta.regions(table)

    @staticmethod
    def _holding(regions: list, table: str, key: bytes):
        """The live region of `table` (its `regions`) that holds row `key`; a key that is
        already a region boundary is refused, as HBase does."""
        for r in regions:
            if r.state not in (SPLIT, MERGED) and r.info.contains_row(key):
                if key == r.info.start_key:
                    raise InvalidArgumentError(
                        f"split key {quoted(key)} is the start key of region {r.info.name}: "
                        "already a region boundary")
                return r
        raise RegionOfflineError(f"no region of table {table!r} holds split key {quoted(key)} "
                                 "right now (split or merge in progress?)")

    def Merge(self, request, context):
        def run():
            nonce = _nonce_key(request.nonce)
            if not (nonce and self.m.splits.earlier_attempt(nonce, "merge")):
                self.m.splits.merge(*_merge_names(request), nonce=nonce)
            return pb.Empty()
        return self._call(context, run)

    def _table_action(self, request, method: str, make_request):
        if request.region:
            targets = [self._region(request.region)]
        elif request.table:
            targets = self._enabled_regions(request.table,
                                            method.replace("Region", "").lower())
        else:
            raise InvalidArgumentError(f"{method} needs a table or a region name")
        for r in targets:
            if r.state == OPEN:
                self.m.clients.call(r.server, method, make_request(r), 120.0)
        return pb.Empty()

    def Flush(self, request, context):
        return self._call(context, lambda: self._table_action(
            request, "FlushRegion", lambda r: pb.RegionRequest(region=r.info.name)))

    def Compact(self, request, context):
        def run():
            if request.family:  # checked once here, not as an error from every region
                table = request.table or self._region(request.region).info.table
                if request.family not in self.m.meta.read_table(table).descriptor.family_names():
                    raise NoSuchColumnFamilyError(f"column family {quoted(request.family)} "
                                                  f"does not exist in table {table!r}")
            return self._table_action(
                request, "CompactRegion",
                lambda r: pb.CompactRegionRequest(region=r.info.name, major=request.major,
                                                  family=request.family, wait=request.wait))
        return self._call(context, run)

    def GetCompactionState(self, request, context):
        def run():
            if self.m.meta.read_table(request.name).state != ENABLED:  # TableNotFoundError
                return pb.CompactionState(state="NONE")  # nothing open compacts (HBase's)
            regions = self.m.meta.regions(request.name)
            names = {r.info.name for r in regions}
            major = minor = False
            for server in sorted({r.server for r in regions if r.state == OPEN}):
                for load in self.m.clients.call(server, "GetServerLoad", pb.Empty()).regions:
                    if load.region in names:
                        major |= load.compaction_state in ("MAJOR", "MAJOR_AND_MINOR")
                        minor |= load.compaction_state in ("MINOR", "MAJOR_AND_MINOR")
            return pb.CompactionState(state=compaction_state(major, minor))
        return self._call(context, run)

    def Move(self, request, context):
        def run():
            rec = self._region(request.region)
            target = request.server or None
            if target is not None and target not in self.m.servers.online():
                raise InvalidArgumentError(f"move: {target!r} is not an online region server")
            if target is not None and target not in self.m.servers.assignable():
                raise OperationNotAllowedError(f"move: {target} is decommissioned "
                                               "(recommission_regionserver first)")
            if rec.state == OPEN and rec.server == target:
                return pb.Empty()  # HBase skips a move to the server the region is on
            if target is None:
                moved_from = self._move_source(request.nonce, rec)
                if rec.server != moved_from:  # a resend: its first attempt closed it there
                    if rec.state == OPEN:
                        return pb.Empty()
                    # cut before the open: finish it elsewhere, not back on moved_from
                    target = self.m.assignment.pick_server({moved_from})
            source = rec.server or "no server"
            _must_be_open(self.m.assignment.move(rec, target),
                          f"move of region {rec.info.name}: closed on {source} but")
            return pb.Empty()
        return self._call(context, run)

    def _move_source(self, nonce: int, rec) -> str:
        """The server this untargeted move call moves `rec` off: where it is on a first
        attempt, which records it under the call's nonce; on a resend (same nonce), the one
        the first attempt recorded -- it may have closed the region there since."""
        key = _nonce_key(nonce)
        record = self.m.meta.read_nonce(key, ("move",)) if key else None
        if record is not None:
            return record["from"]
        if key:
            with contextlib.suppress(NodeExistsError):
                self.m.meta.commit([self.m.meta.nonce_op(
                    key, {"op": "move", "region": rec.info.encoded_name, "from": rec.server},
                    create=True)])
        return rec.server

    def Assign(self, request, context):
        """HBase 2's assign: open a region that is not open now (FAILED_OPEN waiting for its
        next retry, say, after its directory was restored); an open region stays where it is."""
        def run():
            rec = self._region(request.region)
            if rec.state in (SPLIT, MERGED):
                raise InvalidArgumentError(f"region {rec.info.name} is {rec.state}: it no "
                                           "longer exists")
            self._enabled_regions(rec.info.table, "assign")
            _must_be_open(self.m.assignment.assign(rec), f"assign of region {rec.info.name}:")
            return pb.Empty()
        return self._call(context, run)

    def Unassign(self, request, context):
        """HBase 2's unassign: close an open region; it stays CLOSED (the repair chore leaves
        it) until an assign, an enable after a disable, or a move opens it."""
        def run():
            rec = self._region(request.region)
            if rec.state != OPEN:
                raise InvalidArgumentError(f"unassign: region {rec.info.name} is {rec.state}, "
                                           "not OPEN")
            closed = self.m.assignment.unassign(rec, final_state=CLOSED, waiting_for=UNASSIGNED)
            if closed is None or closed.state != CLOSED:
                raise RegionOpenFailedError(
                    f"unassign of region {rec.info.name}: not closed "
                    f"({closed.state if closed else 'gone'}): {closed and closed.waiting_for}")
            return pb.Empty()
        return self._call(context, run)

    # --- decommissioned servers, switches, dead servers -----------------------------------------

    def DecommissionRegionServers(self, request, context):
        def run():
            names = self._matching_servers(request.servers)
            with self._decommission_lock:
                if not set(self.m.servers.assignable()) - set(names):
                    raise OperationNotAllowedError(
                        "decommissioning " + ", ".join(names) + " would leave no region "
                        "server to assign regions to")
                for name in names:
                    self.m.meta.decommission(name)
                    log.info("region server %s decommissioned", name)
            moved = sum(self.m.assignment.offload(n) for n in names) if request.offload else 0
            return pb.DecommissionResponse(servers=names, moved=moved)
        return self._call(context, run)

    def _matching_servers(self, specs) -> list[str]:
        if not specs:
            raise InvalidArgumentError("decommission needs at least one region server")
        names = []
        for spec in specs:
            found = self.m.servers.matching(spec)
            if not found:
                raise InvalidArgumentError(f"no online region server matches {spec!r}")
            names += [n for n in found if n not in names]
        return names

    def RecommissionRegionServer(self, request, context):
        def run():
            found = names_matching(self.m.meta.decommissioned(), request.server)
            if len(found) != 1:
                raise InvalidArgumentError(
                    f"{request.server!r} names {len(found) or 'no'} decommissioned region "
                    "servers; name one (list_decommissioned_regionservers)")
            regions = [self._region(name) for name in request.regions]  # all known first
            self.m.meta.recommission(found[0])
            log.info("region server %s recommissioned", found[0])
            for rec in regions:  # HBase's: load these back onto it
                self.m.assignment.move(rec, found[0])
            self.m.assignment.retry_waiting()  # regions that had nowhere to go
            return pb.Empty()
        return self._call(context, run)

    def SetSwitch(self, request, context):
        def run():
            if request.name not in SWITCHES:
                raise InvalidArgumentError(f"unknown switch {request.name!r}: one of "
                                           + ", ".join(SWITCHES))
            before = self.m.meta.set_switch(request.name, request.on)
            log.info("%s switched %s (was %s)", request.name, "on" if request.on else "off",
                     "on" if before else "off")
            return pb.Switch(name=request.name, on=before)
        return self._call(context, run)

    def Normalize(self, request, context):
        def run():
            # The filter is checked first: a bad one is an error even while switched off.
            regex = request.regex if request.HasField("regex") else None
            tables = select_tables(self.m.meta, list(request.table_names), regex,
                                   request.namespace)
            ran, splits, merges = self.m.normalizer.run(forced=True, tables=tables)
            return pb.NormalizeResponse(ran=ran, splits=splits, merges=merges)
        return self._call(context, run)

    def RunCatalogJanitor(self, request, context):
        return self._call(context, lambda: pb.CatalogJanitorResponse(
            cleaned=self.m.splits.janitor()))

    def ClearDeadServers(self, request, context):
        def run():
            states = self.m.meta.server_states()
            wanted = list(request.servers) or [n for n, st in states.items()
                                               if st.state == DEAD]
            kept = [n for n in wanted if n not in states or states[n].state != DEAD]
            for name in wanted:
                if name not in kept:
                    self.m.meta.delete_server_state(name)
            return pb.ServerNames(servers=kept)
        return self._call(context, run)

    # --- snapshots ---------------------------------------------------------------------------

    def Snapshot(self, request, context):
        def run():
            left = context.time_remaining()  # None without a client deadline
            m = self.m.snapshots.snapshot(request.table, request.name, request.skip_flush,
                                          None if left is None else left - 2.0)
            return pb.SnapshotDescription(name=m.name, table=m.table.name,
                                          created_ms=m.created_ms, regions=len(m.regions))
        return self._call(context, run)

    def ListSnapshots(self, request, context):
        return self._call(context, lambda: pb.ListSnapshotsResponse(
            snapshots=self.m.snapshots.describe_all()))

    def DeleteSnapshot(self, request, context):
        return self._call(context, lambda: (self.m.snapshots.delete(request.name),
                                            pb.Empty())[1])

    def CloneSnapshot(self, request, context):
        return self._call(context, lambda: (self.m.snapshots.clone(
            request.name, request.table, _nonce_key(request.nonce)), pb.Empty())[1])

    def ExportSnapshot(self, request, context):
        def run():
            files, size = self.m.snapshots.export(request.name, request.copy_to)
            return pb.ExportSnapshotResponse(files=files, bytes=size)
        return self._call(context, run)

    def RestoreSnapshot(self, request, context):
        return self._call(context, lambda: pb.TableName(
            name=self.m.snapshots.restore(request.name, _nonce_key(request.nonce))))

    def Hbck(self, request, context):
        def run():
            problems, removed, too_new = self.m.consistency_check(clean=request.clean)
            return pb.HbckReport(checked_ms=int(self.m.hbck_report[0] * 1000),
                                 problems=[pb.HbckProblem(**p.to_dict()) for p in problems],
                                 removed=[pb.HbckProblem(**p.to_dict()) for p in removed],
                                 too_new=too_new)
        return self._call(context, run)

    # --- from region servers -----------------------------------------------------------------

    def RegionServerReport(self, request, context):
        return self._call(context, lambda: (self.m.servers.report(request.load), pb.Empty())[1])

    def RequestSplit(self, request, context):
        """Asynchronous: the region server asked; the master splits when it can."""
        def run():
            rec = self._region(request.region)
            key = bytes(request.split_key) or None

            def split():
                try:
                    self.m.splits.split(rec.info.name, key)
                except HBaseError as e:
                    log.info("requested split of %s not done: %s", rec.info.name, e)
                except Exception:  # noqa: BLE001
                    log.exception("requested split of %s failed", rec.info.name)
            threading.Thread(target=split, daemon=True, name="split").start()
            return pb.Empty()
        return self._call(context, run)


def _nonce_key(nonce: int) -> str:
    """A call's nonce as the name of its record (split_merge.py, "Nonces"); "" for none."""
    return f"{nonce:016x}" if nonce else ""


def _merge_names(request) -> list[str]:
    """The regions a MergeRequest names: `regions`, or an older client's region_a, region_b."""
    return list(request.regions) or [request.region_a, request.region_b]


def _must_be_open(rec, what: str) -> None:
    """After a move or assign: RegionOpenFailedError saying why the region is not open."""
    if rec is None or rec.state != OPEN:
        why = f": {rec.waiting_for}" if rec is not None and rec.waiting_for else ""
        raise RegionOpenFailedError(f"{what} not open ({rec.state if rec else 'gone'}){why}")
