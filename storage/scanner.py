"""The merging read path: which stored cells a reader sees (see docs/storage.md, "Reads").

Input is one store's (key, value) stream in HBase order, with equal keys from several sources
ordered newest source first (the first one wins). Per row and column, in this order:
  1. delete markers mask puts: DeleteFamily <= ts (all columns), DeleteFamilyVersion == ts (all
     columns), DeleteColumn <= ts, Delete == ts. Family markers sort at the empty qualifier, so
     they are always met before any put they can mask. In a KEEP_DELETED_CELLS family only the
     markers inside the query's time range apply (HBase's seePastDeleteMarkers), so a read
     whose range ends before a marker sees the cells it masks.
  2. a column keeps the family's max_versions newest surviving puts; older ones are invisible
     whatever the query's time range (minihbase choice: retention first, then the query filters;
     HBase counts versions inside the time range and may show a surplus version until the next
     major compaction).
  3. TTL: a put older than now - ttl is invisible (unless within the family's min_versions).
  4. the query's columns, time range [min, max) and max_versions (<= the family's).

A raw scan (Scan.raw, HBase's RAW) skips 1-3 and shows the cells as stored (raw_rows).

RegionScanner pages the rows of a region: `next(max_rows, max_cells, deadline)`; Scan.batch
splits wide rows into several results; Scan.limit caps complete rows.

Row parts: a row stream hands a row wider than ROW_PART_BYTES (RegionConfig.row_part_bytes) on
in pieces, as consecutive items of the same row, every piece but the last a RowPart (the row
goes on in the next item of that stream). So a scan need not hold one whole wide row: the
region server sends the pieces as partial results (RegionScanner with parts=True), a scan with
`batch` puts together only what one result needs, and other in-process callers get whole rows.
A scan with a filter still builds each row whole (filter_rows: every filter here judges a row
at once). Measured on one 300 MB row (two HFiles, 64 MB block cache), the region server's scan
path went from 384-395 MB peak RSS to 96-189 MB, most of it the block cache.

Ticks: a row may have no cell to show (all deleted or expired, or none in the scanned columns or
time range, or dropped by a filter). After every TICK_ROWS such rows the row streams yield a
tick, (row, None), in place of a row, so that RegionScanner.next can see the time pass and keep
its deadline (the region server's heartbeat) even while nothing is found. Ticks come only
between rows: one row's items (a Get) never yield one.
"""

from __future__ import annotations

from dataclasses import dataclass
from heapq import merge
from operator import itemgetter
from time import monotonic

from storage.cell import LATEST_TIMESTAMP, Cell

_row_of = itemgetter(0)
TICK_ROWS = 256  # rows without a cell to show between two ticks
# A row stream cuts a row into RowParts of about this many bytes (a part may pass it by one
# cell): half a scan response (regionserver/scanners.py MAX_RESPONSE_BYTES). A cell counts its
# qualifier, value and CELL_OVERHEAD, about what its key and tuple cost in memory.
ROW_PART_BYTES = 1 << 20
CELL_OVERHEAD = 100
PARTS_PER_CALL = 2  # RegionScanner(parts=True).next takes at most this many RowParts


class RowPart(list):
    """Cells of one row that continue in the next item of the same row stream (never empty,
    and neither is what follows it)."""

    __slots__ = ()


@dataclass
class ReadParams:
    family: bytes
    qualifiers: frozenset | None  # None = every column of the family
    min_ts: int
    max_ts: int  # exclusive
    max_versions: int  # already capped by the family's
    family_max_versions: int
    ttl_cutoff: int  # puts with ts < cutoff are expired; -1 = no TTL
    min_versions: int = 0
    raw: bool = False  # raw_rows: delete markers and masked puts too
    keep_deleted: bool = False  # KEEP_DELETED_CELLS: markers at or past max_ts do not apply


_tuple_new = tuple.__new__  # Cell(...) without the Python-level NamedTuple constructor


