"""The master's writes to tables/, meta/, servers/ and splits/ in ZooKeeper (see
docs/coordination.md, "Meta").

Every change that touches more than one znode goes through `MetaStore.commit(ops)`: one
ZooKeeper multi-op transaction, so a table and its regions appear together, and a split (parent
gone, daughters OPENING, journal advanced) is recorded in one step. A crash's regions are
taken offline in as few transactions as they fit (in_transactions): ZooKeeper takes ~1 MB in one.
A failed transaction changes nothing and raises the first real error (e.g. NodeExistsError).

Only the active master writes here. A master whose session expires exits at once (server.py), so
a stale master cannot write with a fresh session after a new one took over.
Thread-safe: kazoo serialises requests; callers serialise per-region decisions themselves
(assignment.py holds a lock per region).
"""

from __future__ import annotations

import json
import logging
import re

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionClosedError as KazooConnectionClosed
from kazoo.exceptions import (ConnectionLoss, NoNodeError, NodeExistsError, NotEmptyError,
                              RolledBackError, SessionExpiredError)
from kazoo.exceptions import OperationTimeoutError as KazooOperationTimeout
from kazoo.handlers.threading import KazooTimeoutError

from coordination import meta_reader
from coordination.znodes import (SWITCH_OFF, Paths, RegionRecord, ServerState, TableRecord,
                                 now_ms)
from minihbase.errors import InvalidArgumentError, TableExistsError, TableNotFoundError
from storage.schema import DEFAULT_NAMESPACE, SYSTEM_NAMESPACE

log = logging.getLogger(__name__)


# What one ZooKeeper transaction may carry (paths + data), safely under ZooKeeper's default
# jute.maxbuffer of 1 MB for the whole request.
MAX_TRANSACTION_BYTES = 900_000
_ENCODED = re.compile(r"[0-9a-f]{32}")  # a region's encoded name: md5 hex (storage/schema.py)


class Op:
    """One operation of a transaction: ("create"|"set"|"delete"|"check", path, data)."""

    __slots__ = ("kind", "path", "data", "version")

    def __init__(self, kind: str, path: str, data: bytes = b"", version: int = -1):
        # version != -1: the op fails (BadVersionError, whole transaction rolled back) unless the
        # znode still has that version -- how a step proves nobody changed the record meanwhile.
        self.kind, self.path, self.data, self.version = kind, path, data, version

    def __repr__(self):
        return f"{self.kind} {self.path}"


def op_bytes(op: Op) -> int:
    """What `op` adds to a transaction's size, as commit counts it against its limit."""
    return len(op.path) + len(op.data or b"")


def check_fits(ops: list[Op], hint: str = "") -> None:
    """InvalidArgumentError if `ops` outgrow one transaction. ZooKeeper drops the connection of
    a request over its 1 MB jute.maxbuffer, failing every operation of this master that is in
    flight: such a change is refused before it is sent."""
    size = sum(map(op_bytes, ops))
    if size > MAX_TRANSACTION_BYTES:
        raise InvalidArgumentError(
            f"this change needs {size} bytes of region metadata in one ZooKeeper "
            f"transaction, over its limit of {MAX_TRANSACTION_BYTES}{hint}")


def in_transactions(items: list, size) -> list[list]:
    """`items` cut, in order, into runs whose sizes (`size(item)`, in op bytes) each fit one
    transaction: for a change that need not be atomic as a whole but may outgrow one, e.g.
    the regions of a crashed server taken offline, each still guarded by its version."""
    parts, part, part_bytes = [], [], 0
    for item in items:
        n = size(item)
        if part and part_bytes + n > MAX_TRANSACTION_BYTES:
            parts.append(part)
            part, part_bytes = [], 0
        part.append(item)
        part_bytes += n
    return parts + [part] if part else parts


