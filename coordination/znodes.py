"""The ZooKeeper layout of minihbase and the records stored in it (see docs/coordination.md).

    /hbase                                  parent znode (configurable)
      running                               created by the first active master; never removed
      hbaseid                               cluster id (uuid)
      master                                EPHEMERAL  MasterRecord of the active master
      backup-masters/<name>                 EPHEMERAL  one per standby master
      rs/<host,port,startcode>              EPHEMERAL  ServerRecord of a live region server
      servers/<host,port,startcode>         ServerState kept by the master (ONLINE, CRASHED,
                                            SPLITTING_WAL, DEAD) so a new master resumes crash
                                            handling where the old one stopped
      tables/<table>                        TableRecord: descriptor + state
      meta/<table>/<encoded region>         RegionRecord: RegionInfo + state + server
      splits/<parent encoded>               in-progress split/merge journal (master-owned)
      balancer                              SWITCH_OFF: the balancer is switched off
      switch/split, switch/merge,           SWITCH_OFF: splits / merges / the catalog janitor /
        switch/catalogjanitor,              the region normalizer are switched off (absent: on)
        switch/normalizer
      draining/<host,port,startcode>        a decommissioned region server (HBase's draining)
      nonces/<nonce>[.<region>]             a split, merge or move call's nonce (hmaster/meta.py)
      namespaces/<ns>                       a namespace and its properties

Every record but the switches' is UTF-8 JSON. Its field names and the state strings below are
stored in ZooKeeper and read by the next master, so never rename them; add new fields with a
default. The master changes tables/ and meta/ with ZooKeeper multi-op transactions so that e.g.
a split (parent deleted, two daughters OPENING, journal advanced) is one step; no master writes
SPLIT or MERGED any more, and readers still skip them. Clients read master, tables/, meta/,
rs/, the switches and draining/ only.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from storage.schema import RegionInfo, TableDescriptor, validate_namespace, validate_table_name

DEFAULT_PARENT = "/hbase"
SWITCH_OFF = b"false"  # data of Paths.balancer or a switch(...) znode when switched off
SWITCHES = ("split", "merge", "catalogjanitor", "normalizer")  # names under Paths.switches
SESSION_TIMEOUT_S = 15.0

# Region states (visible through status; never "silently stuck": each carries since + why).
OFFLINE = "OFFLINE"
OPENING = "OPENING"
OPEN = "OPEN"
CLOSING = "CLOSING"
CLOSED = "CLOSED"
SPLITTING = "SPLITTING"
SPLIT = "SPLIT"
MERGING = "MERGING"
MERGED = "MERGED"
FAILED_OPEN = "FAILED_OPEN"

# Server states.
ONLINE = "ONLINE"
CRASHED = "CRASHED"
SPLITTING_WAL = "SPLITTING_WAL"
DEAD = "DEAD"

# Table states.
ENABLED = "ENABLED"
DISABLED = "DISABLED"
ENABLING = "ENABLING"
DISABLING = "DISABLING"


class Paths:
    """Every znode path, from one parent."""

    def __init__(self, parent: str = DEFAULT_PARENT):
        self.parent = parent.rstrip("/") or DEFAULT_PARENT
        self.running = f"{self.parent}/running"
        self.cluster_id = f"{self.parent}/hbaseid"
        self.master = f"{self.parent}/master"
        self.backup_masters = f"{self.parent}/backup-masters"
        self.rs = f"{self.parent}/rs"
        self.servers = f"{self.parent}/servers"
        self.tables = f"{self.parent}/tables"
        self.meta = f"{self.parent}/meta"
        self.splits = f"{self.parent}/splits"
        self.balancer = f"{self.parent}/balancer"  # SWITCH_OFF: switched off; else on
        self.namespaces = f"{self.parent}/namespaces"
        self.switches = f"{self.parent}/switch"
        self.draining = f"{self.parent}/draining"
        self.nonces = f"{self.parent}/nonces"  # hmaster/meta.py, "nonces"
        self.leftovers = f"{self.parent}/leftovers"  # hmaster/meta.py, "leftovers"

    def all_dirs(self) -> list[str]:
        return [self.parent, self.backup_masters, self.rs, self.servers, self.tables, self.meta,
                self.splits, self.switches, self.draining, self.nonces, self.leftovers]

    def switch(self, name: str) -> str:
        if name not in SWITCHES:
            raise ValueError(f"unknown switch {name!r}")
        return f"{self.switches}/{name}"

    def draining_server(self, server: str) -> str:
        return f"{self.draining}/{server}"

    def backup_master(self, name: str) -> str:
        return f"{self.backup_masters}/{name}"

    def live_server(self, server: str) -> str:
        return f"{self.rs}/{server}"

    def server_state(self, server: str) -> str:
        return f"{self.servers}/{server}"

    # Table names are validated before they become paths: "/t1", "t1/" or "" would otherwise
    # name another znode (ZooKeeper paths collapse nothing, but a client lookup of "/t1"
    # resolved to t1 while the data directory became "/t1"). And made canonical: "default:t1"
    # is "t1".
    def table(self, table: str) -> str:
        return f"{self.tables}/{validate_table_name(table)}"

    def table_meta(self, table: str) -> str:
        return f"{self.meta}/{validate_table_name(table)}"

    def region(self, table: str, encoded_name: str) -> str:
        return f"{self.table_meta(table)}/{encoded_name}"

    def leftovers_of(self, table: str) -> str:
        return f"{self.leftovers}/{validate_table_name(table)}"

    def namespace(self, name: str) -> str:
        return f"{self.namespaces}/{validate_namespace(name)}"

    def split_journal(self, encoded_name: str) -> str:
        return f"{self.splits}/{encoded_name}"

    def nonce(self, key: str) -> str:
        return f"{self.nonces}/{key}"


def server_name(host: str, port: int, startcode: int) -> str:
    return f"{host},{port},{startcode}"


def parse_server_name(name: str) -> tuple[str, int, int]:
    host, port, startcode = name.rsplit(",", 2)
    return host, int(port), int(startcode)


def now_ms() -> int:
    return int(time.time() * 1000)


def _dumps(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True).encode()


class _FlatRecord:
    """JSON (de)serialisation for a dataclass record whose fields are all plain JSON values."""

    def to_bytes(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes):
        return cls(**json.loads(data))


@dataclass
class MasterRecord(_FlatRecord):
    name: str  # host,port,startcode
    host: str
    port: int
    info_port: int = 0
    since_ms: int = field(default_factory=now_ms)


@dataclass
class ServerRecord(_FlatRecord):
    """Data of the ephemeral /hbase/rs/<name> znode: how to reach the server."""

    name: str
    host: str  # advertised host name: resolvable by clients and other daemons
    port: int
    info_port: int = 0
    since_ms: int = field(default_factory=now_ms)


@dataclass
class ServerState(_FlatRecord):
    """Master-owned state of a region server, persistent so a new master resumes recovery."""

    name: str
    state: str = ONLINE
    since_ms: int = field(default_factory=now_ms)
    waiting_for: str = ""


@dataclass
class TableRecord:
    descriptor: TableDescriptor
    state: str = ENABLED
    # An alter in progress, written with its new descriptor: the families whose files it has
    # yet to delete (maybe none) after reopening every region. None: no alter in progress.
    # A master that takes over finishes it (hmaster/ddl.py finish_alter).
    alter_pending: tuple[str, ...] | None = None

    def to_bytes(self) -> bytes:
        d = {"descriptor": self.descriptor.to_dict(), "state": self.state}
        if self.alter_pending is not None:
            d["alter_pending"] = list(self.alter_pending)
        return _dumps(d)

    @classmethod
    def from_bytes(cls, data: bytes) -> "TableRecord":
        d = json.loads(data)
        pending = d.get("alter_pending")
        return cls(TableDescriptor.from_dict(d["descriptor"]), d["state"],
                   None if pending is None else tuple(pending))


@dataclass
class RegionRecord:
    """One region in meta: where it is and what it is doing, since when, and waiting for what."""

    info: RegionInfo
    state: str = OFFLINE
    server: str = ""  # host,port,startcode while OPENING/OPEN/CLOSING
    since_ms: int = field(default_factory=now_ms)
    waiting_for: str = ""

    def to_bytes(self) -> bytes:
        return _dumps({"info": self.info.to_dict(), "state": self.state, "server": self.server,
                       "since_ms": self.since_ms, "waiting_for": self.waiting_for})

    @classmethod
    def from_bytes(cls, data: bytes) -> "RegionRecord":
        d = json.loads(data)
        return cls(RegionInfo.from_dict(d["info"]), d["state"], d["server"], d["since_ms"],
                   d.get("waiting_for", ""))
