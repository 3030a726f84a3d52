"""Table DDL: create, disable, enable, alter, drop (see docs/coordination.md, "Tables").

    create   validate schema and split keys; ONE multi-op writes tables/<t> (ENABLING), meta/<t>
             and every region OFFLINE; regions are assigned in parallel; then ENABLED.
    disable  DISABLING; every region closed (flushed) in parallel -> CLOSED; DISABLED.
    enable   ENABLING; every region assigned in parallel -> OPEN; ENABLED.
    alter    online: the new descriptor is written, then an enabled table's regions are
             reopened (closed and opened on the same server) so they pick it up. A disabled
             table just gets the new descriptor (used at the next enable).
    drop     only a DISABLED table (else TableNotDisabledError): ONE multi-op deletes the table
             record and all its region records; then rootdir/data/<t> is deleted.

An interrupted ENABLING/DISABLING is finished by the next active master (server.py). The master
writes every new region's directory and .regioninfo before the multi-op that puts it in meta
(empty for a create or truncate; a clone's and a restore's hold a snapshot's files:
hmaster/snapshots.py); region servers refuse a region without them. A create or clone records
those directories first, a drop records the table's with its multi-op (meta.record_leftovers):
what one cut by its master's death leaves is deleted by the next master or create.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import replace

from coordination.znodes import (CLOSED, DISABLED, DISABLING, ENABLED, ENABLING, OFFLINE, OPEN,
                                 OPENING, RegionRecord, TableRecord, now_ms)
from hmaster import quotas
from hmaster.assignment import AssignmentManager, KeyedLocks
from hmaster.meta import MetaStore, check_fits
from minihbase.errors import (InvalidArgumentError, NamespaceExistsError, NamespaceNotEmptyError,
                              NamespaceNotFoundError, NoSuchColumnFamilyError, TableExistsError,
                              TableNotDisabledError, TableNotEnabledError, TableNotFoundError)
from protos import minihbase_pb2 as pb
from protos.schema import family_from_pb, table_from_pb
from storage import layout
from storage.region_split import (check_split_key, remove_region_dir, remove_region_dirs,
                                  write_region_dir)
from storage.schema import (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, RegionInfo,
                            TableDescriptor, namespace_of, table_attributes_text,
                            validate_namespace, validate_table_name)

log = logging.getLogger(__name__)


def region_boundaries(split_keys: list[bytes]) -> list[tuple[bytes, bytes]]:
    keys = sorted(set(split_keys))
    if any(k == b"" for k in keys):
        raise InvalidArgumentError("split keys must not be empty")
    if len(keys) != len(split_keys):
        raise InvalidArgumentError("split keys must be distinct")
    for k in keys:
        check_split_key(k)
    starts = [b""] + keys
    ends = keys + [b""]
    return list(zip(starts, ends))


class TableDDL:
    def __init__(self, meta: MetaStore, assignment: AssignmentManager, rootdir: str):
        self.meta = meta
        self.assignment = assignment
        self.rootdir = rootdir
        # Kept only while held or waited for: a master up for months sees tables with
        # generated names (tmp_<date>, one per job) come and go.
        self._table_locks = KeyedLocks()
        # A namespace is not dropped between a create's check that it exists and the create.
        self.namespace_lock = threading.Lock()

    def table_lock(self, name: str):
        """DDL on one table is serialised (a drop never races a disable or an enable): held
        for a with block."""
        return self._table_locks.hold(validate_table_name(name))  # "default:t1" is "t1"

    def try_table_lock(self, name: str, timeout: float | None = 0.0):
        """table_lock taken only within `timeout` seconds (0: if free): a with block, given
        whether it was (KeyedLocks.try_hold)."""
        return self._table_locks.try_hold(validate_table_name(name), timeout)

    # --- namespaces (HBase's; "default" and "hbase" always exist) -----------------------------

    def create_namespace(self, name: str, properties: dict[str, str]) -> None:
        name = validate_namespace(name)
        quotas.validate(name, properties)
        with self.namespace_lock:
            if self.meta.namespace_exists(name):
                raise NamespaceExistsError(f"namespace {name!r} already exists")
            self.meta.create_namespace(name, properties)
        log.info("namespace %s created", name)

    def alter_namespace(self, name: str, set_: dict[str, str], unset: list[str]) -> None:
        """HBase's alter_namespace: set some properties, remove others."""
        with self.namespace_lock:
            properties = self.namespace_properties(name)
            missing = [k for k in unset if k not in properties]
            if missing:
                raise InvalidArgumentError(f"namespace {name!r} has no property {missing[0]!r}")
            properties = {k: v for k, v in properties.items() if k not in unset} | set_
            quotas.validate(name, properties)
            self.meta.set_namespace_properties(name, properties)
        log.info("namespace %s altered: %s", name, properties)

    def namespace_properties(self, name: str) -> dict[str, str]:
        name = validate_namespace(name)
        if not self.meta.namespace_exists(name):
            raise NamespaceNotFoundError(f"namespace {name!r} does not exist")
        return self.meta.namespace_properties(name)

    def drop_namespace(self, name: str) -> None:
        name = validate_namespace(name)
        with self.namespace_lock:
            if name in (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE):
                raise NamespaceNotEmptyError(f"namespace {name!r} is reserved: it cannot be "
                                             "dropped")
            if not self.meta.namespace_exists(name):
                raise NamespaceNotFoundError(f"namespace {name!r} does not exist")
            tables = [t for t in self.meta.tables() if namespace_of(t) == name]
            if tables:
                raise NamespaceNotEmptyError(
                    f"namespace {name!r} has {len(tables)} table(s) ({', '.join(tables[:5])}): "
                    "only an empty namespace can be dropped")
            self.meta.delete_namespace(name)
        log.info("namespace %s dropped", name)

    def _check_namespace(self, table: str) -> None:
        ns = namespace_of(table)
        if ns == SYSTEM_NAMESPACE:
            raise InvalidArgumentError(f"table {table!r}: namespace {ns!r} is reserved for "
                                       "system tables")
        if not self.meta.namespace_exists(ns):
            raise NamespaceNotFoundError(f"table {table!r}: namespace {ns!r} does not exist; "
                                         f"create_namespace '{ns}' first")

    def create(self, schema: pb.TableSchema, split_keys: list[bytes]) -> TableDescriptor:
        desc = table_from_pb(schema)
        with self.table_lock(desc.name):
            return self._create(desc, split_keys)

    def _create(self, desc: TableDescriptor, split_keys: list[bytes]) -> TableDescriptor:
        bounds = region_boundaries(list(split_keys))
        region_id = now_ms()
        infos = [RegionInfo(desc.name, s, e, region_id) for s, e in bounds]

        def write_dirs():  # as HBase's CreateTableProcedure: a region exists on disk first
            for info in infos:
                write_region_dir(self.rootdir, info, desc, lambda family, family_dir: None)
        return self.create_regions(desc, infos, write_dirs)

    def create_regions(self, desc: TableDescriptor, infos: list[RegionInfo],
                       write_dirs, extra_ops: list | None = None) -> TableDescriptor:
        """Create table `desc` with regions `infos`, the table lock held. write_dirs() first
        writes the regions' directories (empty, or a clone's links); they are removed if the
        create fails. Region servers refuse to open a region whose directory is missing.
        extra_ops: committed with the table (a clone's nonce record)."""
        regions = [RegionRecord(i, OFFLINE, "", now_ms(), "assignment after create")
                   for i in infos]
        # before any directory is written: a table too big for meta fails at once
        check_fits(self.meta.create_table_ops(TableRecord(desc, ENABLING), regions,
                                              recorded=True, extra=extra_ops),
                   f": table {desc.name!r} with {len(infos)} regions does not fit (fewer "
                   f"regions or shorter split keys do)")
        with self.namespace_lock:
            self._check_namespace(desc.name)
            quotas.check_create(self.meta, desc.name, len(infos))
            if desc.name in self.meta.tables():
                raise TableExistsError(f"table {desc.name!r} already exists")
            self._remove_leftovers(desc.name)
            self.meta.record_leftovers(desc.name, [i.encoded_name for i in infos])
            try:
                write_dirs()
                self.meta.create_table(TableRecord(desc, ENABLING), regions, recorded=True,
                                       extra=extra_ops)
            except BaseException as e:
                if not self.meta.outcome_unknown(e):
                    remove_region_dirs(self.rootdir, infos)  # not created: nothing uses them
                    try:
                        os.rmdir(layout.table_dir(self.rootdir, desc.name))
                    except OSError:
                        pass  # not empty: another table's leftovers, or never made
                    try:
                        self.meta.forget_leftovers(desc.name)
                    except Exception:  # noqa: BLE001 -- the next create reads it, harmlessly
                        log.warning("table %s: the record of its failed create stays",
                                    desc.name, exc_info=True)
                raise
        log.info("table %s created with %d regions", desc.name, len(regions))
        self.assignment.assign_many(regions)
        self.meta.write_table(TableRecord(desc, ENABLED))
        return desc

    def remove_leftovers(self) -> None:
        """Master start: delete the region directories a create cut before its meta commit, or
        a drop cut after it, left (meta.record_leftovers), each under its table's lock."""
        for table in self.meta.tables_with_leftovers():
            with self.table_lock(table):
                if table not in self.meta.tables():
                    self._remove_leftovers(table)

    def _remove_leftovers(self, table: str) -> None:
        """Delete the region directories recorded as leftovers of `table`, which is not in
        meta (the table lock held): a create's (or clone's) whose master was killed before its
        multi-op, a drop's killed after it. As HBase's create clears the table's directory
        and a resumed DeleteTableProcedure finishes. Left, they would be orphans no cleaner may
        delete (older than a table created again), holding their space for good."""
        names = self.meta.leftovers(table)
        if not names:
            return
        tdir = layout.table_dir(self.rootdir, table)
        for encoded in names:
            remove_region_dir(os.path.join(tdir, encoded))
        try:
            os.rmdir(tdir)
        except OSError:
            pass  # holds other directories, or is gone
        self.meta.forget_leftovers(table)
        log.info("table %s: deleted %d region directories that a cut create or drop left",
                 table, len(names))

    def disable(self, name: str) -> None:
        with self.table_lock(name):
            rec = self.meta.read_table(name)  # TableNotFoundError
            if rec.state == DISABLED:
                raise TableNotEnabledError(f"table {name!r} is already disabled")
            self.finish_disable(replace(rec, state=DISABLING))

    def finish_disable(self, rec: TableRecord) -> None:
        """Close every region; DISABLED once all are CLOSED. A region whose close could not
        finish (its server died, or is dying and still registered) keeps the table DISABLING
        until crash handling or the repair chore closes it (finish_interrupted): a region still
        CLOSING on a server may hold acknowledged edits only that server's WAL has, so the
        table must not look disabled (and be enabled elsewhere) before they are recovered."""
        name = rec.descriptor.name
        self.meta.write_table(replace(rec, state=DISABLING))
        regions = [r for r in self.meta.regions(name) if r.state != CLOSED]
        closed = self.assignment.unassign_many(regions, final_state=CLOSED)
        waiting = [r for r in closed if r is not None and r.state != CLOSED]
        if waiting:
            log.warning("table %s stays DISABLING: %d region(s) not closed yet, e.g. %s: %s",
                        name, len(waiting), waiting[0].info.name, waiting[0].waiting_for)
            return
        self.meta.write_table(replace(rec, state=DISABLED))
        log.info("table %s disabled (%d regions closed)", name, len(regions))

    def finish_interrupted(self) -> None:
        """Chore: finish the disables that waited for a region's close (see finish_disable),
        and the creates, enables and alters whose call gave up half-way (a lost ZooKeeper
        connection: the table left ENABLING, or an alter_pending), as a new master would; a
        table whose DDL is running right now is left to it."""
        for name in self.meta.tables():
            with self.try_table_lock(name) as held:
                if not held:
                    continue
                try:
                    rec = self.meta.read_table(name)
                    if rec.state == DISABLING:
                        self.finish_disable(rec)
                    elif rec.state == ENABLING:
                        log.info("table %s: finishing an enable left half-done", name)
                        self.finish_enable(rec)
                    elif rec.alter_pending is not None:
                        log.info("table %s: finishing an alter left half-done", name)
                        self.finish_alter(rec)
                except TableNotFoundError:
                    pass  # dropped meanwhile

    def enable(self, name: str) -> None:
        with self.table_lock(name):
            rec = self.meta.read_table(name)
            if rec.state == ENABLED:
                raise TableNotDisabledError(f"table {name!r} is already enabled")
            self.finish_enable(rec)

    def finish_enable(self, rec: TableRecord) -> None:
        name = rec.descriptor.name
        self.meta.write_table(replace(rec, state=ENABLING))
        regions = [r for r in self.meta.regions(name) if r.state != OPEN]
        self.assignment.assign_many(regions)
        self.meta.write_table(replace(rec, state=ENABLED))
        log.info("table %s enabled (%d regions assigned)", name, len(regions))

    def alter(self, name: str, add_or_modify: list[pb.FamilySchema], remove: list[str],
              attributes: dict | None = None) -> TableDescriptor:
        """attributes: the table attributes to change, by field name (max_filesize=0,
        readonly=False...: a default is the attribute unset); the others are kept."""
        with self.table_lock(name):
            return self._alter(name, add_or_modify, remove, attributes or {})

    def _alter(self, name: str, add_or_modify: list[pb.FamilySchema], remove: list[str],
               attributes: dict) -> TableDescriptor:
        rec = self.meta.read_table(name)
        if rec.alter_pending is not None:
            # An alter cut half-way (its master killed, its ZooKeeper connection lost) still
            # has families' files to delete: finish it first, as HBase runs one table
            # procedure after the other. Written over, they would never be deleted, and a
            # family added back would serve its old cells.
            log.info("table %s: finishing an alter left half-done before the next", name)
            self.finish_alter(rec)
            rec = self.meta.read_table(name)
        families = {f.name: f for f in rec.descriptor.families}
        for fname in remove:
            if fname.encode() not in families:
                raise NoSuchColumnFamilyError(
                    f"cannot remove column family {fname!r}: table {name!r} has no such family")
            del families[fname.encode()]
        for f in add_or_modify:
            fd = family_from_pb(f)
            families[fd.name] = fd
        if not families:
            raise InvalidArgumentError(f"alter would leave table {name!r} without any family")
        desc = replace(rec.descriptor, families=tuple(families.values()), **attributes)
        pending = TableRecord(desc, rec.state, tuple(remove))
        self.meta.write_table(pending)  # the new descriptor and what is left to do, at once
        log.info("table %s altered: %s %s", name, [f.name.decode() for f in desc.families],
                 table_attributes_text(desc.attributes()))
        self.finish_alter(pending)
        return desc

    def finish_alter(self, rec: TableRecord) -> None:
        """Reopen every open region (they read the new descriptor), delete the removed
        families' files (no region has them open any more), then clear alter_pending. Every
        step is idempotent: a master that takes over runs it again (resume_alters)."""
        name = rec.descriptor.name
        if rec.state == ENABLED:
            self.reopen(name)
        if rec.alter_pending:
            self._delete_family_files(name, list(rec.alter_pending))
        self.meta.write_table(replace(self.meta.read_table(name), alter_pending=None))

    def resume_alters(self) -> None:
        """Master start: finish the alters an old master left half-done (alter_pending)."""
        for name in self.meta.tables():
            with self.table_lock(name):
                try:
                    rec = self.meta.read_table(name)
                except TableNotFoundError:
                    continue  # dropped meanwhile
                if rec.alter_pending is not None:
                    log.info("table %s: finishing an alter left half-done", name)
                    self.finish_alter(rec)

    def _delete_family_files(self, table: str, families: list[str]) -> None:
        """Delete removed families' files in every region directory of the table (split
        parents too), as HBase does: adding a family of the same name back must not bring
        its old cells back."""
        tdir = layout.table_dir(self.rootdir, table)
        regions = os.listdir(tdir) if os.path.isdir(tdir) else []
        for region in regions:
            for family in families:
                path = layout.family_dir(os.path.join(tdir, region), family.encode())
                if os.path.isdir(path):
                    shutil.rmtree(path)
        log.info("table %s: deleted the files of removed families %s", table, families)

    def reopen(self, name: str) -> None:
        """Close and reopen every open region on its server so it reads the new descriptor.
        An opening one too (a crashed server's, a move's): its open may have read the
        descriptor before it changed, and the move waits for the open (the region lock)."""
        regions = [r for r in self.meta.regions(name) if r.state in (OPEN, OPENING)]
        futures = [self.assignment.pool.submit(self.assignment.move, r, r.server)
                   for r in regions]
        for f in futures:
            f.result()

    def truncate(self, name: str, preserve_splits: bool) -> None:
        """HBase's TruncateTableProcedure: the disabled table's regions are swapped for new,
        empty ones (the same boundaries with preserve_splits, else one region), then the
        table is enabled. Nothing grows, so no namespace quota is checked (HBase's neither)."""
        with self.table_lock(name):
            rec = self.meta.read_table(name)
            if rec.state != DISABLED:
                raise TableNotDisabledError(
                    f"table {name!r} is {rec.state}: disable it before truncating it")
            old = self.meta.regions(name)
            bounds = ([(r.info.start_key, r.info.end_key) for r in old] if preserve_splits
                      else [(b"", b"")])
            region_id = next_region_id(old)
            new = [RegionInfo(name, s, e, region_id) for s, e in bounds]

            def write_dirs():
                for info in new:
                    write_region_dir(self.rootdir, info, rec.descriptor, lambda f, d: None)
            # ENABLING in the swap itself: a call cut after it is finished by the chore
            # (finish_interrupted), as HBase's truncate ends with the table enabled.
            self.swap_regions(replace(rec, state=ENABLING), old, new, write_dirs, "truncated")
            log.info("table %s truncated: %d new region(s)", name, len(new))
            self.finish_enable(self.meta.read_table(name))

    def swap_regions(self, rec: TableRecord, old: list[RegionRecord], new: list[RegionInfo],
                     write_dirs, why: str, quota_check: str = "",
                     extra_ops: list | None = None) -> None:
        """A disabled table's regions `old` replaced by `new` (truncate, restore_snapshot),
        the table lock held: write_dirs() writes the new regions' directories, then ONE
        multi-op writes `rec` and swaps the region records (CLOSED, waiting_for `why`) and
        drops the table's split/merge journals: if it fails, the table is as it was. Then
        every other directory of the table is deleted. quota_check (what the swap is, for its
        message): the namespace's region quota is checked with the multi-op, under the lock
        that orders creates, so they cannot pass it together. extra_ops: committed with the
        swap (a restore's nonce record)."""
        try:
            write_dirs()
            self._commit_swap(rec, old, new, why, quota_check, extra_ops or [])
        except BaseException as e:
            if not self.meta.outcome_unknown(e):
                remove_region_dirs(self.rootdir, new)  # not in meta: nothing uses them
            raise
        keep = {i.encoded_name for i in new}
        table_dir = layout.table_dir(self.rootdir, rec.descriptor.name)
        for entry in os.listdir(table_dir):
            if entry not in keep:
                shutil.rmtree(os.path.join(table_dir, entry), ignore_errors=True)

    def _commit_swap(self, rec: TableRecord, old: list[RegionRecord], new: list[RegionInfo],
                     why: str, quota_check: str, extra_ops: list) -> None:
        table = rec.descriptor.name
        for attempt in range(3):
            journals = [enc for enc, j in self.meta.journals().items()
                        if j.get("table") == table]
            ops = ([self.meta.delete_journal_op(enc) for enc in journals]
                   + [self.meta.delete_region_op(r) for r in old]
                   + [self.meta.create_region_op(RegionRecord(i, CLOSED, "", now_ms(), why))
                      for i in new] + extra_ops)
            try:
                with self.namespace_lock:
                    if quota_check:
                        quotas.check_regions(self.meta, table, len(new) - len(old),
                                             quota_check)
                    self.meta.write_table(rec, ops)
                return
            except TableNotFoundError:
                if attempt == 2 or table not in self.meta.tables():
                    raise
                # a journal of the table was finished meanwhile (the janitor): read them again

    def drop(self, name: str) -> None:
        with self.table_lock(name):
            self._drop(name)

    def _drop(self, name: str) -> None:
        rec = self.meta.read_table(name)
        if rec.state != DISABLED:
            raise TableNotDisabledError(
                f"table {name!r} is {rec.state}: disable it before dropping it")
        encoded = {r.info.encoded_name for r in self.meta.regions(name)}
        for enc, journal in self.meta.journals().items():
            if journal.get("table") == name or enc in encoded:
                self.meta.delete_journal(enc)
        tdir = layout.table_dir(self.rootdir, name)
        # the directories recorded with the commit: a master killed before it has deleted
        # them is followed by one that does (remove_leftovers)
        self.meta.delete_table(name, leftovers=os.listdir(tdir) if os.path.isdir(tdir) else [])
        shutil.rmtree(tdir, ignore_errors=True)
        self.meta.forget_leftovers(name)
        log.info("table %s dropped (meta and %s deleted)", name,
                 layout.table_dir(self.rootdir, name))


def next_region_id(old: list[RegionRecord]) -> int:
    """An id for regions replacing `old`: now, and above every old one's (so their encoded
    names differ even within one millisecond)."""
    return max([now_ms()] + [r.info.region_id + 1 for r in old])
