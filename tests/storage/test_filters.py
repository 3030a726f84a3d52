"""Filters in HBase's filter language (storage/filters.py): parsing, each filter's meaning,
and their place in a region's scan and get (before limit; ending the scan)."""

from __future__ import annotations

import pytest

from minihbase.errors import InvalidArgumentError
from storage.cell import Cell
from storage.filters import filter_rows, parse_filter
from storage.query import Get, Mutation, Scan
from storage.region import Region
from storage.schema import FamilyDescriptor, RegionInfo, TableDescriptor
from storage.scanner import TICK_ROWS
from tests.storage.helpers import Inline


def row(key: bytes, *cols):
    return key, [Cell(key, b"cf", q, ts, 4, v) for q, v, ts in cols]


ROWS = [row(b"a1", (b"x", b"1", 5), (b"y", b"err here", 5)),
        row(b"a2", (b"x", b"7", 5)),
        row(b"b1", (b"status", b"ok", 5), (b"z", b"9", 3)),
        row(b"c1", (b"status", b"bad", 5))]


def run(text: str, rows=ROWS, reversed_=False):
    f = parse_filter(text, reversed_)
    return [(key, [(c.qualifier, c.value) for c in cells])
            for key, cells in filter_rows(iter(rows), f)]


def keys(text: str, **kw):
    return [key for key, _ in run(text, **kw)]


@pytest.mark.parametrize("text, expected", [
    ("PrefixFilter('a')", [b"a1", b"a2"]),
    ("RowFilter(>=, 'binary:b')", [b"b1", b"c1"]),
    ("RowFilter(=, 'regexstring:^[ac]')", [b"a1", b"a2", b"c1"]),
    ("SingleColumnValueFilter('cf', 'status', =, 'binary:ok')", [b"a1", b"a2", b"b1"]),
    ("SingleColumnValueFilter('cf', 'status', =, 'binary:ok', true, true)", [b"b1"]),
    ("SingleColumnValueFilter('cf', 'status', !=, 'binaryprefix:o', true, true)", [b"c1"]),
    ("WHILE RowFilter(<, 'binary:b')", [b"a1", b"a2"]),
    ("SKIP ValueFilter(!=, 'binary:7')", [b"a1", b"b1", b"c1"]),
    ("PageFilter(2)", [b"a1", b"a2"]),
    ("PageFilter(0)", []),
    ("InclusiveStopFilter('b1')", [b"a1", b"a2", b"b1"]),
    ("(PrefixFilter('a') OR PrefixFilter('c')) AND PageFilter(2)", [b"a1", b"a2"]),
    ("PrefixFilter('c') OR PrefixFilter('a') AND PageFilter(1)", [b"a1", b"c1"]),
])
def test_row_selection(text, expected):
    assert keys(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ValueFilter(<, 'binary:5')", [(b"a1", [(b"x", b"1")])]),
    ("ValueFilter(=, 'substring:ERR')", [(b"a1", [(b"y", b"err here")])]),
    ("SingleColumnValueExcludeFilter('cf', 'status', =, 'binary:ok', true, true)",
     [(b"b1", [(b"z", b"9")])]),
    ("QualifierFilter(>=, 'binary:y') OR PrefixFilter('c')",
     [(b"a1", [(b"y", b"err here")]), (b"b1", [(b"z", b"9")]), (b"c1", [(b"status", b"bad")])]),
    ("ColumnRangeFilter('x', false, '', true)",
     [(b"a1", [(b"y", b"err here")]), (b"b1", [(b"z", b"9")])]),
    ("TimestampsFilter(3, 4)", [(b"b1", [(b"z", b"9")])]),
    ("ColumnPaginationFilter(1, 1)", [(b"a1", [(b"y", b"err here")]), (b"b1", [(b"z", b"9")])]),
    ("MultipleColumnPrefixFilter('st', 'z') AND PrefixFilter('b')",
     [(b"b1", [(b"status", b"ok"), (b"z", b"9")])]),
    ("ColumnValueFilter('cf', 'x', >, 'binary:5')", [(b"a2", [(b"x", b"7")])]),
    ("FirstKeyOnlyFilter() AND KeyOnlyFilter() AND PrefixFilter('b')",
     [(b"b1", [(b"status", b"")])]),
    ("KeyOnlyFilter(true) AND PrefixFilter('c')", [(b"c1", [(b"status", b"\0\0\0\3")])]),
    ("FamilyFilter(=, 'binary:other')", []),
])
def test_cell_selection_and_values(text, expected):
    assert run(text) == expected


