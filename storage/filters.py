"""Scan and Get filters, written in HBase's filter language (the shell's and Thrift's strings).

    PrefixFilter('user1') AND SingleColumnValueFilter('cf', 'status', =, 'binary:ok')
    (QualifierFilter(>=, 'binary:b') OR ValueFilter(=, 'substring:err')) AND KeyOnlyFilter()
    WHILE RowFilter(<, 'binary:m')

Filters (HBase's names and arguments):
- rows: PrefixFilter('p'), RowFilter(op, 'cmp'), InclusiveStopFilter('row'), PageFilter(n)
- columns: FamilyFilter(op, 'cmp'), QualifierFilter(op, 'cmp'), ColumnPrefixFilter('p'),
  MultipleColumnPrefixFilter('a', 'b', ...), ColumnRangeFilter('min', bool, 'max', bool)
  ('' = unbounded), ColumnCountGetFilter(n), ColumnPaginationFilter(limit, offset),
  FirstKeyOnlyFilter(), KeyOnlyFilter([lenAsVal]), TimestampsFilter(ts, ...)
- values: ValueFilter(op, 'cmp'), SingleColumnValueFilter('f', 'q', op, 'cmp'
  [, filterIfMissing, latestVersionOnly]), SingleColumnValueExcludeFilter(same arguments),
  ColumnValueFilter('f', 'q', op, 'cmp')
- combined: A AND B, A OR B, ( ), SKIP A (drop the whole row if A drops any of its cells),
  WHILE A (end the whole scan at the first row or cell A drops); SKIP/WHILE bind tightest,
  then AND, then OR.
op is one of < <= = != > >=; 'cmp' is 'binary:v', 'binaryprefix:v' (the cell's first
len(v) bytes against v), 'substring:v' (case-insensitive; = and != only) or 'regexstring:re'
(a search, as Java's find(); = and != only). `cell op value` keeps a cell: ValueFilter(<,
'binary:5') keeps values below '5'.

Model: a filter looks at one whole row at a time and answers a keep-mask over its cells, or
None to drop the row. Its row holds every version the family keeps of the cells the read
selected (every stored one in a raw read), not only the read's versions: as HBase 2's
UserScanQueryMatcher, the read's versions are counted among the cells the filter kept
(filter_rows' `versions`), so ValueFilter or TimestampsFilter find an older version. AND and
OR combine masks, so the result does not depend on the order of their operands (HBase's
FilterList can).
PageFilter counts the rows that are finally returned; WHILE, PageFilter (once its page is
full) and InclusiveStopFilter can end the scan (`done`), which ends it in every later region
too. Each scanner parses its own copy, so that state (PageFilter's count) belongs to one
region's scan, as in HBase: a region with fewer rows than the page leaves the scan going, and
the next region fills a page of its own.
"""

from __future__ import annotations

import operator
import re

from minihbase.errors import InvalidArgumentError
from storage.scanner import TICK_ROWS

_OPS = {b"<": operator.lt, b"<=": operator.le, b"=": operator.eq, b"!=": operator.ne,
        b">": operator.gt, b">=": operator.ge}
_TOKEN = re.compile(rb"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op><=|>=|!=|<|>|=)|(?P<num>-?\d+)"
                    rb"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),]))")


# --- comparators -------------------------------------------------------------------------------
def _comparator(text: bytes, op: bytes):
    """'binary:v' and friends -> test(cell_bytes) -> bool, for `cell op v`."""
    kind, sep, value = text.partition(b":")
    if not sep:
        raise InvalidArgumentError(f"comparator {text.decode('latin-1')!r} needs a type: "
                                "binary:, binaryprefix:, substring: or regexstring:")
    cmp = _OPS[op]
    if kind == b"binary":
        return lambda b: cmp(b, value)
    if kind == b"binaryprefix":
        n = len(value)
        return lambda b: cmp(b[:n], value)
    if kind in (b"substring", b"regexstring"):
        if op not in (b"=", b"!="):
            raise InvalidArgumentError(f"only = and != compare with a {kind.decode()} comparator")
        if kind == b"substring":
            needle = value.lower()
            found = lambda b: needle in b.lower()  # noqa: E731
        else:
            try:
                found = re.compile(value, re.DOTALL).search
            except re.error as e:
                raise InvalidArgumentError(
                    f"bad regular expression {value.decode('latin-1')!r}: {e}") from None
        want = op == b"="
        return lambda b: bool(found(b)) == want
    raise InvalidArgumentError(f"unknown comparator type {kind.decode('latin-1')!r} (binary, "
                            "binaryprefix, substring or regexstring)")


