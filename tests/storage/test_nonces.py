"""Nonces: a retried increment is applied once, also after a crash and a WAL split."""

from __future__ import annotations

import os
import threading
import time

import pytest

from minihbase.errors import CorruptionError, InvalidArgumentError, RegionTooBusyError
from storage import layout
from storage.config import RegionConfig
from storage.nonces import NonceManager
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from storage.wal import WAL
from storage.wal_format import NONCE_CELL_TYPE
from storage.wal_splitter import split_wal
from tests.storage.helpers import Clock, Inline

CF = b"cf"
TABLE = TableDescriptor("t", (FamilyDescriptor(CF),))
INFO = RegionInfo("t", b"", b"", 1)
GROUP = 7


@pytest.fixture
def clock():
    return Clock()


def open_region(root, clock, *, wal=None, nonces=None):
    return Region.open(root, INFO, TABLE, wal=wal, background=Inline(), nonces=nonces,
                       config=RegionConfig(clock=clock))


def counter(region, row=b"r") -> int:
    cells = region.get(Get(row, ((CF, b"n"),)))
    return int.from_bytes(cells[0].value, "big", signed=True) if cells else 0


def test_retry_with_the_same_nonce_returns_the_first_result_and_applies_once(tmp_path, clock):
    r = open_region(str(tmp_path), clock)
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5  # the retry
    assert counter(r) == 5
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 2)) == 10  # a new operation
    assert r.increment(b"r", CF, b"n", 5, (GROUP + 1, 1)) == 15  # another client's nonce 1
    assert r.increment(b"r", CF, b"n", 5) == 20  # no nonce: never deduplicated
    assert r.increment(b"r", CF, b"n", 5) == 25
    assert counter(r) == 25
    assert r.nonces.duplicates == 1
    r.close()


def test_a_failed_attempt_is_forgotten_so_its_retry_applies(tmp_path, clock):
    r = open_region(str(tmp_path), clock)
    r.mutate(Mutation(b"r").put(CF, b"n", b"abc"))  # not an 8-byte counter
    with pytest.raises(InvalidArgumentError, match="not an 8-byte counter"):
        r.increment(b"r", CF, b"n", 1, (GROUP, 1))
    r.mutate(Mutation(b"r").put(CF, b"n", (41).to_bytes(8, "big")))
    assert r.increment(b"r", CF, b"n", 1, (GROUP, 1)) == 42
    assert r.increment(b"r", CF, b"n", 1, (GROUP, 1)) == 42
    r.close()


def test_a_retry_waits_for_the_attempt_still_running_and_gets_its_result():
    nonces = NonceManager()
    assert nonces.start((GROUP, 1)) == (True, None)
    got = []
    retry = threading.Thread(target=lambda: got.append(nonces.start((GROUP, 1), wait=10)))
    retry.start()
    retry.join(0.2)
    assert retry.is_alive(), "the retry did not wait for the running attempt"
    nonces.end((GROUP, 1), 99)
    retry.join(10)
    assert got == [(False, 99)]


def test_a_waiting_retry_proceeds_when_the_running_attempt_fails():
    nonces = NonceManager()
    nonces.start((GROUP, 1))
    got = []
    retry = threading.Thread(target=lambda: got.append(nonces.start((GROUP, 1), wait=10)))
    retry.start()
    retry.join(0.2)
    nonces.end((GROUP, 1), None)  # failed: nothing applied
    retry.join(10)
    assert got == [(True, None)]  # the retry runs the operation itself
    nonces.end((GROUP, 1), 5)
    nonces.end((GROUP, 1), None)  # a second end changes nothing
    assert nonces.start((GROUP, 1)) == (False, 5)


def test_expiring_a_full_table_takes_linear_time(clock):
    """Expiry runs under the manager's lock, which every increment with a nonce takes: it
    must not rescan what it already removed (a plain dict's front does: 200k took ~19 s)."""
    nonces = NonceManager(grace=60, clock=clock)
    for n in range(200_000):
        nonces.record((GROUP, n), n, clock.t)
    clock.t += 61
    t0 = time.perf_counter()
    assert nonces.expire() == 200_000
    assert time.perf_counter() - t0 < 3.0
    assert len(nonces) == 0