def test_inclusive_stop_in_a_reversed_scan_stops_below_the_row():
    assert keys("InclusiveStopFilter('a2')", rows=ROWS[::-1], reversed_=True) == [
        b"c1", b"b1", b"a2"]


def test_each_parse_has_its_own_state():
    f = parse_filter("PageFilter(1)")
    assert len(list(filter_rows(iter(ROWS), f))) == 1 and f.done
    assert len(list(filter_rows(iter(ROWS), parse_filter("PageFilter(1)")))) == 1


@pytest.mark.parametrize("text, message", [
    ("", "empty filter"),
    ("Foo()", "unknown filter 'Foo'; known: ColumnCountGetFilter"),
    ("PrefixFilter(a)", "PrefixFilter: expected a quoted string, found 'a' at position 13"),
    ("PrefixFilter('a'", "expected ), found the end"),
    ("PrefixFilter('a') PrefixFilter('b')", "join filters with AND or OR"),
    ("PrefixFilter('a') AND", "expected a filter name, found the end"),
    ("ValueFilter(<, 'substring:x')", "only = and != compare with a substring comparator"),
    ("ValueFilter(=, 'x')", "comparator 'x' needs a type"),
    ("ValueFilter(=, 'bytes:x')", "unknown comparator type 'bytes'"),
    ("PageFilter(-1)", "PageFilter needs a number >= 0"),
    ("RowFilter(=, 'regexstring:(')", "bad regular expression '('"),
    ("SingleColumnValueFilter('a')", "takes 4 to 6 arguments, got 1"),
    ("KeyOnlyFilter(1)", "expected true or false, found '1'"),
    ("PrefixFilter('a') # b", "unexpected '# b' at position 18"),
])
def test_bad_filters_are_invalid_arguments_that_say_what_is_wrong(text, message):
    with pytest.raises(InvalidArgumentError) as e:
        parse_filter(text)
    assert message in str(e.value)
    if text:
        assert str(e.value).startswith(f"filter {text!r}")


def test_quotes_inside_strings_are_doubled():
    rows = [row(b"it's", (b"q", b"v", 1)), row(b"its", (b"q", b"v", 1))]
    assert keys("PrefixFilter('it''s')", rows=rows) == [b"it's"]


# --- in a region -------------------------------------------------------------------------------
@pytest.fixture
def region(tmp_path):
    table = TableDescriptor("t", (FamilyDescriptor(b"cf", max_versions=3),))
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    background=Inline())
    for i in range(20):
        r.mutate(Mutation(b"r%02d" % i).put(b"cf", b"n", b"%d" % (i % 3))
                 .put(b"cf", b"v", b"x" * i))
    r.flush()
    r.mutate(Mutation(b"r05").put(b"cf", b"n", b"2"))  # memstore over the file: newest wins
    yield r
    r.close(flush=False)


def scan_keys(region, **kw):
    return [cells[0].row for cells in region.scanner(Scan(**kw))]


def test_a_region_scan_filters_before_its_limit(region):
    f = parse_filter("SingleColumnValueFilter('cf', 'n', =, 'binary:2')")
    assert scan_keys(region, filter=f, limit=3) == [b"r02", b"r05", b"r08"]
    f = parse_filter("SingleColumnValueFilter('cf', 'n', =, 'binary:2')", reversed_=True)
    assert scan_keys(region, filter=f, reversed=True, limit=2) == [b"r17", b"r14"]


def test_a_region_scanner_says_when_its_filter_ended_the_scan(region):
    scanner = region.scanner(Scan(filter=parse_filter("WHILE RowFilter(<, 'binary:r03')")))
    assert [cells[0].row for cells in scanner] == [b"r00", b"r01", b"r02"]
    assert scanner.filter_done
    plain = region.scanner(Scan(filter=parse_filter("PrefixFilter('r1')")))
    assert len(list(plain)) == 10 and not plain.filter_done


def test_a_get_applies_its_filter_to_the_row(region):
    cells = region.get(Get(b"r07", filter=parse_filter("QualifierFilter(=, 'binary:v')")))
    assert [(c.qualifier, c.value) for c in cells] == [(b"v", b"x" * 7)]
    assert region.get(Get(b"r07", filter=parse_filter("PrefixFilter('s')"))) == []
    assert [c.value for c in region.get(Get(b"r05", filter=parse_filter(
        "ColumnValueFilter('cf', 'n', =, 'binary:2')")))] == [b"2"]