# --- filters -----------------------------------------------------------------------------------
class Filter:
    done = False  # True: the scan ends after this row

    def keep(self, row: bytes, cells: list):
        """A list of bools (keep each cell) or None (drop the row)."""
        raise NotImplementedError

    def returned(self) -> None:
        """The row was returned to the caller (PageFilter counts these)."""

    def children(self) -> tuple:
        return ()


class _CellTest(Filter):
    def __init__(self, test):
        self.test = test

    def keep(self, row, cells):
        test = self.test
        return [test(c) for c in cells]


class _RowTest(Filter):
    def __init__(self, test):
        self.test = test

    def keep(self, row, cells):
        return [True] * len(cells) if self.test(row) else None


class _Columns(Filter):
    """Keeps the newest version of the columns whose index in the row is in [first, stop)
    (HBase's ColumnPaginationFilter and ColumnCountGetFilter answer INCLUDE_AND_NEXT_COL)."""

    def __init__(self, first: int, stop: int):
        self.first, self.stop = first, stop

    def keep(self, row, cells):
        mask, index, last = [], -1, None
        for c in cells:
            if (c.family, c.qualifier) != last:
                index, last = index + 1, (c.family, c.qualifier)
                mask.append(self.first <= index < self.stop)
            else:
                mask.append(False)
        return mask


class _FirstKeyOnly(Filter):
    def keep(self, row, cells):
        return [i == 0 for i in range(len(cells))]


class _KeyOnly(Filter):
    def __init__(self, len_as_value: bool = False):
        self.len_as_value = len_as_value

    def keep(self, row, cells):
        return [True] * len(cells)


class _Page(Filter):
    def __init__(self, size: int):
        self.size, self.count = size, 0

    def keep(self, row, cells):
        return [True] * len(cells) if self.count < self.size else None

    def returned(self):
        self.count += 1
        self.done = self.count >= self.size


class _InclusiveStop(Filter):
    def __init__(self, stop: bytes, reversed_: bool):
        self.stop, self.reversed = stop, reversed_

    def keep(self, row, cells):
        past = row < self.stop if self.reversed else row > self.stop
        if past:
            self.done = True
            return None
        if row == self.stop:
            self.done = True
        return [True] * len(cells)


class _SingleColumnValue(Filter):
    def __init__(self, family, qualifier, test, if_missing=False, latest_only=True,
                 exclude=False):
        self.column = (family, qualifier)
        self.test, self.if_missing, self.latest_only = test, if_missing, latest_only
        self.exclude = exclude

    def keep(self, row, cells):
        column = self.column
        values = [c.value for c in cells if (c.family, c.qualifier) == column]
        if not values:
            ok = not self.if_missing
        else:
            ok = any(map(self.test, values[:1] if self.latest_only else values))
        if not ok:
            return None
        if self.exclude:
            return [(c.family, c.qualifier) != column for c in cells]
        return [True] * len(cells)


class _SkipOrWhile(Filter):
    """SKIP (drop the row when the inner filter drops any of its cells) and WHILE (end the
    scan there)."""

    def __init__(self, inner: Filter, ends_scan: bool):
        self.inner, self.ends_scan = inner, ends_scan
        self._ended = False

    @property
    def done(self):
        return self.inner.done or self._ended

    def keep(self, row, cells):
        mask = self.inner.keep(row, cells)
        if mask is not None and all(mask):
            return mask
        if self.ends_scan:
            self._ended = True
        return None

    def returned(self):
        self.inner.returned()

    def children(self):
        return (self.inner,)


class _List(Filter):
    def __init__(self, parts: list[Filter], all_: bool):
        self.parts, self.all = parts, all_

    @property
    def done(self):
        ends = [p.done for p in self.parts]
        return any(ends) if self.all else all(ends)

    def keep(self, row, cells):
        masks = [p.keep(row, cells) for p in self.parts]
        if self.all:
            if None in masks:
                return None
            return [all(keeps) for keeps in zip(*masks)]
        masks = [m for m in masks if m is not None]
        if not masks:
            return None
        return [any(keeps) for keeps in zip(*masks)]

    def returned(self):
        for p in self.parts:
            p.returned()

    def children(self):
        return tuple(self.parts)