def test_a_retry_gives_up_with_a_clear_error_if_the_first_attempt_never_ends():
    nonces = NonceManager()
    nonces.start((GROUP, 1))
    with pytest.raises(RegionTooBusyError, match="nonce 1 .* still running"):
        nonces.start((GROUP, 1), wait=0.05)


def test_nonces_are_forgotten_after_the_grace_period_and_over_the_memory_bound(clock):
    nonces = NonceManager(grace=60, max_entries=3, clock=clock)
    for n in (1, 2):
        nonces.start((GROUP, n))
        nonces.end((GROUP, n), n)
    clock.t += 30
    nonces.start((GROUP, 3))
    nonces.end((GROUP, 3), 3)
    clock.t += 31  # 1 and 2 ended 61 s ago, 3 ended 31 s ago
    assert nonces.expire() == 2
    assert nonces.start((GROUP, 1)) == (True, None)  # forgotten: would apply again
    assert nonces.start((GROUP, 3)) == (False, 3)
    for n in (4, 5, 6):
        nonces.record((GROUP, n), n, clock.t)
    assert nonces.start((GROUP, 3)) == (True, None)  # the oldest went over max_entries
    assert nonces.start((GROUP, 6)) == (False, 6)


def crash_and_recover(root, clock, r, wal, nonces=None):
    """Kill the region without a flush (its memstore is lost), split its server's WAL as the
    master does, and open it again with a new server's (empty) nonce manager."""
    r.close(flush=False)
    wal.close()
    split_wal(layout.wal_dir(root, "host,1,1"), root)
    return open_region(root, clock, nonces=nonces or NonceManager(clock=clock))


def test_nonce_survives_a_crash_through_the_wal_split_and_replay(tmp_path, clock):
    """The failover case: the server applied the increment and died before answering; the
    client's retry reaches the region on a new server and must not increment again."""
    root = str(tmp_path)
    wal = WAL(layout.wal_dir(root, "host,1,1"))
    r = open_region(root, clock, wal=wal)
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    assert r.increment(b"r", CF, b"n", 2, (GROUP, 2)) == 7
    r = crash_and_recover(root, clock, r, wal)
    assert counter(r) == 7
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5  # retry of the first one
    assert r.increment(b"r", CF, b"n", 2, (GROUP, 2)) == 7
    assert counter(r) == 7
    assert r.increment(b"r", CF, b"n", 1, (GROUP, 3)) == 8
    # the nonce cell is WAL-only: no read and no HFile ever holds it
    r.flush()
    assert [(c.row, c.qualifier) for row in r.scanner(Scan(max_versions=10)) for c in row] \
        == [(b"r", b"n")]
    keys = [k for f in r.stores[CF].files() for k, _ in f.reader.iter_from()]
    assert keys and all(-k[3] != NONCE_CELL_TYPE for k in keys)
    r.close()


def test_nonce_is_replayed_even_when_its_cells_were_flushed_before_the_crash(tmp_path, clock):
    root = str(tmp_path)
    wal = WAL(layout.wal_dir(root, "host,1,1"))
    r = open_region(root, clock, wal=wal)
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    r.flush()  # the counter is in an HFile; the WAL entry is still in the live segment
    r.mutate(Mutation(b"x").put(CF, b"q", b"v"))
    r = crash_and_recover(root, clock, r, wal)
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    assert counter(r) == 5
    r.close()


def test_nonce_older_than_the_grace_period_is_not_replayed(tmp_path, clock):
    root = str(tmp_path)
    wal = WAL(layout.wal_dir(root, "host,1,1"))
    r = open_region(root, clock, wal=wal)
    r.increment(b"r", CF, b"n", 5, (GROUP, 1))
    clock.t += 3600
    r = crash_and_recover(root, clock, r, wal, NonceManager(grace=1800, clock=clock))
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 10
    r.close()