def rows_of(items, p: ReadParams, stop_row: bytes | None, plain: bool, sources: int,
            part_bytes: int = ROW_PART_BYTES):
    """visible_rows, or the fast path when nothing can mask, expire or filter a cell. A row
    wider than part_bytes comes in RowParts."""
    if p.raw:
        return raw_rows(items, p, stop_row, part_bytes)
    if (plain and p.qualifiers is None and p.ttl_cutoff < 0 and p.min_ts <= 0
            and p.max_ts == LATEST_TIMESTAMP and (sources <= 1 or p.max_versions == 1)):
        return plain_rows(items, p.family, stop_row, p.max_versions, part_bytes)
    return visible_rows(items, p, stop_row, part_bytes)


def plain_rows(items, family: bytes, stop_row: bytes | None, max_versions: int,
               part_bytes: int = ROW_PART_BYTES):
    """Only puts, no filters: keep the newest max_versions per column. With several sources
    only max_versions == 1 is allowed (an equal key from an older source counts as a version)."""
    new = _tuple_new
    row = col = None
    out: list = []
    count = size = 0
    part, extra = part_bytes, CELL_OVERHEAD
    for (r, q, nts, nt), value in items:
        if r != row:
            if out:
                yield row, out
                out = []
            if stop_row is not None and r >= stop_row:
                return
            row, col, count, size = r, q, 1, 0
        else:  # the row's first cell is not counted: no cost for rows of one cell
            if q != col:
                col, count = q, 1
            else:
                count += 1
                if count > max_versions:
                    continue
            if size > part:
                yield row, RowPart(out)
                out, size = [], 0
            size += len(q) + len(value) + extra
        out.append(new(Cell, (r, family, q, -nts, 4, value)))
    if out:
        yield row, out


def raw_rows(items, p: ReadParams, stop_row: bytes | None = None,
             part_bytes: int = ROW_PART_BYTES):
    """HBase's raw scan: the cells as stored, delete markers and the puts they mask included,
    for debugging deletes. Per column the newest max_versions puts (which may exceed the
    family's: surplus versions stay stored until a compaction); markers are all shown. The
    query's columns and time range apply, and so does TTL (an expired put is gone for good
    at the next compaction)."""
    family, quals = p.family, p.qualifiers
    lo, hi, cutoff, keep, vmax = p.min_ts, p.max_ts, p.ttl_cutoff, p.min_versions, p.max_versions
    new = _tuple_new
    row = col = prev = None
    out: list = []
    count = empty = size = 0
    part, extra = part_bytes, CELL_OVERHEAD
    for key, value in items:
        r, q, nts, nt = key
        if r != row:
            if out:
                yield row, out
                out = []
            elif row is not None:
                empty += 1
                if empty == TICK_ROWS:
                    empty = 0
                    yield row, None
            if stop_row is not None and r >= stop_row:
                return
            row, col, size = r, None, 0
        elif key == prev:
            continue  # the same cell from an older source
        prev = key
        ts = -nts
        if (quals is not None and q not in quals) or ts < lo or ts >= hi:
            continue
        if nt == -4:
            if q != col:
                col, count = q, 0
            count += 1
            if count > vmax or (ts < cutoff and count > keep):
                continue
        if size > part:
            yield row, RowPart(out)
            out, size = [], 0
        size += len(q) + len(value) + extra
        out.append(new(Cell, (r, family, q, ts, -nt, value)))
    if out:
        yield row, out