class MetaStore:
    def __init__(self, zk: KazooClient, paths: Paths):
        self.zk = zk
        self.paths = paths

    # --- layout ------------------------------------------------------------------------------

    def ensure_layout(self) -> None:
        for path in self.paths.all_dirs():
            self.zk.ensure_path(path)

    # --- transactions ------------------------------------------------------------------------

    def commit(self, ops: list[Op]) -> list:
        """Apply `ops` all-or-nothing; returns kazoo's result of each (a set's new ZnodeStat).
        Raises the kazoo error of the op that failed."""
        if not ops:
            return []
        check_fits(ops)
        t = self.zk.transaction()
        for op in ops:
            if op.kind == "create":
                t.create(op.path, op.data)
            elif op.kind == "set":
                t.set_data(op.path, op.data, op.version)
            elif op.kind == "delete":
                t.delete(op.path, op.version)
            elif op.kind == "check":
                t.check(op.path, op.version)
            else:
                raise ValueError(f"unknown op {op.kind}")
        results = t.commit()
        for op, result in zip(ops, results):
            if isinstance(result, Exception) and not isinstance(result, RolledBackError):
                log.debug("transaction failed at %r: %r", op, result)
                raise result
        return results

    @staticmethod
    def outcome_unknown(exc: BaseException) -> bool:
        """Whether a failed commit may have been applied all the same: the connection was lost
        after the request left, so only reading meta again can tell."""
        return isinstance(exc, (ConnectionLoss, SessionExpiredError, KazooOperationTimeout,
                                KazooConnectionClosed, KazooTimeoutError))

    # region record ops, for composing transactions
    def region_path(self, rec: RegionRecord) -> str:
        return self.paths.region(rec.info.table, rec.info.encoded_name)

    def put_region_op(self, rec: RegionRecord, version: int = -1) -> Op:
        return Op("set", self.region_path(rec), rec.to_bytes(), version)

    def create_region_op(self, rec: RegionRecord) -> Op:
        return Op("create", self.region_path(rec), rec.to_bytes())

    def delete_region_op(self, rec: RegionRecord, version: int = -1) -> Op:
        return Op("delete", self.region_path(rec), b"", version)

    # --- tables ------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        return meta_reader.list_tables(self.zk, self.paths)

    def read_table(self, name: str) -> TableRecord:
        return meta_reader.read_table(self.zk, name, self.paths)

    def create_table(self, record: TableRecord, regions: list[RegionRecord], *,
                     recorded: bool = False, extra: list[Op] | None = None) -> None:
        """Table znode, its meta directory and every region record, in one transaction;
        recorded: it also deletes the record_leftovers naming the regions' directories;
        extra: more ops of that transaction (a clone's nonce record)."""
        name = record.descriptor.name
        try:
            self.commit(self.create_table_ops(record, regions, recorded=recorded, extra=extra))
        except NodeExistsError:
            raise TableExistsError(f"table {name!r} already exists") from None

    def create_table_ops(self, record: TableRecord, regions: list[RegionRecord], *,
                         recorded: bool = False, extra: list[Op] | None = None) -> list[Op]:
        """create_table's transaction (check_fits tells beforehand whether it can be sent)."""
        name = record.descriptor.name
        # The meta directory's data says when this incarnation of the table began: the
        # smallest region id it was created with. Every later region of it (split, merge,
        # restore) gets a larger id; the orphan cleaner (hbck.py) relies on that.
        created = {"created_ms": min((r.info.region_id for r in regions), default=0)}
        ops = [Op("create", self.paths.table(name), record.to_bytes()),
               Op("create", self.paths.table_meta(name), json.dumps(created).encode())]
        ops += [self.create_region_op(r) for r in regions]
        if recorded:
            ops.append(Op("delete", self.paths.leftovers_of(name)))
        return ops + (extra or [])

    # --- leftovers: /leftovers/<table> -------------------------------------------------------
    # Region directories of a table that meta does not name and that nothing may use: those a
    # create (or clone) writes before the multi-op that puts them in meta, recorded first and
    # the record deleted by that multi-op; those of a dropped table, recorded by the drop's
    # multi-op and the record deleted once they are. A record still there names what a master
    # killed in between left; the next master, or the next create of that table, deletes them
    # (ddl.remove_leftovers). Without it they could not be told from the regions of an
    # earlier table whose ZooKeeper was wiped, and would be left for good.

    def record_leftovers(self, table: str, encoded_names: list[str]) -> None:
        path = self.paths.leftovers_of(table)
        data = json.dumps({"regions": sorted(encoded_names)}).encode()
        try:
            self.zk.create(path, data, makepath=True)
        except NodeExistsError:
            self.zk.set(path, data)

    def leftovers(self, table: str) -> list[str]:
        """The encoded names of the region directories of `table` recorded as leftovers."""
        data, _ = self._get(self.paths.leftovers_of(table))
        return list(json.loads(data).get("regions", [])) if data else []

    def tables_with_leftovers(self) -> list[str]:
        return self._children(self.paths.leftovers)

    def forget_leftovers(self, table: str) -> None:
        self._delete_if_exists(self.paths.leftovers_of(table))

    def table_created_ms(self, name: str) -> int | None:
        """The smallest region id the table was created with (no region of it has a smaller
        one); None if unknown (it does not exist, or was created before this was recorded)."""
        data, _ = self._get(self.paths.table_meta(name))
        try:
            return int(json.loads(data)["created_ms"]) if data else None
        except (ValueError, KeyError, TypeError):
            return None

    def write_table(self, record: TableRecord, extra: list[Op] | None = None) -> None:
        name = record.descriptor.name
        try:
            self.commit([Op("set", self.paths.table(name), record.to_bytes())] + (extra or []))
        except NoNodeError:
            raise TableNotFoundError(f"table {name!r} does not exist") from None

    def delete_table(self, name: str, leftovers: list[str] | None = None) -> None:
        """Every region record, the meta directory and the table record, in one transaction;
        with `leftovers` (the encoded names of its region directories), the same transaction
        records them (record_leftovers).

        The regions are listed outside the transaction; if one appeared meanwhile (a split
        finishing), the transaction fails with NotEmptyError and is tried again on a new list."""
        if leftovers is not None:
            self.forget_leftovers(name)  # a stale record would fail the create below
        for attempt in range(3):
            ops = []
            if leftovers is not None:
                data = json.dumps({"regions": sorted(leftovers)}).encode()
                ops.append(Op("create", self.paths.leftovers_of(name), data))
            try:
                children = self.zk.get_children(self.paths.table_meta(name))
            except NoNodeError:
                children = []
            else:
                ops += [Op("delete", self.paths.region(name, c)) for c in children]
                ops.append(Op("delete", self.paths.table_meta(name)))
            ops.append(Op("delete", self.paths.table(name)))
            try:
                self.commit(ops)
                return
            except NoNodeError:
                raise TableNotFoundError(f"table {name!r} does not exist") from None
            except NotEmptyError:
                if attempt == 2:
                    raise

    # --- regions -----------------------------------------------------------------------------

    def regions(self, table: str) -> list[RegionRecord]:
        return meta_reader.list_regions(self.zk, table, self.paths)

    def all_regions(self) -> list[RegionRecord]:
        return [rec for rec, _ in self.all_regions_versioned()]

    def all_regions_versioned(self) -> list[tuple[RegionRecord, int]]:
        """Every region record of every table, each with its znode version."""
        out = []
        for t in self.tables():
            try:
                out += meta_reader.list_regions_versioned(self.zk, t, self.paths)
            except TableNotFoundError:
                continue  # dropped meanwhile
        return out

    def read_region(self, table: str, encoded: str) -> RegionRecord | None:
        return self.read_region_versioned(table, encoded)[0]

    def read_region_versioned(self, table: str,
                              encoded: str) -> tuple[RegionRecord | None, int]:
        """The record and its znode version (for a guarded put_region_op); (None, -1) if absent."""
        data, version = self._get(self.paths.region(table, encoded))
        return (None, -1) if data is None else (RegionRecord.from_bytes(data), version)

    def read_regions_versioned(self, recs: list[RegionRecord],
                               ) -> list[tuple[RegionRecord | None, int]]:
        """read_region_versioned of each of `recs` (by table and encoded name), in order, all
        reads sent before any answer is awaited: one round trip, not one per region."""
        pending = [self.zk.get_async(self.region_path(r)) for r in recs]
        out = []
        for result in pending:
            try:
                data, stat = result.get()
            except NoNodeError:
                out.append((None, -1))
                continue
            out.append((RegionRecord.from_bytes(data), stat.version))
        return out

    def find_region(self, region_name: str) -> RegionRecord | None:
        """The record of a full region name "table,start,id.encoded" (None if unknown). HBase
        prints region names with a trailing ".", so one is ignored; the whole name must match,
        not only its encoded part."""
        if region_name.endswith("."):
            region_name = region_name[:-1]
        table = region_name.partition(",")[0]
        encoded = meta_reader.encoded_name_of(region_name)
        if not (table and _ENCODED.fullmatch(encoded)):
            return None
        rec = self.read_region(table, encoded)
        return rec if rec is not None and rec.info.name == region_name else None

    def set_region(self, rec: RegionRecord, state: str, *, server: str | None = None,
                   waiting_for: str = "") -> RegionRecord:
        """Write one region's new state (stamping since_ms); returns the new record."""
        new = RegionRecord(rec.info, state, rec.server if server is None else server, now_ms(),
                           waiting_for)
        self.commit([self.put_region_op(new)])
        return new

    # --- servers/ (master-owned server states) -------------------------------------------

    def server_states(self) -> dict[str, ServerState]:
        out = {}
        for name in self._children(self.paths.servers):
            st = self.read_server_state(name)
            if st is not None:
                out[name] = st
        return out

    def read_server_state(self, name: str) -> ServerState | None:
        data, _ = self._get(self.paths.server_state(name))
        return None if data is None else ServerState.from_bytes(data)

    def write_server_state(self, name: str, state: str, waiting_for: str = "") -> ServerState:
        st = ServerState(name, state, now_ms(), waiting_for)
        self._put(self.paths.server_state(name), st.to_bytes())
        return st

    def delete_server_state(self, name: str) -> None:
        self._delete_if_exists(self.paths.server_state(name))

    # --- namespaces -------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        return sorted({DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, *self._children(self.paths.namespaces)})

    def namespace_exists(self, name: str) -> bool:
        return name in (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE) or \
            self.zk.exists(self.paths.namespace(name)) is not None

    def create_namespace(self, name: str, properties: dict[str, str]) -> None:
        self.zk.create(self.paths.namespace(name), _properties_bytes(properties), makepath=True)

    def namespace_properties(self, name: str) -> dict[str, str]:
        """Its properties (HBase's namespace configuration, quotas included); "default" and
        "hbase" have a znode only once properties were set on them."""
        data, _ = self._get(self.paths.namespace(name))
        return json.loads(data)["properties"] if data else {}

    def set_namespace_properties(self, name: str, properties: dict[str, str]) -> None:
        self.zk.ensure_path(self.paths.namespaces)
        self._put(self.paths.namespace(name), _properties_bytes(properties))

    def delete_namespace(self, name: str) -> None:
        self._delete_if_exists(self.paths.namespace(name))

    # --- switches ---------------------------------------------------------------------------

    def balancer_on(self) -> bool:
        return meta_reader.balancer_on(self.zk, self.paths)

    def set_balancer(self, on: bool) -> bool:
        """Switch the balancer on or off (kept across master failovers); returns the state
        before. Serialised by the caller (Balancer.switch)."""
        before = self.balancer_on()
        self._put(self.paths.balancer, b"true" if on else SWITCH_OFF)
        return before

    def switch_on(self, name: str) -> bool:
        return meta_reader.switch_on(self.zk, name, self.paths)

    def set_switch(self, name: str, on: bool) -> bool:
        """Switch `name` (SWITCHES) on or off, kept across master failovers; returns the state
        before."""
        before = self.switch_on(name)
        self._put(self.paths.switch(name), b"true" if on else SWITCH_OFF)
        return before

    # --- decommissioned region servers (HBase's draining servers) ----------------------------

    def decommissioned(self) -> list[str]:
        return meta_reader.decommissioned(self.zk, self.paths)

    def decommission(self, server: str) -> None:
        try:
            self.zk.create(self.paths.draining_server(server))
        except NodeExistsError:
            pass

    def recommission(self, server: str) -> None:
        self._delete_if_exists(self.paths.draining_server(server))

    # --- split / merge journals ----------------------------------------------------------

    def journals(self) -> dict[str, dict]:
        out = {}
        for name in self._children(self.paths.splits):
            journal = self.read_journal(name)
            if journal is not None:  # else finished meanwhile
                out[name] = journal
        return out

    def read_journal(self, encoded: str) -> dict | None:
        data, _ = self._get(self.paths.split_journal(encoded))
        return None if data is None else json.loads(data)

    def journal_op(self, encoded: str, journal: dict, *, create: bool = False) -> Op:
        return Op("create" if create else "set", self.paths.split_journal(encoded),
                  json.dumps(journal, sort_keys=True).encode())

    def delete_journal_op(self, encoded: str) -> Op:
        return Op("delete", self.paths.split_journal(encoded))

    def delete_journal(self, encoded: str) -> None:
        self._delete_if_exists(self.paths.split_journal(encoded))

    # --- nonces of split, merge, move, clone and restore calls (split_merge.py, "Nonces") -----

    def read_nonce(self, key: str, ops: tuple[str, ...]) -> dict | None:
        """The record of nonce `key`, or None. `ops`: the kinds of call ("op") whose record an
        attempt of this call may find; a record another kind of call made means the caller
        sent one nonce with two calls: InvalidArgumentError, never that call's outcome."""
        data, _ = self._get(self.paths.nonce(key))
        if data is None:
            return None
        record = json.loads(data)
        if record.get("op") not in ops:
            raise InvalidArgumentError(
                f"nonce {key} of this {' or '.join(ops)} call was already sent with a "
                f"{record.get('op')} call: each call needs a nonce of its own")
        return record

    def nonce_op(self, key: str, record: dict, *, create: bool = False) -> Op:
        return Op("create" if create else "set", self.paths.nonce(key),
                  json.dumps(record, sort_keys=True).encode())

    def delete_nonce_op(self, key: str) -> Op:
        return Op("delete", self.paths.nonce(key))

    def delete_nonce(self, key: str) -> None:
        self._delete_if_exists(self.paths.nonce(key))

    def nonce_keys(self, prefix: str) -> list[str]:
        return [k for k in self._children(self.paths.nonces) if k.startswith(prefix)]

    def prune_nonces(self, ttl_s: float) -> int:
        """Delete the nonce records made over `ttl_s` ago, except those of a split or merge
        still journalled (its record is deleted or marked done with the journal's step)."""
        pruned, oldest = 0, now_ms() - int(ttl_s * 1000)
        for key in self._children(self.paths.nonces):
            try:
                data, stat = self.zk.get(self.paths.nonce(key))
            except NoNodeError:
                continue
            journal = json.loads(data).get("journal")
            if stat.ctime > oldest or (journal and self.read_journal(journal) is not None):
                continue
            self._delete_if_exists(self.paths.nonce(key))
            pruned += 1
        return pruned

    # --- znode reads that treat "gone" as a value, not an error ------------------------------

    def _get(self, path: str) -> tuple[bytes | None, int]:
        try:
            data, stat = self.zk.get(path)
        except NoNodeError:
            return None, -1
        return data, stat.version

    def _put(self, path: str, data: bytes) -> None:
        """Set a znode's data, creating it if it does not exist."""
        try:
            self.zk.set(path, data)
        except NoNodeError:
            try:
                self.zk.create(path, data)
            except NodeExistsError:
                self.zk.set(path, data)

    def _children(self, path: str) -> list[str]:
        try:
            return self.zk.get_children(path)
        except NoNodeError:
            return []

    def _delete_if_exists(self, path: str) -> None:
        try:
            self.zk.delete(path)
        except NoNodeError:
            pass


def _properties_bytes(properties: dict[str, str]) -> bytes:
    return json.dumps({"properties": properties}, sort_keys=True).encode()