def test_a_client_mutation_cannot_carry_the_wal_only_nonce_type(tmp_path, clock):
    r = open_region(str(tmp_path), clock)
    m = Mutation(b"r")
    m.cells.append(m.put(CF, b"n", b"v").cells.pop()._replace(type=NONCE_CELL_TYPE))
    with pytest.raises(InvalidArgumentError, match="unknown cell type"):
        r.mutate(m)
    r.close()


def test_check_and_put_retried_with_its_nonce_gets_its_first_answer(tmp_path, clock):
    """A lock taken with check-and-put (expect absent): the retry of the call that took it
    must say True, not fail the check on its own put; also after a crash and WAL split."""
    root = str(tmp_path)
    wal = WAL(layout.wal_dir(root, "host,1,1"))
    r = open_region(root, clock, wal=wal)
    take = Mutation(b"lock").put(CF, b"owner", b"me")
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take, (GROUP, 1)) is True
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take, (GROUP, 1)) is True
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take, (GROUP, 2)) is False
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take, (GROUP, 2)) is False
    r = crash_and_recover(root, clock, r, wal)
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take, (GROUP, 1)) is True
    assert r.check_and_mutate(b"lock", CF, b"owner", None, take) is False  # no nonce: checks
    r.close()


def test_append_retried_with_its_nonce_is_applied_once_also_after_a_crash(tmp_path, clock):
    """HBase's Append: bytes added to each column's newest value, atomically for the row. A
    retry with the same nonce (the first answer was lost) gets the current cells and appends
    nothing, on the same server and on the next after a WAL split."""
    root = str(tmp_path)
    wal = WAL(layout.wal_dir(root, "host,1,1"))
    r = open_region(root, clock, wal=wal)

    def values(cells):
        return [(c.qualifier, c.value) for c in cells]

    r.mutate(Mutation(b"r").put(CF, b"a", b"x"))
    assert values(r.append(b"r", [(CF, b"a", b"y"), (CF, b"b", b"1")], (GROUP, 1))) == [
        (b"a", b"xy"), (b"b", b"1")]
    assert values(r.append(b"r", [(CF, b"a", b"y"), (CF, b"b", b"1")], (GROUP, 1))) == [
        (b"a", b"xy"), (b"b", b"1")]  # the retry
    assert values(r.append(b"r", [(CF, b"a", b"z")], (GROUP, 2))) == [(b"a", b"xyz")]
    r = crash_and_recover(root, clock, r, wal)
    assert values(r.append(b"r", [(CF, b"a", b"z")], (GROUP, 2))) == [(b"a", b"xyz")]
    assert values(r.append(b"r", [(CF, b"a", b"!")])) == [(b"a", b"xyz!")]
    assert values(r.get(Get(b"r"))) == [(b"a", b"xyz!"), (b"b", b"1")]
    with pytest.raises(InvalidArgumentError, match="names no column"):
        r.append(b"r", [])
    r.close()


def test_nonces_follow_the_region_through_a_clean_close_to_its_next_server(tmp_path, clock):
    """A clean move (a balancer run, a decommission): the region closes here and opens on a
    server whose nonce manager never saw the increment. Its WAL is not replayed there, so
    without the handover a retry whose first answer was lost would count twice."""
    root = str(tmp_path)
    r = open_region(root, clock, nonces=NonceManager(clock=clock))
    assert r.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    r.mutate(Mutation(b"x").put(CF, b"q", b"v"))
    r.close()
    again = open_region(root, clock, nonces=NonceManager(clock=clock))  # "the next server"
    assert again.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    assert counter(again) == 5
    again.close(flush=False)  # that server dies: the handed-over nonces were kept on disk
    again = open_region(root, clock, nonces=NonceManager(clock=clock))
    assert again.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5
    again.close()  # hands the nonce on again: a second move within the grace period
    third = open_region(root, clock, nonces=NonceManager(clock=clock))
    assert third.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 5 and counter(third) == 5
    clock.t += 3600  # past the grace period: forgotten, as on one server
    third.close()
    fourth = open_region(root, clock, nonces=NonceManager(clock=clock))
    assert fourth.increment(b"r", CF, b"n", 5, (GROUP, 1)) == 10
    fourth.close()
    edits = layout.recovered_edits_dir(layout.region_dir(root, INFO))
    assert len(os.listdir(edits)) == 1  # each close replaced the file the open read


