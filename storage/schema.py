"""Table and column-family descriptors, and RegionInfo (which table, which key range).

These are plain values: the master keeps them in ZooKeeper as JSON (`to_dict`/`from_dict`),
and a region keeps its own RegionInfo in `<region dir>/.regioninfo`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field

from minihbase.errors import InvalidArgumentError

BLOOM_TYPES = ("NONE", "ROW", "ROWCOL")
COMPRESSIONS = ("NONE", "ZSTD", "GZ")
KEEP_DELETED_CELLS = ("FALSE", "TRUE", "TTL")  # HBase's KeepDeletedCells enum
DATA_BLOCK_ENCODINGS = ("NONE", "PREFIX", "FAST_DIFF")  # storage/block_encoding.py
_UNBUILT_ENCODINGS = ("DIFF", "ROW_INDEX_V1")  # HBase has them; minihbase does not
MIN_MAX_FILESIZE = 64 << 10  # a smaller MAX_FILESIZE would split regions of a few rows
# A smaller MEMSTORE_FLUSHSIZE would write an HFile every few hundred cells (HBase's floor,
# hbase.hregion.memstore.flush.size.limit, is 1 MiB; minihbase scales it down as MAX_FILESIZE's)
MIN_MEMSTORE_FLUSHSIZE = 64 << 10
# HBase's table attributes (TableDescriptorBuilder's names) -> TableDescriptor fields, in the
# order HBase's describe lists them (by name).
TABLE_ATTRIBUTES = {"COMPACTION_ENABLED": "compaction_enabled", "DURABILITY": "durability",
                    "MAX_FILESIZE": "max_filesize", "MEMSTORE_FLUSHSIZE": "memstore_flushsize",
                    "MERGE_ENABLED": "merge_enabled",
                    "NORMALIZATION_ENABLED": "normalization_enabled",
                    "NORMALIZER_TARGET_REGION_COUNT": "normalizer_target_region_count",
                    "NORMALIZER_TARGET_REGION_SIZE_MB": "normalizer_target_region_size_mb",
                    "READONLY": "readonly", "SPLIT_ENABLED": "split_enabled"}
# Older names HBase still reads for an attribute, in the same unit (TableDescriptorBuilder keeps
# NORMALIZER_TARGET_REGION_SIZE, in MB, since HBASE-25651 renamed it).
ATTRIBUTE_ALIASES = {"NORMALIZER_TARGET_REGION_SIZE": "NORMALIZER_TARGET_REGION_SIZE_MB"}
# Attributes that are counts, not byte sizes (their error messages say so).
_COUNT_ATTRIBUTES = ("NORMALIZER_TARGET_REGION_COUNT", "NORMALIZER_TARGET_REGION_SIZE_MB")
# HBase's Durability enum. USE_DEFAULT is SYNC_WAL; FSYNC_WAL is the same here (every WAL sync
# is an fdatasync). ASYNC_WAL and SKIP_WAL lose acknowledged writes in a crash:
# docs/storage.md, "Table attributes".
DURABILITIES = ("USE_DEFAULT", "SKIP_WAL", "ASYNC_WAL", "SYNC_WAL", "FSYNC_WAL")
# Used with fullmatch: "$" alone would also accept a name ending in a newline.
_TABLE_NAME = re.compile(r"(?:[A-Za-z0-9_]{1,128}:)?[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_]{1,128}")
_SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")  # as a table qualifier
DEFAULT_NAMESPACE = "default"  # tables named without a namespace are in it
SYSTEM_NAMESPACE = "hbase"  # HBase's system tables' namespace: reserved
_FAMILY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,126}")


@dataclass(frozen=True)
class FamilyDescriptor:
    name: bytes
    max_versions: int = 1  # HBase's default since 0.96
    min_versions: int = 0
    ttl: int | None = None  # seconds; None = forever
    bloom: str = "ROW"  # NONE | ROW | ROWCOL
    compression: str = "NONE"  # NONE | ZSTD | GZ (data blocks)
    block_size: int = 64 * 1024
    block_cache: bool = True  # HBase's BLOCKCACHE: reads keep this family's data blocks cached
    in_memory: bool = False  # HBase's IN_MEMORY: its cached blocks are evicted last
    # HBase's KEEP_DELETED_CELLS: FALSE | TRUE (markers and deleted cells survive major
    # compactions) | TTL (the same until they pass the family's TTL); docs/storage.md
    keep_deleted_cells: str = "FALSE"
    # HBase's DATA_BLOCK_ENCODING: how keys are encoded in the data blocks of new HFiles
    # (flushes and compactions); each file records its own, so an ALTER needs no rewrite
    data_block_encoding: str = "NONE"

    def __post_init__(self):
        if isinstance(self.name, str):
            object.__setattr__(self, "name", self.name.encode())
        validate_family_name(self.name)
        if self.max_versions < 1:
            raise InvalidArgumentError(f"max_versions must be >= 1, got {self.max_versions}")
        if self.min_versions < 0 or self.min_versions > self.max_versions:
            raise InvalidArgumentError(
                f"min_versions must be between 0 and max_versions, got {self.min_versions}"
            )
        if self.ttl is not None and self.ttl <= 0:
            raise InvalidArgumentError(f"ttl must be a positive number of seconds, got {self.ttl}")
        bloom = self.bloom.upper()
        if bloom not in BLOOM_TYPES:
            raise InvalidArgumentError(f"bloom must be one of {BLOOM_TYPES}, got {self.bloom!r}")
        object.__setattr__(self, "bloom", bloom)
        compression = self.compression.upper()
        if compression not in COMPRESSIONS:
            raise InvalidArgumentError(
                f"compression must be one of {', '.join(COMPRESSIONS)}, got "
                f"{self.compression!r}" + (" (not available here: no codec library)"
                                           if compression in ("SNAPPY", "LZ4", "LZO") else ""))
        object.__setattr__(self, "compression", compression)
        if not 512 <= self.block_size <= 16 * 1024 * 1024:
            raise InvalidArgumentError(f"block_size out of range: {self.block_size}")
        object.__setattr__(self, "keep_deleted_cells",
                           keep_deleted_cells_value(self.keep_deleted_cells))
        object.__setattr__(self, "data_block_encoding",
                           data_block_encoding_value(self.data_block_encoding))

    @property
    def keeps_deleted(self) -> bool:
        """KEEP_DELETED_CELLS is TRUE or TTL: reads apply only the markers inside their time
        range, and major compactions keep markers and deleted cells."""
        return self.keep_deleted_cells != "FALSE"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["name"] = self.name.decode()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FamilyDescriptor":
        return cls(**{**d, "name": d["name"].encode()})


@dataclass(frozen=True)
class TableDescriptor:
    name: str
    families: tuple[FamilyDescriptor, ...] = field(default_factory=tuple)
    # Table attributes (TABLE_ATTRIBUTES; their semantics: docs/storage.md, "Table attributes")
    max_filesize: int = 0  # HBase's MAX_FILESIZE: split size of this table; 0 = the server's
    memstore_flushsize: int = 0  # HBase's MEMSTORE_FLUSHSIZE: a region's flush size; 0 = ditto
    readonly: bool = False  # HBase's READONLY: every mutation is refused
    compaction_enabled: bool = True  # HBase's COMPACTION_ENABLED: false = no compaction at all
    split_enabled: bool = True  # HBase's SPLIT_ENABLED: false = no split, asked for or not
    merge_enabled: bool = True  # HBase's MERGE_ENABLED: false = no merge
    durability: str = "USE_DEFAULT"  # HBase's DURABILITY (DURABILITIES): how writes use the WAL
    # HBase's region normalizer (hmaster/normalizer.py): off unless the table asks for it
    normalization_enabled: bool = False  # NORMALIZATION_ENABLED
    normalizer_target_region_count: int = 0  # NORMALIZER_TARGET_REGION_COUNT; 0 = unset
    normalizer_target_region_size_mb: int = 0  # NORMALIZER_TARGET_REGION_SIZE_MB; 0 = unset

    def __post_init__(self):
        object.__setattr__(self, "name", validate_table_name(self.name))
        self._check_attributes()
        object.__setattr__(self, "families", tuple(self.families))
        if not self.families:
            raise InvalidArgumentError(f"table {self.name!r} needs at least one column family")
        names = [f.name for f in self.families]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"table {self.name!r} names a column family twice")

    def _check_attributes(self) -> None:
        """InvalidArgumentError naming the table and the attribute, for a value HBase's
        TableDescriptorChecker would refuse (a size below its floor) or of the wrong kind."""
        for key, limit, other in (("MAX_FILESIZE", MIN_MAX_FILESIZE, "split size"),
                                  ("MEMSTORE_FLUSHSIZE", MIN_MEMSTORE_FLUSHSIZE, "flush size")):
            size = getattr(self, TABLE_ATTRIBUTES[key])
            if type(size) is not int or (size and not limit <= size < 1 << 63):
                raise InvalidArgumentError(
                    f"table {self.name!r}: {key} must be at least {limit} bytes "
                    f"(or 0: the region servers' {other}), got {size!r}")
        for key in _COUNT_ATTRIBUTES:
            number = getattr(self, TABLE_ATTRIBUTES[key])
            if type(number) is not int or not 0 <= number < 1 << 31:
                raise InvalidArgumentError(f"table {self.name!r}: {key} must be a whole number "
                                           f"(0: unset), got {number!r}")
        for key in ("READONLY", "COMPACTION_ENABLED", "SPLIT_ENABLED", "MERGE_ENABLED",
                    "NORMALIZATION_ENABLED"):
            if type(getattr(self, TABLE_ATTRIBUTES[key])) is not bool:
                raise InvalidArgumentError(f"table {self.name!r}: {key} must be true or false, "
                                           f"got {getattr(self, TABLE_ATTRIBUTES[key])!r}")
        try:
            object.__setattr__(self, "durability", durability_value(self.durability))
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"table {self.name!r}: {e}") from None

    def family(self, name: bytes) -> FamilyDescriptor:
        from minihbase.errors import NoSuchColumnFamilyError

        for f in self.families:
            if f.name == name:
                return f
        raise NoSuchColumnFamilyError(
            f"column family {name.decode(errors='replace')!r} does not exist in table {self.name!r}"
        )

    def family_names(self) -> list[bytes]:
        return [f.name for f in self.families]

    def attributes(self) -> dict:
        """Every table attribute by field name (max_filesize, readonly...)."""
        return {f: getattr(self, f) for f in TABLE_ATTRIBUTES.values()}

    def to_dict(self) -> dict:
        """Attributes at their default are left out: a table written before they existed
        reads back the same."""
        d = {"name": self.name, "families": [f.to_dict() for f in self.families]}
        d.update((f, v) for f, v in self.attributes().items() if v != TABLE_DEFAULTS[f])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TableDescriptor":
        return cls(d["name"], tuple(FamilyDescriptor.from_dict(f) for f in d["families"]),
                   **{f: d[f] for f in TABLE_ATTRIBUTES.values() if f in d})


# field -> its default (an attribute at its default is "unset", as HBase's describe shows it)
TABLE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TableDescriptor)
                  if f.name in TABLE_ATTRIBUTES.values()}


def table_attributes_text(attributes: dict) -> str:
    """HBase's describe form of the attributes not at their default, by name:
    "MAX_FILESIZE => '65536', READONLY => 'true'" ("" when none is set). `attributes`: by
    field name, as TableDescriptor.attributes() (missing ones are at their default)."""
    parts = []
    for key, f in TABLE_ATTRIBUTES.items():
        value = attributes.get(f, TABLE_DEFAULTS[f])
        if value != TABLE_DEFAULTS[f]:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{key} => '{text}'")
    return ", ".join(parts)


@dataclass(frozen=True)
class RegionInfo:
    """Rows [start_key, end_key) of one table; b"" start = from the beginning, b"" end = to
    infinity. `region_id` (ms timestamp at creation) makes names unique across splits."""

    table: str
    start_key: bytes
    end_key: bytes
    region_id: int

    @property
    def name(self) -> str:
        """HBase-style full name: table,start,region_id.encoded."""
        return f"{self.table},{self.start_key.hex()},{self.region_id}.{self.encoded_name}"

    @property
    def encoded_name(self) -> str:
        raw = f"{self.table},{self.start_key.hex()},{self.end_key.hex()},{self.region_id}"
        return hashlib.md5(raw.encode()).hexdigest()

    def contains_row(self, row: bytes) -> bool:
        return row >= self.start_key and (not self.end_key or row < self.end_key)

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "start_key": self.start_key.hex(),
            "end_key": self.end_key.hex(),
            "region_id": self.region_id,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RegionInfo":
        return cls(d["table"], bytes.fromhex(d["start_key"]), bytes.fromhex(d["end_key"]),
                   int(d["region_id"]))


def validate_table_name(name: str) -> str:
    """The table's canonical name (as HBase's TableName: "default:t1" is "t1"), or
    InvalidArgumentError. A name is [namespace:]qualifier."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"invalid table name {name!r}: [namespace:]name, the name 1-128 characters of "
            "letters, digits, '_', '-', '.', not starting with '-' or '.', the namespace letters, "
            "digits and '_'")
    return canonical_table_name(name)


