"""Active/backup master election (see docs/coordination.md, "Master failover").

Every master races to create the ephemeral /hbase/master holding its MasterRecord. The winner is
active. A loser registers the ephemeral /hbase/backup-masters/<name> and watches /hbase/master;
when that znode vanishes (the active master's session ended: clean stop, or expiry after a
SIGKILL) every backup races again. A winner removes its backup-masters entry.

A master started with `backup=True` (HBase's `--backup`) first registers as a backup and does
not race until some master has been active (or BACKUP_WAIT_S passed with none: a primary that
never came up must not leave the cluster without a master), so the designated primary wins a
simultaneous start (docker-compose starts both at once).

A /hbase/master naming this master's own host and port with another startcode is its previous
incarnation (killed, then restarted on the same address: it cannot be running, this process
holds the port), so it is deleted at once instead of waiting out the old session -- HBase's
ActiveMasterManager does the same ("master was restarted? Deleting node").

`wait_until_active()` blocks until this master wins (or `stop()` is called). Losing the session
later is not handled here: the server exits on session loss (a master must never act on a stale
belief that it is active).
"""

from __future__ import annotations

import logging
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError,
                              OperationTimeoutError)

from coordination.znodes import MasterRecord, Paths

log = logging.getLogger(__name__)

BACKUP_WAIT_S = 30.0  # --backup: longest wait for a primary before contending anyway


class MasterElection:
    def __init__(self, zk: KazooClient, paths: Paths, record: MasterRecord, *,
                 backup: bool = False):
        self.zk = zk
        self.paths = paths
        self.record = record
        self.backup = backup
        self._changed = threading.Event()  # set when /hbase/master may have vanished
        self._stopped = threading.Event()
        self.active = False

    def _try_become_active(self) -> bool:
        try:
            self.zk.create(self.paths.master, self.record.to_bytes(), ephemeral=True)
        except NodeExistsError:
            # ours already, if an earlier create succeeded but its reply was lost in a blip
            stat = self.zk.exists(self.paths.master)
            if stat is not None and stat.ephemeralOwner == self.zk.client_id[0]:
                return True
            if self._delete_previous_incarnation():
                return self._try_become_active()
            return False
        return True

    def _delete_previous_incarnation(self) -> bool:
        """Delete /hbase/master if it names this master's address with another startcode."""
        try:
            data, stat = self.zk.get(self.paths.master)
        except NoNodeError:
            return True  # gone meanwhile: contend again
        old = MasterRecord.from_bytes(data)
        if (old.host, old.port) != (self.record.host, self.record.port) or \
                old.name == self.record.name:
            return False
        log.info("the active master %s is this master's previous incarnation (same address): "
                 "deleting its znode instead of waiting for its session to expire", old.name)
        try:
            self.zk.delete(self.paths.master, version=stat.version)
        except (NoNodeError, BadVersionError):
            pass  # replaced or gone meanwhile: contend again
        return True

    def _on_master_node(self, event) -> None:
        self._changed.set()

    def wait_until_active(self) -> bool:
        """Block until this master holds /hbase/master; False if stop() was called first."""
        registered_backup = False
        waiting_for_primary = self.backup
        deadline = time.monotonic() + BACKUP_WAIT_S
        while not self._stopped.is_set():
            try:
                if waiting_for_primary:
                    registered_backup = self._register_backup(registered_backup)
                    waiting_for_primary = not self._primary_seen()
                    if waiting_for_primary and time.monotonic() > deadline:
                        log.warning("no master became active within %.0fs; contending (--backup)",
                                    BACKUP_WAIT_S)
                        waiting_for_primary = False
                    continue
                registered_backup, won = self._round(registered_backup)
            except (ConnectionLoss, OperationTimeoutError) as e:
                # a blip of the ZooKeeper connection: kazoo reconnects within the session;
                # only a LOST session is fatal (server.py)
                log.warning("election round interrupted (%s); retrying", type(e).__name__)
                self._stopped.wait(0.5)
                continue
            if won:
                return True
        return False

    def _round(self, registered_backup: bool) -> tuple[bool, bool]:
        """One attempt: (registered as backup, became active)."""
        self._changed.clear()
        if self._try_become_active():
            self.active = True
            if registered_backup:
                try:
                    self.zk.delete(self.paths.backup_master(self.record.name))
                except NoNodeError:
                    pass
            log.info("became the active master")
            return registered_backup, True
        registered_backup = self._register_backup(registered_backup)
        # exists() with a watch: fires on deletion; None means it vanished meanwhile.
        if self.zk.exists(self.paths.master, watch=self._on_master_node) is not None:
            self._changed.wait(1.0)  # periodic re-check too, in case a watch is lost
        return registered_backup, False

    def _register_backup(self, registered: bool) -> bool:
        if not registered:
            self._forget_earlier_backups()
            try:
                self.zk.create(self.paths.backup_master(self.record.name),
                               self.record.to_bytes(), ephemeral=True, makepath=True)
            except NodeExistsError:
                pass
            log.info("registered as backup master; active is %s",
                     self.active_master_name() or "(none yet)")
        return True

    def _forget_earlier_backups(self) -> None:
        """Backup entries of this master's previous incarnations (same address), which would
        otherwise be listed until their sessions expire."""
        prefix = f"{self.record.host},{self.record.port},"
        for name in self.backup_masters():
            if name.startswith(prefix) and name != self.record.name:
                try:
                    self.zk.delete(self.paths.backup_master(name))
                except NoNodeError:
                    pass

    def _primary_seen(self) -> bool:
        """--backup: has some master become active yet? Waits up to 1 s for it."""
        self._changed.clear()
        if self.zk.exists(self.paths.master, watch=self._on_master_node) is not None:
            return True
        self._changed.wait(1.0)
        return self.zk.exists(self.paths.master) is not None

    def active_master_name(self) -> str:
        try:
            data, _ = self.zk.get(self.paths.master)
        except NoNodeError:
            return ""
        return MasterRecord.from_bytes(data).name

    def backup_masters(self) -> list[str]:
        try:
            return sorted(self.zk.get_children(self.paths.backup_masters))
        except NoNodeError:
            return []

    def stop(self) -> None:
        self._stopped.set()
        self._changed.set()
