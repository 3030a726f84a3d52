"""The one place minihbase opens ZooKeeper sessions (kazoo; see docs/coordination.md).

Daemons use `connect()` with the 15 s session timeout and watch the session state: a LOST state
means the session expired: a region server aborts (HBase's "YouAreDead"), a master exits.
"""

from __future__ import annotations

import logging
import threading

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from coordination.znodes import SESSION_TIMEOUT_S

log = logging.getLogger(__name__)

# How long a daemon waits for ZooKeeper at start. Daemons and ZooKeeper often start together
# (docker-compose, a restart of every container): a daemon must wait for ZooKeeper to come up,
# not exit after the client's short connect timeout.
DAEMON_CONNECT_TIMEOUT_S = 120.0


def connect(quorum: str, *, session_timeout: float = SESSION_TIMEOUT_S,
            connect_timeout: float = 10.0, read_only: bool = False,
            logger: logging.Logger | None = None) -> KazooClient:
    """Open a session to `quorum` ("host:port[,host:port...]") and return the started client.

    Raises kazoo's timeout error (a clear "could not connect") when no server answers within
    connect_timeout. A command is retried at most 5 times (then its error surfaces); after a
    dropped connection kazoo reconnects without limit (back-off up to 2 s) until the session
    is LOST, which the caller's state listener handles. kazoo logs to `logger` (default
    "kazoo").
    """
    zk = KazooClient(
        hosts=quorum,
        timeout=session_timeout,
        connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=2.0),
        command_retry=KazooRetry(max_tries=5, delay=0.1, max_delay=1.0),
        read_only=read_only,
        logger=logger or logging.getLogger("kazoo"),
    )
    # kazoo's start(timeout) stops the client before raising, and that stop waits for a
    # handshake stuck on a frozen server (up to the session timeout): a caller with a 3 s
    # budget waited 11 s. Give up on time and let the client stop in the background.
    zk.start_async().wait(connect_timeout)
    if not zk.connected:
        threading.Thread(target=_stop_quietly, args=(zk,), name="kazoo-stop",
                         daemon=True).start()
        raise zk.handler.timeout_exception("Connection time-out")
    return zk


def _stop_quietly(zk: KazooClient) -> None:
    try:
        zk.stop()
        zk.close()
    except Exception:  # noqa: BLE001 -- nothing is waiting for it
        pass
