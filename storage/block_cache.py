"""Block cache: decoded HFile blocks, LRU, bounded in bytes, shared by every region of a server.

See docs/storage.md ("Block cache"). Keys are ``(file_key, block_offset)`` where ``file_key``
identifies one immutable file (HFileReader.file_key: path, inode, size), so a file recreated under
the same path never serves stale blocks. Values are whatever the reader caches (a decoded block:
parallel lists of keys and values) with a caller-supplied size estimate in bytes. Readers
register with open_file and give the file up with release_file; the last one out evicts its
blocks (both daughters of a split read the parent's file, under one file_key).

Thread-safe: every method takes one lock for a few dict operations; decoding happens outside it,
so two threads that miss on the same block may both decode it (harmless, last put wins).
"""

from __future__ import annotations

import threading
from collections import OrderedDict


# HBase's hbase.lru.blockcache.memory.percentage: the share of the cache that IN_MEMORY
# families' blocks keep however many other blocks pass through it.
IN_MEMORY_SHARE = 0.25


class BlockCache:
    """LRU bounded in bytes, shared by every region of a server. Thread-safe.

    Blocks of IN_MEMORY families (put with in_memory=True, see in_memory_view) live in their
    own LRU, as HBase's in-memory priority: other blocks are evicted first, so a large scan
    cannot push them out, while they hold at most IN_MEMORY_SHARE of the capacity (beyond it,
    or when nothing else is cached, their least recently used go)."""

    def __init__(self, capacity_bytes: int = 64 << 20):
        if capacity_bytes < 0:
            raise ValueError(f"capacity_bytes must be >= 0, got {capacity_bytes}")
        self.capacity_bytes = capacity_bytes
        self._lock = threading.Lock()
        # guarded by self._lock: key -> (value, size), least recently used first; the blocks
        # of IN_MEMORY families in _memory, every other block in _entries
        self._entries: OrderedDict = OrderedDict()
        self._memory: OrderedDict = OrderedDict()
        # guarded by self._lock: file_key -> set of cache keys of that file (for evict_file)
        self._by_file: dict = {}
        # guarded by self._lock: file_key -> how many open readers use that file (both
        # daughters of a split read their parent's file, one file_key, through references)
        self._readers: dict = {}
        self.size_bytes = 0  # guarded by self._lock
        self.memory_bytes = 0  # guarded by self._lock: the part of size_bytes in _memory
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries) + len(self._memory)

    def in_memory_view(self) -> "InMemoryView":
        """This cache as an IN_MEMORY family's files use it (their blocks go in first)."""
        return InMemoryView(self)

    def get(self, key) -> object | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            else:
                entry = self._memory.get(key)
                if entry is None:
                    self.misses += 1
                    return None
                self._memory.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key, value, size: int, in_memory: bool = False) -> None:
        """Cache `value` under `key` (a (file_key, offset) tuple), evicting least recently
        used blocks until the total fits. A block larger than the whole cache is not kept."""
        if size > self.capacity_bytes:
            return
        file_key = key[0]
        with self._lock:
            self._pop(key)
            (self._memory if in_memory else self._entries)[key] = (value, size)
            if in_memory:
                self.memory_bytes += size
            self._by_file.setdefault(file_key, set()).add(key)
            self.size_bytes += size
            self._evict_to_fit()

    def charge(self, key, size: int) -> None:
        """Add `size` bytes to a cached block's account (something the block carries grew, e.g.
        its memo of row encodings) and evict least recently used blocks until the total fits;
        nothing when the block is no longer cached."""
        with self._lock:
            bucket = self._entries if key in self._entries else self._memory
            entry = bucket.get(key)
            if entry is None:
                return
            bucket[key] = (entry[0], entry[1] + size)
            self.size_bytes += size
            if bucket is self._memory:
                self.memory_bytes += size
            self._evict_to_fit()

    def _pop(self, key):  # caller holds self._lock; the (value, size) removed, or None
        entry = self._entries.pop(key, None)
        if entry is None:
            entry = self._memory.pop(key, None)
            if entry is not None:
                self.memory_bytes -= entry[1]
        if entry is not None:
            self.size_bytes -= entry[1]
        return entry

    def evict_file(self, file_key) -> int:
        """Drop every block of one file (deleted or compacted away); returns how many.

        `file_key` is the reader's file_key; a plain path string also works and drops the
        blocks of every file_key whose path is that string."""
        with self._lock:
            if file_key in self._by_file:
                file_keys = [file_key]
            elif isinstance(file_key, str):
                file_keys = [fk for fk in self._by_file
                             if isinstance(fk, tuple) and fk and fk[0] == file_key]
            else:
                file_keys = []
            return sum(self._drop_file(fk) for fk in file_keys)

    def _drop_file(self, file_key) -> int:  # caller holds self._lock
        keys = self._by_file.pop(file_key, ())
        for key in keys:
            self._pop(key)
        return len(keys)

    def bytes_by_file(self) -> dict:
        """file_key -> bytes cached for that file (what each file costs the cache)."""
        with self._lock:
            out = {}
            for bucket in (self._entries, self._memory):
                for key, (_, size) in bucket.items():
                    out[key[0]] = out.get(key[0], 0) + size
            return out

    def open_file(self, file_key) -> None:
        """A reader of the file `file_key` opened (see release_file)."""
        with self._lock:
            self._readers[file_key] = self._readers.get(file_key, 0) + 1

    def release_file(self, file_key) -> int:
        """A reader of `file_key` is done with it (closed, or its file compacted away): once no
        open reader of that file remains, its blocks are evicted (they could only be hit by a
        reader opened later, and would push live blocks out meanwhile). Returns how many
        blocks were evicted."""
        with self._lock:
            n = self._readers.get(file_key, 0) - 1
            if n > 0:
                self._readers[file_key] = n
                return 0
            self._readers.pop(file_key, None)
            return self._drop_file(file_key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._memory.clear()
            self._by_file.clear()  # open readers stay counted in _readers
            self.size_bytes = self.memory_bytes = 0

    def stats(self) -> dict:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
                "size_bytes": self.size_bytes,
                "in_memory_bytes": self.memory_bytes,
                "capacity_bytes": self.capacity_bytes,
                "blocks": len(self._entries) + len(self._memory),
            }

    def _evict_to_fit(self) -> None:  # caller holds self._lock
        memory_share = self.capacity_bytes * IN_MEMORY_SHARE
        while self.size_bytes > self.capacity_bytes:
            if self._memory and (self.memory_bytes > memory_share or not self._entries):
                victim, (_, vsize) = self._memory.popitem(last=False)
                self.memory_bytes -= vsize
            elif self._entries:
                victim, (_, vsize) = self._entries.popitem(last=False)
            else:
                break
            self._forget(victim)
            self.size_bytes -= vsize
            self.evictions += 1

    def _forget(self, key) -> None:  # caller holds self._lock
        keys = self._by_file.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_file[key[0]]


class InMemoryView:
    """A BlockCache as the files of an IN_MEMORY family see it: the same blocks and counters,
    but what they put is cached with in-memory priority (HFileReader needs no flag)."""

    __slots__ = ("_cache",)

    def __init__(self, cache: BlockCache):
        self._cache = cache

    def get(self, key):
        return self._cache.get(key)

    def put(self, key, value, size: int) -> None:
        self._cache.put(key, value, size, in_memory=True)

    def charge(self, key, size: int) -> None:
        self._cache.charge(key, size)

    def evict_file(self, file_key) -> int:
        return self._cache.evict_file(file_key)

    def open_file(self, file_key) -> None:
        self._cache.open_file(file_key)

    def release_file(self, file_key) -> int:
        return self._cache.release_file(file_key)