def canonical_table_name(name: str) -> str:
    """As HBase's TableName: a table of the default namespace is named without it."""
    return name.removeprefix(DEFAULT_NAMESPACE + ":")


def namespace_of(table: str) -> str:
    """The namespace of a (valid) table name."""
    ns, sep, _ = table.rpartition(":")
    return ns if sep else DEFAULT_NAMESPACE


def validate_namespace(name: str) -> str:
    if not isinstance(name, str) or not _NAMESPACE.fullmatch(name):
        raise InvalidArgumentError(
            f"invalid namespace name {name!r}: 1-128 letters, digits or '_'")
    return name


def validate_snapshot_name(name: str) -> str:
    if not isinstance(name, str) or not _SNAPSHOT_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"invalid snapshot name {name!r}: 1-128 characters of letters, digits, '_', '-', "
            "'.', not starting with '-' or '.'")
    return name


def _upper_text(value) -> str:
    """An option's value as upper-case text (bytes, str, or True/False as the shell gives)."""
    return (value.decode() if isinstance(value, bytes) else str(value)).upper()


def keep_deleted_cells_value(value) -> str:
    """KEEP_DELETED_CELLS as stored ("FALSE", "TRUE" or "TTL") from True/False or the HBase
    shell's spellings in any case; anything else is InvalidArgumentError naming the option."""
    text = _upper_text(value)
    if text in KEEP_DELETED_CELLS:
        return text
    raise InvalidArgumentError(
        f"KEEP_DELETED_CELLS must be one of {', '.join(KEEP_DELETED_CELLS)} (or true/false), "
        f"got {value!r}")


