"""Where each region of a table is served, read from ZooKeeper meta and cached (docs/cli.md).

A lookup is a bisect over the cached start keys of the table (byte order: with regions
['', '100'), ['100', '300'), ['300', '') row b'20000' is in the second) -- no ZooKeeper call per
operation. A table's entry is loaded on first use and dropped when:
  - a call fails with NotServingRegion, RegionOffline, ServerUnavailable or a similar retryable
    error (the caller calls `invalidate(table)`),
  - ZooKeeper reports a change: a child watch on /hbase/meta/<t> (split, merge, create) and a
    data watch on each region znode (move, state change) and on /hbase/tables/<t> (disable),
  - the ZooKeeper session is lost or reconnects (watch events may have been missed).

The changes ZooKeeper reports are also counted (MetaChanges), so that a retry waiting out its
back-off goes on as soon as what it waits for changed: a region reopened after a crash is used
at once, not up to one back-off step (10 s) later.

Nothing is kept per table name beyond its cached entry and what is in use right now (a load in
flight, a retry's mark): a Connection that lives for days (the Thrift gateway) sees tables with
generated names come and go.

Only OPEN regions are usable. A row whose region is in transition raises RegionOfflineError
(retryable) naming the state, the server and what it waits for, so a timeout message says why.

`MetaReader` is the small read-only view of meta this module needs; `ZkMetaReader` implements it
with kazoo (bounded by a timeout on every read), tests pass an in-memory one.
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from typing import Callable, NamedTuple, Protocol

from kazoo.protocol.states import EventType

from client.retry import attempt_time_left
from coordination import znodes
from coordination.znodes import (SWITCH_OFF, MasterRecord, Paths, RegionRecord, ServerRecord,
                                 TableRecord)
from minihbase.bytes_text import quoted
from minihbase.errors import (ClusterNotFoundError, ConnectionClosedError, HBaseError,
                              RegionOfflineError, ServerUnavailableError, TableNotEnabledError,
                              TableNotFoundError)
from storage.schema import RegionInfo, TableDescriptor

# Records of parents that were split or merged away: their range is covered by their children.
_RETIRED = (znodes.SPLIT, znodes.MERGED)
# Outside a retried attempt, the longest wait for another thread's load of the same table
# (that load's own reads are bounded by their timeout).
_LOAD_WAIT_S = 60.0

CLOSED = "this Connection is closed (or was never opened)"


class RegionLocation(NamedTuple):
    info: RegionInfo
    name: str       # RegionInfo.name, what data calls send
    server: str     # host,port,startcode ("" when unassigned)
    address: str    # host:port to dial ("" when unassigned)
    state: str
    waiting_for: str


Watch = Callable[[object], None]  # called with kazoo's WatchedEvent (or None in tests)


# MetaChanges' key for /hbase/master (no table name holds a slash).
MASTER = "/master"


class Mark:
    """MetaChanges.mark's token: what was counted when it was taken. While it lives, its key's
    count is kept; once garbage, its key is queued for MetaChanges to release (only that: this
    may run inside any critical section of the thread that dropped it, the GC's)."""

    __slots__ = ("key", "everything", "count", "_released")

    def __init__(self, key: str, everything: int, count: int, released: collections.deque):
        self.key, self.everything, self.count = key, everything, count
        self._released = released

    def __del__(self):
        self._released.append(self.key)  # atomic, takes no lock


class MetaChanges:
    """Changes ZooKeeper reported, counted per key (a table name, or MASTER); thread-safe.

    A key is counted only while a mark of it lives (a retry that may wait on it): a change
    nobody marked wakes nobody. So a table's count goes with the last retry of it, and a count
    starts from 0 again only when no mark of the old one is left to confuse."""

    def __init__(self):
        self._changed = threading.Condition()
        # key -> [changes, live marks]; guarded by _changed
        self._counts: dict[str, list[int]] = {}
        self._released: collections.deque[str] = collections.deque()  # of Marks collected
        self._everything = 0  # bumped by changed(None): a reconnect (missed events), a close

    def mark(self, key: str) -> Mark:
        """A token for wait(): take it before the attempt that may fail."""
        with self._changed:
            self._release()
            entry = self._counts.setdefault(key, [0, 0])
            entry[1] += 1
            return Mark(key, self._everything, entry[0], self._released)

    def _release(self) -> None:
        """Uncount the marks collected; a key none is left of is forgotten. Under _changed."""
        while self._released:
            key = self._released.popleft()
            entry = self._counts[key]
            entry[1] -= 1
            if not entry[1]:
                del self._counts[key]

    def __len__(self) -> int:
        """How many keys are counted (those with a live mark)."""
        with self._changed:
            self._release()
            return len(self._counts)

    def changed(self, key: str | None = None) -> None:
        """`key` changed (None: anything may have); wakes the waits on it."""
        with self._changed:
            self._release()
            if key is None:
                self._everything += 1
            elif key in self._counts:
                self._counts[key][0] += 1
            self._changed.notify_all()

    def wait(self, key: str, mark: Mark, seconds: float, at_least: float = 0.0) -> bool:
        """Sleep `seconds` (a retry's back-off), or only `at_least` when `key` changed since
        `mark` was taken (a region reopened, moved or split; a new master): the next attempt
        may well succeed. True when it changed. `at_least` bounds how often a stream of
        changes (a balancer moving many regions) may start attempts. `mark` is mark(key)'s."""
        if mark.key != key:
            raise ValueError(f"a mark of {mark.key!r} cannot wait for {key!r}")
        ends = time.monotonic() + seconds
        if at_least > 0:
            time.sleep(min(at_least, seconds))
        with self._changed:
            entry = self._counts[key]  # kept while `mark` lives
            return self._changed.wait_for(
                lambda: self._everything != mark.everything or entry[0] != mark.count,
                max(0.0, ends - time.monotonic()))


class MetaReader(Protocol):
    """Read-only meta. `watch` (if given) is called once on the next change of what was read;
    passing the same callable again does not register it twice (kazoo keeps a set)."""

    def table(self, table: str, watch: Watch | None = None) -> TableRecord | None: ...

    def regions(self, table: str, watch: Watch | None = None) -> list[RegionRecord]: ...

    def server_address(self, server: str) -> str: ...


class ZkMetaReader:
    """MetaReader over a kazoo client. Every read waits at most `timeout` seconds; a lost or
    slow ZooKeeper becomes ServerUnavailableError (retryable), never a hang."""

    def __init__(self, zk, quorum: str, paths: Paths | None = None, timeout: float = 5.0):
        self.zk = zk
        self.quorum = quorum
        self.paths = paths or Paths()
        self.timeout = timeout

    def _wait(self, async_result, what: str):
        from kazoo.exceptions import ConnectionClosedError as SessionClosed
        from kazoo.exceptions import NoNodeError

        try:
            return async_result.get(timeout=attempt_time_left(self.timeout))
        except NoNodeError:
            return None
        except SessionClosed:  # our Connection.close() stopped the session: not retryable
            raise ConnectionClosedError(CLOSED) from None
        except HBaseError:
            raise
        except Exception as exc:  # kazoo ConnectionLoss, SessionExpired, timeout...
            raise ServerUnavailableError(
                f"cannot reach ZooKeeper at {self.quorum} (reading {what}): "
                f"{type(exc).__name__} {exc}".rstrip()) from exc

    def _get(self, path: str, watch=None) -> bytes | None:
        got = self._wait(self.zk.get_async(path, watch=watch), path)
        return None if got is None else got[0]

    def balancer_on(self) -> bool:
        return self._get(self.paths.balancer) != SWITCH_OFF

    def switch_on(self, name: str) -> bool:
        return self._get(self.paths.switch(name)) != SWITCH_OFF

    def decommissioned(self) -> list[str]:
        return self.children(self.paths.draining)

    def children(self, path: str) -> list[str]:
        return sorted(self._wait(self.zk.get_children_async(path), path) or [])

    def cluster_id(self) -> str:
        return (self._get(self.paths.cluster_id) or b"").decode()

    def table(self, table, watch=None):
        data = self._get(self.paths.table(table), watch)
        if data is None:
            self._check_cluster()
            return None
        return TableRecord.from_bytes(data)

    def _check_cluster(self) -> None:
        """After a miss: ClusterNotFoundError if the parent znode itself is absent, so a wrong
        --zk-parent is named as such, not as "table does not exist" or a 30 s wait for a
        master (HBase: "The node /hbase is not in ZooKeeper...")."""
        parent = self.paths.parent
        if self._wait(self.zk.exists_async(parent), parent) is None:
            raise ClusterNotFoundError(
                f"no minihbase cluster in ZooKeeper at {self.quorum}: {parent} does not exist "
                f"(the master writes it; is --zk-parent right? a cluster's default is /hbase)")

    def regions(self, table, watch=None):
        parent = self.paths.table_meta(table)
        children = self._wait(self.zk.get_children_async(parent, watch=watch), parent)
        if not children:
            return []
        # Issue every read before waiting for any: one round trip for the whole table.
        pending = [(c, self.zk.get_async(f"{parent}/{c}", watch=watch)) for c in children]
        records = []
        for child, result in pending:
            got = self._wait(result, f"{parent}/{child}")
            if got is not None:
                records.append(RegionRecord.from_bytes(got[0]))
        return records

    def master(self, watch=None) -> MasterRecord | None:
        """The active master's record (/hbase/master), None when no master is active."""
        data = self._get(self.paths.master, watch)
        if data is None and watch is not None:  # no active master: watch for one to appear
            path = self.paths.master
            if self._wait(self.zk.exists_async(path, watch=watch), path) is not None:
                data = self._get(path, watch)  # created meanwhile
        if data is None:
            self._check_cluster()
            return None
        return MasterRecord.from_bytes(data)

    def server_address(self, server):
        data = self._get(self.paths.live_server(server))
        if data is None:  # not live (crashed): dial its name; the call fails and we retry
            host, port, _ = znodes.parse_server_name(server)
            return f"{host}:{port}"
        rec = ServerRecord.from_bytes(data)
        return f"{rec.host}:{rec.port}"


class ClosedMeta:
    """The MetaReader of a Connection that is closed or was never opened: every read raises
    ConnectionClosedError, not a ZooKeeper error that would be retried until the timeout."""

    def __getattr__(self, name: str):
        raise ConnectionClosedError(CLOSED)


def is_change(event) -> bool:
    """A watch fired because what it watched changed -- not kazoo telling every watch that the
    connection dropped (EventType.NONE). While ZooKeeper is unreachable, cached locations stay
    usable: region servers may well be fine (HBase's clients keep theirs too). Once connected
    again the Connection drops the whole cache, changes missed meanwhile included."""
    return event is None or event.type != EventType.NONE


class _TableWatch:
    """The watch a LocationCache sets on one table's znodes. Equal for equal (cache, table),
    so that kazoo, which keeps a set of watches per znode, holds one per table however many
    loads set it; and the cache need not keep one per table name ever seen."""

    __slots__ = ("cache", "table")

    def __init__(self, cache: "LocationCache", table: str):
        self.cache, self.table = cache, table

    def __call__(self, event=None) -> None:
        self.cache._watch_fired(self.table, event)

    def __eq__(self, other) -> bool:
        return (isinstance(other, _TableWatch) and other.cache is self.cache
                and other.table == self.table)

    def __hash__(self) -> int:
        return hash((id(self.cache), self.table))


class _Load:
    """The load of one table's entry, kept while threads run or wait for it."""

    __slots__ = ("lock", "users", "generation")

    def __init__(self):
        self.lock = threading.Lock()  # held by the thread reading meta
        self.users = 0  # threads holding or waiting for `lock`; guarded by the cache's _lock
        self.generation = 0  # bumped by invalidate; guarded by the cache's _lock


class _TableEntry:
    """Immutable snapshot of one table's regions, sorted by start key."""

    __slots__ = ("descriptor", "starts", "locations")

    def __init__(self, descriptor: TableDescriptor, locations: list[RegionLocation]):
        self.descriptor = descriptor
        self.locations = locations
        self.starts = [loc.info.start_key for loc in locations]


class LocationCache:
    """Thread-safe. Reads take no lock: a table's entry is an immutable snapshot replaced whole;
    loads of one table are serialised so a burst of misses costs one meta read. Per table, it
    keeps the cached entry and a load while one runs, nothing once the table is dropped."""

    def __init__(self, meta: MetaReader, changes: MetaChanges | None = None):
        self.meta = meta
        self.changes = MetaChanges() if changes is None else changes  # watches that fired
        self._tables: dict[str, _TableEntry] = {}  # writes guarded by self._lock
        self._epoch = 0  # bumped when every table is invalidated; guarded by self._lock
        self._servers: dict[str, str] = {}         # server name -> address (names never reuse)
        self._load_locks: dict[str, _Load] = {}  # the loads in flight; guarded by _lock
        self._lock = threading.Lock()
        self._closed = False
        self.loads = 0  # meta reads performed (tests assert on it)

    # -- lookups -----------------------------------------------------------------------------
    def cached(self, table: str) -> bool:
        """Whether `table`'s locations are at hand (a lookup reads no meta)."""
        return table in self._tables

    def locate(self, table: str, row: bytes) -> RegionLocation:
        entry = self._tables.get(table) or self._load(table)
        i = bisect.bisect_right(entry.starts, row) - 1
        loc = entry.locations[i] if i >= 0 else None
        if loc is None or not loc.info.contains_row(row):
            self.invalidate(table)
            raise RegionOfflineError(
                f"no region of table {table!r} covers row {quoted(row)} right now (split or merge "
                "in progress?)")
        return _usable(loc)

    def locate_last(self, table: str) -> RegionLocation:
        """The region holding the greatest rows (where a reversed scan from the end starts)."""
        entry = self._tables.get(table) or self._load(table)
        if not entry.locations or entry.locations[-1].info.end_key:
            self.invalidate(table)
            raise RegionOfflineError(f"the last region of table {table!r} is missing right now")
        return _usable(entry.locations[-1])

    def locate_before(self, table: str, key: bytes) -> RegionLocation:
        """The region holding the greatest rows < key (a reversed scan's next region)."""
        entry = self._tables.get(table) or self._load(table)
        i = bisect.bisect_left(entry.starts, key) - 1
        loc = entry.locations[i] if i >= 0 else None
        if loc is None or loc.info.end_key != key:
            self.invalidate(table)
            raise RegionOfflineError(
                f"no region of table {table!r} ends at {quoted(key)} right now (split or merge "
                "in progress?)")
        return _usable(loc)

    def regions(self, table: str) -> list[RegionLocation]:
        """Every region of the table in key order, whatever its state."""
        return list((self._tables.get(table) or self._load(table)).locations)

    def descriptor(self, table: str) -> TableDescriptor:
        return (self._tables.get(table) or self._load(table)).descriptor

    def close(self) -> None:
        """Every later lookup raises ConnectionClosedError (the Connection was closed)."""
        with self._lock:
            self._closed = True
            self._tables.clear()
        self.changes.changed()  # a retry waiting in its back-off stops at once

    def invalidate(self, table: str | None = None) -> None:
        with self._lock:
            if table is None:
                self._epoch += 1  # loads in flight (of any table) are not cached either
                self._tables.clear()
            else:
                self._bump_load(table)
                self._tables.pop(table, None)

    def _bump_load(self, table: str) -> None:
        """A load of `table` in flight read meta too early to be cached. Under _lock."""
        load = self._load_locks.get(table)
        if load is not None:
            load.generation += 1

    def _watch_fired(self, table: str, event=None) -> None:
        """A watch on `table`'s meta fired. A change drops its entry. kazoo's "connection
        dropped" (see is_change) keeps it usable, but a load in flight, whose watches that just
        consumed, must not be cached: nothing would tell it about later changes."""
        if is_change(event):
            self.invalidate(table)
            self.changes.changed(table)
        else:
            with self._lock:
                self._bump_load(table)

    def cached_tables(self) -> list[str]:
        return list(self._tables)

    def servers_gone(self, names) -> list[str]:
        """Forget the addresses of region servers whose znode vanished (crashed or stopped);
        returns those no live server uses any more, whose channels can be closed. Without it a
        long-lived client keeps one entry and one channel per server incarnation it ever saw."""
        with self._lock:
            gone = {self._servers.pop(n) for n in names if n in self._servers}
            return sorted(gone - set(self._servers.values()))

    # -- loading -----------------------------------------------------------------------------
    def _load(self, table: str) -> _TableEntry:
        if self._closed:
            raise ConnectionClosedError(CLOSED)
        with self._lock:
            load = self._load_locks.get(table)
            if load is None:
                load = self._load_locks[table] = _Load()
            load.users += 1
        try:
            # One load per table at a time: the threads that missed together (after an error
            # dropped the table) wait for that load and use its entry, instead of each reading
            # meta from ZooKeeper.
            # The wait is bounded like a meta read: by the attempt's time left.
            if not load.lock.acquire(timeout=attempt_time_left(_LOAD_WAIT_S)):
                raise ServerUnavailableError(
                    f"timed out waiting for another thread's meta read of table {table!r}")
            try:
                return self._load_one(table, load)
            finally:
                load.lock.release()
        finally:
            with self._lock:
                load.users -= 1
                if not load.users:
                    del self._load_locks[table]

    def _load_one(self, table: str, load: _Load) -> _TableEntry:
        with self._lock:
            entry = self._tables.get(table)
            if entry is not None:
                return entry
            generation = (self._epoch, load.generation)
        # Read outside the lock (ZooKeeper round trips); a watch firing meanwhile bumps the
        # generation, and then this snapshot is returned to the caller but not cached.
        watch = _TableWatch(self, table)
        record = self.meta.table(table, watch)
        if record is None:
            raise TableNotFoundError(f"table {table!r} does not exist")
        if record.state in (znodes.DISABLED, znodes.DISABLING):
            raise TableNotEnabledError(f"table {table!r} is {record.state.lower()}")
        locations = self._locations(self.meta.regions(table, watch))
        entry = _TableEntry(record.descriptor, locations)
        with self._lock:
            self.loads += 1
            if (self._epoch, load.generation) == generation:
                self._tables[table] = entry
        return entry

    def _locations(self, records: list[RegionRecord]) -> list[RegionLocation]:
        live = [r for r in records if r.state not in _RETIRED]
        # At one start key keep the newest region (highest id): a daughter beats its parent.
        live.sort(key=lambda r: (r.info.start_key, r.info.region_id))
        by_start: dict[bytes, RegionRecord] = {}
        for r in live:
            by_start[r.info.start_key] = r
        out = []
        for r in by_start.values():
            address = ""
            if r.server:
                address = self._servers.get(r.server) or self.meta.server_address(r.server)
                self._servers[r.server] = address
            out.append(RegionLocation(r.info, r.info.name, r.server, address, r.state,
                                      r.waiting_for))
        return out


def _usable(loc: RegionLocation) -> RegionLocation:
    if loc.state != znodes.OPEN or not loc.address:
        why = f", waiting for {loc.waiting_for}" if loc.waiting_for else ""
        on = f" on {loc.server}" if loc.server else ""
        raise RegionOfflineError(f"region {loc.name} is {loc.state}{on}{why}")
    return loc