def visible_rows(items, p: ReadParams, stop_row: bytes | None = None,
                 part_bytes: int = ROW_PART_BYTES):
    """Yield (row, [Cell]) for each row with at least one visible cell, until stop_row (and
    a tick after every TICK_ROWS rows without one)."""
    family = p.family
    fam_max, qmax = p.family_max_versions, p.max_versions
    lo, hi, cutoff, keep = p.min_ts, p.max_ts, p.ttl_cutoff, p.min_versions
    quals = p.qualifiers
    keep_deleted = p.keep_deleted
    new = _tuple_new
    row = None
    out: list = []
    prev = None
    fam_del = -1
    fam_vers = col = col_vers = None
    col_del = count = qcount = empty = size = 0
    part, extra = part_bytes, CELL_OVERHEAD
    for key, value in items:
        r, q, nts, nt = key
        if r != row:
            if out:
                yield row, out
                out = []
            elif row is not None:  # a row with nothing to show: deleted, expired, not asked for
                empty += 1
                if empty == TICK_ROWS:
                    empty = 0
                    yield row, None
            if stop_row is not None and r >= stop_row:
                return
            row = r
            fam_del = -1
            fam_vers = col = None
            size = 0
        elif key == prev:
            continue  # the same cell from an older source
        prev = key
        ts = -nts
        if nt != -4:  # a delete marker
            if keep_deleted and ts >= hi:
                # HBase applies only markers within the range; one older than min_ts masks
                # only puts below the range, which come after it and are not shown anyway
                continue
            if nt == -14:
                if ts > fam_del:
                    fam_del = ts
            elif nt == -10:
                if fam_vers is None:
                    fam_vers = set()
                fam_vers.add(ts)
            else:
                if q != col:
                    col, col_del, col_vers, count, qcount = q, -1, None, 0, 0
                if nt == -12:
                    if ts > col_del:
                        col_del = ts
                else:
                    if col_vers is None:
                        col_vers = set()
                    col_vers.add(ts)
            continue
        if q != col:
            col, col_del, col_vers, count, qcount = q, -1, None, 0, 0
        if keep_deleted and ts >= hi:
            # nor is a put after the range counted: a deleted one would otherwise take a
            # version from those a point-in-time read must see (HBase counts in the range)
            continue
        if ts <= fam_del or ts <= col_del:
            continue
        if (col_vers is not None and ts in col_vers) or (fam_vers is not None and ts in fam_vers):
            continue
        count += 1
        if count > fam_max or (ts < cutoff and count > keep):
            continue
        if quals is not None and q not in quals:
            continue
        if ts < lo or ts >= hi:
            continue
        qcount += 1
        if qcount > qmax:
            continue
        if size > part:
            yield row, RowPart(out)
            out, size = [], 0
        size += len(q) + len(value) + extra
        out.append(new(Cell, (r, family, q, ts, 4, value)))
    if out:
        yield row, out


