"""A region server that did not run for a while -- SIGSTOP, a paused VM, a long swap storm --
may have lost its ZooKeeper session without knowing it yet. When it resumes, its handler
threads can serve requests queued meanwhile before kazoo learns that the session expired: a
zombie answering reads from regions the master has already reopened elsewhere, with data that
newer writes replaced (writes are safe: the master's WAL rename fences them). HBase has this
window; minihbase closes it (docs/coordination.md, "Fencing").

FreezeGuard ticks every half second. A gap of over half the session timeout -- seen by the
ticker, or by a data call that runs before the ticker does -- means the session may be gone:
every data call is refused (ServerUnavailableError, which clients retry elsewhere) until a
ZooKeeper request proves the session alive and the server's ephemeral znode its own, and the
server aborts if it is not. A gap shorter than that cannot have expired the session (ZooKeeper
needs a whole session timeout without a heartbeat), so nothing is refused then.
"""

from __future__ import annotations

import logging
import threading
import time

from kazoo.exceptions import ConnectionClosedError, SessionExpiredError

from minihbase.errors import ServerUnavailableError

log = logging.getLogger(__name__)

TICK_S = 0.5


class FreezeGuard:
    def __init__(self, session_timeout: float, on_lost, clock=time.monotonic):
        self.zk, self.znode, self.name = None, "", ""  # set by start()
        self.limit = max(session_timeout / 2, 2.0)
        self.on_lost = on_lost  # called with a reason when the session did not survive
        self._clock = clock
        self.last_tick = float("inf")  # written by the ticker only; no gap before start()
        self.unsure = False  # a gap was seen and the session is not confirmed yet
        self.gaps = 0  # gaps over the limit seen (for logs and tests)

    def check(self) -> None:
        """Hot path of every data call: raise while the session is in doubt."""
        if self.unsure or self._clock() - self.last_tick > self.limit:
            self.unsure = True
            raise ServerUnavailableError(
                f"region server {self.name} did not run for a while (frozen?) and may have "
                "lost its ZooKeeper session: it serves nothing until ZooKeeper confirms it")

    def start(self, zk, znode: str, name: str, stopped: threading.Event) -> "FreezeGuard":
        """Start ticking once the server's ephemeral `znode` exists, until `stopped` is set."""
        self.zk, self.znode, self.name = zk, znode, name
        self.last_tick = self._clock()
        threading.Thread(target=self.run, args=(stopped,), name="freeze-guard",
                         daemon=True).start()
        return self

    def run(self, stopped: threading.Event) -> None:
        """The ticker's loop."""
        while not stopped.wait(TICK_S):
            # One clock read per tick: the tick noted is that read, so a freeze landing
            # anywhere after it shows as a gap to the next tick and to every call. A second
            # read to note the tick would let a freeze between the two vanish. `unsure` is
            # set before the tick is noted: a call in between still sees the gap. The time a
            # confirmation takes counts as a gap too (at worst, one more confirmation).
            now = self._clock()
            gap = now - self.last_tick
            if gap > self.limit and not self.unsure:
                self.unsure = True
                self.gaps += 1
                log.warning("this process did not run for %.1fs, over half its ZooKeeper "
                            "session timeout: refusing data calls until the session is "
                            "confirmed", gap)
            self.last_tick = now
            if self.unsure:
                self._confirm()

    def _confirm(self) -> None:
        try:
            stat = self.zk.exists_async(self.znode).get(timeout=self.limit)
        except (SessionExpiredError, ConnectionClosedError):
            self.on_lost("ZooKeeper session expired while the process was not running")
            return
        except Exception as exc:  # noqa: BLE001 -- ZooKeeper unreachable: ask again next tick
            log.info("cannot confirm the ZooKeeper session yet (%s)", type(exc).__name__)
            return
        if stat is None or stat.ephemeralOwner != self.zk.client_id[0]:
            self.on_lost(f"its znode {self.znode} is gone or another session's: the session "
                         "expired while the process was not running")
            return
        self.unsure = False
        log.info("ZooKeeper session confirmed after the pause: serving again")