@pytest.fixture
def versioned(tmp_path):
    """Column cf:q with three live versions (the family keeps 3), one deleted and one beyond
    the family's VERSIONS, half of them flushed; cf:other has two."""
    table = TableDescriptor("t", (FamilyDescriptor(b"cf", max_versions=3),
                                  FamilyDescriptor(b"cg", max_versions=2)))
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    background=Inline())
    m = Mutation(b"r")
    for ts, value in ((5, b"ancient"), (10, b"old"), (15, b"gone"), (20, b"mid")):
        m.put(b"cf", b"q", value, ts)
    r.mutate(m.put(b"cf", b"other", b"o1", 10).put(b"cg", b"g", b"g1", 10))
    r.flush()
    r.mutate(Mutation(b"r").put(b"cf", b"q", b"new", 30).delete_version(b"cf", b"q", 15)
             .put(b"cf", b"other", b"o2", 20).put(b"cg", b"g", b"g2", 20))
    yield r
    r.close(flush=False)


def _cells(cells):
    return [(c.family + b":" + c.qualifier, c.timestamp, c.value) for c in cells]


@pytest.mark.parametrize("text, versions, expected", [
    # an older version the filter keeps is found even when one version is read (HBase 2)
    ("ValueFilter(=, 'binary:old')", 1, [(b"cf:q", 10, b"old")]),
    ("TimestampsFilter(10)", 1, [(b"cf:other", 10, b"o1"), (b"cf:q", 10, b"old"),
                                 (b"cg:g", 10, b"g1")]),
    # the read's versions count what the filter kept, newest first
    ("ValueFilter(!=, 'binary:new')", 1, [(b"cf:other", 20, b"o2"), (b"cf:q", 20, b"mid"),
                                          (b"cg:g", 20, b"g2")]),
    ("ValueFilter(!=, 'binary:new')", 2, [(b"cf:other", 20, b"o2"), (b"cf:other", 10, b"o1"),
                                          (b"cf:q", 20, b"mid"), (b"cf:q", 10, b"old"),
                                          (b"cg:g", 20, b"g2"), (b"cg:g", 10, b"g1")]),
    # never past the family's VERSIONS, nor a deleted version
    ("ValueFilter(=, 'binary:ancient')", 1, []),
    ("ValueFilter(=, 'binary:gone')", 3, []),
    # latestVersionOnly=false tests every version the family keeps; the row shows the newest
    ("SingleColumnValueFilter('cf', 'q', =, 'binary:old', true, false) AND "
     "QualifierFilter(=, 'binary:q')", 1, [(b"cf:q", 30, b"new")]),
    ("SingleColumnValueFilter('cf', 'q', =, 'binary:old', true, true)", 1, []),
])
def test_a_filter_sees_every_version_the_family_keeps_then_the_read_takes_its_versions(
        versioned, text, versions, expected):
    """HBase 2's UserScanQueryMatcher: with a filter, the column tracker lets through the
    family's VERSIONS (not the read's), the filter judges each of them, and at most the read's
    versions of the cells it kept are returned per column. So ValueFilter or TimestampsFilter
    find an older version that a plain one-version read would not show."""
    got = _cells(versioned.get(Get(b"r", max_versions=versions, filter=parse_filter(text))))
    assert got == expected
    scanned = [_cells(cells) for cells in versioned.scanner(
        Scan(max_versions=versions, filter=parse_filter(text)))]
    assert scanned == ([expected] if expected else [])
    reversed_ = [_cells(cells) for cells in versioned.scanner(
        Scan(max_versions=versions, reversed=True, filter=parse_filter(text, True)))]
    assert reversed_ == scanned


@pytest.mark.parametrize("text, expected", [
    ("ColumnPaginationFilter(2, 0)", [(b"cf:other", 20, b"o2"), (b"cf:q", 30, b"new")]),
    ("ColumnPaginationFilter(2, 1)", [(b"cf:q", 30, b"new"), (b"cg:g", 20, b"g2")]),
    ("ColumnCountGetFilter(1)", [(b"cf:other", 20, b"o2")]),
])
def test_column_pagination_returns_the_newest_version_of_each_column(versioned, text,
                                                                      expected):
    """ColumnPaginationFilter and ColumnCountGetFilter answer INCLUDE_AND_NEXT_COL in HBase:
    one version per column, however many versions the read asks for."""
    assert _cells(versioned.get(Get(b"r", max_versions=3, filter=parse_filter(text)))) == \
        expected