class RegionScanner:
    """Pages over a region's rows. Holds store views (pinned files) until exhausted/closed.

    `rows` is an iterator of (row, [Cell]) in scan order, already merged across families, a
    row wider than ROW_PART_BYTES in RowParts. parts=False: results are whole rows, or exactly
    `batch` cells of one (the last of a row may be fewer), as the caller asked; the parts are
    put back together for that. parts=True (the region server): a part of a row may be a
    result of its own, and a call takes at most PARTS_PER_CALL parts, so a wide row never
    sits whole in memory; consecutive results of the same row continue it (the region server
    flags them partial and the client regroups them)."""

    def __init__(self, rows, views, *, limit: int = 0, batch: int = 0, row_filter=None,
                 on_close=None, parts: bool = False):
        self._rows = iter(rows)
        self._filter = row_filter
        self._views = views
        self._limit = limit  # complete rows still allowed; 0 = unbounded
        self._rows_done = 0
        self._batch = batch
        self._pending: list | None = None  # remaining cells of a row split across calls
        self._more = False  # the row of _pending (or the last result) goes on in _rows
        self._parts = parts
        self._on_close = on_close
        self.closed = False

    @property
    def filter_done(self) -> bool:
        """The scan's filter ended the whole scan (WHILE, PageFilter, InclusiveStopFilter)."""
        return self._filter is not None and self._filter.done

    def __iter__(self):
        while True:
            page = self.next(1000)
            if not page:
                return
            yield from page

    def next(self, max_rows: int = 100, max_cells: int = 0,
             deadline: float | None = None) -> list[list[Cell]]:
        """Up to max_rows results; stops once max_cells cells are returned (0 = no cap),
        splitting a row if needed. [] with `closed` set means the scan is done.

        deadline (time.monotonic()): rows with nothing to show (deleted, expired, outside the
        scanned columns, dropped by the filter) take time but return nothing; past the
        deadline the call returns what it has, maybe [], and the scanner stays open (the region
        server's heartbeat, so one call never outlasts the client's deadline). It is checked
        at each tick."""
        if self.closed:
            return []
        batch = self._batch
        out: list = []
        if not batch and max_cells <= 0 and self._pending is None and not self._more \
                and self._filter is None:
            # whole rows, the common case: a tight loop
            n = max_rows
            if self._limit:
                n = min(n, self._limit - self._rows_done)
            if n > 0:
                append = out.append
                for _, cells in self._rows:
                    if cells is None:  # a tick: rows without cells to show, time passing
                        if deadline is not None and monotonic() >= deadline:
                            self._rows_done += len(out)
                            return out
                        continue
                    if type(cells) is RowPart:  # a wide row: the general loop below
                        self._pending, self._more = cells, True
                        self._rows_done += 1
                        break
                    append(cells)
                    if len(out) == n:
                        break
            self._rows_done += len(out)
            if self._pending is None:
                if not out:
                    self.close()
                return out
        cells_left = max_cells if max_cells > 0 else -1
        gather = not self._parts  # put the parts of a row together (up to `want` cells)
        parts = int(self._more)  # RowParts taken by this call
        while len(out) < max_rows and cells_left != 0:
            cells = self._pending
            self._pending = None
            if cells is None:
                if self._more:  # the row goes on
                    cells = self._next_piece()
                else:
                    if self._limit and self._rows_done >= self._limit:
                        break
                    nxt = next(self._rows, None)
                    if nxt is None:
                        break
                    cells = nxt[1]
                    if cells is None:  # a tick: rows without cells to show, time passing
                        if deadline is not None and monotonic() >= deadline:
                            return out
                        continue
                    self._rows_done += 1
                self._more = type(cells) is RowPart
                parts += self._more
            if self._more and gather:
                cells = self._gather(cells, batch or max(cells_left, 0))
            take = len(cells)
            if batch and take > batch:
                take = batch
            if cells_left > 0 and take > cells_left:
                take = cells_left
            if take < len(cells):
                out.append(cells[:take])
                self._pending = cells[take:]
            else:
                out.append(cells)
            if cells_left > 0:
                cells_left -= take
            if parts >= PARTS_PER_CALL:
                break
        if not out:
            self.close()
        return out

    def _next_piece(self) -> list:
        """The next piece of the row being returned (ticks come only between rows)."""
        for _, cells in self._rows:
            if cells is not None:
                return cells
        raise AssertionError("a row stream ended inside a row")  # RowPart's contract

    def _gather(self, cells: list, want: int) -> list:
        """cells with the row's following pieces, until it has `want` cells (0: all)."""
        cells = list(cells)
        while self._more and (not want or len(cells) < want):
            piece = self._next_piece()
            cells.extend(piece)
            self._more = type(piece) is RowPart
        return cells

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            rows, self._rows = self._rows, iter(())
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # finalises the generator chain down to the HFile readers' iterators
            for v in self._views:
                v.release()
            if self._on_close is not None:
                self._on_close()

    def __del__(self):  # a scanner dropped without close must not pin files forever
        try:
            self.close()
        except Exception:
            pass


def merge_family_rows(streams, reverse: bool = False):
    """Merge per-family (row, cells) streams (listed in family order) into whole rows."""
    if len(streams) == 1:
        return streams[0]
    return _group_rows(merge(*streams, key=_row_of, reverse=reverse))


def _group_rows(merged):
    """A family's RowPart ends a RowPart of the merged row: what was gathered of the row goes
    on with it, so no piece holds more than one part per family (the family that cut its
    cells goes on with the same row, so the row's last piece is never empty)."""
    row = None
    cells: list = []
    for r, cs in merged:
        if cs is None:  # a family's tick: pass it on (the row being grouped is not ended)
            yield r, None
            continue
        if r != row:
            if cells:
                yield row, cells
            row, cells = r, list(cs)
        else:
            cells.extend(cs)
        if type(cs) is RowPart:
            yield row, RowPart(cells)
            cells = []
    if cells:
        yield row, cells


def whole_rows(rows):
    """The row stream with every row's parts put back together (a filter sees whole rows)."""
    parts = None
    for r, cs in rows:
        if type(cs) is RowPart:
            if parts is None:
                parts = cs
            else:
                parts.extend(cs)
            continue
        if parts is not None and cs is not None:
            parts.extend(cs)
            cs, parts = list(parts), None
        yield r, cs
