"""In-memory reference model of HBase read semantics, for the property tests (docs/storage.md).

The model is a plain list of every put and delete marker ever written per row, evaluated the way
HBase evaluates them: a marker masks puts with timestamp <= its own (DeleteColumn, DeleteFamily)
or == its own (Delete, DeleteFamilyVersion), even puts written after it, until a major
compaction removes both; at one (row, family, qualifier, timestamp) the put written last wins;
a read returns the newest min(requested, family max_versions) visible versions inside the time
range; a family TTL hides puts older than now - ttl at read time (`clock` is the region's).

HBase itself is not deterministic in two documented corners, and the model does not pretend to
be either -- it marks the affected puts *gray* ("may or may not be visible") instead of guessing:

* Version GC. A flush or compaction drops versions beyond the family's max_versions; before
  that, a time range or a Delete of the newest version can expose an older one. A put becomes
  gray once >= max_versions puts with newer timestamps exist in its column (sticky).
* Marker GC. A compaction that happens to include every file of a store drops delete markers
  (HBase promotes it to a major one). After any compaction that *might* have done so, markers
  are "maybe dropped": a put written later that only such a marker masks is gray. A put that
  was already in a file when its certain marker was compacted is dead for good (the compaction
  either kept the marker or dropped both).

minihbase documents a stricter choice (storage/compaction.py): flushes and minor compactions
keep every cell, markers included; only a major compaction drops anything. `strict=True` models
exactly that -- nothing is ever gray -- so any divergence is a bug. minihbase also picks a
column's newest max_versions live versions *before* applying a time range (HBase applies the
time range first, so an old version shows until a flush drops it); strict mode models that.
`strict=False` is the HBase-general model, for an engine that drops versions or markers earlier.

An explicit flush-then-major-compaction is deterministic, and the model applies it exactly:
markers and masked puts vanish, excess versions go, and a later put with an old timestamp is
visible again (HBase's documented behaviour).

The checks accept a result R for one column iff R = top-k(S) for some S with
certain <= S <= certain | gray, i.e. they are exact whenever nothing is gray.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.cell import CellType

DEL_VERSION = int(CellType.DELETE)
DEL_COLUMN = int(CellType.DELETE_COLUMN)
DEL_FAMILY = int(CellType.DELETE_FAMILY)
DEL_FAMILY_VERSION = int(CellType.DELETE_FAMILY_VERSION)
PUT = int(CellType.PUT)


@dataclass
class PutRec:
    fam: bytes
    q: bytes
    ts: int
    value: bytes
    seq: int
    in_file: bool = False  # certainly in an HFile (written before a whole-region flush)
    gray: bool = False  # sticky: may have been dropped (versions) or unmasked (marker GC)
    dead: bool = False  # certainly never visible again (still counts as a physical version)


@dataclass
class MarkerRec:
    fam: bytes
    q: bytes
    ts: int
    type: int
    seq: int
    in_file: bool = False
    maybe_dropped: bool = False


def masks(m: MarkerRec, p: PutRec) -> bool:
    if m.fam != p.fam:
        return False
    if m.type == DEL_VERSION:
        return m.q == p.q and m.ts == p.ts
    if m.type == DEL_COLUMN:
        return m.q == p.q and p.ts <= m.ts
    if m.type == DEL_FAMILY:
        return p.ts <= m.ts
    if m.type == DEL_FAMILY_VERSION:
        return p.ts == m.ts
    raise AssertionError(f"not a marker type: {m.type}")


@dataclass
class Slot:
    """One version (timestamp) of one column as the model sees it."""

    ts: int
    certain: bool
    values: frozenset  # acceptable values (one unless gray duplicates exist)


@dataclass
class RowState:
    puts: list = field(default_factory=list)
    markers: list = field(default_factory=list)


class ModelMismatch(AssertionError):
    pass


class TableModel:
    def __init__(self, families: dict[bytes, int], *, strict: bool = False,
                 ttl_ms: dict[bytes, int] | None = None, clock=None):
        self.families = dict(families)  # family -> max_versions
        self.ttl_ms = dict(ttl_ms or {})  # family -> TTL in ms (absent = forever)
        self.clock = clock or (lambda: 0)  # the region's clock in ms (TTL applies at read time)
        self.strict = strict  # only major compaction drops anything (minihbase's choice)
        self.rows: dict[bytes, RowState] = {}
        self._seq = 0

    # -- writes ----------------------------------------------------------------------------
    def apply(self, row: bytes, cells) -> None:
        """cells: (family, qualifier, timestamp, type, value) with timestamps already resolved."""
        st = self.rows.setdefault(row, RowState())
        touched = set()
        for fam, q, ts, typ, value in cells:
            self._seq += 1
            if typ == PUT:
                st.puts.append(PutRec(fam, q, ts, value, self._seq))
                touched.add((fam, q))
            else:
                st.markers.append(MarkerRec(fam, q, ts, typ, self._seq))
        for fam, q in touched:
            self._mark_version_gray(st, fam, q)

    def _mark_version_gray(self, st: RowState, fam: bytes, q: bytes) -> None:
        if self.strict:
            return  # versions beyond max_versions stay until a major compaction
        col = [p for p in st.puts if p.fam == fam and p.q == q]
        stamps = sorted({p.ts for p in col}, reverse=True)
        limit = self.families[fam]
        for p in col:
            if sum(1 for t in stamps if t > p.ts) >= limit:
                p.gray = True

    # -- lifecycle events (rows_in: predicate selecting the rows of one region) --------------
    def flushed(self, rows_in) -> None:
        for row, st in self.rows.items():
            if rows_in(row):
                for r in st.puts + st.markers:
                    r.in_file = True

    def maybe_compacted(self, rows_in) -> None:
        """A compaction (possibly of every file, i.e. dropping markers) may have run."""
        if self.strict:
            return
        for row, st in self.rows.items():
            if not rows_in(row):
                continue
            for p in st.puts:
                if p.in_file and not p.dead and any(
                        m.in_file and not m.maybe_dropped and masks(m, p) for m in st.markers):
                    p.dead = True
            for m in st.markers:
                m.maybe_dropped = True

    def major_compacted(self, rows_in) -> None:
        """Explicit flush + major compaction: exact. Everything must be in files."""
        self.flushed(rows_in)
        for row, st in self.rows.items():  # puts masked by a certain marker die with it
            if rows_in(row):
                for p in st.puts:
                    if any(not m.maybe_dropped and masks(m, p) for m in st.markers):
                        p.dead = True
        for row, st in list(self.rows.items()):
            if not rows_in(row):
                continue
            for p in st.puts:
                if not p.dead and any(masks(m, p) for m in st.markers):
                    p.gray = True  # its marker maybe survived until now: now it is gone
            st.markers = []
            st.puts = [p for p in st.puts if not p.dead]
            keep = []
            for fam, q in {(p.fam, p.q) for p in st.puts}:
                col = [p for p in st.puts if p.fam == fam and p.q == q]
                by_ts: dict[int, list] = {}
                for p in col:
                    by_ts.setdefault(p.ts, []).append(p)
                limit = self.families[fam]
                n_all = n_certain = 0
                for ts in sorted(by_ts, reverse=True):
                    group = sorted(by_ts[ts], key=lambda p: p.seq)
                    newest = group[-1]
                    if n_certain >= limit:
                        pass  # certainly beyond max_versions: dropped
                    else:
                        if n_all >= limit:
                            for p in group:
                                p.gray = True
                        # compaction keeps one put per key, unless the newest was maybe dropped
                        keep.extend(group if newest.gray else [newest])
                    n_all += 1
                    n_certain += 0 if newest.gray else 1
            if fam_ttl := {f: self.clock() - t for f, t in self.ttl_ms.items()}:
                keep = [p for p in keep if p.ts >= fam_ttl.get(p.fam, -1)]  # expired: dropped
            st.puts = sorted(keep, key=lambda p: p.seq)
            if not st.puts:
                del self.rows[row]

    # -- reads -----------------------------------------------------------------------------
    def newest_slot(self, row, fam, q):
        """The newest visible version of one column, for Delete(LATEST) resolution."""
        slots = self.column_slots(row, fam, q, (0, 1 << 63))
        return slots[0] if slots else None

    def column_slots(self, row, fam, q, time_range) -> list[Slot]:
        st = self.rows.get(row)
        if st is None:
            return []
        lo, hi = time_range
        by_ts: dict[int, list] = {}
        for p in st.puts:
            # strict: the newest max_versions live versions are chosen before the time range
            # applies (a deterministic choice: flushes never change what a time range sees)
            if p.fam == fam and p.q == q and not p.dead and (self.strict or lo <= p.ts < hi):
                by_ts.setdefault(p.ts, []).append(p)
        out = []
        for ts in sorted(by_ts, reverse=True):
            group = sorted(by_ts[ts], key=lambda p: p.seq)
            newest = group[-1]
            ms = [m for m in st.markers if masks(m, newest)]
            if any(not m.maybe_dropped for m in ms):
                continue
            certain = not ms and not newest.gray
            values = frozenset([newest.value]) if certain else frozenset(p.value for p in group)
            out.append(Slot(ts, certain, values))
        cutoff = self.clock() - self.ttl_ms[fam] if fam in self.ttl_ms else -1
        if self.strict:
            # expired puts still count as versions (they are older than any live one anyway)
            out = [s for s in out[:self.families[fam]] if lo <= s.ts < hi and s.ts >= cutoff]
        else:
            out = [s for s in out if s.ts >= cutoff]
        return out

    def columns_of(self, row, columns) -> list[tuple[bytes, bytes]]:
        st = self.rows.get(row)
        if st is None:
            return []
        cols = sorted({(p.fam, p.q) for p in st.puts})
        if not columns:
            return cols
        keep = []
        for fam, q in cols:
            for cf, cq in columns:
                if cf == fam and (cq is None or cq == q):
                    keep.append((fam, q))
                    break
        return keep

    def row_must_appear(self, row, columns, time_range) -> bool:
        return any(s.certain for fam, q in self.columns_of(row, columns)
                   for s in self.column_slots(row, fam, q, time_range))

    def check_row(self, row, cells, columns, time_range, max_versions, where="") -> None:
        """Raise ModelMismatch unless `cells` (one row's result) is a legal answer."""
        def fail(msg):
            raise ModelMismatch(f"{where} row {row!r}: {msg}\n  got: {_fmt(cells)}\n"
                                f"  model: {self.describe(row)}")

        order = [(c.family, c.qualifier, -c.timestamp) for c in cells]
        if order != sorted(order) or len(set(order)) != len(order):
            fail("cells not in HBase order (or duplicated)")
        got: dict[tuple, list] = {}
        for c in cells:
            if c.row != row:
                fail(f"cell of another row {c.row!r}")
            if c.type != PUT:
                fail("a delete marker was returned")
            if columns and not any(c.family == f and (q is None or q == c.qualifier)
                                   for f, q in columns):
                fail(f"cell outside the selected columns: {c.family!r}:{c.qualifier!r}")
            got.setdefault((c.family, c.qualifier), []).append(c)
        expected_cols = set(self.columns_of(row, columns))
        for col in got:
            if col not in expected_cols:
                fail(f"column {col} never written (or not selected)")
        for fam, q in expected_cols:
            k = min(max_versions, self.families[fam])
            slots = self.column_slots(row, fam, q, time_range)
            res = got.get((fam, q), [])
            by_ts = {s.ts: s for s in slots}
            if len(res) > k:
                fail(f"{fam!r}:{q!r}: {len(res)} versions > {k}")
            for c in res:
                s = by_ts.get(c.timestamp)
                if s is None:
                    fail(f"{fam!r}:{q!r}@{c.timestamp} is not visible in the model")
                if c.value not in s.values:
                    fail(f"{fam!r}:{q!r}@{c.timestamp} value {c.value!r} not in {set(s.values)}")
            got_ts = {c.timestamp for c in res}
            oldest = min(got_ts) if res else None
            for s in slots:
                if s.certain and s.ts not in got_ts and (len(res) < k or s.ts > oldest):
                    fail(f"{fam!r}:{q!r}@{s.ts} missing (certainly visible)")

    def check_scan(self, rows_got, candidates, columns, time_range, max_versions, limit,
                   where="") -> None:
        """rows_got: list of (row, cells) in scan order; candidates: every model row in the
        scan's range, in scan order."""
        seen = [r for r, _ in rows_got]
        pos = {r: i for i, r in enumerate(candidates)}
        for r in seen:
            if r not in pos:
                raise ModelMismatch(f"{where}: row {r!r} outside the scan range or never "
                                    f"written; got rows {seen}, range {candidates}")
        idx = [pos[r] for r in seen]
        if idx != sorted(idx) or len(set(idx)) != len(idx):
            raise ModelMismatch(f"{where}: rows out of order or repeated: {seen}")
        if limit and len(seen) > limit:
            raise ModelMismatch(f"{where}: {len(seen)} rows > limit {limit}")
        for r, cells in rows_got:
            if not cells:
                raise ModelMismatch(f"{where}: empty result for row {r!r}")
            self.check_row(r, cells, columns, time_range, max_versions, where)
        upto = len(candidates) if not limit or len(seen) < limit else idx[-1] + 1
        for r in candidates[:upto]:
            if r not in seen and self.row_must_appear(r, columns, time_range):
                raise ModelMismatch(f"{where}: row {r!r} missing; got {seen}; "
                                    f"model: {self.describe(r)}")

    def describe(self, row) -> str:
        st = self.rows.get(row)
        if st is None:
            return "<no row>"
        parts = []
        for p in st.puts:
            flags = "".join(f for f, on in (("F", p.in_file), ("g", p.gray), ("X", p.dead)) if on)
            parts.append(f"put {p.fam.decode()}:{p.q.decode(errors='replace')}@{p.ts}"
                         f"={p.value!r}#{p.seq}{flags and '/' + flags}")
        for m in st.markers:
            flags = "".join(f for f, on in (("F", m.in_file), ("d", m.maybe_dropped)) if on)
            parts.append(f"{_MARKER_NAMES[m.type]} {m.fam.decode()}:"
                         f"{m.q.decode(errors='replace')}@{m.ts}#{m.seq}{flags and '/' + flags}")
        return "; ".join(parts)


_MARKER_NAMES = {DEL_VERSION: "Delete", DEL_COLUMN: "DeleteColumn", DEL_FAMILY: "DeleteFamily",
                 DEL_FAMILY_VERSION: "DeleteFamilyVersion"}


def _fmt(cells) -> str:
    return ", ".join(f"{c.family.decode()}:{c.qualifier.decode(errors='replace')}@{c.timestamp}"
                     f"={c.value!r}" for c in cells) or "<empty>"