def filter_rows(rows, f: Filter, versions: dict | None = None):
    """(row, cells) pairs -> the same, filtered; stops once the filter is done. Ticks (see
    storage/scanner.py) pass through, and after every TICK_ROWS rows the filter drops it yields
    one more, so that the scanner pulling from it sees the time pass while nothing matches.
    versions: {family: n}, at most the n newest puts the filter kept per column of those
    families (the read's versions, counted after the filter as HBase 2 does; the region gives
    the filter every version the family keeps)."""
    key_only = [p for p in _walk(f) if isinstance(p, _KeyOnly)]  # values are replaced
    as_length = any(p.len_as_value for p in key_only)
    dropped = 0
    for row, cells in rows:
        if cells is None:
            yield row, None
            continue
        mask = f.keep(row, cells)
        kept = None if mask is None else [c for c, k in zip(cells, mask) if k]
        if kept and versions is not None:
            kept = _newest_versions(kept, versions)
        if kept:
            f.returned()
            if key_only:
                kept = [c._replace(value=len(c.value).to_bytes(4, "big") if as_length
                                   else b"") for c in kept]
            yield row, kept
        if f.done:
            return
        if not kept:
            dropped += 1
            if dropped == TICK_ROWS:
                dropped = 0
                yield row, None


def _newest_versions(cells: list, versions: dict) -> list:
    """cells (one row, HBase order) with at most versions[family] puts per column; delete
    markers (a raw read) are not counted."""
    out = []
    column, n = None, 0
    for c in cells:
        cap = versions.get(c.family)
        if cap is not None and c.type == 4:
            if (c.family, c.qualifier) != column:
                column, n = (c.family, c.qualifier), 0
            n += 1
            if n > cap:
                continue
        out.append(c)
    return out


def _walk(f: Filter):
    yield f
    for child in f.children():
        yield from _walk(child)


