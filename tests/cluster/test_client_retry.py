"""Retry/back-off of the client (client/retry.py) with an injected clock: no test sleeps."""

import pytest

from client.retry import BACKOFF, RetryPolicy, attempt_time_left, backoff_delay
from minihbase.errors import (NotServingRegionError, OperationTimeoutError,
                              ServerUnavailableError, TableNotFoundError)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def policy(timeout=30.0, **kw):
    """A policy on a fake clock, without jitter (random() == 0) so the schedule is exact."""
    clock = FakeClock()
    kw.setdefault("random", lambda: 0.0)
    return RetryPolicy(timeout, clock=clock, sleep=clock.sleep, **kw), clock


def test_backoff_follows_hbase_multipliers_and_repeats_the_last():
    no_jitter = lambda: 0.0  # noqa: E731
    assert [backoff_delay(0.1, i, no_jitter) for i in range(8)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 4.0, 10.0])
    assert backoff_delay(0.1, 100, no_jitter) == pytest.approx(0.1 * BACKOFF[-1])


def test_backoff_adds_up_to_one_percent_of_jitter_so_clients_do_not_retry_in_step():
    """HBase's ConnectionUtils.getPauseTime adds normalPause * random * 1%: clients that
    failed together (a region server died under all of them) do not all retry together."""
    pauses = {backoff_delay(0.1, 4) for _ in range(50)}
    assert len(pauses) > 1
    assert all(1.0 <= pause < 1.01 for pause in pauses)
    assert backoff_delay(0.1, 4, lambda: 0.5) == pytest.approx(1.005)
    p, clock = policy(random=lambda: 0.999)
    failures = [NotServingRegionError("moved"), NotServingRegionError("moved")]

    def attempt(deadline):
        if failures:
            raise failures.pop(0)
        return "ok"

    assert p.call("get", attempt) == "ok"
    assert clock.sleeps == pytest.approx([0.1 * 1.00999, 0.2 * 1.00999])


def test_retryable_error_is_retried_with_backoff_until_success():
    p, clock = policy()
    failures = [NotServingRegionError("moved"), ServerUnavailableError("down")]
    errors_seen = []

    def attempt(deadline):
        if failures:
            raise failures.pop(0)
        return "ok"

    assert p.call("get", attempt, errors_seen.append) == "ok"
    assert clock.sleeps == [0.1, 0.2]
    assert [type(e).__name__ for e in errors_seen] == ["NotServingRegionError",
                                                       "ServerUnavailableError"]


def test_a_wait_cut_short_by_a_change_starts_the_back_off_again():
    """wait(delay) returning True (ZooKeeper reported a change: a region reopened, a new
    master) means a new state: the next pauses start from the first step again."""
    p, clock = policy()
    failures = 9
    waits = []

    def wait(seconds):
        woken = len(waits) == 5  # the 6th pause is cut short after 0.1 s
        waits.append(round(seconds, 6))
        clock.now += 0.1 if woken else seconds
        return woken

    def attempt(deadline):
        nonlocal failures
        if failures:
            failures -= 1
            raise NotServingRegionError("region r1 is opening")
        return "ok"

    assert p.call("get", attempt, wait=wait) == "ok"
    assert waits == [0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 0.1, 0.2, 0.3]
    assert clock.sleeps == []  # wait replaces sleep


def test_non_retryable_error_surfaces_at_once_without_sleeping():
    p, clock = policy()
    calls = []

    def attempt(deadline):
        calls.append(deadline)
        raise TableNotFoundError("table 'x' does not exist")

    with pytest.raises(TableNotFoundError):
        p.call("get", attempt)
    assert len(calls) == 1 and clock.sleeps == []


def test_gives_up_within_the_operation_timeout_naming_attempts_and_last_error():
    p, clock = policy(timeout=5.0)

    def attempt(deadline):
        clock.now += 0.01  # each RPC takes 10 ms
        raise NotServingRegionError("region r1 is not served here")

    with pytest.raises(OperationTimeoutError) as info:
        p.call("put to table 't1'", attempt)
    assert clock.now <= 5.0
    msg = str(info.value)
    assert "put to table 't1'" in msg and "NotServingRegionError" in msg
    assert "attempt(s)" in msg and "operation timeout 5s" in msg


def test_each_attempt_deadline_never_exceeds_the_time_left():
    p, clock = policy(timeout=2.0, rpc_timeout=10.0)
    deadlines = []

    def attempt(deadline):
        deadlines.append(deadline)
        clock.now += deadline  # the server never answers: the RPC uses its whole deadline
        raise ServerUnavailableError("call timed out")

    with pytest.raises(OperationTimeoutError):
        p.call("get", attempt)
    assert deadlines[0] == pytest.approx(2.0)
    assert clock.now <= 2.0 + 1e-9


def test_time_spent_before_the_retry_loop_counts_against_the_budget():
    p, clock = policy(timeout=1.0)
    clock.now = 0.9
    with pytest.raises(OperationTimeoutError):
        p.call("get", lambda d: (_ for _ in ()).throw(NotServingRegionError("x")), started=0.0)
    assert clock.now <= 1.0


def test_whole_budget_attempts_may_use_all_the_time_left():
    p, clock = policy(timeout=60.0, rpc_timeout=10.0)
    seen = []
    assert p.call("admin", lambda deadline: seen.append(deadline) or "ok",
                  whole_budget_per_attempt=True) == "ok"
    assert seen == [pytest.approx(60.0)]
    seen.clear()
    p.call("data", lambda deadline: seen.append(deadline) or "ok")
    assert seen == [pytest.approx(10.0)]


def test_waits_inside_an_attempt_are_bounded_by_its_deadline():
    """A meta read inside an attempt (attempt_time_left) may not outlast the attempt, and
    outside any attempt keeps its own limit."""
    p, clock = policy(timeout=2.0, rpc_timeout=10.0)
    seen = []
    p.call("get", lambda deadline: seen.append(attempt_time_left(5.0)))
    assert 1.9 < seen[0] <= 2.0
    assert attempt_time_left(5.0) == 5.0


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout):
    with pytest.raises(ValueError, match="positive number of seconds"):
        RetryPolicy(timeout)