def test_a_region_without_nonces_hands_over_no_file(tmp_path, clock):
    root = str(tmp_path)
    r = open_region(root, clock)
    r.mutate(Mutation(b"x").put(CF, b"q", b"v"))
    r.close()
    edits = layout.recovered_edits_dir(layout.region_dir(root, INFO))
    assert not os.path.isdir(edits) or os.listdir(edits) == []


def test_nonces_follow_a_split_into_both_daughters(tmp_path, clock):
    root = str(tmp_path)
    r = open_region(root, clock, nonces=NonceManager(clock=clock))
    r.increment(b"a", CF, b"n", 5, (GROUP, 1))
    r.increment(b"z", CF, b"n", 7, (GROUP, 2))
    for daughter, row, nonce, value in zip(r.split(b"m"), (b"a", b"z"), (1, 2), (5, 7)):
        d = Region.open(root, daughter, TABLE, background=Inline(),
                        nonces=NonceManager(clock=clock), config=RegionConfig(clock=clock))
        assert d.increment(row, CF, b"n", value, (GROUP, nonce)) == value
        assert counter(d, row) == value
        d.close()


def test_a_corrupt_nonce_handover_file_is_reported_not_ignored(tmp_path, clock):
    root = str(tmp_path)
    r = open_region(root, clock, nonces=NonceManager(clock=clock))
    r.increment(b"r", CF, b"n", 5, (GROUP, 1))
    r.close()
    edits = layout.recovered_edits_dir(layout.region_dir(root, INFO))
    (name,) = os.listdir(edits)
    path = os.path.join(edits, name)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptionError):
        open_region(root, clock, nonces=NonceManager(clock=clock))


def test_nonces_of_every_merged_parent_reach_the_merged_region(tmp_path, clock):
    root = str(tmp_path)
    left, right = open_region(root, clock, nonces=NonceManager(clock=clock)).split(b"m")
    for info, row, nonce in ((left, b"a", 1), (right, b"z", 2)):
        r = Region.open(root, info, TABLE, background=Inline(), nonces=NonceManager(clock=clock),
                        config=RegionConfig(clock=clock))
        r.increment(row, CF, b"n", 5, (GROUP, nonce))
        r.close()
    merged = Region.open(root, Region.merge(root, [left, right], TABLE, clock.t * 1000), TABLE,
                         background=Inline(), nonces=NonceManager(clock=clock),
                         config=RegionConfig(clock=clock))
    assert merged.increment(b"a", CF, b"n", 5, (GROUP, 1)) == 5
    assert merged.increment(b"z", CF, b"n", 5, (GROUP, 2)) == 5
    merged.close()


def test_a_region_keeps_a_bounded_number_of_nonces_for_its_next_server(tmp_path, clock,
                                                                       monkeypatch):
    from storage import region as region_mod

    monkeypatch.setattr(region_mod, "HANDOVER_NONCES", 3)
    root = str(tmp_path)
    r = open_region(root, clock, nonces=NonceManager(clock=clock))
    for n in range(1, 6):
        r.increment(b"r", CF, b"n", 1, (GROUP, n))
    r.close()
    again = open_region(root, clock, nonces=NonceManager(clock=clock))
    assert again.increment(b"r", CF, b"n", 1, (GROUP, 5)) == 5  # kept: answered
    assert again.increment(b"r", CF, b"n", 1, (GROUP, 1)) == 6  # the oldest was forgotten
    again.close()
