"""HBase's HBCK report and the part of its cleaner chores that removes orphaned regions (see
docs/coordination.md, "Consistency check").

check() compares meta with itself and with the file system and returns every problem found:

    HOLE                 keys no region of a table covers (meta's regions must tile the key space)
    OVERLAP              keys two regions of a table both cover
    MISSING_REGION_DIR   a region in meta without its directory or .regioninfo (data gone)
    BAD_REGIONINFO       a region directory whose .regioninfo is unreadable or names another region
    UNKNOWN_SERVER       a region OPEN on a server that is not live (its crash is not handled yet)
    STUCK_IN_TRANSITION  a region in transition for longer than STUCK_S
    ORPHAN_REGION_DIR    a directory in a table's directory that no region record, split/merge
                         journal or reference file names (left by a master killed in the middle
                         of a split, merge, clone or restore)
    ORPHAN_TABLE_DIR     a table directory of a table not in meta (a master killed mid-drop)
    STALE_SNAPSHOT_ATTEMPT  a directory under .hbase-snapshot/.tmp no running snapshot call
                         owns: an attempt a region server still working on it recreated after
                         the master abandoned and removed it, or a half-deleted snapshot
    BAD_REFERENCE        a region's reference file is unreadable: the directory it points into
                         is unknown, so that table's orphans are not looked for
    CLUSTER_ID_MISMATCH  the root directory belongs to another cluster than ZooKeeper (added by
                         the master, which then deletes nothing)

Orphans younger than SETTLE_S are not reported, only counted (`too_new`): operations in flight
(a split writing its daughters, a clone writing its regions) create directories moments before
meta names them.

remove_orphans() is the cleaner, as HBase's HFileCleaner deletes files past
hbase.master.hfilecleaner.ttl. Deleting is the one thing here that can lose data, so an
ORPHAN_REGION_DIR is deleted only when every one of these holds:
  - it is `cleanable`: its .regioninfo names a region of this table created after the table
    (the table znode's creation time), so it is not a region of an earlier table of the same
    name, found by a table created again after ZooKeeper was wiped or mispointed; and no split
    or merge of the table is between its region server's work and its meta update (whose
    journal does not name the new regions yet);
  - nothing in it was written for `grace` seconds (st_mtime) *and* the master has seen it
    orphaned for `grace` seconds on its own clock (a file server's clock may run ahead);
  - the table's DDL lock is free (a restore or snapshot writes directories long before meta
    names them), and, read again under it, neither meta nor a journal names it.
A STALE_SNAPSHOT_ATTEMPT (always cleanable) is deleted by remove_stale_snapshot_attempts()
once untouched and seen stale for `grace` seconds, with the snapshot lock free (no snapshot
call runs, so none owns it). A table directory without a table in meta is reported and left:
that is also what a wiped or mispointed ZooKeeper looks like. Snapshots hard link their
files, so deleting an orphan never takes a snapshot's data (`bytes` counts hard-linked files
in full).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass

from coordination.znodes import MERGED, MERGING, OPEN, SPLIT, SPLITTING, RegionRecord
from hmaster.status import in_transition
from minihbase.bytes_text import quoted
from minihbase.errors import CorruptionError, TableNotFoundError
from storage import layout
from storage.region import read_region_info
from storage.region_split import read_reference
from storage.schema import RegionInfo

log = logging.getLogger(__name__)

SETTLE_S = 30.0   # orphans younger than this are operations in flight, not reported
STUCK_S = 60.0    # a region in transition longer than this is reported
ORPHAN_KINDS = ("ORPHAN_REGION_DIR", "ORPHAN_TABLE_DIR", "STALE_SNAPSHOT_ATTEMPT")
CLEANED_KINDS = ("ORPHAN_REGION_DIR", "STALE_SNAPSHOT_ATTEMPT")  # what the cleaner may delete
CREATING_SUFFIX = ".creating"  # region_split.write_region_dir's directory before its rename


@dataclass
class Problem:
    kind: str
    table: str
    detail: str
    region: str = ""  # encoded name(s), or a directory name
    path: str = ""    # on-disk directory, for orphans
    bytes: int = 0
    age_s: float = 0.0
    cleanable: bool = False  # an orphan the cleaner deletes once old enough (see above)

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> tuple:
        """The same problem in two checks has the same key (ages and sizes aside)."""
        return self.kind, self.table, self.region or self.detail


def check(meta, live_servers: set[str], rootdir: str, now: float | None = None,
          snapshot_attempts: frozenset[str] = frozenset()) -> tuple[list[Problem], int]:
    """Every inconsistency between meta, the live servers and the file system, and how many
    orphan-looking directories changed within SETTLE_S (too new to judge, not reported).
    snapshot_attempts: the working directories (names under .hbase-snapshot/.tmp) of the
    snapshot calls running now."""
    now = time.time() if now is None else now
    problems: list[Problem] = []
    tables: dict[str, list[RegionRecord]] = {}
    for table in meta.tables():
        try:
            state = meta.read_table(table).state
            records = meta.regions(table)
            chain = _chain_problems(table, [r.info for r in records])
            if chain:  # a split or merge may have committed while the records were listed
                records = meta.regions(table)
                chain = _chain_problems(table, [r.info for r in records])
        except TableNotFoundError:
            continue  # dropped meanwhile
        tables[table] = records
        problems += chain
        for rec in records:
            problems += _region_problems(rec, state, live_servers, rootdir, now)
    # Journals are read after meta: a parent a split or merge removed from meta while it was
    # listed is still in its journal until the janitor has deleted its directory.
    journal_regions, busy_tables = _journals(meta)
    for table, records in tables.items():
        problems += _orphan_region_dirs(table, records, journal_regions, rootdir, now,
                                        meta.table_created_ms(table), table in busy_tables)
    problems += _orphan_table_dirs(set(tables), rootdir, now)
    problems += _stale_snapshot_attempts(rootdir, snapshot_attempts, now)
    return _settled(problems)


def _settled(problems: list[Problem]) -> tuple[list[Problem], int]:
    """(the problems without orphans younger than SETTLE_S, how many of those there were)."""
    young = {id(p) for p in problems if p.kind in ORPHAN_KINDS and p.age_s < SETTLE_S}
    return [p for p in problems if id(p) not in young], len(young)


def remove_orphans(meta, problems: list[Problem], grace: float, seen_for: dict[str, float],
                   try_table_lock) -> list[Problem]:
    """Delete the cleanable ORPHAN_REGION_DIRs of `problems` untouched for `grace` seconds
    and seen orphaned by the master for as long (`seen_for`: path -> seconds), under the
    table's lock (`try_table_lock(table)`, TableDDL's; a busy table is skipped) and once meta
    and the journals, read again, still do not name them; returns those deleted."""
    removed = []
    by_table: dict[str, list[Problem]] = {}
    for p in problems:
        if p.kind == "ORPHAN_REGION_DIR" and p.cleanable and p.age_s >= grace and \
                seen_for.get(p.path, 0.0) >= grace:
            by_table.setdefault(p.table, []).append(p)
    for table, orphans in by_table.items():
        with try_table_lock(table) as held:
            if not held:
                continue  # DDL, a restore or a snapshot at work: next time
            journal_regions, busy_tables = _journals(meta)
            if table in busy_tables:
                continue
            for p in orphans:
                name = p.region.removesuffix(CREATING_SUFFIX)
                if name in journal_regions or meta.read_region(table, name) is not None \
                        or not os.path.isdir(p.path):
                    continue
                shutil.rmtree(p.path, ignore_errors=True)
                if not os.path.exists(p.path):
                    layout.fsync_dir(os.path.dirname(p.path))
                    log.info("cleaner: deleted orphaned region directory %s (%d bytes, "
                             "untouched for %.0f s)", p.path, p.bytes, p.age_s)
                    removed.append(p)
    return removed


def remove_stale_snapshot_attempts(problems: list[Problem], grace: float,
                                   seen_for: dict[str, float], snapshot_lock) -> list[Problem]:
    """Delete the STALE_SNAPSHOT_ATTEMPTs of `problems` untouched, and seen stale by the
    master, for `grace` seconds, under the snapshot lock (held: a snapshot call runs, which
    may own one; next time); returns those deleted."""
    stale = [p for p in problems if p.kind == "STALE_SNAPSHOT_ATTEMPT" and p.age_s >= grace
             and seen_for.get(p.path, 0.0) >= grace]
    if not stale or not snapshot_lock.acquire(blocking=False):
        return []
    removed = []
    try:
        for p in stale:
            shutil.rmtree(p.path, ignore_errors=True)
            if not os.path.exists(p.path):
                layout.fsync_dir(os.path.dirname(p.path))
                log.info("cleaner: deleted stale snapshot attempt %s (%d bytes, untouched for "
                         "%.0f s)", p.path, p.bytes, p.age_s)
                removed.append(p)
    finally:
        snapshot_lock.release()
    return removed


def _journals(meta) -> tuple[set[str], set[str]]:
    """(encoded names split and merge journals still need: parents until the janitor,
    children until they are in meta; tables with a split or merge whose journal does not name
    its new regions yet)."""
    names, busy = set(), set()
    for journal in meta.journals().values():
        if journal.get("step") in (SPLITTING, MERGING):
            busy.add(journal.get("table", ""))
        for d in journal.get("parents", []) + journal.get("children", []):
            names.add(RegionInfo.from_dict(d).encoded_name)
    return names, busy


def _chain_problems(table: str, infos: list[RegionInfo]) -> list[Problem]:
    """Holes and overlaps: sorted by start key, each region must start where the last ended."""
    problems = []
    infos = sorted(infos, key=lambda i: (i.start_key, i.region_id))
    covered_to = b""  # keys before this are covered; None: up to the end of the key space
    last = None
    for info in infos:
        if covered_to is None or (last is not None and info.start_key < covered_to):
            problems.append(Problem("OVERLAP", table, f"regions {last.name} and {info.name} "
                                    f"both cover keys from {quoted(info.start_key)}",
                                    f"{last.encoded_name},{info.encoded_name}"))
        elif info.start_key > covered_to:
            problems.append(Problem("HOLE", table, f"no region covers keys "
                                    f"{_key_range(covered_to, info.start_key)}"))
        if covered_to is not None and (not info.end_key or info.end_key > covered_to):
            covered_to, last = (info.end_key or None), info
    if covered_to is not None:
        problems.append(Problem("HOLE", table, f"no region covers keys "
                                f"{_key_range(covered_to, b'')}"))
    return problems


def _key_range(start: bytes, end: bytes) -> str:
    return f"[{quoted(start)}, {quoted(end) if end else 'end of table'})"


def _region_problems(rec: RegionRecord, table_state: str, live_servers: set[str],
                     rootdir: str, now: float) -> list[Problem]:
    info, problems = rec.info, []
    path = layout.region_dir(rootdir, info)
    if rec.state == OPEN and rec.server not in live_servers:
        problems.append(Problem("UNKNOWN_SERVER", info.table, f"region {info.name} is OPEN on "
                                f"{rec.server}, which is not live", info.encoded_name))
    if in_transition(rec, table_state) and now - rec.since_ms / 1000 > STUCK_S:
        why = f", waiting for {rec.waiting_for}" if rec.waiting_for else ""
        problems.append(Problem("STUCK_IN_TRANSITION", info.table, f"region {info.name} is "
                                f"{rec.state} on {rec.server or 'no server'} since "
                                f"{now - rec.since_ms / 1000:.0f} s{why}", info.encoded_name))
    if not os.path.isdir(path):
        if rec.state not in (SPLIT, MERGED):  # every other region's dir precedes its meta
            problems.append(Problem("MISSING_REGION_DIR", info.table, f"region {info.name} is "
                                    f"{rec.state} but {path} does not exist", info.encoded_name,
                                    path))
        return problems
    try:
        on_disk = read_region_info(layout.region_info_path(path))
        if on_disk != info:
            problems.append(Problem("BAD_REGIONINFO", info.table, f"{path}/.regioninfo names "
                                    f"region {on_disk.name}, meta {info.name}",
                                    info.encoded_name, path))
    except FileNotFoundError:  # written with the directory: its files are gone
        problems.append(Problem("MISSING_REGION_DIR", info.table, f"region {info.name} is "
                                f"{rec.state} but {path} holds no .regioninfo (its files are "
                                "lost; a WAL split may have kept edits there)",
                                info.encoded_name, path))
    except (CorruptionError, OSError) as e:
        problems.append(Problem("BAD_REGIONINFO", info.table, str(e), info.encoded_name, path))
    return problems


def _orphan_region_dirs(table: str, records: list[RegionRecord], journal_regions: set[str],
                        rootdir: str, now: float, created_ms: int | None,
                        splitting: bool) -> list[Problem]:
    tdir = layout.table_dir(rootdir, table)
    try:
        names = sorted(os.listdir(tdir))
    except FileNotFoundError:
        return []
    named = {r.info.encoded_name for r in records} | journal_regions
    candidates = [n for n in names if n.removesuffix(CREATING_SUFFIX) not in named]
    if not candidates:
        return []
    try:  # every directory's references, named or not: a new daughter's may be the only ones
        targets = _reference_targets([os.path.join(tdir, n) for n in names], rootdir)
    except (CorruptionError, OSError) as e:  # it might point into any of them: keep them all
        return [Problem("BAD_REFERENCE", table, f"{e}; orphaned directories of {table} are not "
                        f"looked for until it is fixed")]
    problems = []
    for name in candidates:
        path = os.path.join(tdir, name)
        if os.path.relpath(path, rootdir) in targets or not os.path.isdir(path):
            continue
        why_kept = _why_kept(path, table, created_ms, splitting)
        for p in _orphan("ORPHAN_REGION_DIR", table, name, path, now,
                         f"is not a region of {table} in meta"
                         + (f"; left in place: {why_kept}" if why_kept else "")):
            p.cleanable = why_kept is None
            problems.append(p)
    return problems


def _why_kept(path: str, table: str, created_ms: int | None, splitting: bool) -> str | None:
    """Why the cleaner must not delete orphan `path` (None: it may, once old enough)."""
    if splitting:
        return f"a split or merge of {table} is under way"
    try:
        info = read_region_info(layout.region_info_path(path))
    except (CorruptionError, OSError) as e:
        return f"its .regioninfo cannot be read ({e})"
    if info.table != table:
        return f"its .regioninfo names table {info.table!r}"
    if created_ms is None or info.region_id < created_ms:
        return (f"region {info.name} is older than table {table} (an earlier table of that "
                f"name, or ZooKeeper was wiped or mispointed)")
    return None


def _reference_targets(region_paths: list[str], rootdir: str) -> set[str]:
    """Region directories (relative to rootdir) that reference files in `region_paths` read."""
    targets = set()
    for rpath in region_paths:
        for fdir, _, files in os.walk(rpath):
            for f in files:
                if f.endswith(layout.REFERENCE_SUFFIX):
                    try:
                        target = read_reference(os.path.join(fdir, f)).target
                    except FileNotFoundError:
                        continue  # compacted away meanwhile: it references nothing now
                    targets.add(os.path.dirname(os.path.dirname(target)))
    return targets


def _orphan_table_dirs(known_tables: set[str], rootdir: str, now: float) -> list[Problem]:
    data = os.path.join(rootdir, layout.DATA)
    try:
        names = sorted(os.listdir(data))
    except FileNotFoundError:
        return []
    problems = []
    for name in names:
        path = os.path.join(data, name)
        if name not in known_tables and os.path.isdir(path):
            problems += _orphan("ORPHAN_TABLE_DIR", name, name, path, now,
                                "belongs to no table in meta; left in place")
    return problems


def _stale_snapshot_attempts(rootdir: str, running: frozenset[str],
                             now: float) -> list[Problem]:
    """The directories under .hbase-snapshot/.tmp that no running snapshot call owns
    (`running`): `<snapshot>.<attempt>` (an attempt abandoned, or recreated by a region server
    still linking a region's files for it after the master removed it) or `<snapshot>.deleting`
    (a delete cut short). Their hard links hold the space of files their tables deleted."""
    work_root = layout.snapshot_work_root(rootdir)
    try:
        names = sorted(os.listdir(work_root))
    except FileNotFoundError:
        return []
    problems = []
    for name in names:
        path = os.path.join(work_root, name)
        if name in running or not os.path.isdir(path):
            continue
        snapshot, _, attempt = name.rpartition(".")
        what = (f"is a half-deleted snapshot {snapshot!r}" if attempt == "deleting" else
                f"is an attempt at snapshot {snapshot!r} no running snapshot owns")
        for p in _orphan("STALE_SNAPSHOT_ATTEMPT", "", name, path, now, what):
            p.cleanable = True
            problems.append(p)
    return problems


def _orphan(kind: str, table: str, name: str, path: str, now: float,
            what: str) -> list[Problem]:
    """[the problem], with the seconds since anything in `path` changed (check() only counts
    it while that is under SETTLE_S); [] once it is gone (renamed into place, deleted)."""
    measured = _size_and_age(path, now)
    if measured is None:
        return []
    size, age = measured
    return [Problem(kind, table, f"{path} {what} ({size} bytes, untouched for {age:.0f} s)",
                    name, path, size, round(age, 1))]


def _size_and_age(path: str, now: float) -> tuple[int, float] | None:
    """Bytes deleting `path` would free (its files not also linked elsewhere: a snapshot's or
    a clone's hard links keep theirs), and seconds since anything in it last changed; None if
    `path` is gone."""
    try:
        newest = os.lstat(path).st_mtime
    except FileNotFoundError:
        return None
    size = 0
    for dirpath, _, files in os.walk(path):
        for p in [dirpath] + [os.path.join(dirpath, f) for f in files]:
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            newest = max(newest, st.st_mtime)
            if p != dirpath and st.st_nlink == 1:
                size += st.st_size
    return size, max(0.0, now - newest)
