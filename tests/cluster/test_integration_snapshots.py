"""Table snapshots against real daemons: snapshot, clone, restore, delete (HBase's semantics),
taken while a writer runs, and their errors (one shared cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from minihbase import errors
from storage import layout
from tests.cluster.conftest import serving_regions

SPLITS = [b"g", b"p"]


def _rows(table) -> dict:
    return {k: v for k, v in table.scan()}


def _servers(cluster, table) -> set:
    regions = cluster.wait_for(lambda: serving_regions(cluster, table), 60,
                               f"every region of {table} to be OPEN")
    return {r.server for r in regions}


def test_clone_and_restore_give_back_the_snapshot_and_nothing_since(cluster, connection_for):
    conn = connection_for(cluster)
    conn.create_table("snap_t", {"cf": dict(max_versions=2)}, split_keys=SPLITS)
    conn.balance()
    t = conn.table("snap_t")
    for i in range(300):
        t.put(b"%s%03d" % (b"aku"[i % 3:i % 3 + 1], i), {b"cf:a": b"v%d" % i})
    conn.flush("snap_t")
    t.put(b"a000", {b"cf:a": b"second version"})  # only in a memstore: the snapshot flushes
    t.delete(b"k001")
    before = _rows(t)
    assert len(before) == 299
    conn.snapshot("snap_t", "snap_1")

    # After the snapshot: updates, a delete, new rows, a new family, a major compaction that
    # deletes every file the snapshot links to.
    t.put(b"a000", {b"cf:a": b"after"})
    t.delete(b"u002")
    t.put(b"zzz", {b"cf:a": b"new"})
    conn.alter_table("snap_t", add={"cf2": {}})
    t.put(b"a003", {b"cf2:b": b"other family"})
    conn.compact("snap_t", major=True, wait=True)

    (listed,) = [s for s in conn.list_snapshots() if s["name"] == "snap_1"]
    assert listed["table"] == "snap_t" and listed["regions"] == 3 and listed["size_bytes"] > 0

    conn.clone_snapshot("snap_1", "snap_clone")
    clone = conn.table("snap_clone")
    assert _rows(clone) == before
    assert clone.cells(b"a000", b"cf:a", versions=2) == [b"second version", b"v0"]
    assert sorted(r["start_key"] for r in conn.regions("snap_clone")) == [b""] + SPLITS
    assert len(_servers(cluster, "snap_clone")) > 1, "a clone's regions are assigned as a create's"
    assert list(conn.families("snap_clone")) == [b"cf"]
    clone.put(b"a000", {b"cf:a": b"clone only"})
    assert t.row(b"a000") == {b"cf:a": b"after"}

    conn.disable_table("snap_t")
    assert conn.restore_snapshot("snap_1") == "snap_t"
    assert conn.is_table_disabled("snap_t"), "HBase leaves a restored table disabled"
    conn.enable_table("snap_t")
    assert _rows(t) == before
    assert list(conn.families("snap_t")) == [b"cf"], "the schema is the snapshot's too"
    assert t.row(b"a000") == {b"cf:a": b"second version"}

    # Deleting the snapshot leaves the clone whole (its own links to the files); restoring a
    # dropped table clones it back.
    conn.delete_snapshot("snap_1")
    assert "snap_1" not in [s["name"] for s in conn.list_snapshots()]
    conn.compact("snap_clone", major=True, wait=True)
    assert len(_rows(clone)) == 299 and clone.row(b"a000") == {b"cf:a": b"clone only"}
    conn.disable_table("snap_clone")
    conn.snapshot("snap_clone", "snap_2")  # a disabled table: the master links its files
    conn.delete_table("snap_clone")
    assert conn.restore_snapshot("snap_2") == "snap_clone"
    assert conn.is_table_enabled("snap_clone")
    assert clone.row(b"a000") == {b"cf:a": b"clone only"} and len(_rows(clone)) == 299
    conn.delete_snapshot("snap_2")


def test_a_snapshot_under_writes_holds_every_row_acknowledged_before_it(cluster,
                                                                        connection_for):
    conn = connection_for(cluster)
    conn.create_table("snap_w", {"cf": {}}, split_keys=SPLITS)
    t = conn.table("snap_w")
    acked: list[bytes] = []
    stop = threading.Event()

    def writer():
        deadline = time.monotonic() + 60
        i = 0
        while not stop.is_set() and time.monotonic() < deadline and i < 20000:
            row = b"%s%05d" % (b"aku"[i % 3:i % 3 + 1], i)
            t.put(row, {b"cf:a": row})
            acked.append(row)
            i += 1

    w = threading.Thread(target=writer)
    w.start()
    try:
        time.sleep(1.0)
        before = len(acked)
        conn.snapshot("snap_w", "snap_w1")
        after = len(acked)
    finally:
        stop.set()
        w.join()
    assert before > 0 and after > before, "the writer kept writing through the snapshot"
    conn.clone_snapshot("snap_w1", "snap_w_clone")
    got = set(_rows(conn.table("snap_w_clone")))
    assert set(acked[:before]) <= got, "a row acknowledged before the snapshot is missing"
    assert got <= set(acked), "the clone holds a row that was never written"
    conn.delete_snapshot("snap_w1")


def test_snapshot_errors_are_clear_and_change_nothing(cluster, connection_for):
    conn = connection_for(cluster)
    conn.create_table("snap_e", {"cf": {}})
    t = conn.table("snap_e")
    t.put(b"r", {b"cf:a": b"1"})
    conn.snapshot("snap_e", "snap_e1")
    cases = [
        (lambda: conn.snapshot("snap_e", "snap_e1"), errors.SnapshotExistsError, "snap_e1"),
        (lambda: conn.snapshot("no_such_table", "x"), errors.TableNotFoundError, "no_such_table"),
        (lambda: conn.snapshot("snap_e", "-bad"), errors.InvalidArgumentError, "-bad"),
        (lambda: conn.clone_snapshot("nope", "x"), errors.SnapshotNotFoundError, "nope"),
        (lambda: conn.clone_snapshot("snap_e1", "snap_e"), errors.TableExistsError, "snap_e"),
        (lambda: conn.clone_snapshot("snap_e1", "nons:t"), errors.NamespaceNotFoundError,
         "nons"),
        (lambda: conn.clone_snapshot("snap_e1", "bad/name"), errors.InvalidArgumentError,
         "bad/name"),
        (lambda: conn.restore_snapshot("snap_e1"), errors.TableNotDisabledError, "disable"),
        (lambda: conn.restore_snapshot("nope"), errors.SnapshotNotFoundError, "nope"),
        (lambda: conn.delete_snapshot("nope"), errors.SnapshotNotFoundError, "nope"),
    ]
    for call, error, named in cases:
        with pytest.raises(error, match=named):
            call()
    assert t.row(b"r") == {b"cf:a": b"1"}
    # a snapshot directory without its manifest: listed with why, refused, deletable
    os.makedirs(os.path.join(layout.snapshot_dir(cluster.rootdir, "snap_e_broken"), "x"))
    (broken,) = [s for s in conn.list_snapshots() if s["name"] == "snap_e_broken"]
    assert broken["problem"] == "no manifest (.snapshotinfo)"
    with pytest.raises(errors.CorruptionError, match="snap_e_broken"):
        conn.clone_snapshot("snap_e_broken", "snap_e_from_broken")
    conn.delete_snapshot("snap_e_broken")
    assert [s["name"] for s in conn.list_snapshots() if s["name"].startswith("snap_e")] == \
        ["snap_e1"]
    assert "nons:t" not in conn.tables()


def test_cli_and_shell_snapshot_commands(cluster):
    def cli(*args, input=None):
        return subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum,
                               "--timeout", "30", *args], input=input, capture_output=True,
                              text=True, timeout=120)

    assert cli("create", "snap_c", "cf").returncode == 0
    assert cli("put", "snap_c", "r1", "cf:q", "v1").returncode == 0
    r = cli("snapshot", "snap_c", "snap_c1")
    assert r.returncode == 0 and "Took snapshot snap_c1 of table snap_c" in r.stdout
    listed = json.loads(cli("list_table_snapshots", "snap_c", "--json").stdout)
    assert [(s["name"], s["table"], s["regions"]) for s in listed] == [("snap_c1", "snap_c", 1)]
    r = cli("restore_snapshot", "snap_c1")
    assert r.returncode == 1 and "disable it before restoring" in r.stderr
    assert "Traceback" not in r.stderr
    script = ("put 'snap_c', 'r2', 'cf:q', 'v2'\n"
              "snapshot 'snap_c', 'snap_c2', {SKIP_FLUSH => true}\n"
              "clone_snapshot 'snap_c2', 'default:snap_c_clone'\n"
              "clone_table_schema 'snap_c', 'default:snap_c_schema'\n"
              "scan 'snap_c_clone'\n"
              "list_snapshots 'snap_c.*'\n"
              "delete_snapshot 'snap_c1'\n"
              "delete_snapshot 'snap_c2'\n")
    r = cli("shell", input=script)
    assert r.returncode == 0, r.stderr
    # SKIP_FLUSH: r2 was only in the memstore, so the clone has r1 alone
    # named as HBase's TableName names it: a table of the default namespace without it
    assert "Cloned snapshot snap_c2 to table snap_c_clone\n" in r.stdout
    assert "Created table snap_c_schema with the schema of snap_c\n" in r.stdout
    assert "value=v1" in r.stdout and "value=v2" not in r.stdout
    assert " snap_c1 " in r.stdout and " snap_c2 " in r.stdout
    assert json.loads(cli("list_snapshots", "snap_c.*", "--json").stdout) == []


def test_a_snapshot_waits_for_splits_and_moves_instead_of_failing(cluster, connection_for):
    """Regions moving (each closed, then opened elsewhere) and a table-wide split while the
    snapshot is taken: it waits for them instead of failing, and holds every row."""
    conn = connection_for(cluster, timeout=60)
    keys = [b"%s%d" % (p, d) for p in (b"a", b"k", b"u") for d in range(1, 10, 2)]
    conn.create_table("snap_sp", {"cf": {}}, split_keys=keys)
    t = conn.table("snap_sp")
    with t.batch(batch_size=500) as b:
        for i in range(3000):
            b.put(b"%s%04d" % (b"aku"[i % 3:i % 3 + 1], i), {b"cf:a": b"%d" % i})
    conn.flush("snap_sp")
    before = _rows(t)
    for round_ in range(3):
        errors_seen: list = []

        def churn():
            try:
                for r in conn.regions("snap_sp"):
                    conn.move(r["name"])
                conn.split("snap_sp")
            except Exception as e:  # noqa: BLE001 -- asserted below
                errors_seen.append(e)

        worker = threading.Thread(target=churn)
        worker.start()
        time.sleep(0.2)
        conn.snapshot("snap_sp", f"snap_sp{round_}")
        worker.join(60)
        assert not worker.is_alive() and not errors_seen, errors_seen
        conn.clone_snapshot(f"snap_sp{round_}", f"snap_sp_clone{round_}")
        assert _rows(conn.table(f"snap_sp_clone{round_}")) == before


def test_cli_disable_all_and_delete_all_snapshot_ask_first(cluster):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "client.cli", "--zk", cluster.quorum,
                               "--timeout", "30", *args], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    for t in ("snap_all_a", "snap_all_b"):
        assert cli("create", t, "cf").returncode == 0
        assert cli("snapshot", t, t + "_s").returncode == 0
    asked = cli("disable_all", "snap_all_.*")
    assert asked.returncode == 2 and "pass --yes" in asked.stderr
    assert json.loads(cli("is_enabled", "snap_all_a", "--json").stdout) == {"enabled": True}
    done = cli("disable_all", "snap_all_.*", "--yes")
    assert done.returncode == 0 and "2 tables successfully disabled" in done.stdout
    again = cli("disable_all", "snap_all_.*", "--yes")  # each already disabled: both named
    assert again.returncode == 1 and "2 of 2 tables could not be disabled" in again.stderr
    assert cli("drop_all", "snap_all_.*", "--yes").returncode == 0
    gone = cli("delete_table_snapshots", "snap_all_.*", "--yes", "--json")
    assert json.loads(gone.stdout) == {"deleted": ["snap_all_a_s", "snap_all_b_s"],
                                       "failed": {}, "confirmed": True}


def test_an_exported_snapshot_is_cloned_by_another_cluster(cluster, cluster_factory,
                                                            connection_for):
    """HBase's ExportSnapshot then clone_snapshot on the destination cluster."""
    conn = connection_for(cluster)
    conn.create_table("exp", {"cf": dict(max_versions=2)}, split_keys=[b"m"])
    t = conn.table("exp")
    rows = {b"%c%d" % (c, i): {b"cf:q": b"v%d" % i} for c in b"amz" for i in range(20)}
    for row, data in rows.items():
        t.put(row, data)
    conn.snapshot("exp", "exp_s")
    other = cluster_factory("other", regionservers=1, masters=1)
    cli = [sys.executable, "-m", "client.cli", "--zk", cluster.quorum, "--timeout", "60"]
    done = subprocess.run(cli + ["export_snapshot", "exp_s", other.rootdir],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Exported snapshot exp_s to {other.rootdir}: ")
    again = subprocess.run(cli + ["export_snapshot", "exp_s", other.rootdir],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already exists in" in again.stderr
    relative = subprocess.run(cli + ["export_snapshot", "exp_s", "backups"],
                              capture_output=True, text=True, timeout=120)
    assert relative.returncode == 1 and "is not an absolute path" in relative.stderr

    dest = connection_for(other)
    assert [(s["name"], s["table"], s["regions"]) for s in dest.list_snapshots()] == [
        ("exp_s", "exp", 2)]
    dest.clone_snapshot("exp_s", "exp")
    assert _rows(dest.table("exp")) == rows
    assert dest.describe_table("exp")["families"][0]["max_versions"] == 2
