"""FreezeGuard (regionserver/freeze_guard.py) against a real ZooKeeper, its clock driven by the
test: a pause over half the session timeout makes data calls refuse until the session is
confirmed -- served again if it survived, the server aborted if it did not."""

from __future__ import annotations

import threading

import pytest

from coordination.zk import connect
from minihbase.errors import ServerUnavailableError
from regionserver.freeze_guard import FreezeGuard
from tests.cluster.conftest import new_chroot, wait_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def quorum(zookeeper):
    return new_chroot(zookeeper.quorum)


@pytest.fixture
def zk(quorum):
    client = connect(quorum, session_timeout=10.0)
    yield client
    client.stop()
    client.close()


def _guard(zk, znode: str, clock: Clock, lost: list) -> tuple[FreezeGuard, threading.Event]:
    stopped = threading.Event()
    guard = FreezeGuard(10.0, lost.append, clock=clock)
    guard.start(zk, znode, "rs1", stopped)
    return guard, stopped


def test_a_pause_shorter_than_half_the_session_refuses_nothing(zk):
    zk.create("/rs1", ephemeral=True)
    clock, lost = Clock(), []
    guard, stopped = _guard(zk, "/rs1", clock, lost)
    try:
        clock.now += 4.9  # the limit is 5 s for a 10 s session
        guard.check()
    finally:
        stopped.set()
    assert lost == [] and guard.gaps == 0


def test_after_a_long_pause_calls_are_refused_until_the_session_is_confirmed(zk):
    zk.create("/rs1", ephemeral=True)  # this session's own znode
    clock, lost = Clock(), []
    guard, stopped = _guard(zk, "/rs1", clock, lost)
    try:
        clock.now += 30  # frozen: a call runs before the ticker notices
        with pytest.raises(ServerUnavailableError, match="rs1 did not run for a while"):
            guard.check()
        wait_for(lambda: not guard.unsure, 10, "the ticker to confirm the session")
        guard.check()  # serving again
    finally:
        stopped.set()
    assert lost == []


def test_a_znode_now_owned_by_another_session_aborts_the_server(zk, quorum):
    other = connect(quorum, session_timeout=10.0)
    try:
        other.create("/rs1", ephemeral=True)  # as if ours expired and another took the name
        clock, lost = Clock(), []
        guard, stopped = _guard(zk, "/rs1", clock, lost)
        try:
            clock.now += 30
            wait_for(lambda: lost, 10, "the guard to give the server up")
            with pytest.raises(ServerUnavailableError):
                guard.check()  # and it never served in between
        finally:
            stopped.set()
        assert "expired while the process was not running" in lost[0]
    finally:
        other.stop()
        other.close()


class FreezingClock(Clock):
    """A Clock that, once armed, lets the process "freeze" for `seconds` right after the
    ticker thread next reads it: the SIGSTOP landing between two lines of the ticker."""

    def __init__(self):
        super().__init__()
        self.armed = 0.0
        self.frozen = threading.Event()

    def __call__(self) -> float:
        now = self.now
        if self.armed and threading.current_thread().name == "freeze-guard":
            self.now += self.armed
            self.armed = 0.0
            self.frozen.set()
        return now


def test_a_freeze_right_after_the_ticker_read_the_clock_still_refuses_calls(zk):
    """The ticker read the clock once to measure the gap and again to note its tick: a freeze
    between the two reads (the ticker waiting for the GIL on a busy server, say) vanished --
    the second read noted a tick after the freeze, and calls after the resume were served
    without the session being confirmed, however long the freeze."""
    zk.create("/rs1", ephemeral=True)
    clock, lost = FreezingClock(), []
    guard, stopped = _guard(zk, "/rs1", clock, lost)
    try:
        clock.armed = 30.0
        assert clock.frozen.wait(5), "the ticker did not tick"
        # the ticker finishes that tick; its next one is half a second away
        stopped.wait(0.1)
        with pytest.raises(ServerUnavailableError, match="rs1 did not run for a while"):
            guard.check()
        wait_for(lambda: not guard.unsure, 10, "the ticker to confirm the session")
        guard.check()
    finally:
        stopped.set()
    assert lost == []
