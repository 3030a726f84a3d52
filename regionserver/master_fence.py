"""Refuse region commands from a master that is no longer the active one (see
docs/coordination.md, "Fencing the master").

A master frozen past its ZooKeeper session (SIGSTOP, a paused VM) resumes with threads that
are about to send an OpenRegion, a CloseRegion, a split or a merge they prepared before the
freeze; kazoo tells it that its session is gone only moments later. Meanwhile a backup took
over and may have placed the region elsewhere: the zombie's open would make a second copy (a
client with a stale cached location writes to it, and its flushes and compactions write into
the same region directory), its close would take the region out of service while meta says it
is open. Nothing on the master's side can close that window -- the zombie does not know it is
one -- so the region server asks ZooKeeper.

Every such command names its sender (`master`, host,port,startcode). Before acting, the region
server syncs with the ZooKeeper leader and reads /hbase/master: a sender it does not name is
refused with StaleMasterError. Why this closes the window:

- A session expiry deletes the master's ephemeral /hbase/master in the same step, and the
  read follows a sync, so it sees the deletion (or the successor's znode) once the session is
  gone: a command the zombie sends after it resumed is always refused. No cached view that
  could lag (a watch) is trusted.
- A command the check let through was sent while its master still held /hbase/master, that is
  before any successor became active and read meta. The sender wrote its intent to meta first
  (OPENING/CLOSING on this server, SPLITTING, MERGING), so a successor finds the command in
  flight and settles it with this server (asks it, or closes and reopens the region) instead
  of placing the region as if nothing were under way.

A command without a sender (a tool or test speaking for no master) is not checked.
"""

from __future__ import annotations

import logging

from kazoo.exceptions import NoNodeError

from coordination.znodes import MasterRecord, Paths
from minihbase.errors import ServerUnavailableError, StaleMasterError

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0  # the master's command deadline is longer; an unanswered read refuses


class MasterFence:
    def __init__(self, zk, paths: Paths, server_name: str):
        self.zk = zk
        self.paths = paths
        self.server_name = server_name
        self.refused = 0  # commands refused as stale (for logs and tests)

    def active_master(self) -> str:
        """The name /hbase/master holds now, read after a sync with the leader ("" = none)."""
        try:
            self.zk.sync_async(self.paths.master).get(timeout=READ_TIMEOUT_S)
            data, _ = self.zk.get_async(self.paths.master).get(timeout=READ_TIMEOUT_S)
        except NoNodeError:
            return ""
        except Exception as e:  # noqa: BLE001 -- ZooKeeper errors, kazoo's handler timeout
            raise ServerUnavailableError(
                f"region server {self.server_name} cannot read the active master from "
                f"ZooKeeper ({type(e).__name__}), so it cannot check the command's sender: "
                "retry") from None
        return MasterRecord.from_bytes(data).name

    def check(self, sender: str, command: str) -> None:
        """Raise StaleMasterError unless `sender` is the active master ("" = unchecked)."""
        if not sender:
            return
        active = self.active_master()
        if active != sender:
            self.refused += 1
            log.warning("refused %s from master %s, which is not the active master (%s)",
                        command, sender, active or "none")
            raise StaleMasterError(
                f"region server {self.server_name} refused {command} from master {sender}: "
                f"the active master is {active or '(none)'} (the sender's ZooKeeper session "
                "expired; it must not act any more)")
