"""Failures with real processes: a region server SIGKILLed under a writer (at the product's
15 s session timeout), the active master SIGKILLed (then a region server too), and a region
server frozen with SIGSTOP past its session expiry that must acknowledge nothing once fenced.

Every load loop is bounded in count and time; recovery times are printed (run with -s)."""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import pytest

from coordination.znodes import ENABLING, TableRecord
from minihbase import errors
from protos import minihbase_pb2 as pb
from tests.cluster.conftest import (SHORT_SESSION_S, BoundedWriter, daemon_of, missing_rows,
                                    region_records, rs_stub, server_record, serving_regions,
                                    stop_cluster, wait_for)

SPLITS = [b"b", b"d", b"f", b"h", b"j"]  # 6 regions over 3 servers: each hosts ~2


def spread_key(i: int) -> bytes:
    """Row keys that land in every region in turn."""
    return f"{'acegik'[i % 6]}{i:06d}".encode()


def _create_spread_table(cluster, conn, name):
    conn.create_table(name, {"cf": dict()}, split_keys=SPLITS)
    return cluster.wait_for(lambda: serving_regions(cluster, name), 60, f"{name} to open")


def _victim(records) -> str:
    """A server that hosts at least one region (the one hosting the first region)."""
    return records[0].server


def _all_threads_stopped(pid: int) -> bool:
    """Every thread of `pid` is in the stopped state: SIGSTOP has taken effect, not merely
    been sent (os.kill returns before a thread running on the other core is stopped)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        states = []
        for t in tasks:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
    except FileNotFoundError:
        return False
    return bool(states) and all(s in ("T", "t") for s in states)


def _get_every_region(conn, table, records) -> bool:
    t = conn.table(table)
    for r in records:
        t.row(r.info.start_key or b"\x00")
    return True


def _increment_on_server(cluster, record, request) -> int:
    """Send `request` (its region set here) straight to the server hosting `record`'s region:
    what the client's retry of an increment sends, wherever the region now is."""
    server = server_record(cluster, record.server)
    channel, stub = rs_stub(f"{server.host}:{server.port}")
    try:
        request.region = record.info.name
        return stub.Increment(request, timeout=10).value
    finally:
        channel.close()