# --- parser ------------------------------------------------------------------------------------
def _tokens(text: bytes) -> list[tuple[str, bytes, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == b"":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            pos += len(text[pos:]) - len(text[pos:].lstrip())
            bad = text[pos:pos + 10].decode("latin-1")
            raise InvalidArgumentError(f"unexpected {bad!r} at position {pos}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace(b"''", b"'")
        out.append((kind, value, m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: bytes, reversed_: bool):
        self.toks = _tokens(text)
        self.i = 0
        self.reversed = reversed_

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("end", b"", -1)

    def take(self, kind: str, value: bytes | None = None):
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            want = value.decode() if value is not None else "a filter name"
            got = "the end" if tok[0] == "end" else repr(tok[1].decode("latin-1"))
            where = "" if tok[0] == "end" else f" at position {tok[2]}"
            raise InvalidArgumentError(f"expected {want}, found {got}{where}")
        self.i += 1
        return tok[1]

    def word(self, *words: bytes) -> bool:
        tok = self.peek()
        if tok[0] == "word" and tok[1] in words:
            self.i += 1
            return True
        return False

    def expr(self) -> Filter:
        parts = [self.term()]
        while self.word(b"OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else _List(parts, all_=False)

    def term(self) -> Filter:
        parts = [self.unary()]
        while self.word(b"AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _List(parts, all_=True)

    def unary(self) -> Filter:
        if self.word(b"SKIP"):
            return _SkipOrWhile(self.unary(), ends_scan=False)
        if self.word(b"WHILE"):
            return _SkipOrWhile(self.unary(), ends_scan=True)
        if self.peek()[0] == "punct" and self.peek()[1] == b"(":
            self.i += 1
            inner = self.expr()
            self.take("punct", b")")
            return inner
        name = self.take("word").decode()
        self.take("punct", b"(")
        args = []
        if not (self.peek()[0] == "punct" and self.peek()[1] == b")"):
            args.append(self.peek())
            self.i += 1
            while self.peek()[0] == "punct" and self.peek()[1] == b",":
                self.i += 1
                args.append(self.peek())
                self.i += 1
        self.take("punct", b")")
        return _build(name, args, self.reversed)


def _build(name: str, args: list, reversed_: bool) -> Filter:
    spec = _FILTERS.get(name)
    if spec is None:
        raise InvalidArgumentError(f"unknown filter {name!r}; known: {', '.join(sorted(_FILTERS))}")
    kinds, make = spec
    required = [k for k in kinds if not k.endswith("?")] if kinds != "*" else []
    if kinds == "*":
        if not args:
            raise InvalidArgumentError(f"{name} takes at least one argument")
        values = [_arg(name, a, "str" if name.startswith("Multiple") else "num") for a in args]
    else:
        if not len(required) <= len(args) <= len(kinds):
            raise InvalidArgumentError(f"{name} takes {_count(required, kinds)}, got {len(args)}")
        values = [_arg(name, a, k.rstrip("?")) for a, k in zip(args, kinds)]
    return make(*values, reversed_) if name == "InclusiveStopFilter" else make(*values)


def _count(required, kinds) -> str:
    n = f"{len(required)}" if len(required) == len(kinds) else \
        f"{len(required)} to {len(kinds)}"
    return f"{n} argument{'s' if len(kinds) != 1 else ''}"


def _arg(name: str, tok, kind: str):
    tkind, value, pos = tok
    if kind == "bool" and tkind == "word" and value.lower() in (b"true", b"false"):
        return value.lower() == b"true"
    if kind == "num" and tkind == "num":
        return int(value)
    if kind == "op" and tkind == "op":
        return value
    if kind == "str" and tkind == "str":
        return value
    wanted = {"bool": "true or false", "num": "a number", "op": "a comparison (< <= = != > >=)",
              "str": "a quoted string"}[kind]
    got = "nothing" if tkind == "end" else repr(value.decode("latin-1"))
    raise InvalidArgumentError(f"{name}: expected {wanted}, found {got}"
                            + (f" at position {pos}" if pos >= 0 else ""))


def _compare_cell(field):
    def make(op, cmp):
        test = _comparator(cmp, op)
        return _CellTest(lambda c: test(getattr(c, field)))
    return make


def _column_range(low, low_incl, high, high_incl):
    def test(c):
        q = c.qualifier
        if low and (q < low or (q == low and not low_incl)):
            return False
        return not high or q < high or (q == high and high_incl)
    return _CellTest(test)


def _scv(exclude: bool):
    def make(family, qualifier, op, cmp, if_missing=False, latest_only=True):
        return _SingleColumnValue(family, qualifier, _comparator(cmp, op), if_missing,
                                  latest_only, exclude)
    return make


def _column_value(family, qualifier, op, cmp):
    test = _comparator(cmp, op)
    column = (family, qualifier)
    return _CellTest(lambda c: (c.family, c.qualifier) == column and test(c.value))


def _row_compare(op, cmp):
    return _RowTest(_comparator(cmp, op))


def _positive(name: str, n: int) -> int:
    if n < 0:
        raise InvalidArgumentError(f"{name} needs a number >= 0, got {n}")
    return n


def _columns_page(name: str, limit: int, offset: int) -> _Columns:
    """Columns offset .. offset + limit - 1 of each row."""
    return _Columns(_positive(name, offset), offset + _positive(name, limit))


_FILTERS = {
    "PrefixFilter": (["str"], lambda p: _RowTest(lambda r: r.startswith(p))),
    "RowFilter": (["op", "str"], _row_compare),
    "InclusiveStopFilter": (["str"], _InclusiveStop),
    "PageFilter": (["num"], lambda n: _Page(_positive("PageFilter", n))),
    "FamilyFilter": (["op", "str"], _compare_cell("family")),
    "QualifierFilter": (["op", "str"], _compare_cell("qualifier")),
    "ValueFilter": (["op", "str"], _compare_cell("value")),
    "ColumnPrefixFilter": (["str"], lambda p: _CellTest(lambda c: c.qualifier.startswith(p))),
    "MultipleColumnPrefixFilter": ("*", lambda *ps: _CellTest(
        lambda c: c.qualifier.startswith(tuple(ps)))),
    "ColumnRangeFilter": (["str", "bool", "str", "bool"], _column_range),
    "ColumnCountGetFilter": (["num"], lambda n: _columns_page("ColumnCountGetFilter", n, 0)),
    "ColumnPaginationFilter": (["num", "num"], lambda limit, offset: _columns_page(
        "ColumnPaginationFilter", limit, offset)),
    "FirstKeyOnlyFilter": ([], _FirstKeyOnly),
    "KeyOnlyFilter": (["bool?"], _KeyOnly),
    "TimestampsFilter": ("*", lambda *ts: _CellTest(lambda c, s=frozenset(ts): c.timestamp in s)),
    "SingleColumnValueFilter": (["str", "str", "op", "str", "bool?", "bool?"], _scv(False)),
    "SingleColumnValueExcludeFilter": (["str", "str", "op", "str", "bool?", "bool?"],
                                       _scv(True)),
    "ColumnValueFilter": (["str", "str", "op", "str"], _column_value),
}


def filter_names() -> list[str]:
    """The filters parse_filter knows (HBase shell's show_filters)."""
    return sorted(_FILTERS)


def parse_filter(text, reversed_: bool = False) -> Filter:
    """A fresh filter (with its own state) from HBase filter-language text (str or bytes)."""
    if isinstance(text, str):
        text = text.encode()
    if not text.strip():
        raise InvalidArgumentError("empty filter")
    try:
        parser = _Parser(text, reversed_)
        f = parser.expr()
        if parser.peek()[0] != "end":
            tok = parser.peek()
            raise InvalidArgumentError(f"unexpected {tok[1].decode('latin-1')!r} at position "
                                    f"{tok[2]} (join filters with AND or OR)")
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"filter {text.decode('latin-1')!r}: {e}") from None
    return f
