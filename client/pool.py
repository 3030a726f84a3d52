"""happybase's ConnectionPool, for code written against happybase (docs/cli.md).

A minihbase Connection is thread-safe (one ZooKeeper session, one channel per server, shared
by every thread), so new code needs no pool: share one Connection. Code written for happybase,
whose connections are not thread-safe, borrows from a pool instead:

    pool = client.ConnectionPool(size=3, zk_quorum="127.0.0.1:2181", timeout=30)
    with pool.connection() as conn:
        conn.table("t1").put(b"r1", {b"cf:q": b"v"})

As in happybase: at most `size` connections, opened on first use; a thread that asks again
inside its own `with` gets the connection it already holds; a borrower that waits longer than
`timeout` seconds gets NoConnectionsAvailable. A connection its borrower closed is replaced.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager

from client.connection import DEFAULT_QUORUM, Connection
from minihbase.errors import InvalidArgumentError


class NoConnectionsAvailable(RuntimeError):
    """No connection was returned to the pool within the borrower's timeout (happybase's)."""


class ConnectionPool:
    def __init__(self, size: int, zk_quorum: str = DEFAULT_QUORUM, **connection_kwargs):
        if not isinstance(size, int) or size < 1:
            raise InvalidArgumentError(f"pool size must be a positive integer, got {size!r}")
        self.size = size
        self._quorum = zk_quorum
        self._kwargs = connection_kwargs
        self._idle: queue.LifoQueue = queue.LifoQueue(maxsize=size)
        for _ in range(size):
            self._idle.put(None)  # a slot whose connection is opened when first lent
        self._held = threading.local()

    @contextmanager
    def connection(self, timeout: float | None = None):
        """Lend a Connection for the `with` block (waiting up to `timeout` seconds for one)."""
        held = getattr(self._held, "conn", None)
        if held is not None:  # nested in the same thread: the same connection
            yield held
            return
        try:
            conn = self._idle.get(True, timeout)
        except queue.Empty:
            raise NoConnectionsAvailable(
                f"no connection returned to the pool of {self.size} within {timeout} s") from None
        try:
            if conn is None or conn.closed:
                conn = Connection(self._quorum, **self._kwargs)
            self._held.conn = conn
            yield conn
        finally:
            self._held.conn = None
            self._idle.put(conn)

    def close(self) -> None:
        """Close the connections not lent out right now; a later borrower opens a new one."""
        drained = []
        while True:
            try:
                drained.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for conn in drained:
            if conn is not None:
                conn.close()
            self._idle.put(None)
