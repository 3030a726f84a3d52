"""Bloom filter of an HFile: "is this row (or row+column) possibly in the file?" (docs/storage.md).

A standard bloom filter: m bits, k bit positions per element derived by double hashing,
position_i = (h1 + i*h2) mod m, from the two 32-bit halves of one blake2b digest (Kirsch and
Mitzenmacher: two hashes give the false-positive rate of k independent ones). The filter is
sized when the file is finished, from the real element count, for a target false-positive
rate (1% by default): m = -n ln p / (ln 2)^2, k = round(m/n ln 2).

The element encoding (b"R" + row, b"C" + u16 len + row + qualifier) and the hash are written to
disk through the bit array: never change them without a new HFile version.

Answers never have false negatives: an element that was added always tests present.
A BloomFilter is immutable once built and safe to query from many threads.
"""

from __future__ import annotations

import math
import struct
from array import array
from hashlib import blake2b

from storage.hfile_format import BLOOM_HEADER

DEFAULT_FALSE_POSITIVE_RATE = 0.01
_ROWCOL_LEN = struct.Struct("<H")
_M32 = 0xFFFFFFFF


def row_element(row: bytes) -> bytes:
    return b"R" + row


def rowcol_element(row: bytes, qualifier: bytes) -> bytes:
    return b"".join((b"C", _ROWCOL_LEN.pack(len(row)), row, qualifier))


def element_hash(element: bytes) -> int:
    """64-bit hash of an element; low half is h1, high half h2."""
    return int.from_bytes(blake2b(element, digest_size=8).digest(), "little")


def optimal_parameters(n: int, fp_rate: float) -> tuple[int, int]:
    """(m bits, k hashes) for n elements at the target false-positive rate."""
    n = max(n, 1)
    m = max(64, math.ceil(-n * math.log(fp_rate) / (math.log(2) ** 2)))
    k = min(16, max(1, round(m / n * math.log(2))))  # the cap only matters for tiny n
    return m, k


class BloomFilter:
    """m bits + k; query with `might_contain(element_hash(...))`."""

    __slots__ = ("m", "k", "n", "bits")

    def __init__(self, m: int, k: int, n: int, bits: bytearray | bytes):
        if m <= 0 or k <= 0 or len(bits) != (m + 7) // 8:
            raise ValueError(f"inconsistent bloom filter: m={m} k={k} bytes={len(bits)}")
        self.m, self.k, self.n, self.bits = m, k, n, bits

    @classmethod
    def build(cls, hashes, fp_rate: float = DEFAULT_FALSE_POSITIVE_RATE) -> "BloomFilter":
        """Filter holding every element whose element_hash is in `hashes` (duplicates are
        harmless)."""
        n = len(hashes)
        m, k = optimal_parameters(n, fp_rate)
        bits = bytearray((m + 7) // 8)
        ks = range(k)
        for h in hashes:  # the hot loop of writing an HFile's bloom: keep it flat
            h1 = h & _M32
            h2 = (h >> 32) | 1
            for i in ks:
                p = (h1 + i * h2) % m
                bits[p >> 3] |= 1 << (p & 7)
        return cls(m, k, n, bits)

    def might_contain(self, h: int) -> bool:
        m, bits = self.m, self.bits
        h1 = h & _M32
        h2 = (h >> 32) | 1
        for i in range(self.k):
            p = (h1 + i * h2) % m
            if not bits[p >> 3] >> (p & 7) & 1:
                return False
        return True

    def might_contain_row(self, row: bytes) -> bool:
        return self.might_contain(element_hash(b"R" + row))

    def might_contain_column(self, row: bytes, qualifier: bytes) -> bool:
        return self.might_contain(element_hash(rowcol_element(row, qualifier)))

    def to_bytes(self) -> bytes:
        return BLOOM_HEADER.pack(self.m, self.k, self.n) + bytes(self.bits)

    @classmethod
    def from_bytes(cls, payload) -> "BloomFilter":
        """Inverse of to_bytes; ValueError/struct.error on a malformed payload."""
        m, k, n = BLOOM_HEADER.unpack_from(payload, 0)
        return cls(m, k, n, bytes(payload[BLOOM_HEADER.size:]))


class BloomBuilder:
    """Collects element hashes while an HFile is written; the filter is sized at the end,
    when the element count is known. Consecutive duplicates are skipped by the caller."""

    __slots__ = ("kind", "hashes")

    def __init__(self, kind: str):
        self.kind = kind  # "ROW" or "ROWCOL"
        self.hashes = array("Q")

    def add_row(self, row: bytes) -> None:
        self.hashes.append(element_hash(b"R" + row))

    def add_column(self, row: bytes, qualifier: bytes) -> None:
        self.hashes.append(element_hash(rowcol_element(row, qualifier)))

    def build(self, fp_rate: float = DEFAULT_FALSE_POSITIVE_RATE) -> BloomFilter:
        return BloomFilter.build(self.hashes, fp_rate)
