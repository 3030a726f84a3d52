"""Connection: the entry point of the minihbase client, shaped like happybase (docs/cli.md).

    conn = Connection("127.0.0.1:2181", timeout=30.0)
    conn.create_table("t1", {"cf": dict(max_versions=3)}, split_keys=[b"100", b"300"])
    t = conn.table("t1"); t.put(b"r1", {b"cf:q": b"v"}); t.row(b"r1")

A Connection holds one ZooKeeper session (meta reads and watches only), one gRPC channel per
server (client/rpc_channels.py), the region location cache (client/location_cache.py) and the
retry policy (client/retry.py). It is safe to share between threads.

Every operation -- data or admin -- finishes within `timeout` seconds: it either succeeds or
raises. Retryable errors (NotServingRegion, RegionOffline, ServerUnavailable, MasterNotRunning,
...) drop the cached location and are retried with HBase's back-off; when the time is up
OperationTimeoutError names the operation, the attempts and the last error.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from typing import Callable

import grpc

from client import protocol
from client.location_cache import (CLOSED, MASTER, ClosedMeta, LocationCache, MetaChanges,
                                   RegionLocation, ZkMetaReader, is_change)
from client.retry import RetryPolicy, bounded_waits, is_retryable
from client.rpc_channels import ChannelPool
from coordination import znodes
from coordination.znodes import Paths
from minihbase.bytes_text import quoted
from minihbase.errors import (ConnectionClosedError, HBaseError, InvalidArgumentError,
                              MasterNotRunningError, NamespaceExistsError,
                              NamespaceNotFoundError, NoSuchColumnFamilyError,
                              OperationTimeoutError, OutcomeUnknownError, ServerUnavailableError,
                              SnapshotExistsError, SnapshotNotFoundError, TableExistsError,
                              TableNotDisabledError, TableNotEnabledError, TableNotFoundError)
from minihbase.zookeeper import four_letter_word
from protos import minihbase_pb2 as pb
from protos.status import from_rpc_error
from storage.schema import canonical_table_name, namespace_of

DEFAULT_QUORUM = "127.0.0.1:2181"
ZK_LOG = logging.getLogger("client.zookeeper")  # kazoo's, silent unless logging is set up
_EMPTY = pb.Empty()
# Master calls that are reads, or that do no harm done twice (a flush, a compaction request, a
# balance, an assign of an open region...): resent whatever happened to an earlier attempt.
IDEMPOTENT_MASTER_CALLS = frozenset({
    "ListTables", "DescribeTable", "ListNamespaces", "DescribeNamespace", "ListSnapshots",
    "GetClusterStatus", "GetCompactionState", "Hbck", "Flush", "Compact", "Balance",
    "RunCatalogJanitor", "Normalize", "Assign", "ClearDeadServers"})


def _text(value, what: str) -> str:
    """A name given as str or bytes (happybase takes both)."""
    if not isinstance(value, (bytes, str)):
        raise TypeError(f"{what} must be str or bytes, got {type(value).__name__}")
    try:
        if isinstance(value, bytes):
            return value.decode()
        value.encode()  # a str with lone surrogates (PEP 383) cannot be sent
        return value
    except UnicodeError as e:
        raise InvalidArgumentError(f"{what} {value!r} is not UTF-8 text (position "
                                   f"{e.start + 1})") from None


class Connection:
    """table_prefix (happybase's): table(), tables(), create_table(), delete_table(),
    enable_table(), disable_table(), is_table_enabled() and compact_table() name tables
    without it, as happybase does; the other admin calls take full table names."""

    def __init__(self, zk_quorum: str = DEFAULT_QUORUM, *, timeout: float = 30.0,
                 zk_parent: str = znodes.DEFAULT_PARENT, retry: RetryPolicy | None = None,
                 autoconnect: bool = True, table_prefix=None, table_prefix_separator="_"):
        self.quorum = zk_quorum
        self.table_prefix = None if table_prefix is None else _text(table_prefix, "table_prefix")
        self.table_prefix_separator = _text(table_prefix_separator, "table_prefix_separator")
        self.timeout = float(timeout)
        self.paths = Paths(zk_parent)
        self.retry = retry or RetryPolicy(self.timeout)
        zk_host = zk_quorum.split(",")[0].rpartition(":")[0]
        self.channels = ChannelPool(fallback_host=zk_host or None)
        self._zk = None
        # What ZooKeeper reported changed (tables' meta, the master): ends back-off pauses
        self.changes = MetaChanges()
        # Until open() (and again after close()) every read says the Connection is closed.
        self._meta: ZkMetaReader | ClosedMeta = ClosedMeta()
        self.locations = LocationCache(self._meta, self.changes)
        self.locations.close()
        self._master_address: str | None = None  # cached; dropped on error or watch
        # HBase's nonce group: names this client in the nonces of its operations (new_nonce)
        self.nonce_group = secrets.randbits(64)
        # Work that close() must end first: batches finishing in the background (waited for)
        # and open scans (their server scanners closed). Guarded by _in_flight_lock.
        self._in_flight: weakref.WeakSet = weakref.WeakSet()
        self._in_flight_lock = threading.Lock()
        if autoconnect:
            self.open()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._zk is not None:
            return
        from coordination.zk import connect

        hosts = self._quorum_hosts()
        unresolved = [_zk_host_problem(h, probe=False) for h in hosts]
        if all(unresolved):  # a typo, most likely: say so now
            raise OperationTimeoutError(f"cannot reach ZooKeeper at {self.quorum}: "
                                        f"{unresolved[0]}")
        try:
            zk = connect(self.quorum, connect_timeout=min(self.timeout, 15.0), logger=ZK_LOG)
        except Exception as exc:  # kazoo's timeout, bad host string...
            why = "; ".join(filter(None, (_zk_host_problem(h) for h in hosts)))
            raise OperationTimeoutError(
                f"cannot reach ZooKeeper at {self.quorum} within "
                f"{min(self.timeout, 15.0):g}s: {why or f'{type(exc).__name__}: {exc}'}"
            ) from None
        zk.add_listener(self._on_zk_state)
        self._zk = zk
        self._meta = ZkMetaReader(zk, self.quorum, self.paths, timeout=min(self.timeout, 5.0))
        self.locations = LocationCache(self._meta, self.changes)
        self.channels.closed = False  # open() after close(): channels may be opened again
        self._live_servers: set[str] = set()
        zk.ChildrenWatch(self.paths.rs, self._on_live_servers)

    def _quorum_hosts(self) -> list[str]:
        """The quorum's "host:port" members, without a chroot."""
        return self.quorum.split("/")[0].split(",")

    @property
    def closed(self) -> bool:
        return self._zk is None

    def close(self) -> None:
        """Wait for batches still being sent in the background (each within its operation
        timeout) and close open scans' server scanners, then ZooKeeper and the channels."""
        with self._in_flight_lock:
            work = list(self._in_flight)
        for item in work:
            try:
                item.end_for_close()
            except Exception:  # noqa: BLE001 - best effort: closing goes on
                pass
        self.locations.close()
        self._meta = ClosedMeta()
        zk, self._zk = self._zk, None
        if zk is not None:
            try:
                zk.stop()
                zk.close()
            except Exception:  # closing is best effort: the session expires anyway
                pass
        self.channels.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _on_zk_state(self, state) -> None:
        # Runs on kazoo's thread: must not block. While ZooKeeper is merely unreachable
        # (SUSPENDED) cached locations stay usable -- region servers may well be fine. A LOST
        # session dropped our watches, and after any reconnect we may have missed changes:
        # drop the cache then, the next lookup re-reads meta and re-arms the watches.
        if state in ("LOST", "CONNECTED"):
            self.locations.invalidate()
            self._master_address = None
            self.changes.changed()  # retries in their back-off look again now

    def _on_live_servers(self, children) -> bool:
        # kazoo's thread; /hbase/rs changed. Channels to servers that left are closed (their
        # calls fail anyway); a server that restarts comes back under a new name.
        if self._zk is None:
            return False  # closed: stop watching
        live = set(children)
        gone, self._live_servers = self._live_servers - live, live
        for address in self.locations.servers_gone(gone):
            self.channels.forget(address)
        return True

    def track(self, item) -> None:
        """`item.end_for_close()` runs when this Connection closes, unless untracked first."""
        with self._in_flight_lock:
            self._in_flight.add(item)

    def untrack(self, item) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(item)

    def new_nonce(self) -> dict:
        """Request fields naming one non-idempotent operation (increment, check-and-mutate),
        sent again by every retry of it: if an attempt was applied but its answer lost (a
        server killed after its WAL sync), the retry gets the first attempt's answer instead of
        being applied again (storage/nonces.py)."""
        return {"nonce_group": self.nonce_group, "nonce": secrets.randbits(64) or 1}

    def table(self, name: str, use_prefix: bool = True):
        from client.table import Table

        name = _text(name, "table name")
        if use_prefix:
            name = self._table_name(name)
        return Table(canonical_table_name(name), self)  # "default:t1" is "t1", as in HBase

    def _table_name(self, name) -> str:
        """happybase's table_prefix + table_prefix_separator + name."""
        name = _text(name, "table name")
        if self.table_prefix is None:
            return name
        return self.table_prefix + self.table_prefix_separator + name

    # -- data-call plumbing (used by Table and Batch) ----------------------------------------
    def region_call(self, table: str, row: bytes, what: str,
                    fn: Callable[[RegionLocation, object, float], object]):
        """Run fn(location, region server stub, rpc deadline) for the region holding `row`,
        retrying with a fresh location on retryable errors."""
        # Fast path: one attempt without the retry machinery (the usual case: locations
        # cached). A meta read runs under the retry policy, which bounds it by the time left.
        retry = self.retry
        started = retry.clock()
        if not self.locations.cached(table):
            return self._retry_region_call(table, row, what, fn, started)
        try:
            return self._region_attempt(table, row, fn, min(retry.rpc_timeout, retry.timeout))
        except HBaseError as exc:
            if not exc.retryable:
                raise
            self.on_region_error(table, exc)
        return self._retry_region_call(table, row, what, fn, started)

    def _region_attempt(self, table: str, row: bytes, fn, deadline: float):
        loc = self.locations.locate(table, row)
        try:
            return fn(loc, self.channels.region_server(loc.address), deadline)
        except grpc.RpcError as err:
            exc = from_rpc_error(err, loc.address)
            exc.location = loc  # for region_server_down, should the operation time out
            raise exc from None
        except ValueError as e:  # gRPC's "closed channel": close() or forget() ran meanwhile
            exc = self.channels.closed_channel(loc.address, e)
            exc.location = loc
            raise exc from None

    def region_server_down(self, exc: BaseException) -> str | None:
        """For the timeout message of a data call whose last attempt could not connect to
        the region server its region is on (`exc.location`, set where the call failed): why
        -- a SIGKILLed server is listed in ZooKeeper until its session expires, and only then
        does the master reopen its regions elsewhere. None (the raw error) otherwise."""
        loc = getattr(exc, "location", None)
        text = str(exc).lower()
        if (loc is None or not isinstance(exc, ServerUnavailableError)
                or ("refused" not in text and "failed to connect" not in text)):
            return None
        reason = "connection refused" if "refused" in text else "cannot connect"
        where = (f"region {loc.name} is on region server {loc.server}, which does not answer "
                 f"at {loc.address} ({reason})")
        if loc.server in self._live_servers:
            return (f"{where}: it is down or cut off. ZooKeeper lists it as live until its "
                    f"session expires (the servers' --session-timeout, 15 s by default); then "
                    f"the master reopens its regions elsewhere, which a longer operation "
                    f"timeout waits for")
        return (f"{where} and has left ZooKeeper: the master is reopening its regions "
                f"elsewhere, which a longer operation timeout waits for")

    def _retry_region_call(self, table: str, row: bytes, what, fn, started: float):
        """region_call's slow path: the retry policy, counting the time since `started`. A
        back-off pause ends early when the table's meta changes (the region reopened)."""
        mark = None

        def attempt(deadline):
            nonlocal mark
            mark = self.changes.mark(table)
            return self._region_attempt(table, row, fn, deadline)

        return self.retry.call(what, attempt, lambda exc: self.on_region_error(table, exc),
                               started=started,
                               wait=lambda delay: self.backoff_wait(table, mark, delay),
                               explain=self.region_server_down)

    def backoff_wait(self, key: str, mark, delay: float) -> bool:
        """A retry's back-off pause of `delay` seconds, cut short (after at least the base
        pause) when ZooKeeper reports a change of `key` (a table's meta, or
        location_cache.MASTER) since `mark` (MetaChanges.mark); True if it did."""
        return self.changes.wait(key, mark, delay, at_least=self.retry.pause)

    def region_get(self, table: str, row: bytes, request, what, started: float | None = None):
        """Get `request` (its region field set here) from the region holding `row`: the same
        semantics as region_call (one fast attempt, then the retry policy), minus two
        closures and a stub lookup per call -- this is the single-row get's hot path.
        `started` (retry.clock()): the operation began earlier (its time counts)."""
        retry = self.retry
        if started is None:
            started = retry.clock()
        if not self.locations.cached(table):  # read meta under the retry policy's bounds
            return self._retry_region_call(table, row, what, self.get_call(request), started)
        try:
            loc = self.locations.locate(table, row)
            request.region = loc.name
            try:
                return self.channels.region_server(loc.address).Get(
                    request, timeout=min(retry.rpc_timeout, retry.timeout))
            except grpc.RpcError as err:
                raise from_rpc_error(err, loc.address) from None
            except ValueError as e:  # gRPC's "closed channel": close() or forget() ran meanwhile
                raise self.channels.closed_channel(loc.address, e) from None
        except HBaseError as exc:
            if not exc.retryable:
                raise
            self.on_region_error(table, exc)
        return self._retry_region_call(table, row, what, self.get_call(request), started)

    @staticmethod
    def get_call(request):
        """region_call's fn for a Get of `request`."""
        def call(loc, stub, deadline):
            request.region = loc.name
            return stub.Get(request, timeout=deadline)

        return call

    def on_region_error(self, table: str, exc: BaseException) -> None:
        if getattr(exc, "stale_location", True):  # not when the region is only busy
            self.locations.invalidate(table)

    # -- master plumbing ---------------------------------------------------------------------
    def _master(self, deadline: float) -> tuple[str, object]:
        if self._zk is None:
            raise ConnectionClosedError(CLOSED)
        address = self._master_address
        if address is None:
            rec = self._meta.master(self._forget_master)
            if rec is None:
                raise MasterNotRunningError(
                    f"no active master registered in ZooKeeper at {self.quorum} "
                    f"({self.paths.master} is missing)")
            address = self._master_address = f"{rec.host}:{rec.port}"
        return address, self.channels.master(address)

    def _forget_master(self, event=None) -> None:
        if is_change(event):  # see location_cache.is_change
            self._master_address = None
            if event is not None:  # /hbase/master changed: a master call's retry goes on
                self.changes.changed(MASTER)

    def master_call(self, method: str, request, what: str | None = None, done_if=()):
        """`done_if`: errors that mean "already done" when an earlier attempt may have been
        applied -- its answer lost with a master that died, the backup that took over having
        finished the operation (a resent create finds the table, a resent disable finds it
        disabled). A split, merge, move, clone_snapshot or restore_snapshot carries a nonce
        instead, by which the master matches a resend to the first attempt, as HBase does.
        IDEMPOTENT_MASTER_CALLS are reads, or do no harm done twice. Such calls are safe to
        send again, so they are also resent after OutcomeUnknownError (the master lost
        ZooKeeper mid-call); for the others (unassign, switches...) the caller is told the
        outcome is unknown."""
        resendable = (method in IDEMPOTENT_MASTER_CALLS or bool(done_if)
                      or bool(getattr(request, "nonce", 0)))
        maybe_applied = False

        def resend_safe(exc: BaseException) -> bool:
            return is_retryable(exc) or (resendable and isinstance(exc, OutcomeUnknownError))

        mark = None
        address = None
        unreachable = None  # (address, MasterRecord or None, backups) of the last refusal

        def attempt(deadline):
            nonlocal mark, address
            mark = self.changes.mark(MASTER)
            address, stub = self._master(deadline)
            try:
                return getattr(stub, method)(request, timeout=deadline)
            except grpc.RpcError as err:
                exc = from_rpc_error(err, f"master {address}")
                if maybe_applied and isinstance(exc, done_if):
                    return None
                raise exc from None
            except ValueError:  # gRPC's "closed channel": close() ran meanwhile
                self.channels.check_open()
                raise

        def on_error(exc):
            nonlocal maybe_applied, unreachable
            self._forget_master()  # re-read /hbase/master
            unreachable = None
            if isinstance(exc, ServerUnavailableError) and address is not None:
                self.channels.redial(address)  # its name may resolve now, elsewhere
                unreachable = self._masters_now(address)
            # a backup that answered "not the active master" did not run the call
            maybe_applied = maybe_applied or not isinstance(exc, MasterNotRunningError)

        # An admin call (create, split, flush...) may take the master a while and is not
        # idempotent: it waits for as long as the operation may take instead of being sent
        # again after the per-call deadline (a slow create would end in TableExistsError). A
        # master that is down fails fast and is looked up again (a backup took over).
        return self.retry.call(what or f"{method} on the master", attempt, on_error,
                               retryable=resend_safe, whole_budget_per_attempt=True,
                               wait=lambda delay: self.backoff_wait(MASTER, mark, delay),
                               explain=lambda exc: unreachable and self._master_down(
                                   exc, *unreachable))

    def _masters_now(self, address: str):
        """(address, the active MasterRecord or None, backup master names) as ZooKeeper has
        them now, for the timeout message of a master call whose master at `address` did not
        answer; None when ZooKeeper does not answer within a moment either."""
        try:
            with bounded_waits(0.5):
                return (address, self._meta.master(),
                        self._meta.children(self.paths.backup_masters))
        except HBaseError:
            return None

    def _master_down(self, exc: BaseException, address: str, record, backups) -> str | None:
        """What a master that cannot be connected to means for the caller (HBase's client
        only says "connection refused"): a SIGKILLed active master keeps /hbase/master until
        its ZooKeeper session expires, and only then does a backup take over. None (the raw
        error) for a call that timed out: a master busy with a long call is not down."""
        text = str(exc)
        if "refused" in text.lower():
            reason = "connection refused"
        elif "failed to connect" in text.lower():
            reason = "cannot connect"
        else:
            return None
        takeover = (f"a backup master takes over ({len(backups)} waiting: "
                    f"{', '.join(backups)}), which a longer operation timeout waits for"
                    if backups else f"no backup master is waiting to take over "
                    f"({self.paths.backup_masters} is empty): start a master")
        if record is None:
            return (f"the master at {address} does not answer ({reason}) and no master is "
                    f"active ({self.paths.master} is missing); {takeover}")
        if f"{record.host}:{record.port}" != address:
            return (f"the master at {address} does not answer ({reason}); {record.name} has "
                    f"just become the active master: try again")
        return (f"the active master {record.name} does not answer at {address} ({reason}): "
                f"it is down or cut off. ZooKeeper names it active ({self.paths.master}) "
                f"until its session expires (the masters' --session-timeout, 15 s by "
                f"default); then {takeover}")

    # -- admin: namespaces (HBase's; "default" and "hbase" always exist) ---------------------
    def create_namespace(self, name: str, properties: dict[str, str] | None = None) -> None:
        """properties: HBase's namespace configuration, any key; the master enforces the
        quotas hbase.namespace.quota.maxtables and hbase.namespace.quota.maxregions."""
        self.master_call("CreateNamespace",
                         pb.NamespaceName(name=name, properties=_properties(properties)),
                         f"create namespace {name!r}", done_if=NamespaceExistsError)

    def alter_namespace(self, name: str, set: dict[str, str] | None = None,
                        unset=()) -> None:
        """HBase's alter_namespace: set some properties (METHOD => 'set'), remove others
        (METHOD => 'unset')."""
        self.master_call("AlterNamespace",
                         pb.AlterNamespaceRequest(name=name, set=_properties(set),
                                                  unset=list(unset)),
                         f"alter namespace {name!r}")

    def namespace_properties(self, name: str) -> dict[str, str]:
        return dict(self.master_call("DescribeNamespace", pb.NamespaceName(name=name),
                                     f"describe namespace {name!r}").properties)

    def delete_namespace(self, name: str) -> None:
        """Drop an empty namespace (NamespaceNotEmptyError while it has tables)."""
        self.master_call("DeleteNamespace", pb.NamespaceName(name=name),
                         f"drop namespace {name!r}", done_if=NamespaceNotFoundError)

    def list_namespaces(self) -> list[str]:
        return list(self.master_call("ListNamespaces", _EMPTY, "list namespaces").names)

    def list_namespace_tables(self, namespace: str) -> list[str]:
        """The names of a namespace's tables, without the namespace (HBase's shell)."""
        if namespace not in self.list_namespaces():
            raise NamespaceNotFoundError(f"namespace {namespace!r} does not exist")
        return [t.rpartition(":")[2] for t in self._all_tables() if namespace_of(t) == namespace]

    # -- admin: tables -----------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Every table's name; with a table_prefix, the tables that have it, without it."""
        names = self._all_tables()
        if self.table_prefix is None:
            return names
        prefix = self._table_name("")
        return [n[len(prefix):] for n in names if n.startswith(prefix)]

    def _all_tables(self) -> list[str]:
        return [t.schema.name for t in self.master_call("ListTables", _EMPTY, "list").tables]

    def list_tables(self) -> list[dict]:
        return [protocol.table_dict(t)
                for t in self.master_call("ListTables", _EMPTY, "list").tables]

    def describe_table(self, name: str) -> dict:
        return protocol.table_dict(
            self.master_call("DescribeTable", pb.TableName(name=name), f"describe {name!r}"))

    def families(self, name: str) -> dict:
        return {f["name"].encode(): f for f in self.describe_table(name)["families"]}

    def regions(self, name: str) -> list[dict]:
        return self.describe_table(name)["regions"]

    def exists(self, name: str) -> bool:
        return self._meta.table(name) is not None

    def table_attributes(self, name: str) -> dict:
        """The table's attributes by field name (max_filesize, readonly...), read from meta
        in ZooKeeper without asking the master; TableNotFoundError if there is no such table."""
        record = self._meta.table(name)
        if record is None:
            raise TableNotFoundError(f"table {name!r} does not exist")
        return record.descriptor.attributes()

    def is_table_enabled(self, name: str) -> bool:
        return self._table_state(self._table_name(name)) == znodes.ENABLED

    def is_table_disabled(self, name: str) -> bool:
        """HBase's is_disabled: DISABLED only (a table being enabled or disabled is neither)."""
        return self._table_state(name) == znodes.DISABLED

    def _table_state(self, name: str) -> str:
        record = self._meta.table(name)
        if record is None:
            raise TableNotFoundError(f"table {name!r} does not exist")
        return record.state

    def create_table(self, name: str, families: dict, split_keys=None, *, wait: bool = True,
                     progress: Callable[[str], None] | None = None, **attributes) -> None:
        """families: {"cf": {max_versions, min_versions, ttl, bloom, compression, block_size}}.
        split_keys: n keys pre-split the table into n+1 regions. With wait, returns once every
        region is open (or raises OperationTimeoutError naming the regions still waiting).
        attributes: HBase's table attributes (docs/storage.md, "Table attributes"), each
        defaulting to HBase's:
          max_filesize: MAX_FILESIZE, the store bytes past which a region of this table is
            split (default: the region servers' --split-size);
          memstore_flushsize: MEMSTORE_FLUSHSIZE, the memstore bytes past which a region of
            this table is flushed (default: the region servers' --flush-size);
          readonly: READONLY, True refuses every put, delete, increment, append and
            check-and-put with TableReadOnlyError (reads work);
          compaction_enabled, split_enabled, merge_enabled: COMPACTION_ENABLED (False: no
            compaction, asked for or not), SPLIT_ENABLED and MERGE_ENABLED (False: no split,
            resp. merge; asking is OperationNotAllowedError). All True by default;
          durability: DURABILITY, "USE_DEFAULT" (= "SYNC_WAL"), "FSYNC_WAL", or "ASYNC_WAL" and
            "SKIP_WAL", which lose acknowledged writes in a crash."""
        self._create(self._table_name(name), families, split_keys, wait, progress,
                     protocol.table_attributes(attributes))

    def _create(self, name: str, families: dict, split_keys, wait: bool, progress,
                attributes: dict) -> None:
        if not isinstance(families, dict):
            raise TypeError(f"families must be a dict mapping each family's name to its "
                            f"options, got {type(families).__name__}")
        if not families:
            raise InvalidArgumentError(f"table {name!r} needs at least one column family")
        schema = pb.TableSchema(name=name, families=[protocol.family_schema(f, opts)
                                                     for f, opts in families.items()],
                                **attributes)
        keys = [protocol.to_bytes(k, "split key") for k in (split_keys or [])]
        self.master_call("CreateTable", pb.CreateTableRequest(schema=schema, split_keys=keys),
                         f"create table {name!r}", done_if=TableExistsError)
        if wait:
            self.wait_for_regions_open(name, progress)

    def delete_table(self, name: str, disable: bool = False) -> None:
        name = self._table_name(name)
        if disable and self._table_state(name) == znodes.ENABLED:
            self._disable(name)
        self._drop(name)

    def _drop(self, name: str) -> None:
        self.master_call("DeleteTable", pb.TableName(name=name), f"drop table {name!r}",
                         done_if=TableNotFoundError)
        self.locations.invalidate(name)

    def truncate_table(self, name: str, preserve_splits: bool = False, progress=None) -> None:
        """Delete every row (HBase shell's truncate; with preserve_splits, truncate_preserve:
        the same region boundaries): the table is disabled, then the master swaps its regions
        for empty ones in one step (schema, attributes and table kept) and enables it."""
        if self._table_state(name) != znodes.DISABLED:
            self._disable(name, progress=progress)
        self.master_call("TruncateTable",
                         pb.TruncateTableRequest(name=name, preserve_splits=preserve_splits),
                         f"truncate {name!r}", done_if=TableNotDisabledError)
        self.wait_for_regions_open(name, progress)

    def _schema(self, name: str, with_splits: bool) -> tuple[dict, dict, list]:
        """describe_table(name), its families as create_table takes them, and (with_splits)
        its regions' start keys."""
        desc = self.describe_table(name)
        families = {f["name"]: {k: v for k, v in f.items() if k != "name" and v is not None}
                    for f in desc["families"]}
        splits = sorted(r["start_key"] for r in desc["regions"] if r["start_key"]) \
            if with_splits else []
        return desc, families, splits

    def clone_table_schema(self, name: str, new_name: str, preserve_splits: bool = True,
                           progress=None) -> None:
        """A new, empty table with `name`'s families, table attributes and (preserve_splits)
        region boundaries: HBase's cloneTableSchema (no data is copied; for that,
        clone_snapshot)."""
        desc, families, splits = self._schema(name, preserve_splits)
        self._create(new_name, families, splits, True, progress, protocol.attributes_of(desc))

    def disable_table(self, name: str, *, wait: bool = True, progress=None) -> None:
        self._disable(self._table_name(name), wait=wait, progress=progress)

    def _disable(self, name: str, *, wait: bool = True, progress=None) -> None:
        self.master_call("DisableTable", pb.TableName(name=name), f"disable table {name!r}",
                         done_if=TableNotEnabledError)
        self.locations.invalidate(name)
        if wait:
            self.wait_for_table_state(name, znodes.DISABLED, progress)

    def enable_table(self, name: str, *, wait: bool = True, progress=None) -> None:
        name = self._table_name(name)
        self.master_call("EnableTable", pb.TableName(name=name), f"enable table {name!r}",
                         done_if=TableNotDisabledError)
        self.locations.invalidate(name)
        if wait:
            self.wait_for_regions_open(name, progress)

    def alter_table(self, name: str, add: dict | None = None, remove=None,
                    **attributes) -> None:
        """add: {"cf": {options}} adds or modifies families; remove: family names to drop;
        attributes: table attributes to change, as create_table takes them (readonly=False,
        max_filesize=0...: a default unsets one); those not given are kept."""
        if add is not None and not isinstance(add, dict):
            raise TypeError(f"add must be a dict mapping each family's name to its options, "
                            f"got {type(add).__name__}")
        req = pb.AlterTableRequest(
            name=name,
            add_or_modify=[protocol.family_schema(f, o) for f, o in (add or {}).items()],
            remove=[r.decode() if isinstance(r, bytes) else r for r in (remove or [])],
            **protocol.table_attributes(attributes))
        self.master_call("AlterTable", req, f"alter table {name!r}",
                         done_if=NoSuchColumnFamilyError)  # a removal done before
        self.locations.invalidate(name)

    # -- admin: snapshots (HBase's; kept under <rootdir>/.hbase-snapshot) ---------------------
    def snapshot(self, table: str, name: str, *, skip_flush: bool = False) -> None:
        """Snapshot table `table` (enabled or disabled) as `name`: its schema and every
        region's store files, each region flushed first unless skip_flush (then what is only in
        memstores is left out). No data is copied: store files are immutable, so they are hard
        linked."""
        self.master_call("Snapshot", pb.SnapshotRequest(name=name, table=table,
                                                        skip_flush=skip_flush),
                         f"snapshot {name!r} of table {table!r}", done_if=SnapshotExistsError)

    def list_snapshots(self) -> list[dict]:
        """Every snapshot: name, table, created_ms, regions, size_bytes, and "problem" if its
        manifest is damaged (such a snapshot cannot be cloned or restored)."""
        return [protocol.snapshot_dict(s) for s in
                self.master_call("ListSnapshots", _EMPTY, "list snapshots").snapshots]

    def hbck(self, clean: bool = False) -> dict:
        """HBase's HBCK report, checked now by the master: holes and overlaps in meta, OPEN
        regions without their directory or on a server that is gone, regions stuck in
        transition, orphaned directories (see protocol.hbck_dict). clean: the master also
        runs its orphan cleaner now, with its chore's rules (those deleted are listed in
        "removed"; docs/coordination.md, "Consistency check")."""
        return protocol.hbck_dict(self.master_call("Hbck", pb.HbckRequest(clean=clean),
                                                   "consistency check"))

    def delete_snapshot(self, name: str) -> None:
        self.master_call("DeleteSnapshot", pb.SnapshotName(name=name),
                         f"delete snapshot {name!r}", done_if=SnapshotNotFoundError)

    def clone_snapshot(self, name: str, table: str, *, wait: bool = True,
                       progress=None) -> None:
        """A new table `table` with the snapshot's schema, regions and cells. It shares the
        snapshot's files until it compacts them; writes to either never show in the other."""
        nonce = self.new_nonce()["nonce"]  # one for every attempt: see master_call
        self.master_call("CloneSnapshot",
                         pb.CloneSnapshotRequest(name=name, table=table, nonce=nonce),
                         f"clone snapshot {name!r} to table {table!r}")
        if wait:
            self.wait_for_regions_open(table, progress)

    def export_snapshot(self, name: str, copy_to: str) -> dict:
        """HBase's ExportSnapshot: the master copies the snapshot, every block checked, into
        the root directory `copy_to` (an absolute path on its host: another cluster's, whose
        clone_snapshot then finds it, or a backup). Returns {"files", "bytes"} copied."""
        r = self.master_call("ExportSnapshot",
                             pb.ExportSnapshotRequest(name=name, copy_to=copy_to),
                             f"export snapshot {name!r}")
        return {"files": r.files, "bytes": r.bytes}

    def restore_snapshot(self, name: str, *, wait: bool = True, progress=None) -> str:
        """Put the snapshot's table back as it was: schema, regions and cells (HBase's rule:
        the table must be disabled; it stays disabled). A table dropped since is cloned back,
        enabled. Returns the table's name."""
        nonce = self.new_nonce()["nonce"]  # one for every attempt: see master_call
        table = self.master_call("RestoreSnapshot",
                                 pb.RestoreSnapshotRequest(name=name, nonce=nonce),
                                 f"restore snapshot {name!r}").name
        self.locations.invalidate(table)
        # ENABLING: cloned back by a master killed before it opened the regions (the resend
        # found it done), the next one opening them
        if wait and self._table_state(table) in (znodes.ENABLED, znodes.ENABLING):
            self.wait_for_regions_open(table, progress)
        return table

    # -- admin: cluster ----------------------------------------------------------------------
    def status(self) -> dict:
        return protocol.status_dict(self.master_call("GetClusterStatus", _EMPTY, "status"))

    def balance(self) -> int | None:
        """Run the balancer now: the number of regions it moved, or None if it is switched
        off (balance_switch)."""
        response = self.master_call("Balance", _EMPTY, "balance")
        return None if response.switched_off else response.moves

    def balance_switch(self, on: bool) -> bool:
        """Switch the balancer on or off, the periodic runs and balance() alike (HBase's
        balance_switch; kept across master failovers). Returns the state before."""
        return self.master_call("SetBalancerSwitch", pb.BalancerSwitch(on=bool(on)),
                                "balance_switch").on

    def balancer_enabled(self) -> bool:
        return self._meta.balancer_on()

    def splitormerge_switch(self, kind: str, on: bool) -> bool:
        """HBase's splitormerge_switch: kind "SPLIT" or "MERGE"; off, the master refuses that
        operation, asked for or automatic (kept across master failovers). Returns the state
        before."""
        return self._switch(_switch_name(kind), on)

    def splitormerge_enabled(self, kind: str) -> bool:
        return self._meta.switch_on(_switch_name(kind))

    def catalogjanitor_switch(self, on: bool) -> bool:
        """Switch the master's split/merge janitor chore on or off (it deletes parents' files
        no daughter references). Returns the state before."""
        return self._switch("catalogjanitor", on)

    def catalogjanitor_enabled(self) -> bool:
        return self._meta.switch_on("catalogjanitor")

    def catalogjanitor_run(self) -> int:
        """Run the janitor now, even if switched off; how many parents it cleaned."""
        return self.master_call("RunCatalogJanitor", _EMPTY, "catalogjanitor_run").cleaned

    def normalizer_switch(self, on: bool) -> bool:
        """Switch the region normalizer (its periodic runs and `normalize`) on or off.
        Returns the state before."""
        return self._switch("normalizer", on)

    def normalizer_enabled(self) -> bool:
        return self._meta.switch_on("normalizer")

    def normalize(self, table_names: list[str] | None = None, regex: str | None = None,
                  namespace: str | None = None) -> dict:
        """HBase's normalize: the region normalizer's plans for the tables with
        NORMALIZATION_ENABLED, done now: {"ran": False} while switched off, else how many
        splits and merges it did. The tables (HBase's NormalizeTableFilterParams): those of
        `table_names` that exist, else those of `namespace`, else all; with `regex`, only
        those whose whole name it matches."""
        request = pb.NormalizeRequest(table_names=table_names or [], regex=regex,
                                      namespace=namespace or "")
        r = self.master_call("Normalize", request, "normalize")
        return {"ran": r.ran, "splits": r.splits, "merges": r.merges}

    def _switch(self, name: str, on: bool) -> bool:
        return self.master_call("SetSwitch", pb.Switch(name=name, on=bool(on)),
                                f"switch {name}").on

    def decommission_regionservers(self, servers: list[str], offload: bool = True) -> dict:
        """HBase's decommission_regionservers: no region is assigned to these servers any
        more (each a full name host,port,startcode, host,port or a host: all its servers);
        with offload their regions move to the others first. Returns {"servers": the full
        names, "moved": regions moved}."""
        response = self.master_call(
            "DecommissionRegionServers",
            pb.DecommissionRequest(servers=list(servers), offload=offload),
            "decommission " + ", ".join(servers))
        self.locations.invalidate()
        return {"servers": list(response.servers), "moved": response.moved}

    def recommission_regionserver(self, server: str, regions: list[str] = ()) -> None:
        """Regions may be assigned to `server` again; `regions` (names) move back onto it."""
        names = [self._target(r)[1] or r for r in regions]
        self.master_call("RecommissionRegionServer",
                         pb.RecommissionRequest(server=server, regions=names),
                         f"recommission {server}")
        self.locations.invalidate()

    def list_decommissioned_regionservers(self) -> list[str]:
        return self._meta.decommissioned()

    def assign(self, region: str) -> None:
        """HBase 2's assign: open a region that is not open (one waiting for its next open
        retry, say); an open region stays where it is."""
        region = self._target(region)[1] or region
        self.master_call("Assign", pb.RegionName(region=region), f"assign {region!r}")
        self.locations.invalidate()

    def unassign(self, region: str) -> None:
        """HBase 2's unassign: close an open region; it stays closed (reads and writes of its
        rows fail with RegionOfflineError) until assign() or a move opens it."""
        region = self._target(region)[1] or region
        self.master_call("Unassign", pb.RegionName(region=region), f"unassign {region!r}")
        self.locations.invalidate()

    def active_master(self) -> dict | None:
        """The active master as ZooKeeper records it (HBase's Admin.getMaster): name, host,
        port and info_port (its web UI); None when there is none."""
        rec = self._meta.master()
        return None if rec is None else {"name": rec.name, "host": rec.host, "port": rec.port,
                                         "info_port": rec.info_port}

    def zk_dump(self) -> dict:
        """HBase's zk_dump: the cluster as ZooKeeper records it (read there, so it works with
        no master), and each quorum server's answer to `srvr`."""
        m = self._meta
        master = m.master()
        switches = {"balancer": m.balancer_on(), **{n: m.switch_on(n) for n in znodes.SWITCHES}}
        return {"parent": self.paths.parent, "cluster_id": m.cluster_id(),
                "active_master": master.name if master else "",
                "backup_masters": m.children(self.paths.backup_masters),
                "region_servers": m.children(self.paths.rs),
                "decommissioned": m.decommissioned(), "switches": switches,
                "quorum": {s: _srvr(s) for s in self._quorum_hosts()}}

    def list_deadservers(self) -> list[str]:
        """Servers the master declared dead whose crash handling has finished."""
        return [x["name"] for x in self.status()["servers"] if x["state"] == znodes.DEAD]

    def clear_deadservers(self, servers: list[str] = ()) -> list[str]:
        """Forget dead servers (all when none named); returns those it could not (unknown,
        or their crash handling still running)."""
        return list(self.master_call("ClearDeadServers", pb.ServerNames(servers=list(servers)),
                                     "clear_deadservers").servers)

    def _target(self, table_or_region: str) -> tuple[str, str]:
        """A region name contains ',' (table,start,id.encoded); a 32-hex-digit name is an
        encoded region name; anything else is a table. A trailing "." (as HBase prints region
        names) is ignored."""
        if "," in table_or_region:
            return "", table_or_region
        encoded = table_or_region.removesuffix(".")
        if len(encoded) == 32 and all(c in "0123456789abcdef" for c in encoded):
            for t in self._all_tables():
                for r in self.regions(t):
                    if r["encoded"] == encoded:
                        return "", r["name"]
        return table_or_region, ""

    def split(self, table_or_region: str, split_key=None) -> None:
        table, region = self._target(table_or_region)
        key = b"" if split_key is None else protocol.to_bytes(split_key, "split key")
        nonce = self.new_nonce()["nonce"]  # one for every attempt: see master_call
        self.master_call("Split", pb.SplitRequest(table=table, region=region, split_key=key,
                                                  nonce=nonce),
                         f"split {table_or_region!r}")
        self.locations.invalidate(table or None)

    def merge(self, *regions: str, force: bool = False) -> None:
        """Merge two or more adjacent regions of one table (full or encoded names, any order)
        into one, as HBase 2.3+'s mergeRegionsAsync. force (HBase's forcible: merge regions
        that are not adjacent) is not supported: InvalidArgumentError."""
        if force:
            raise InvalidArgumentError("merge with force (regions that are not adjacent, "
                                       "leaving an overlap) is not supported: merge a run of "
                                       "adjacent regions")
        if len(regions) < 2:
            raise InvalidArgumentError(f"a merge needs at least 2 regions, got {len(regions)}")
        names = [self._target(r)[1] or r for r in regions]
        request = pb.MergeRequest(regions=names, nonce=self.new_nonce()["nonce"])
        if len(names) == 2:  # also as a master older than `regions` reads them
            request.region_a, request.region_b = names
        self.master_call("Merge", request, "merge " + ", ".join(map(repr, regions)))
        self.locations.invalidate()

    def flush(self, table_or_region: str) -> None:
        table, region = self._target(table_or_region)
        self.master_call("Flush", pb.TableActionRequest(table=table, region=region),
                         f"flush {table_or_region!r}")

    def compact_table(self, name: str, major: bool = False) -> None:
        """happybase's compact_table (the table name takes the table_prefix)."""
        self.compact(self._table_name(name), major)

    def compact(self, table_or_region: str, major: bool = False, family=None,
                wait: bool = False) -> None:
        """Request a compaction of a table's regions or of one region, as HBase's Admin does:
        the region servers queue it and this returns at once (compaction_state() tells when
        it has run). wait: return once every region has compacted. family: only that column
        family's store (HBase's major_compact 't1', 'cf')."""
        table, region = self._target(table_or_region)
        family = protocol.to_bytes(family, "family") if family is not None else b""
        self.master_call("Compact", pb.TableActionRequest(table=table, region=region,
                                                          major=major, family=family,
                                                          wait=wait),
                         f"{'major ' if major else ''}compact {table_or_region!r}"
                         + (f" family {quoted(family)}" if family else ""))

    def compaction_state(self, table: str) -> str:
        """HBase's compaction state of `table`: NONE, MINOR, MAJOR or MAJOR_AND_MINOR (some
        region is compacting, or has a compaction queued)."""
        return self.master_call("GetCompactionState", pb.TableName(name=table),
                                f"compaction state of table {table!r}").state

    def move(self, region: str, server: str = "") -> None:
        region = self._target(region)[1] or region
        nonce = self.new_nonce()["nonce"]
        self.master_call("Move", pb.MoveRequest(region=region, server=server, nonce=nonce),
                         f"move {region!r}")
        self.locations.invalidate()

    # -- waiting for the cluster -------------------------------------------------------------
    def _poll(self, what: str, check: Callable[[], tuple[bool, str]], progress) -> None:
        """Poll meta until check() says done, within the operation timeout; report progress
        lines (only when they change) to `progress`."""
        start = time.monotonic()
        delay, last = 0.05, None
        while True:
            try:
                done, detail = check()
            except HBaseError as exc:
                if not exc.retryable:
                    raise
                done, detail = False, str(exc)
            if done:
                return
            if progress is not None and detail != last:
                progress(detail)
                last = detail
            if time.monotonic() - start + delay > self.timeout:
                raise OperationTimeoutError(
                    f"{what}: not done after {self.timeout:g}s (operation timeout): {detail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def wait_for_regions_open(self, name: str, progress=None) -> None:
        def check():
            records = [r for r in self._meta.regions(name) if r.state not in
                       (znodes.SPLIT, znodes.MERGED)]
            waiting = [r for r in records if r.state != znodes.OPEN]
            if records and not waiting:
                return True, ""
            if not records:
                return False, f"table {name!r}: waiting for regions to appear in meta"
            first = waiting[0]
            why = f" ({first.waiting_for})" if first.waiting_for else ""
            return False, (f"table {name!r}: {len(records) - len(waiting)}/{len(records)} "
                           f"regions open; e.g. {first.info.name} is {first.state}{why}")

        self._poll(f"waiting for the regions of {name!r} to open", check, progress)

    def alter_status(self, name: str, progress=None) -> dict:
        """HBase's alter_status, from meta in ZooKeeper: waits (within the operation timeout)
        until no alter of the table is left for the master to finish and none of its regions
        is in transition, reporting "N/M regions updated." as it goes, then returns the
        counts as HBase's shell computes them: total, in_transition, closed, updated (= total
        - in_transition - closed), and enabled. A table that is not enabled has no open
        region to update (its regions read the new schema when it is enabled): HBase counts
        no regions for it. The master's alter reopens every region before it answers, so
        after an alter returned every open region is updated."""
        name, counts = canonical_table_name(name), {}

        def check():
            record = self._meta.table(name)
            if record is None:
                raise TableNotFoundError(f"table {name!r} does not exist")
            regions = [r for r in self._meta.regions(name)
                       if r.state not in (znodes.SPLIT, znodes.MERGED)]
            enabled = record.state == znodes.ENABLED
            if not enabled:
                regions = []
            closed = sum(r.state == znodes.CLOSED for r in regions)
            moving = [r for r in regions if r.state not in (znodes.OPEN, znodes.CLOSED)]
            counts.update(total=len(regions), in_transition=len(moving), closed=closed,
                          updated=len(regions) - len(moving) - closed, enabled=enabled)
            if record.alter_pending is not None:
                return False, (f"table {name!r}: the master is reopening its regions with the "
                               "new schema")
            if moving:
                why = f" ({moving[0].waiting_for})" if moving[0].waiting_for else ""
                return False, (f"{counts['updated']}/{len(regions)} regions updated; e.g. "
                               f"{moving[0].info.name} is {moving[0].state}{why}")
            return True, ""

        self._poll(f"alter status of table {name!r}", check, progress)
        return counts

    def wait_for_table_state(self, name: str, state: str, progress=None) -> None:
        def check():
            record = self._meta.table(name)
            if record is None:
                raise TableNotFoundError(f"table {name!r} does not exist")
            return record.state == state, f"table {name!r} is {record.state}"

        self._poll(f"waiting for table {name!r} to be {state}", check, progress)


def _zk_host_problem(host_port: str, probe: bool = True) -> str:
    """Why one quorum member "host:port" cannot be reached ("" if nothing is found wrong):
    its name does not resolve, or (probe) nothing listens on its port."""
    import socket

    host, _, port = host_port.strip().rpartition(":")
    host = host.strip("[]") or "localhost"
    try:
        port_number = int(port)
        addresses = socket.getaddrinfo(host, port_number, type=socket.SOCK_STREAM)
    except ValueError:
        return f"{host_port!r} is not host:port"
    except OSError as exc:
        return f"host {host!r} does not resolve ({exc.strerror or exc})"
    if not probe:
        return ""
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as s:
            s.settimeout(1.0)
            s.connect(address)
    except ConnectionRefusedError:
        return f"{host}:{port_number} refused the connection (is ZooKeeper running there?)"
    except OSError as exc:
        return f"{host}:{port_number}: {exc.strerror or exc}"
    return ""


def _properties(properties) -> dict[str, str]:
    if not properties:
        return {}
    if not isinstance(properties, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in properties.items()):
        raise InvalidArgumentError(f"namespace properties must map text to text, got "
                                   f"{properties!r}")
    return properties


def _switch_name(kind: str) -> str:
    if not isinstance(kind, str) or kind.upper() not in ("SPLIT", "MERGE"):
        raise InvalidArgumentError(f"switch type must be 'SPLIT' or 'MERGE', not {kind!r}")
    return kind.lower()


def _srvr(server: str) -> str:
    try:
        return four_letter_word(server, b"srvr").strip()
    except (OSError, ValueError) as e:
        return f"cannot reach {server}: {e}"
