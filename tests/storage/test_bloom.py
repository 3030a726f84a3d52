"""Bloom filter: never a false negative, false positives near the 1% target, persistence."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.bloom import BloomBuilder, BloomFilter, optimal_parameters
from storage.cell import CellType, store_key
from storage.hfile import HFileReader, HFileWriter

rows_st = st.lists(st.binary(min_size=1, max_size=24), min_size=1, max_size=300, unique=True)


@settings(max_examples=200, deadline=None)
@given(rows=rows_st, qualifiers=st.lists(st.binary(max_size=8), min_size=1, max_size=4, unique=True))
def test_added_rows_and_columns_always_test_present(rows, qualifiers):
    b = BloomBuilder("ROWCOL")
    for row in rows:
        b.add_row(row)
        for q in qualifiers:
            b.add_column(row, q)
    f = BloomFilter.from_bytes(b.build().to_bytes())
    for row in rows:
        assert f.might_contain_row(row)
        for q in qualifiers:
            assert f.might_contain_column(row, q)


@pytest.mark.parametrize("bloom", ["NONE", "ROW", "ROWCOL"])
@settings(max_examples=25, deadline=None)
@given(rows=rows_st)
def test_hfile_bloom_has_no_false_negatives(tmp_path_factory, bloom, rows):
    path = str(tmp_path_factory.mktemp("bloom") / "f.hfile")
    cells = sorted((store_key(row, q, 1, CellType.PUT), b"v") for row in rows for q in (b"a", b"b"))
    w = HFileWriter(path, family=b"cf", block_size=128, bloom=bloom)
    for key, value in cells:
        w.append(key, value)
    w.finish(max_seqid=1)
    with HFileReader(path) as r:
        for row in rows:
            assert r.might_contain_row(row)
            assert r.might_contain_column(row, b"a") and r.might_contain_column(row, b"b")
            assert [c[0][1] for c in r.row_cells(row)] == [b"a", b"b"]
        assert r.bloom_rejections == 0


def test_false_positive_rate_is_near_the_one_percent_target():
    b = BloomBuilder("ROW")
    for i in range(20_000):
        b.add_row(b"row-%08d" % i)
    f = b.build(0.01)
    probes = 40_000
    false = sum(f.might_contain_row(b"absent-%08d" % i) for i in range(probes))
    assert 0.004 < false / probes < 0.02, false / probes
    assert 9 <= f.m / f.n <= 10.5 and f.k == 7  # ~9.6 bits and 7 hashes per element at 1%


def test_bloom_sizes_for_the_real_element_count():
    m, k = optimal_parameters(1000, 0.01)
    assert 9500 <= m <= 9600 and k == 7
    m, k = optimal_parameters(0, 0.01)  # an empty file still gets a valid (tiny) filter
    assert m >= 64 and 1 <= k <= 16


def test_empty_filter_rejects_everything():
    f = BloomBuilder("ROW").build()
    assert not f.might_contain_row(b"anything")


def test_serialized_filter_answers_identically():
    b = BloomBuilder("ROW")
    for i in range(500):
        b.add_row(b"%d" % i)
    f = b.build()
    g = BloomFilter.from_bytes(f.to_bytes())
    assert (g.m, g.k, g.n) == (f.m, f.k, f.n)
    assert [g.might_contain_row(b"%d" % i) for i in range(2000)] == [f.might_contain_row(b"%d" % i) for i in range(2000)]


def test_inconsistent_serialized_filter_is_refused():
    raw = BloomBuilder("ROW").build().to_bytes()
    with pytest.raises(ValueError):
        BloomFilter.from_bytes(raw[:-1])


def test_bit_layout_matches_the_documented_formula():
    """On-disk contract: bit p of the filter is byte p>>3 masked with 0x80 >> (p & 7), and an
    element sets bits (h1 + i*h2) mod m for i < k."""
    b = BloomBuilder("ROW")
    for i in range(300):
        b.add_row(b"row%d" % i)
    f = b.build()
    expect = bytearray(f.m // 8)
    for h in b.hashes:
        h1, h2 = h & 0xFFFFFFFF, (h >> 32) | 1
        for i in range(f.k):
            p = (h1 + i * h2) % f.m
            expect[p >> 3] |= 0x80 >> (p & 7)
    assert bytes(f.bits) == bytes(expect)
