"""Bloom filter of an HFile: "is this row (or row+column) possibly in the file?" (docs/storage.md).

A standard bloom filter: m bits (m a multiple of 8; bit p is byte p>>3, mask 0x80 >> (p & 7)),
k bit positions per element derived by double hashing, position_i = (h1 + i*h2) mod m, from the two 32-bit halves of one blake2b digest (Kirsch and
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
from collections import deque
from hashlib import blake2b
from itertools import repeat
from operator import add, mod, or_, setitem

from storage.hfile_format import BLOOM_HEADER

DEFAULT_FALSE_POSITIVE_RATE = 0.01
_ROWCOL_LEN = struct.Struct("<H")
_M32 = 0xFFFFFFFF
_FLAG_TO_DIGIT = bytes.maketrans(b"\x00\x01", b"01")


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
    m = (m + 7) // 8 * 8  # whole bytes: the bit array is packed MSB-first
    k = min(16, max(1, round(m / n * math.log(2))))  # the cap only matters for tiny n
    return m, k


class BloomFilter:
    """m bits + k; query with `might_contain(element_hash(...))`."""

    __slots__ = ("m", "k", "n", "bits")

    def __init__(self, m: int, k: int, n: int, bits: bytearray | bytes):
        if m <= 0 or m % 8 or k <= 0 or len(bits) != m // 8:
            raise ValueError(f"inconsistent bloom filter: m={m} k={k} bytes={len(bits)}")
        self.m, self.k, self.n, self.bits = m, k, n, bits

    @classmethod
    def build(cls, hashes, fp_rate: float = DEFAULT_FALSE_POSITIVE_RATE) -> "BloomFilter":
        """Filter holding every element whose element_hash is in `hashes` (duplicates are
        harmless)."""
        return cls.from_digests(b"".join(h.to_bytes(8, "little") for h in hashes), fp_rate)

    @classmethod
    def from_digests(cls, digests, fp_rate: float = DEFAULT_FALSE_POSITIVE_RATE) -> "BloomFilter":
        """Filter from concatenated 8-byte blake2b digests (what the HFile writer collects:
        h1 = first 4 bytes, h2 = next 4, little-endian)."""
        n = len(digests) // 8
        m, k = optimal_parameters(n, fp_rate)
        # Writing the bloom is on every flush's path, so no per-bit Python loop: positions are
        # computed and marked with C-level map() (one flag byte per bit), then packed to bits
        # in one step by parsing the flags as a base-2 number (linear time for base 2).
        halves = struct.unpack(f"<{2 * n}I", digests)
        pos = halves[0::2]  # h1, then h1 + i*h2 for i = 1..k-1
        h2 = list(map(or_, halves[1::2], repeat(1)))
        flags = bytearray(m)
        for i in range(k):
            deque(map(setitem, repeat(flags), map(mod, pos, repeat(m)), repeat(1)), maxlen=0)
            if i + 1 < k:
                pos = list(map(add, pos, h2))
        bits = int(flags.translate(_FLAG_TO_DIGIT), 2).to_bytes(m // 8, "big")
        return cls(m, k, n, bits)

    def might_contain(self, h: int) -> bool:
        m, bits = self.m, self.bits
        h1 = h & _M32
        h2 = (h >> 32) | 1
        for i in range(self.k):
            p = (h1 + i * h2) % m
            if not bits[p >> 3] & (0x80 >> (p & 7)):
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
    """Collects element digests while an HFile is written; the filter is sized at the end,
    when the element count is known. Consecutive duplicates are skipped by the caller."""

    __slots__ = ("kind", "digests")

    def __init__(self, kind: str):
        self.kind = kind  # "ROW" or "ROWCOL"
        self.digests = bytearray()  # 8 bytes per element: blake2b(element, digest_size=8)

    def add_row(self, row: bytes) -> None:
        self.digests += blake2b(b"R" + row, digest_size=8).digest()

    def add_column(self, row: bytes, qualifier: bytes) -> None:
        self.digests += blake2b(rowcol_element(row, qualifier), digest_size=8).digest()

    def add_family_delete(self, row: bytes) -> None:
        self.digests += blake2b(b"F" + row, digest_size=8).digest()

    @property
    def hashes(self) -> list[int]:
        d = self.digests
        return [int.from_bytes(d[i:i + 8], "little") for i in range(0, len(d), 8)]

    def build(self, fp_rate: float = DEFAULT_FALSE_POSITIVE_RATE) -> BloomFilter:
        return BloomFilter.from_digests(self.digests, fp_rate)
