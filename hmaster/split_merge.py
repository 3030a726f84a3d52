"""Split and merge coordination, with a journal a new master can resume (see
docs/coordination.md, "Split and merge").

Journal /hbase/splits/<first parent encoded> (JSON): kind ("split"|"merge"), table, parents
[RegionInfo dicts], server, split_key (hex), step, children [RegionInfo dicts].

Split of P on server S:
  1. multi-op: journal created (step SPLITTING) + P SPLITTING          (P's version remembered)
  2. RS.SplitRegion(P) on S: flush, close P, write daughters' dirs with reference files
  3. multi-op: P's record deleted (checked against the remembered version), daughters L and R
     created OPENING(S), journal step OPENING
  4. L and R opened (on S, else elsewhere); journal step CLEANUP
  5. janitor: once no daughter directory holds a reference file, P's directory is deleted and
     the journal removed.
Merge of a run of two or more adjacent regions A, B, ... (named in any order; A the first by
start key, HBase 2.3+'s N-region merge) is the same with N parents: all MERGING (region locks
taken in encoded-name order), all closed, RS.MergeRegions on A's server writes the merged
region, one multi-op swaps every parent (each checked against its version) for M (OPENING), M
opened, janitor. HBase's 'force' (merging regions that are not adjacent) is not supported.

Failure before step 3 rolls back: a parent its server closed is reopened; one whose server is
gone or could not close it stays CLOSING on that server, for its crash procedure (its edits may
be only in that WAL). Daughters whose names the master knows are deleted, others left orphaned
and logged. If the server crashes meanwhile, the crash procedure takes the parents over (their
version changes, so step 3's transaction fails and the split is abandoned, never half-applied).
A new master resumes: SPLITTING/MERGING journals roll back, OPENING ones open their children,
CLEANUP ones wait for the janitor.

Nonces: a client sends one nonce with every attempt of a split or merge call, so an attempt sent
again because the answer to the first was lost (its master died, or lost ZooKeeper mid-call)
is matched to the first, as HBase's procedure nonces do. The record /hbase/nonces/<nonce> is
created with the journal (running), marked done by step 3's multi-op (naming the children) and
deleted with the journal by a rollback: it says done exactly when the call took effect, and is
gone when it took none (then the resend runs it). A running record is the first attempt still
at work, or cut off: the resend waits for it, resuming a journal no thread works on. The
master deletes records NONCE_TTL_S after they were made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from coordination.znodes import (CLOSING, ENABLED, MERGING, OFFLINE, OPEN, OPENING, SPLITTING,
                                 RegionRecord, now_ms)
from hmaster import quotas
from hmaster.assignment import AssignmentManager
from hmaster.meta import MetaStore
from minihbase.bytes_text import quoted
from minihbase.errors import (HBaseError, InvalidArgumentError, NotServingRegionError,
                              OperationNotAllowedError, RegionOfflineError, RegionTooBusyError)
from storage import layout
from storage.region_split import check_split_key, merge_chain
from storage.schema import RegionInfo

log = logging.getLogger(__name__)

STEP_PREPARE = {"split": SPLITTING, "merge": MERGING}
STEP_OPENING = "OPENING"
STEP_CLEANUP = "CLEANUP"
NONCE_TTL_S = 15 * 60.0  # HBase keeps a finished procedure (and its nonce) 15 minutes
NONCE_WAIT_S = 10.0  # a resend waits this long for its first attempt, then asks to retry


class SplitMergeCoordinator:
    def __init__(self, meta: MetaStore, assignment: AssignmentManager, rootdir: str,
                 namespace_lock=None):
        self.meta = meta
        # TableDDL.namespace_lock: a split's quota check and journal, ordered with creates
        self.namespace_lock = namespace_lock or threading.Lock()
        self.assignment = assignment
        self.clients = assignment.clients
        self.servers = assignment.servers
        self.rootdir = rootdir
        self._janitor_lock = threading.Lock()  # one janitor pass at a time (chore, tests)
        self._warned_missing: set[str] = set()  # children the janitor warned about, under it
        self._paused_lock = threading.Lock()
        self._paused: dict[str, int] = {}  # guarded by _paused_lock: table -> pausers
        # Journals (first parent's encoded name) a split, merge or resume of this master is
        # working on; the chore resumes the others. Guarded by _paused_lock.
        self._working: set[str] = set()

    @contextlib.contextmanager
    def paused(self, table: str):
        """No split or merge of `table` starts meanwhile (a snapshot is being taken): they are
        refused with a retryable error (a region server asks again later)."""
        with self._paused_lock:
            self._paused[table] = self._paused.get(table, 0) + 1
        try:
            yield
        finally:
            with self._paused_lock:
                self._paused[table] -= 1
                if not self._paused[table]:
                    del self._paused[table]

    # --- lookups -----------------------------------------------------------------------------

    def _open_region(self, name: str, what: str) -> tuple[RegionRecord, int]:
        rec = self.meta.find_region(name)
        if rec is None:
            raise InvalidArgumentError(f"{what}: unknown region {name!r}")
        rec, version = self.meta.read_region_versioned(rec.info.table, rec.info.encoded_name)
        if rec is None:
            raise InvalidArgumentError(f"{what}: unknown region {name!r}")
        table = self.meta.read_table(rec.info.table)
        if not getattr(table.descriptor, f"{what}_enabled"):  # HBase 2's SPLIT/MERGE_ENABLED
            key = f"{what.upper()}_ENABLED"
            raise OperationNotAllowedError(
                f"{what} of region {name} refused: table {rec.info.table!r} has {key} => false "
                f"(alter '{rec.info.table}', {key} => 'true' allows it)")
        if rec.state != OPEN or not self.servers.is_live(rec.server):
            raise RegionOfflineError(f"{what}: region {name} is {rec.state}, not OPEN on a "
                                     "live server; retry later")
        if table.state != ENABLED:
            raise RegionOfflineError(f"{what}: table {rec.info.table!r} is not enabled")
        return rec, version

    @contextlib.contextmanager
    def _working_on(self, enc: str):
        """The journal `enc` is this thread's until the block ends (resume_stalled leaves it)."""
        with self._paused_lock:
            if enc in self._working:
                raise RegionOfflineError(f"region {enc} is already splitting or merging")
            self._working.add(enc)
        try:
            yield
        finally:
            with self._paused_lock:
                self._working.discard(enc)

    def _check_not_paused(self, table: str, what: str) -> None:
        """Called with the region lock(s) held, so a snapshot that paused the table either
        sees this split or merge finished or never sees it start."""
        with self._paused_lock:
            if table in self._paused:
                raise RegionTooBusyError(f"{what}: a snapshot of table {table!r} is being "
                                         "taken; retry later")

    # --- split -------------------------------------------------------------------------------

    def _check_switch(self, kind: str, region_name: str) -> None:
        if not self.meta.switch_on(kind):
            raise OperationNotAllowedError(
                f"{kind} of region {region_name} refused: the cluster's {kind} switch is off "
                f"(splitormerge_switch '{kind.upper()}', true turns it on)")

    def split(self, region_name: str, split_key: bytes | None,
              nonce: str = "") -> tuple[RegionInfo, RegionInfo]:
        """Split `region_name` at `split_key` (None: its midpoint). `nonce`: the call's, whose
        earlier attempts the caller found had no effect (earlier_attempt)."""
        self._check_switch("split", region_name)
        rec, version = self._open_region(region_name, "split")
        info = rec.info
        if split_key:
            check_split_key(split_key)
        if split_key and (split_key <= info.start_key or
                          (info.end_key and split_key >= info.end_key)):
            raise InvalidArgumentError(
                f"split key {quoted(split_key)} is not inside region {info.name} "
                f"[{quoted(info.start_key)}, {quoted(info.end_key)})")
        enc, server = info.encoded_name, rec.server
        journal = {"kind": "split", "table": info.table, "parents": [info.to_dict()],
                   "server": server, "split_key": (split_key or b"").hex(),
                   "step": SPLITTING, "children": [], "nonce": nonce}
        with self._working_on(enc):
            return self._split(rec, version, split_key, enc, journal)

    def _split(self, rec: RegionRecord, version: int, split_key: bytes | None, enc: str,
               journal: dict) -> tuple[RegionInfo, RegionInfo]:
        info, server = rec.info, rec.server
        with self.assignment.region_lock(enc):
            self._check_not_paused(info.table, f"split of region {info.name}")
            splitting = RegionRecord(info, SPLITTING, server, now_ms(),
                                     f"RS.SplitRegion on {server}")
            # The quota counts this split from its journal on (quotas._usage); checked and
            # journalled under the lock creates hold, so neither passes the cap with the other.
            with self.namespace_lock:
                quotas.check_regions(self.meta, info.table, 1, f"split of region {info.name}")
                try:
                    self.meta.commit([self.meta.journal_op(enc, journal, create=True),
                                      self.meta.put_region_op(splitting, version)] +
                                     self._nonce_ops(enc, journal, create=True))
                except (NodeExistsError, BadVersionError):
                    raise RegionOfflineError(
                        f"region {info.name} is already splitting or moving") from None
            version += 1
            try:
                left, right = self.clients.split_region(server, info.name, split_key)
            except HBaseError as e:
                log.warning("split of %s on %s failed: %s; rolling back", info.name, server, e)
                reopen = self._rollback(journal, enc)
                failure = e
            else:
                failure = None
            if failure is None:
                try:
                    daughters = self._commit_split(enc, journal, splitting, version, left,
                                                   right)
                except RegionOfflineError as e:  # abandoned: a crash took the parent over
                    reopen, failure = self._rollback(journal, enc), e
        if failure is not None:
            self.assignment.assign_many(reopen, preferred=server)
            raise failure
        log.info("split %s -> %s, %s", info.name, left.name, right.name)
        self._finish_opening(enc, journal, daughters, server)
        return left, right

    def _commit_split(self, enc: str, journal: dict, splitting: RegionRecord, version: int,
                      left: RegionInfo, right: RegionInfo) -> list[RegionRecord]:
        """Step 3: parent out, daughters in, journal advanced -- one versioned multi-op."""
        info, server = splitting.info, splitting.server
        daughters = [RegionRecord(d, OPENING, server, now_ms(),
                                  f"RS.OpenRegion on {server} after split of {info.name}")
                     for d in (left, right)]
        journal.update(step=STEP_OPENING, children=[left.to_dict(), right.to_dict()])
        try:
            self.meta.commit([self.meta.delete_region_op(splitting, version)] +
                             [self.meta.create_region_op(d) for d in daughters] +
                             [self.meta.journal_op(enc, journal)] +
                             self._nonce_ops(enc, journal))
        except (BadVersionError, NoNodeError):
            # the crash procedure took the parent over: it reopens the parent, whose files
            # are intact; the daughters were never in meta nor open anywhere
            log.warning("split of %s abandoned: its server crashed meanwhile", info.name)
            self._delete_unborn([left, right])
            raise RegionOfflineError(f"split of {info.name} abandoned: {server} crashed")
        return daughters

    # --- merge -------------------------------------------------------------------------------

    def merge(self, *names: str, nonce: str = "") -> RegionInfo:
        """Merge two or more adjacent regions of one table, named in any order (HBase 2.3+);
        `nonce` as in split."""
        self._check_switch("merge", ", ".join(names))
        opened = [self._open_region(name, "merge") for name in names]
        versions = {r.info.encoded_name: (r, v) for r, v in opened}
        chain = merge_chain([r.info for r, _ in opened])  # InvalidArgumentError naming them
        parents = [versions[info.encoded_name] for info in chain]
        first = parents[0][0]
        enc = first.info.encoded_name
        journal = {"kind": "merge", "table": first.info.table,
                   "parents": [info.to_dict() for info in chain], "server": first.server,
                   "split_key": "", "step": MERGING, "children": [], "nonce": nonce}
        with self._working_on(enc):
            return self._merge(parents, enc, journal)

    def _merge(self, parents: list[tuple[RegionRecord, int]], enc: str,
               journal: dict) -> RegionInfo:
        server, table = parents[0][0].server, parents[0][0].info.table
        names = ", ".join(r.info.name for r, _ in parents)
        with contextlib.ExitStack() as locks:
            for e in sorted(r.info.encoded_name for r, _ in parents):  # one order: no deadlock
                locks.enter_context(self.assignment.region_lock(e))
            self._check_not_paused(table, f"merge of {names}")
            merging = self._mark_merging(parents, enc, journal, server)
            try:
                merged = self._close_and_merge(merging, server)
            except HBaseError as e:
                log.warning("merge of %s failed: %s; rolling back", names, e)
                reopen, failure = self._rollback(journal, enc), e
            else:
                try:
                    m = self._commit_merge(enc, journal, merging, merged, server)
                    failure = None
                except RegionOfflineError as e:  # abandoned: a crash took a parent over
                    reopen, failure = self._rollback(journal, enc), e
        if failure is not None:
            self.assignment.assign_many(reopen, preferred=server)
            raise failure
        log.info("merged %s -> %s", names, merged.name)
        self._finish_opening(enc, journal, [m], server)
        return merged

    def _mark_merging(self, parents: list[tuple[RegionRecord, int]], enc: str, journal: dict,
                      server: str) -> list[tuple[RegionRecord, int]]:
        """Step 1: journal created and every parent MERGING, in one versioned multi-op;
        returns the MERGING records with their new versions."""
        merging = [(RegionRecord(r.info, MERGING, r.server, now_ms(), f"merge into {server}"),
                    v) for r, v in parents]
        try:
            self.meta.commit([self.meta.journal_op(enc, journal, create=True)] +
                             [self.meta.put_region_op(m, v) for m, v in merging] +
                             self._nonce_ops(enc, journal, create=True))
        except (NodeExistsError, BadVersionError):
            raise RegionOfflineError(
                "a region of " + ", ".join(m.info.name for m, _ in merging) + " is busy "
                "(splitting, merging or moving); retry later") from None
        return [(m, v + 1) for m, v in merging]

    def _close_and_merge(self, merging: list[tuple[RegionRecord, int]],
                         server: str) -> RegionInfo:
        """Step 2: every parent closed (flushed), then the merged region written on `server`."""
        for m, _ in merging:
            self.clients.close_region(m.server, m.info.name, True)
        desc = self.meta.read_table(merging[0][0].info.table).descriptor
        return self.clients.merge_regions(server, [m.info for m, _ in merging], desc)

    def _commit_merge(self, enc: str, journal: dict, merging: list[tuple[RegionRecord, int]],
                      merged: RegionInfo, server: str) -> RegionRecord:
        """Step 3: every parent out (each checked against its version), the merged region in,
        the journal advanced -- one multi-op."""
        m = RegionRecord(merged, OPENING, server, now_ms(),
                         f"RS.OpenRegion on {server} after merge")
        journal.update(step=STEP_OPENING, children=[merged.to_dict()])
        try:
            self.meta.commit([self.meta.delete_region_op(p, v) for p, v in merging] +
                             [self.meta.create_region_op(m),
                              self.meta.journal_op(enc, journal)] +
                             self._nonce_ops(enc, journal))
        except (BadVersionError, NoNodeError):
            first = merging[0][0].info.name
            log.warning("merge of %s and %d more abandoned: a server crashed meanwhile", first,
                        len(merging) - 1)
            self._delete_unborn([merged])
            raise RegionOfflineError(f"merge of {first} abandoned: server crashed")
        return m

    # --- nonces ------------------------------------------------------------------------------

    def _nonce_ops(self, enc: str, journal: dict, *, create: bool = False) -> list:
        """The op keeping the call's nonce record in step with its journal `enc`: running from
        the journal's creation, done (naming the children) from the meta swap on."""
        key = journal.get("nonce")
        if not key:
            return []
        if create:
            record = {"op": journal["kind"], "state": "running", "journal": enc}
        else:
            record = {"op": journal["kind"], "state": "done",
                      "children": [RegionInfo.from_dict(d).encoded_name
                                   for d in journal["children"]]}
        return [self.meta.nonce_op(key, record, create=create)]

    def earlier_attempt(self, key: str, op: str, wait_s: float = NONCE_WAIT_S) -> dict | None:
        """The nonce record of the split or merge (`op`) an earlier attempt of this call made take
        effect, or None when none did (none started, or it was rolled back). An attempt still
        running is waited for; one no thread works on any more (cut off from ZooKeeper) is
        resumed here as the chore would: rolled back or finished."""
        deadline = time.monotonic() + wait_s
        while True:
            record = self.meta.read_nonce(key, (op,))
            if record is None or record.get("state") == "done":
                return record
            self._resume_if_idle(record["journal"])
            if time.monotonic() > deadline:
                raise RegionOfflineError("an earlier attempt of this split or merge is still "
                                         "running; retry later")
            time.sleep(0.1)

    def children_of_earlier_attempts(self, nonce: str) -> set[str]:
        """Encoded names of the regions made by the splits of one table-wide split call (each
        region's split has the nonce record `<nonce>.<region>`)."""
        children: set[str] = set()
        for key in self.meta.nonce_keys(nonce + "."):
            record = self.earlier_attempt(key, "split")
            children.update(record["children"] if record else ())
        return children

    # --- shared steps ------------------------------------------------------------------------

    def _delete_unborn(self, children: list[RegionInfo]) -> None:
        """Delete the directories of children whose split or merge was abandoned before its
        meta swap: never in meta, never opened, they hold only reference files (HBase's
        procedure rollback does the same)."""
        for child in children:
            path = layout.region_dir(self.rootdir, child)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
                log.info("deleted %s: its split or merge was abandoned", path)

    def _finish_opening(self, enc: str, journal: dict, children: list[RegionRecord],
                        server: str | None) -> None:
        self.assignment.assign_many(children, preferred=server)
        journal["step"] = STEP_CLEANUP
        try:
            self.meta.commit([self.meta.journal_op(enc, journal)])
        except NoNodeError:
            return
        self.janitor(forced=False)

    def _rollback(self, journal: dict, enc: str) -> list[RegionRecord]:
        """Undo a split/merge that did not reach its meta swap. A parent closed on its live
        server (or never opened there) goes OFFLINE and is returned: the caller assigns it once
        it holds no region lock. A parent whose server is gone or could not close it stays
        with that server as CLOSING: its edits may be only in that server's WAL, so its crash
        procedure (or the repair chore's retried close) must take it, not a reassignment."""
        parents = []
        kind = journal["kind"]
        for d in journal["parents"]:
            info = RegionInfo.from_dict(d)
            rec, version = self.meta.read_region_versioned(info.table, info.encoded_name)
            if rec is None or rec.state not in (SPLITTING, MERGING):
                continue  # the crash procedure already took it over
            closed = not rec.server
            if rec.server and self.servers.is_live(rec.server):
                try:
                    self.clients.close_region(rec.server, info.name, True)
                    closed = True
                except NotServingRegionError:
                    closed = True  # not open there any more
                except HBaseError as e:
                    log.warning("rollback of %s of %s: close on %s failed: %s", kind,
                                info.name, rec.server, e)
            if closed:
                new = RegionRecord(info, OFFLINE, "", now_ms(), f"reopen after failed {kind}")
            else:
                new = RegionRecord(info, CLOSING, rec.server, now_ms(),
                                   f"close on {rec.server} after failed {kind}, or crash "
                                   f"handling of {rec.server}")
            try:
                self.meta.commit([self.meta.put_region_op(new, version)])
            except (BadVersionError, NoNodeError):
                continue
            if closed:
                parents.append(new)
        self._drop_journal(enc, journal)
        return parents

    def _drop_journal(self, enc: str, journal: dict) -> None:
        """A rolled-back journal and its call's nonce record go together: the call took no
        effect, so an attempt sent again finds no record and runs it."""
        key = journal.get("nonce")
        try:
            self.meta.commit([self.meta.delete_journal_op(enc)] +
                             ([self.meta.delete_nonce_op(key)] if key else []))
        except NoNodeError:  # one of them already gone
            self.meta.delete_journal(enc)
            if key:
                self.meta.delete_nonce(key)

    def resume(self) -> None:
        """Called by a new active master: finish or roll back every journal. It serves calls
        meanwhile, so a split or merge one of them started (a resend, its nonce record rolled
        back here) is its thread's: skipped, as resume_stalled does."""
        self.resume_stalled()
        self.janitor(forced=False)

    def resume_stalled(self) -> int:
        """Chore: finish or roll back the journals no split or merge of this master is
        working on any more, as a new master would: their thread gave up on an error whose
        outcome it could not know (ZooKeeper's connection dropped during a commit that may
        have applied). Returns how many were resumed."""
        return sum(self._resume_if_idle(enc) for enc in list(self.meta.journals()))

    def _resume_if_idle(self, enc: str) -> bool:
        """Resume journal `enc` unless a split, merge or resume is working on it, or it only
        waits for the janitor; whether it was resumed."""
        try:
            with self._working_on(enc):
                journal = self.meta.read_journal(enc)  # now that no one else works on it
                if journal is None or journal.get("step") == STEP_CLEANUP:
                    return False
                self._resume_one(enc, journal)
                return True
        except RegionOfflineError:
            return False  # a split or merge is working on it

    def _resume_one(self, enc: str, journal: dict) -> None:
        step = journal.get("step")
        log.info("resuming %s journal of %s at step %s", journal.get("kind"), enc, step)
        try:
            if step in (SPLITTING, MERGING):
                self.assignment.assign_many(self._rollback(journal, enc))
            elif step == STEP_OPENING:
                children = []
                for d in journal["children"]:
                    info = RegionInfo.from_dict(d)
                    rec = self.meta.read_region(info.table, info.encoded_name)
                    if rec is not None and rec.state != OPEN:
                        children.append(rec)
                self._finish_opening(enc, journal, children, None)
        except Exception:  # noqa: BLE001 -- one bad journal must not block the others
            log.exception("resuming journal %s failed", enc)

    def janitor(self, forced: bool = True) -> int:
        """Delete parents' directories once no child holds a reference; returns how many.
        Unless forced (catalogjanitor_run), nothing while catalogjanitor_switch is off."""
        if not forced and not self.meta.switch_on("catalogjanitor"):
            return 0
        cleaned = 0
        with self._janitor_lock:
            for enc, journal in self.meta.journals().items():
                if journal.get("step") != STEP_CLEANUP:
                    continue
                children = [RegionInfo.from_dict(d) for d in journal["children"]]
                if any(self._needs_parents(c) for c in children):
                    continue
                for d in journal["parents"]:
                    parent = layout.region_dir(self.rootdir, RegionInfo.from_dict(d))
                    shutil.rmtree(parent, ignore_errors=True)
                    log.info("janitor: deleted %s (no daughter references it)", parent)
                self.meta.delete_journal(enc)
                cleaned += 1
        return cleaned

    def _needs_parents(self, child: RegionInfo) -> bool:
        """Whether `child` may still read its parents' files: it holds a reference file, or it
        is in meta but its directory or .regioninfo is gone (hbck's MISSING_REGION_DIR: the
        parents' files may then be the only copy of its data). A child gone from meta (split or merged in
        turn, or its table dropped) needs nothing."""
        path = layout.region_dir(self.rootdir, child)
        if os.path.exists(layout.region_info_path(path)):  # else lost (a WAL split may have
            return self._has_references(path)             # made it anew for its edits)
        if self.meta.read_region(child.table, child.encoded_name) is None:
            return False
        if child.name not in self._warned_missing:  # once: the janitor runs every 5 s
            self._warned_missing.add(child.name)
            log.warning("janitor: keeping the parents of %s, whose directory %s is missing",
                        child.name, path)
        return True

    @staticmethod
    def _has_references(region_path: str) -> bool:
        for _, _, files in os.walk(region_path):
            if any(f.endswith(layout.REFERENCE_SUFFIX) for f in files):
                return True
        return False