def test_a_filtered_raw_scan_judges_every_stored_version(versioned):
    """A raw read with a filter judges every stored version (HBase: Integer.MAX_VALUE), even
    those past the family's VERSIONS, then returns the read's versions of what it kept."""
    scan = Scan(raw=True, filter=parse_filter("ValueFilter(=, 'binary:ancient')"))
    assert [_cells(cells) for cells in versioned.scanner(scan)] == [[(b"cf:q", 5, b"ancient")]]


def test_without_a_filter_a_read_still_shows_only_its_versions(versioned):
    assert _cells(versioned.get(Get(b"r", columns=((b"cf", b"q"),)))) == [(b"cf:q", 30, b"new")]


def test_a_scanner_past_its_deadline_returns_what_it_has_and_stays_open(tmp_path):
    """The heartbeat: rows the filter drops take time; once the deadline has passed, next()
    answers with what it found (nothing here) without ending the scan, and each call still
    makes progress, so the one matching row comes in the end."""
    table = TableDescriptor("t", (FamilyDescriptor(b"cf"),))
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    background=Inline())
    try:
        for i in range(2000):
            r.mutate(Mutation(b"r%04d" % i).put(b"cf", b"q", b"v"))
        scanner = r.scanner(Scan(filter=parse_filter("RowFilter(=, 'binary:r1999')")))
        calls, found = 0, []
        while not scanner.closed and calls < 100:
            calls += 1
            found += scanner.next(10, 0, deadline=0.0)  # always already past
        assert [cells[0].row for cells in found] == [b"r1999"]
        assert calls == 2000 // TICK_ROWS + 2  # a tick per TICK_ROWS dropped, then the end
        unbounded = r.scanner(Scan(filter=parse_filter("RowFilter(=, 'binary:r1999')")))
        assert [cells[0].row for cells in unbounded.next(10)] == [b"r1999"]
    finally:
        r.close(flush=False)


@pytest.mark.parametrize("hidden, scan", [
    ("deleted", Scan()),
    ("deleted", Scan(reversed=True)),
    ("deleted", Scan(columns=((b"cf", None), (b"other", None)))),  # two families merged
    ("other column", Scan(columns=((b"cf", b"wanted"),))),
    ("before the time range", Scan(time_range=(100, 2**62))),
    ("before the time range", Scan(time_range=(100, 2**62), raw=True)),
], ids=["deleted", "deleted-reversed", "deleted-two-families", "other-column", "time-range",
        "time-range-raw"])
def test_rows_with_nothing_to_show_tick_so_the_deadline_holds_without_a_filter(tmp_path,
                                                                              hidden, scan):
    """The heartbeat does not need a filter: rows whose cells are all deleted, in other columns
    or outside the time range also take time and return nothing, and the stores' row streams
    tick after every TICK_ROWS of them, so a scan past its deadline answers at once (maybe
    empty) and stays open, and the one row to show comes in the end."""
    table = TableDescriptor("t", (FamilyDescriptor(b"cf"), FamilyDescriptor(b"other")))
    r = Region.open(str(tmp_path), RegionInfo("t", b"", b"", 1), table, wal=None,
                    background=Inline())
    try:
        for i in range(2000):
            m = Mutation(b"r%04d" % i)
            if i == (0 if scan.reversed else 1999):
                m.put(b"cf", b"wanted", b"v", ts=200)
            elif hidden == "deleted":
                m.put(b"cf", b"wanted", b"v", ts=200).delete_family(b"cf", ts=300)
            elif hidden == "other column":
                m.put(b"cf", b"unwanted", b"v", ts=200)
            else:
                m.put(b"cf", b"wanted", b"v", ts=50)
            r.mutate(m)
        scanner = r.scanner(scan)
        calls, found = 0, []
        while not scanner.closed and calls < 100:
            calls += 1
            found += scanner.next(10, 0, deadline=0.0)  # always already past
        assert [cells[0].row for cells in found] == [b"r1999" if not scan.reversed else b"r0000"]
        assert calls == 1999 // TICK_ROWS + 2  # a tick per TICK_ROWS hidden rows, then the end
        assert [cells[0].row for cells in r.scanner(scan).next(10)] == \
            [cells[0].row for cells in found]  # no deadline: one call finds it
    finally:
        r.close(flush=False)