def data_block_encoding_value(value) -> str:
    """DATA_BLOCK_ENCODING as stored (NONE, PREFIX or FAST_DIFF) from any case; anything else
    is InvalidArgumentError naming the option and the supported values."""
    text = _upper_text(value)
    if text in DATA_BLOCK_ENCODINGS:
        return text
    allowed = ", ".join(DATA_BLOCK_ENCODINGS)
    if text in _UNBUILT_ENCODINGS:
        raise InvalidArgumentError(
            f"DATA_BLOCK_ENCODING {text} is not supported by minihbase; use one of {allowed}")
    raise InvalidArgumentError(f"DATA_BLOCK_ENCODING must be one of {allowed}, got {value!r}")


def durability_value(value) -> str:
    """DURABILITY as stored (DURABILITIES) from any case; anything else is
    InvalidArgumentError naming the attribute and its values."""
    text = _upper_text(value)
    if text in DURABILITIES:
        return text
    raise InvalidArgumentError(f"DURABILITY must be one of {', '.join(DURABILITIES)}, got "
                               f"{value!r}")


def table_attribute_value(key: str, value):
    """A table attribute's value as TableDescriptor holds it, from what a caller wrote: for
    READONLY and the *_ENABLED switches true/false (or their text, any case), for the sizes a
    whole number (or its text). Anything else is InvalidArgumentError naming the attribute
    (HBase's shell would read READONLY => 'yes' as false); DURABILITY one of DURABILITIES."""
    if key not in TABLE_ATTRIBUTES:
        raise InvalidArgumentError(f"unknown table attribute {key!r}; known: "
                                   f"{', '.join(TABLE_ATTRIBUTES)}")
    if key == "DURABILITY":
        return durability_value(value)
    if isinstance(TABLE_DEFAULTS[TABLE_ATTRIBUTES[key]], bool):
        text = value if isinstance(value, bool) else _upper_text(value)
        if text in (True, False, "TRUE", "FALSE"):
            return text in (True, "TRUE")
        raise InvalidArgumentError(f"{key} must be true or false, got {value!r}")
    if not isinstance(value, bool) and not (isinstance(value, float)
                                            and not value.is_integer()):
        try:
            size = int(value)
        except (TypeError, ValueError):
            size = -1
        if key in _COUNT_ATTRIBUTES and size == -1:
            return 0  # HBase's "unset" for the normalizer targets
        if 0 <= size < 1 << (31 if key in _COUNT_ATTRIBUTES else 63):
            return size
    raise InvalidArgumentError(f"{key} must be a whole number"
                               + ("" if key in _COUNT_ATTRIBUTES else " of bytes")
                               + f", got {value!r}")


def validate_family_name(name: bytes) -> None:
    try:
        text = name.decode("ascii")
    except (UnicodeDecodeError, AttributeError):
        raise InvalidArgumentError(f"invalid column family name {name!r}") from None
    if not _FAMILY_NAME.fullmatch(text):
        raise InvalidArgumentError(
            f"invalid column family name {text!r}: use 1-127 letters, digits, '_', '-', '.'"
        )