def test_sigkilled_region_server_at_default_session_timeout_loses_no_acknowledged_write(
        cluster_factory, connection_for):
    """The product's 15 s session: kill -9 a region server hosting regions while a writer runs;
    its regions come back elsewhere after the expiry with the WAL replayed. An increment it
    applied just before, retried with the same nonce on the new server, is not applied twice
    (its answer was lost with the server, as far as a client can tell)."""
    # Default (128 MiB) flush size: every acknowledged edit is only in the WAL and MemStore
    # when the server dies, so reading it back proves the WAL was split and replayed.
    cluster = cluster_factory("crash15", balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        records = _create_spread_table(cluster, conn, "crash")
        victim = _victim(records)
        victim_regions = [r.info.name for r in records if r.server == victim]
        victim_rec = server_record(cluster, victim)
        victim_address = f"{victim_rec.host}:{victim_rec.port}"
        _get_every_region(conn, "crash", records)
        assert victim_address in conn.channels.addresses()
        writer = BoundedWriter(connection_for(cluster, timeout=60), "crash", count=100000,
                               seconds=75, key_fn=spread_key, pause=0.002)
        writer.start()
        cluster.wait_for(lambda: len(writer.acked) >= 300, 30, "the writer to get going")
        counter_region = records[0]  # hosted by the victim
        increment = pb.IncrementRequest(row=b"a-counter", family=b"cf", qualifier=b"n",
                                        amount=5, nonce_group=77, nonce=1234)
        assert _increment_on_server(cluster, counter_region, increment) == 5

        impatient = connection_for(cluster, timeout=2)  # gives up before the session expires
        _get_every_region(impatient, "crash", records)

        t_kill = time.monotonic()
        daemon_of(cluster, victim).signal(signal.SIGKILL)
        # Meanwhile ZooKeeper still lists the victim: a call that gives up says why, not only
        # gRPC's "connection refused".
        for call in (lambda: impatient.table("crash").row(b"a-counter"),
                     lambda: list(impatient.table("crash").scan()),
                     lambda: _batch_put(impatient.table("crash"), b"a-unacknowledged")):
            with pytest.raises(errors.OperationTimeoutError) as err:
                call()
            message = str(err.value)
            assert f"region {counter_region.info.name} is on region server {victim}" in message
            assert "until its session expires" in message, message
        assert time.monotonic() - t_kill < 12, "the session expired before the calls gave up"
        cluster.wait_for(lambda: victim not in cluster.live_regionservers(), 40,
                         "ZooKeeper to expire the killed server's session")
        t_expired = time.monotonic()
        moved = cluster.wait_for(lambda: serving_regions(cluster, "crash", avoid=victim), 60,
                                 "the killed server's regions to be reassigned")
        t_meta = time.monotonic()
        cluster.wait_for(lambda: _get_every_region(conn, "crash", moved), 30,
                         "every region to answer a read")
        t_serving = time.monotonic()
        print(f"\nSIGKILL recovery (session timeout 15 s): expiry seen after "
              f"{t_expired - t_kill:.1f}s, regions reassigned in meta after "
              f"{t_meta - t_kill:.1f}s, all regions serving after {t_serving - t_kill:.1f}s "
              f"(goal <= 18 s); {len(victim_regions)} regions moved")
        time.sleep(1.0)  # the writer keeps writing against the new locations
        writer.stop()
        moved_counter = next(r for r in moved if r.info.name == counter_region.info.name)
        assert moved_counter.server != victim
        assert _increment_on_server(cluster, moved_counter, increment) == 5, \
            "the retried increment was applied a second time after the failover"
        assert conn.table("crash").counter_get(b"a-counter", b"cf:n") == 5
        assert conn.table("crash").counter_inc(b"a-counter", b"cf:n", 1) == 6
        victim_ranges = [(r.info.start_key, r.info.end_key) for r in records
                         if r.server == victim]
        on_victim = [k for k in writer.acked
                     if any(s <= k and (not e or k < e) for s, e in victim_ranges)]
        assert on_victim, "no acknowledged write went to the killed server's regions"
        print(f"{len(writer.acked)} writes acknowledged, {len(on_victim)} to the killed server")
        assert missing_rows(conn, "crash", writer.acked, value_for=writer.value_for) == []
        # Only retryable outcomes may have reached the writer (its timeout is 60 s).
        assert all(isinstance(e, errors.OperationTimeoutError) for e in writer.errors), \
            writer.errors[:3]
        assert t_serving - t_kill < 15 + 15, "recovery took far longer than the 18 s goal"
        # The dead server's WAL was fenced and split, and nothing of it remains live.
        wals = os.listdir(os.path.join(cluster.rootdir, "WALs"))
        assert victim not in wals, f"the dead server's WAL directory was not fenced: {wals}"
        # The client closed its channel to the dead server when its znode vanished.
        assert victim_address not in conn.channels.addresses()
    finally:
        stop_cluster(cluster)


def _batch_put(table, row: bytes) -> None:
    with table.batch() as b:
        b.put(row, {b"cf:q": b"v"})


def test_backup_master_takes_over_and_still_handles_a_region_server_crash(cluster_factory,
                                                                          connection_for):
    cluster = cluster_factory("failover", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)  # no flush: recovery needs the WAL
    try:
        conn = connection_for(cluster, timeout=60)
        _create_spread_table(cluster, conn, "before")
        t = conn.table("before")
        rows = {spread_key(i): b"v%d" % i for i in range(600)}
        with t.batch(batch_size=100) as b:
            for r, v in rows.items():
                b.put(r, {b"cf:q": v})

        old = cluster.active_master()
        backups = cluster.backup_masters()
        assert backups, "no backup master registered"
        t_kill = time.monotonic()
        cluster.kill_master(active=True)
        new = cluster.wait_for(lambda: (cluster.active_master() or old) != old
                               and cluster.active_master(), 30,
                               "a backup master to become active")
        print(f"\nmaster failover: {new} active {time.monotonic() - t_kill:.1f}s after "
              f"SIGKILL of {old} (session timeout {SHORT_SESSION_S}s)")
        assert new in backups

        # The new master answers DDL, and data written before is intact.
        conn.create_table("after", {"cf": dict()})
        cluster.wait_for(lambda: serving_regions(cluster, "after"), 60, "after to open")
        conn.table("after").put(b"x", {b"cf:q": b"y"})
        assert {k: v[b"cf:q"] for k, v in t.scan()} == rows

        # A region server killed under the new master is still recovered.
        victim = _victim(region_records(cluster, "before"))
        daemon_of(cluster, victim).signal(signal.SIGKILL)
        t_kill = time.monotonic()
        moved = cluster.wait_for(lambda: serving_regions(cluster, "before", avoid=victim), 60,
                                 "the new master to reassign the dead server's regions")
        cluster.wait_for(lambda: _get_every_region(conn, "before", moved), 30,
                         "every region to answer a read")
        print(f"region server crash under the new master: serving again after "
              f"{time.monotonic() - t_kill:.1f}s")
        assert {k: v[b"cf:q"] for k, v in t.scan()} == rows
        assert conn.table("after").row(b"x") == {b"cf:q": b"y"}
    finally:
        stop_cluster(cluster)


def test_a_master_call_waiting_out_its_back_off_goes_on_when_a_master_appears(
        cluster_factory, connection_for):
    """The only master is SIGKILLed and started again 9 s later: a `status` call retrying
    meanwhile has a back-off grown to 10 s by then (its next attempt would be at 18.1 s), but
    its watch on /hbase/master cuts the pause short, so it is answered right after the
    restarted master becomes active."""
    cluster = cluster_factory("mastergap", masters=1, session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=40)
        assert conn.status()["servers"]
        old = cluster.kill_master(active=True)
        answered: list = []
        caller = threading.Thread(target=lambda: answered.append(
            (conn.status(), time.monotonic())))
        caller.start()
        time.sleep(9.0)
        assert not answered
        cluster.restart(old)
        cluster.wait_for(cluster.active_master, 30, "the restarted master to become active")
        active = time.monotonic()
        caller.join(40)
        assert answered, "the status call did not return"
        status, at = answered[0]
        assert status["servers"]
        assert at - active < 3.0, f"answered {at - active:.1f}s after a master became active"
    finally:
        stop_cluster(cluster)


def test_disable_and_enable_right_after_a_kill_keep_the_dead_servers_edits(cluster_factory,
                                                                          connection_for):
    """An operator's reflex when a table fails: disable and enable it. Issued while a killed
    server is still registered (its session not expired), the disable must wait for that
    server's crash handling: enabling its regions elsewhere first would skip its WAL. (The
    table is in a namespace: its WAL split and recovered edits go to data/ops:dk.)"""
    cluster = cluster_factory("disablekill", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)  # no flush: the edits are only in the WAL
    try:
        conn = connection_for(cluster, timeout=60)
        conn.create_namespace("ops")
        records = _create_spread_table(cluster, conn, "ops:dk")
        t = conn.table("ops:dk")
        rows = {spread_key(i): b"v%d" % i for i in range(120)}
        with t.batch(batch_size=50) as b:
            for r, v in rows.items():
                b.put(r, {b"cf:q": v})
        victim = _victim(records)
        daemon_of(cluster, victim).signal(signal.SIGKILL)
        assert victim in cluster.live_regionservers()  # still registered for a few seconds
        conn.disable_table("ops:dk")
        assert victim not in cluster.live_regionservers(), "disabled before crash handling"
        conn.enable_table("ops:dk")
        cluster.wait_for(lambda: serving_regions(cluster, "ops:dk", avoid=victim), 60,
                         "every region to open on a live server")
        assert {k: v[b"cf:q"] for k, v in t.scan()} == rows
    finally:
        stop_cluster(cluster)


def test_region_server_frozen_past_session_expiry_acknowledges_nothing_and_aborts(
        cluster_factory, connection_for):
    """SIGSTOP a region server until ZooKeeper expires it and the master fences its WAL and
    reassigns its regions; a write queued to it while frozen must fail once it resumes, a read
    queued too must not answer with what a newer write replaced meanwhile (the freeze guard),
    nor may a get of a row in one HFile (the memoized path) or a scan opened there after the
    newer write was acknowledged elsewhere; and the server must abort (exit non-zero) instead
    of serving on."""
    from protos.status import error_from_name, from_rpc_error

    cluster = cluster_factory("fence", session_timeout=SHORT_SESSION_S,
                              flush_size=256 * 1024, balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        records = _create_spread_table(cluster, conn, "fenced")
        victim = _victim(records)
        region = records[0]
        daemon = daemon_of(cluster, victim)
        writer = BoundedWriter(connection_for(cluster, timeout=60), "fenced", count=100000,
                               seconds=60, key_fn=spread_key, pause=0.002)
        writer.start()
        cluster.wait_for(lambda: len(writer.acked) >= 200, 30, "the writer to get going")

        # A channel made READY before the freeze, so the request below reaches the frozen
        # server's socket and waits there to be processed after SIGCONT.
        rec = server_record(cluster, victim)
        channel, stub = rs_stub(f"{rec.host}:{rec.port}")
        stub.GetServerLoad(pb.Empty(), timeout=10)
        probe = region.info.start_key + b"\x00stale-read-probe"
        conn.table("fenced").put(probe, {b"cf:q": b"old"})  # served by the victim
        # A row that sits in one HFile only: a whole-row get of it takes the memoized path
        # (Region.get_row_wire), warmed here.
        memo = region.info.start_key + b"\x00memoized-probe"
        conn.table("fenced").put(memo, {b"cf:q": b"old"})
        conn.flush("fenced")
        assert [c.value for c in stub.Get(pb.GetRequest(region=region.info.name, row=memo),
                                          timeout=10).result.cells] == [b"old"]
        daemon.signal(signal.SIGSTOP)
        t_stop = time.monotonic()
        # The late write must arrive while the server is frozen: one processed in the instant
        # before the stop lands may reach the WAL before the fence and rightly survive the
        # WAL split (its client got an error: the outcome of a failed call is unknown).
        cluster.wait_for(lambda: _all_threads_stopped(daemon.pid), 10,
                         "SIGSTOP to stop every thread of the region server")
        late_row = b"a-late-write-to-frozen-server"
        outcome: dict = {}

        def late_write():
            m = pb.RowMutation(row=late_row, cells=[pb.Cell(
                row=late_row, family=b"cf", qualifier=b"q", timestamp=2**63 - 1, type=4,
                value=b"must-not-be-acknowledged")])
            try:
                resp = stub.Multi(pb.MultiRequest(regions=[pb.RegionMutations(
                    region=region.info.name, mutations=[m])]), timeout=60)
                r = resp.results[0]
                outcome["acked"] = r.ok
                outcome["error"] = None if r.ok else error_from_name(r.error_class,
                                                                     r.error_message)
            except grpc.RpcError as exc:
                outcome["acked"] = False
                outcome["error"] = from_rpc_error(exc)

        late = threading.Thread(target=late_write, daemon=True)
        late.start()
        read: dict = {}

        def late_read():
            try:
                got = stub.Get(pb.GetRequest(region=region.info.name, row=probe), timeout=60)
                read["values"] = [c.value for c in got.result.cells]
            except grpc.RpcError as exc:
                read["error"] = from_rpc_error(exc)

        reader = threading.Thread(target=late_read, daemon=True)
        reader.start()
        stale_reads: dict = {}
        try:
            cluster.wait_for(lambda: victim not in cluster.live_regionservers(), 30,
                             "the frozen server's session to expire")
            cluster.wait_for(lambda: serving_regions(cluster, "fenced", avoid=victim), 60,
                             "the frozen server's regions to be reassigned")
            fenced_after = time.monotonic() - t_stop
            conn.table("fenced").put(probe, {b"cf:q": b"new"})  # on the region's new server
            conn.table("fenced").put(memo, {b"cf:q": b"new"})
            # Reads sent only now, after the new server acknowledged the new values, queued
            # at the frozen one: answered, they would be stale, not merely old.
            for name, call in (
                    ("memoized get", lambda: stub.Get(
                        pb.GetRequest(region=region.info.name, row=memo), timeout=60)),
                    ("scan opened", lambda: stub.Scan(pb.ScanRequest(
                        region=region.info.name, max_rows=100,
                        spec=pb.ScanSpec(start_row=memo, stop_row=memo + b"\x00")),
                        timeout=60))):
                threading.Thread(target=_late_call, args=(name, call, stale_reads),
                                 daemon=True).start()
            time.sleep(0.5)  # the requests reach the frozen server's socket
        finally:
            daemon.signal(signal.SIGCONT)
        late.join(65)
        reader.join(65)
        wait_for(lambda: len(stale_reads) == 2, 65, "the late reads to be answered or fail")
        assert all(isinstance(v, Exception) for v in stale_reads.values()), \
            f"the resumed server answered reads of regions it no longer serves: {stale_reads}"
        assert not late.is_alive(), "the resumed server neither answered nor failed the write"
        assert read.get("values") != [b"old"], "the resumed server served a stale read"
        assert "error" in read, read
        print(f"\nfrozen server: fenced and replaced after {fenced_after:.1f}s; "
              f"late write -> {outcome.get('error')!r}")
        assert outcome["acked"] is False, "a fenced region server acknowledged a write"
        assert isinstance(outcome["error"], (errors.ServerAbortedError,
                                             errors.NotServingRegionError,
                                             errors.ServerUnavailableError,
                                             errors.RegionClosedError)), outcome["error"]
        assert daemon.wait(30), "the fenced region server did not abort after resuming"
        code = daemon.exit_code()
        assert code not in (0, None), f"the fenced server exited with {code}, expected an abort"
        channel.close()

        writer.stop()
        assert missing_rows(conn, "fenced", writer.acked, value_for=writer.value_for) == []
        assert conn.table("fenced").row(late_row) == {}, \
            "a write the fenced server did not acknowledge became visible"
    finally:
        stop_cluster(cluster)


def _late_call(name: str, call, out: dict) -> None:
    """out[name] = the values `call` answered with (a Get or a Scan), or its error."""
    from protos.status import from_rpc_error
    try:
        response = call()
    except grpc.RpcError as exc:
        out[name] = from_rpc_error(exc)
        return
    results = [response.result] if hasattr(response, "result") else response.results
    out[name] = [c.value for r in results for c in r.cells]


def test_a_killed_region_server_loses_skip_wal_writes_and_keeps_the_others(
        cluster_factory, connection_for):
    """HBase's DURABILITY, honestly: a SIGKILLed server's SKIP_WAL edits were acknowledged
    from its memstore only, so they are gone after its regions reopen elsewhere; ASYNC_WAL
    edits were written to its WAL before the acknowledgement (only their fsync was left to
    the next second), so a process crash keeps them, as it keeps SYNC_WAL ones."""
    cluster = cluster_factory("durability", regionservers=2, session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        # The balance that follows the second server's join can land after the moves below.
        conn.balance_switch(False)
        tables = {"d_skip": "SKIP_WAL", "d_async": "ASYNC_WAL", "d_sync": "USE_DEFAULT"}
        victim = None
        for name, durability in tables.items():
            conn.create_table(name, {"cf": {}}, durability=durability)
            (rec,) = cluster.wait_for(lambda: serving_regions(cluster, name), 60, name)
            victim = victim or rec.server
            if rec.server != victim:
                conn.move(rec.info.name, victim)
                cluster.wait_for(lambda: serving_regions(cluster, name), 60, f"{name} moved")
            conn.table(name).put(b"row", {b"cf:q": durability.encode()})
        assert all(region_records(cluster, n)[0].server == victim for n in tables)
        daemon_of(cluster, victim).signal(signal.SIGKILL)
        for name in tables:
            cluster.wait_for(lambda: serving_regions(cluster, name, avoid=victim), 60,
                             f"{name} to reopen on the other server")
        assert {n: conn.table(n).row(b"row") for n in tables} == {
            "d_skip": {}, "d_async": {b"cf:q": b"ASYNC_WAL"}, "d_sync": {b"cf:q": b"USE_DEFAULT"}}
    finally:
        stop_cluster(cluster)


def test_a_crash_whose_regions_outweigh_one_zookeeper_transaction_still_reassigns_them(
        cluster_factory, connection_for):
    """Taking a dead server's regions offline once took ONE multi-op: past the ~1 MB that
    ZooKeeper takes in one request (hundreds of regions with long keys), the master refused it
    and the crash procedure failed on every retry, its regions never reopened. Two tables of
    15 regions with 10 KB split keys: each create fits one transaction, the server holding
    both does not (~1.1 MB of records)."""
    cluster = cluster_factory("bigcrash", regionservers=1, session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        tables = ["wide_a", "wide_b"]
        keys = [bytes([ord("a") + i]) * 10_000 for i in range(1, 15)]
        for name in tables:
            conn.create_table(name, {"cf": {}}, split_keys=keys)
            for start in [b"\x00"] + keys:
                conn.table(name).put(start, {b"cf:q": name.encode()})
        victim = region_records(cluster, tables[0])[0].server
        conn.balance_switch(False)  # the joining server must not take regions before the kill
        cluster.add_regionserver()
        daemon_of(cluster, victim).signal(signal.SIGKILL)
        for name in tables:
            cluster.wait_for(lambda: serving_regions(cluster, name, avoid=victim), 60,
                             f"{name} to reopen on the other server")
            rows = [conn.table(name).row(start) for start in [b"\x00"] + keys]
            assert rows == [{b"cf:q": name.encode()}] * 15
    finally:
        stop_cluster(cluster)


def test_a_create_whose_master_is_killed_before_its_meta_commit_leaves_no_orphans(
        cluster_factory, connection_for):
    """A create of many pre-split regions writes their directories, then puts them in meta in
    one multi-op. Its master SIGKILLed in between, the caller's create is sent again to the
    next master (a create is resent until it finds its table): that one must delete the
    directories the killed attempt wrote. Left, hbck reports them for good, and no cleaner may
    delete them: older than the table, they look like the regions of an earlier table of that
    name (ZooKeeper wiped). A clone's would hold its snapshot's files' space for good too."""
    cluster = cluster_factory("createkill", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=120)
        keys = [b"k%04d" % i for i in range(1, 300)]
        table_dir = os.path.join(cluster.rootdir, "data", "many")
        outcome = {}

        def create():
            try:
                conn.create_table("many", {"cf": {}}, split_keys=keys)
                outcome["ok"] = True
            except Exception as e:  # noqa: BLE001 -- reported by the assertion below
                outcome["error"] = e
        creator = threading.Thread(target=create, daemon=True)
        creator.start()
        wait_for(lambda: os.path.isdir(table_dir) and len(os.listdir(table_dir)) >= 5, 60,
                 "the create to write region directories", interval=0.002)
        killed = cluster.kill_master(active=True)
        assert not cluster.zk().exists("/hbase/tables/many"), "killed after the meta commit"
        cluster.restart(killed)
        creator.join(150)
        assert outcome == {"ok": True}
        records = cluster.wait_for(lambda: serving_regions(cluster, "many"), 60, "many to open")
        assert len(records) == 300
        assert sorted(os.listdir(table_dir)) == sorted(r.info.encoded_name for r in records)
        t = conn.table("many")
        t.put(b"k0150-x", {b"cf:q": b"v"})
        assert t.row(b"k0150-x") == {b"cf:q": b"v"}
    finally:
        stop_cluster(cluster)


def test_a_drop_whose_master_is_killed_before_deleting_the_files_is_finished_by_the_next(
        cluster_factory, connection_for):
    """A drop deletes the table from meta, then its directory. Its master SIGKILLed in
    between, the next master deletes what is left (the drop recorded it with its commit): left,
    the directory was an ORPHAN_TABLE_DIR for good, and once a table of that name was created
    again, its old regions were orphans no cleaner may delete, their data's space never
    freed."""
    cluster = cluster_factory("dropkill", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=120)
        keys = [b"k%04d" % i for i in range(1, 300)]
        conn.create_table("gone", {"cf": {}}, split_keys=keys)
        with conn.table("gone").batch(batch_size=500) as b:
            for i in range(3000):
                b.put(b"k%04d-%d" % (i % 300, i), {b"cf:q": b"v" * 100})
        conn.disable_table("gone")
        table_dir = os.path.join(cluster.rootdir, "data", "gone")
        dropper = threading.Thread(target=conn.delete_table, args=("gone",), daemon=True)
        dropper.start()
        wait_for(lambda: not cluster.zk().exists("/hbase/tables/gone"), 60,
                 "the drop's meta commit", interval=0.001)
        killed = cluster.kill_master(active=True)
        assert os.path.isdir(table_dir), "killed after the directory was deleted"
        cluster.restart(killed)
        dropper.join(120)
        wait_for(lambda: not os.path.exists(table_dir), 60, "the next master to delete it")
        conn.create_table("gone", {"cf": {}}, split_keys=keys[:3])
        records = cluster.wait_for(lambda: serving_regions(cluster, "gone"), 60, "gone to open")
        assert sorted(os.listdir(table_dir)) == sorted(r.info.encoded_name for r in records)
        assert list(conn.table("gone").scan()) == []
    finally:
        stop_cluster(cluster)


def test_a_restore_whose_master_is_killed_after_cloning_the_table_back_answers_done(
        cluster_factory, connection_for):
    """restore_snapshot of a dropped table clones it back: one multi-op puts the table in meta
    (ENABLING), then the master opens its regions and answers. Its master SIGKILLed in
    between, the caller's restore is sent again to the next master, which finds the table
    there, being enabled: it must answer the call done (its nonce record, made by that
    multi-op, says so), not "table 't' is ENABLING: disable it before restoring". A new
    restore call (another nonce) is still refused: the table is enabled."""
    cluster = cluster_factory("restorekill", session_timeout=SHORT_SESSION_S,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=120)
        keys = [b"k%03d" % i for i in range(1, 60)]
        conn.create_table("back", {"cf": {}}, split_keys=keys)
        t = conn.table("back")
        with t.batch() as b:
            for i in range(600):
                b.put(b"k%03d-%d" % (i % 60, i), {b"cf:q": b"%d" % i})
        conn.snapshot("back", "back_s")
        t.put(b"k001-after", {b"cf:q": b"not in the snapshot"})
        conn.disable_table("back")
        conn.delete_table("back")
        outcome = {}

        def restore():
            try:
                outcome["table"] = conn.restore_snapshot("back_s")
            except Exception as e:  # noqa: BLE001 -- reported by the assertion below
                outcome["error"] = e
        restorer = threading.Thread(target=restore, daemon=True)
        restorer.start()
        wait_for(lambda: cluster.zk().exists("/hbase/tables/back"), 60,
                 "the restore's meta commit", interval=0.001)
        cluster.kill_master(active=True)
        data, _ = cluster.zk().get("/hbase/tables/back")
        assert TableRecord.from_bytes(data).state == ENABLING, "killed after it answered"
        restorer.join(150)
        assert outcome == {"table": "back"}
        records = cluster.wait_for(lambda: serving_regions(cluster, "back"), 60,
                                   "back to open")
        assert len(records) == 60
        assert sorted(v[b"cf:q"] for _, v in conn.table("back").scan()) == sorted(
            b"%d" % i for i in range(600))
        with pytest.raises(errors.TableNotDisabledError, match="ENABLED"):
            conn.restore_snapshot("back_s")
    finally:
        stop_cluster(cluster)


def test_a_region_whose_store_file_is_torn_fails_alone_when_its_table_is_enabled(
        cluster_factory, connection_for):
    """An enable sends each server its regions in one OpenRegions call, which answers per
    region: the region whose store file is torn fails on every server it is tried on and is
    FAILED_OPEN saying why, while the others open and serve."""
    from storage import layout

    cluster = cluster_factory("tornopen", balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        records = _create_spread_table(cluster, conn, "torn")
        t = conn.table("torn")
        rows = {spread_key(i): b"v%d" % i for i in range(60)}
        with t.batch(batch_size=60) as b:
            for r, v in rows.items():
                b.put(r, {b"cf:q": v})
        conn.disable_table("torn")  # each close flushes: every region has a store file
        bad = records[1].info
        family = layout.family_dir(layout.region_dir(cluster.rootdir, bad), b"cf")
        torn = [os.path.join(family, f) for f in os.listdir(family)
                if f.endswith(layout.HFILE_SUFFIX)]
        assert torn
        for path in torn:
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        conn.enable_table("torn", wait=False)

        def settled():
            recs = region_records(cluster, "torn")
            return recs if [r.state for r in recs] == ["OPEN", "FAILED_OPEN"] + ["OPEN"] * 4 \
                else None

        recs = cluster.wait_for(settled, 60, "the torn region FAILED_OPEN, the others OPEN")
        assert recs[1].info.name == bad.name
        assert "CorruptionError" in recs[1].waiting_for, recs[1].waiting_for
        for row, value in rows.items():
            if not bad.start_key <= row < bad.end_key:
                assert t.row(row) == {b"cf:q": value}
    finally:
        stop_cluster(cluster)


def test_reads_open_while_their_region_server_restarts_cleanly_go_on_with_no_error(
        cluster_factory, connection_for):
    """A rolling restart's step: the server of a scan's region stops cleanly and starts again
    on the same port. The client closes its channel to the server as the server leaves
    ZooKeeper, under a scan still holding that channel's stub; the scan goes on at the
    region's next server (every row once, in order), and so does a scan through the Thrift
    gateway (happybase), whose client is the same."""
    import happybase
    cluster = cluster_factory("rolling", regionservers=2, masters=1, thrift_servers=1,
                              balancer_period=3600)
    try:
        conn = connection_for(cluster)
        conn.create_table("roll", {"cf": dict()})
        t = conn.table("roll")
        keys = [b"r%04d" % i for i in range(200)]
        with t.batch() as b:
            for k in keys:
                b.put(k, {b"cf:q": k})
        records = cluster.wait_for(lambda: serving_regions(cluster, "roll"), 60, "roll to open")
        victim = daemon_of(cluster, records[0].server)
        address = f"127.0.0.1:{victim.port}"
        gateway = cluster.thrift_servers[0]
        hb = happybase.Connection("127.0.0.1", port=gateway.port, timeout=60000)
        scans = {"client": t.scan(batch_size=10),
                 "thrift": hb.table("roll").scan(batch_size=10)}
        got = {name: [next(rows)[0] for _ in range(15)] for name, rows in scans.items()}
        assert address in conn.channels.addresses()
        cluster.stop_regionserver(cluster.regionservers.index(victim))
        wait_for(lambda: address not in conn.channels.addresses(), 30,
                 "the client to close its channel to the stopped server")
        cluster.restart(victim)
        for name, rows in scans.items():
            got[name] += [k for k, _ in rows]
        assert got == {"client": keys, "thrift": keys}
        hb.close()
    finally:
        stop_cluster(cluster)
