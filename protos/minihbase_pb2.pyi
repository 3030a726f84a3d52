from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Cell(_message.Message):
    __slots__ = ("row", "family", "qualifier", "timestamp", "type", "value")
    ROW_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    row: bytes
    family: bytes
    qualifier: bytes
    timestamp: int
    type: int
    value: bytes
    def __init__(self, row: _Optional[bytes] = ..., family: _Optional[bytes] = ..., qualifier: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., type: _Optional[int] = ..., value: _Optional[bytes] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("family", "qualifier", "whole_family")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    WHOLE_FAMILY_FIELD_NUMBER: _ClassVar[int]
    family: bytes
    qualifier: bytes
    whole_family: bool
    def __init__(self, family: _Optional[bytes] = ..., qualifier: _Optional[bytes] = ..., whole_family: _Optional[bool] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("min", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: int
    max: int
    def __init__(self, min: _Optional[int] = ..., max: _Optional[int] = ...) -> None: ...

class RowMutation(_message.Message):
    __slots__ = ("row", "cells")
    ROW_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    row: bytes
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    def __init__(self, row: _Optional[bytes] = ..., cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("cells", "partial")
    CELLS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    partial: bool
    def __init__(self, cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ..., partial: _Optional[bool] = ...) -> None: ...

class RegionInfo(_message.Message):
    __slots__ = ("table", "start_key", "end_key", "region_id", "name")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    REGION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    table: str
    start_key: bytes
    end_key: bytes
    region_id: int
    name: str
    def __init__(self, table: _Optional[str] = ..., start_key: _Optional[bytes] = ..., end_key: _Optional[bytes] = ..., region_id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class FamilySchema(_message.Message):
    __slots__ = ("name", "max_versions", "min_versions", "ttl_seconds", "bloom", "compression", "block_size", "no_block_cache", "in_memory", "keep_deleted_cells", "data_block_encoding")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BLOOM_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    NO_BLOCK_CACHE_FIELD_NUMBER: _ClassVar[int]
    IN_MEMORY_FIELD_NUMBER: _ClassVar[int]
    KEEP_DELETED_CELLS_FIELD_NUMBER: _ClassVar[int]
    DATA_BLOCK_ENCODING_FIELD_NUMBER: _ClassVar[int]
    name: str
    max_versions: int
    min_versions: int
    ttl_seconds: int
    bloom: str
    compression: str
    block_size: int
    no_block_cache: bool
    in_memory: bool
    keep_deleted_cells: str
    data_block_encoding: str
    def __init__(self, name: _Optional[str] = ..., max_versions: _Optional[int] = ..., min_versions: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., bloom: _Optional[str] = ..., compression: _Optional[str] = ..., block_size: _Optional[int] = ..., no_block_cache: _Optional[bool] = ..., in_memory: _Optional[bool] = ..., keep_deleted_cells: _Optional[str] = ..., data_block_encoding: _Optional[str] = ...) -> None: ...

class TableSchema(_message.Message):
    __slots__ = ("name", "families", "max_filesize", "memstore_flushsize", "readonly", "compaction_enabled", "split_enabled", "merge_enabled", "durability", "normalization_enabled", "normalizer_target_region_count", "normalizer_target_region_size_mb")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILIES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILESIZE_FIELD_NUMBER: _ClassVar[int]
    MEMSTORE_FLUSHSIZE_FIELD_NUMBER: _ClassVar[int]
    READONLY_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MERGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    NORMALIZATION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    NORMALIZER_TARGET_REGION_COUNT_FIELD_NUMBER: _ClassVar[int]
    NORMALIZER_TARGET_REGION_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    name: str
    families: _containers.RepeatedCompositeFieldContainer[FamilySchema]
    max_filesize: int
    memstore_flushsize: int
    readonly: bool
    compaction_enabled: bool
    split_enabled: bool
    merge_enabled: bool
    durability: str
    normalization_enabled: bool
    normalizer_target_region_count: int
    normalizer_target_region_size_mb: int
    def __init__(self, name: _Optional[str] = ..., families: _Optional[_Iterable[_Union[FamilySchema, _Mapping]]] = ..., max_filesize: _Optional[int] = ..., memstore_flushsize: _Optional[int] = ..., readonly: _Optional[bool] = ..., compaction_enabled: _Optional[bool] = ..., split_enabled: _Optional[bool] = ..., merge_enabled: _Optional[bool] = ..., durability: _Optional[str] = ..., normalization_enabled: _Optional[bool] = ..., normalizer_target_region_count: _Optional[int] = ..., normalizer_target_region_size_mb: _Optional[int] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("region", "row", "columns", "time_range", "max_versions", "filter")
    REGION_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    MAX_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    region: str
    row: bytes
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    time_range: TimeRange
    max_versions: int
    filter: bytes
    def __init__(self, region: _Optional[str] = ..., row: _Optional[bytes] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., max_versions: _Optional[int] = ..., filter: _Optional[bytes] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Result
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class RegionMutations(_message.Message):
    __slots__ = ("region", "mutations")
    REGION_FIELD_NUMBER: _ClassVar[int]
    MUTATIONS_FIELD_NUMBER: _ClassVar[int]
    region: str
    mutations: _containers.RepeatedCompositeFieldContainer[RowMutation]
    def __init__(self, region: _Optional[str] = ..., mutations: _Optional[_Iterable[_Union[RowMutation, _Mapping]]] = ...) -> None: ...

class MultiRequest(_message.Message):
    __slots__ = ("regions",)
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    regions: _containers.RepeatedCompositeFieldContainer[RegionMutations]
    def __init__(self, regions: _Optional[_Iterable[_Union[RegionMutations, _Mapping]]] = ...) -> None: ...

class RegionActionResult(_message.Message):
    __slots__ = ("region", "ok", "error_class", "error_message", "rejected")
    REGION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    region: str
    ok: bool
    error_class: str
    error_message: str
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedMutation]
    def __init__(self, region: _Optional[str] = ..., ok: _Optional[bool] = ..., error_class: _Optional[str] = ..., error_message: _Optional[str] = ..., rejected: _Optional[_Iterable[_Union[RejectedMutation, _Mapping]]] = ...) -> None: ...

class RejectedMutation(_message.Message):
    __slots__ = ("index", "error_class", "error_message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    error_class: str
    error_message: str
    def __init__(self, index: _Optional[int] = ..., error_class: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class MultiResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RegionActionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RegionActionResult, _Mapping]]] = ...) -> None: ...

class IncrementRequest(_message.Message):
    __slots__ = ("region", "row", "family", "qualifier", "amount", "nonce_group", "nonce")
    REGION_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NONCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    region: str
    row: bytes
    family: bytes
    qualifier: bytes
    amount: int
    nonce_group: int
    nonce: int
    def __init__(self, region: _Optional[str] = ..., row: _Optional[bytes] = ..., family: _Optional[bytes] = ..., qualifier: _Optional[bytes] = ..., amount: _Optional[int] = ..., nonce_group: _Optional[int] = ..., nonce: _Optional[int] = ...) -> None: ...

class IncrementResponse(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: int
    def __init__(self, value: _Optional[int] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("region", "row", "cells", "nonce_group", "nonce")
    REGION_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    NONCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    region: str
    row: bytes
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    nonce_group: int
    nonce: int
    def __init__(self, region: _Optional[str] = ..., row: _Optional[bytes] = ..., cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ..., nonce_group: _Optional[int] = ..., nonce: _Optional[int] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Result
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class CheckAndMutateRequest(_message.Message):
    __slots__ = ("region", "row", "family", "qualifier", "expect_absent", "expected", "mutation", "nonce_group", "nonce")
    REGION_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    EXPECT_ABSENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    MUTATION_FIELD_NUMBER: _ClassVar[int]
    NONCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    region: str
    row: bytes
    family: bytes
    qualifier: bytes
    expect_absent: bool
    expected: bytes
    mutation: RowMutation
    nonce_group: int
    nonce: int
    def __init__(self, region: _Optional[str] = ..., row: _Optional[bytes] = ..., family: _Optional[bytes] = ..., qualifier: _Optional[bytes] = ..., expect_absent: _Optional[bool] = ..., expected: _Optional[bytes] = ..., mutation: _Optional[_Union[RowMutation, _Mapping]] = ..., nonce_group: _Optional[int] = ..., nonce: _Optional[int] = ...) -> None: ...

class CheckAndMutateResponse(_message.Message):
    __slots__ = ("processed",)
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    processed: bool
    def __init__(self, processed: _Optional[bool] = ...) -> None: ...

class ScanSpec(_message.Message):
    __slots__ = ("start_row", "stop_row", "reversed", "columns", "time_range", "max_versions", "limit", "batch", "filter", "raw")
    START_ROW_FIELD_NUMBER: _ClassVar[int]
    STOP_ROW_FIELD_NUMBER: _ClassVar[int]
    REVERSED_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    MAX_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    start_row: bytes
    stop_row: bytes
    reversed: bool
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    time_range: TimeRange
    max_versions: int
    limit: int
    batch: int
    filter: bytes
    raw: bool
    def __init__(self, start_row: _Optional[bytes] = ..., stop_row: _Optional[bytes] = ..., reversed: _Optional[bool] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., max_versions: _Optional[int] = ..., limit: _Optional[int] = ..., batch: _Optional[int] = ..., filter: _Optional[bytes] = ..., raw: _Optional[bool] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("region", "spec", "scanner_id", "max_rows", "max_cells", "close", "time_limit_ms")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SCANNER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_CELLS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_MS_FIELD_NUMBER: _ClassVar[int]
    region: str
    spec: ScanSpec
    scanner_id: int
    max_rows: int
    max_cells: int
    close: bool
    time_limit_ms: int
    def __init__(self, region: _Optional[str] = ..., spec: _Optional[_Union[ScanSpec, _Mapping]] = ..., scanner_id: _Optional[int] = ..., max_rows: _Optional[int] = ..., max_cells: _Optional[int] = ..., close: _Optional[bool] = ..., time_limit_ms: _Optional[int] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("scanner_id", "results", "more_in_region", "scan_done")
    SCANNER_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MORE_IN_REGION_FIELD_NUMBER: _ClassVar[int]
    SCAN_DONE_FIELD_NUMBER: _ClassVar[int]
    scanner_id: int
    results: _containers.RepeatedCompositeFieldContainer[Result]
    more_in_region: bool
    scan_done: bool
    def __init__(self, scanner_id: _Optional[int] = ..., results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., more_in_region: _Optional[bool] = ..., scan_done: _Optional[bool] = ...) -> None: ...

class OpenRegionRequest(_message.Message):
    __slots__ = ("region", "schema", "server", "master")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    region: RegionInfo
    schema: TableSchema
    server: str
    master: str
    def __init__(self, region: _Optional[_Union[RegionInfo, _Mapping]] = ..., schema: _Optional[_Union[TableSchema, _Mapping]] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class OpenRegionsRequest(_message.Message):
    __slots__ = ("regions", "server", "master")
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    regions: _containers.RepeatedCompositeFieldContainer[OpenRegionRequest]
    server: str
    master: str
    def __init__(self, regions: _Optional[_Iterable[_Union[OpenRegionRequest, _Mapping]]] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class OpenRegionsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RegionActionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RegionActionResult, _Mapping]]] = ...) -> None: ...

class RegionRequest(_message.Message):
    __slots__ = ("region",)
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: str
    def __init__(self, region: _Optional[str] = ...) -> None: ...

class CloseRegionRequest(_message.Message):
    __slots__ = ("region", "flush", "server", "master")
    REGION_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    region: str
    flush: bool
    server: str
    master: str
    def __init__(self, region: _Optional[str] = ..., flush: _Optional[bool] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class CompactRegionRequest(_message.Message):
    __slots__ = ("region", "major", "family", "wait")
    REGION_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    region: str
    major: bool
    family: bytes
    wait: bool
    def __init__(self, region: _Optional[str] = ..., major: _Optional[bool] = ..., family: _Optional[bytes] = ..., wait: _Optional[bool] = ...) -> None: ...

class SplitRegionRequest(_message.Message):
    __slots__ = ("region", "split_key", "server", "master")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_KEY_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    region: str
    split_key: bytes
    server: str
    master: str
    def __init__(self, region: _Optional[str] = ..., split_key: _Optional[bytes] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class SplitRegionResponse(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: RegionInfo
    right: RegionInfo
    def __init__(self, left: _Optional[_Union[RegionInfo, _Mapping]] = ..., right: _Optional[_Union[RegionInfo, _Mapping]] = ...) -> None: ...

class MergeRegionsRequest(_message.Message):
    __slots__ = ("region_a", "region_b", "region_a_info", "region_b_info", "schema", "regions", "server", "master")
    REGION_A_FIELD_NUMBER: _ClassVar[int]
    REGION_B_FIELD_NUMBER: _ClassVar[int]
    REGION_A_INFO_FIELD_NUMBER: _ClassVar[int]
    REGION_B_INFO_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    region_a: str
    region_b: str
    region_a_info: RegionInfo
    region_b_info: RegionInfo
    schema: TableSchema
    regions: _containers.RepeatedCompositeFieldContainer[RegionInfo]
    server: str
    master: str
    def __init__(self, region_a: _Optional[str] = ..., region_b: _Optional[str] = ..., region_a_info: _Optional[_Union[RegionInfo, _Mapping]] = ..., region_b_info: _Optional[_Union[RegionInfo, _Mapping]] = ..., schema: _Optional[_Union[TableSchema, _Mapping]] = ..., regions: _Optional[_Iterable[_Union[RegionInfo, _Mapping]]] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class MergeRegionsResponse(_message.Message):
    __slots__ = ("merged",)
    MERGED_FIELD_NUMBER: _ClassVar[int]
    merged: RegionInfo
    def __init__(self, merged: _Optional[_Union[RegionInfo, _Mapping]] = ...) -> None: ...

class SnapshotRegionRequest(_message.Message):
    __slots__ = ("region", "snapshot", "skip_flush", "attempt", "server", "master")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SKIP_FLUSH_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    region: str
    snapshot: str
    skip_flush: bool
    attempt: str
    server: str
    master: str
    def __init__(self, region: _Optional[str] = ..., snapshot: _Optional[str] = ..., skip_flush: _Optional[bool] = ..., attempt: _Optional[str] = ..., server: _Optional[str] = ..., master: _Optional[str] = ...) -> None: ...

class RegionLoad(_message.Message):
    __slots__ = ("region", "table", "memstore_bytes", "store_bytes", "store_files", "read_requests", "write_requests", "state", "compaction_state")
    REGION_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    MEMSTORE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORE_FILES_FIELD_NUMBER: _ClassVar[int]
    READ_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WRITE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_STATE_FIELD_NUMBER: _ClassVar[int]
    region: str
    table: str
    memstore_bytes: int
    store_bytes: int
    store_files: int
    read_requests: int
    write_requests: int
    state: str
    compaction_state: str
    def __init__(self, region: _Optional[str] = ..., table: _Optional[str] = ..., memstore_bytes: _Optional[int] = ..., store_bytes: _Optional[int] = ..., store_files: _Optional[int] = ..., read_requests: _Optional[int] = ..., write_requests: _Optional[int] = ..., state: _Optional[str] = ..., compaction_state: _Optional[str] = ...) -> None: ...

class ServerLoad(_message.Message):
    __slots__ = ("server", "regions", "wal_bytes", "wal_segments", "requests_per_second", "block_cache_hits", "block_cache_misses", "info_port", "built_ms")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    WAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    WAL_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    INFO_PORT_FIELD_NUMBER: _ClassVar[int]
    BUILT_MS_FIELD_NUMBER: _ClassVar[int]
    server: str
    regions: _containers.RepeatedCompositeFieldContainer[RegionLoad]
    wal_bytes: int
    wal_segments: int
    requests_per_second: float
    block_cache_hits: int
    block_cache_misses: int
    info_port: int
    built_ms: int
    def __init__(self, server: _Optional[str] = ..., regions: _Optional[_Iterable[_Union[RegionLoad, _Mapping]]] = ..., wal_bytes: _Optional[int] = ..., wal_segments: _Optional[int] = ..., requests_per_second: _Optional[float] = ..., block_cache_hits: _Optional[int] = ..., block_cache_misses: _Optional[int] = ..., info_port: _Optional[int] = ..., built_ms: _Optional[int] = ...) -> None: ...

class TableName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateTableRequest(_message.Message):
    __slots__ = ("schema", "split_keys")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SPLIT_KEYS_FIELD_NUMBER: _ClassVar[int]
    schema: TableSchema
    split_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, schema: _Optional[_Union[TableSchema, _Mapping]] = ..., split_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AlterTableRequest(_message.Message):
    __slots__ = ("name", "add_or_modify", "remove", "max_filesize", "memstore_flushsize", "readonly", "compaction_enabled", "split_enabled", "merge_enabled", "durability", "normalization_enabled", "normalizer_target_region_count", "normalizer_target_region_size_mb")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADD_OR_MODIFY_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    MAX_FILESIZE_FIELD_NUMBER: _ClassVar[int]
    MEMSTORE_FLUSHSIZE_FIELD_NUMBER: _ClassVar[int]
    READONLY_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MERGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    NORMALIZATION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    NORMALIZER_TARGET_REGION_COUNT_FIELD_NUMBER: _ClassVar[int]
    NORMALIZER_TARGET_REGION_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    name: str
    add_or_modify: _containers.RepeatedCompositeFieldContainer[FamilySchema]
    remove: _containers.RepeatedScalarFieldContainer[str]
    max_filesize: int
    memstore_flushsize: int
    readonly: bool
    compaction_enabled: bool
    split_enabled: bool
    merge_enabled: bool
    durability: str
    normalization_enabled: bool
    normalizer_target_region_count: int
    normalizer_target_region_size_mb: int
    def __init__(self, name: _Optional[str] = ..., add_or_modify: _Optional[_Iterable[_Union[FamilySchema, _Mapping]]] = ..., remove: _Optional[_Iterable[str]] = ..., max_filesize: _Optional[int] = ..., memstore_flushsize: _Optional[int] = ..., readonly: _Optional[bool] = ..., compaction_enabled: _Optional[bool] = ..., split_enabled: _Optional[bool] = ..., merge_enabled: _Optional[bool] = ..., durability: _Optional[str] = ..., normalization_enabled: _Optional[bool] = ..., normalizer_target_region_count: _Optional[int] = ..., normalizer_target_region_size_mb: _Optional[int] = ...) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[TableDescription]
    def __init__(self, tables: _Optional[_Iterable[_Union[TableDescription, _Mapping]]] = ...) -> None: ...

class RegionDescription(_message.Message):
    __slots__ = ("info", "state", "server", "state_since_ms", "waiting_for", "load")
    INFO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    info: RegionInfo
    state: str
    server: str
    state_since_ms: int
    waiting_for: str
    load: RegionLoad
    def __init__(self, info: _Optional[_Union[RegionInfo, _Mapping]] = ..., state: _Optional[str] = ..., server: _Optional[str] = ..., state_since_ms: _Optional[int] = ..., waiting_for: _Optional[str] = ..., load: _Optional[_Union[RegionLoad, _Mapping]] = ...) -> None: ...

class TableDescription(_message.Message):
    __slots__ = ("schema", "state", "regions")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    schema: TableSchema
    state: str
    regions: _containers.RepeatedCompositeFieldContainer[RegionDescription]
    def __init__(self, schema: _Optional[_Union[TableSchema, _Mapping]] = ..., state: _Optional[str] = ..., regions: _Optional[_Iterable[_Union[RegionDescription, _Mapping]]] = ...) -> None: ...

class ServerDescription(_message.Message):
    __slots__ = ("name", "state", "state_since_ms", "region_count", "requests_per_second", "info_port", "load", "decommissioned")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    REGION_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    INFO_PORT_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    DECOMMISSIONED_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    state_since_ms: int
    region_count: int
    requests_per_second: float
    info_port: int
    load: ServerLoad
    decommissioned: bool
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., state_since_ms: _Optional[int] = ..., region_count: _Optional[int] = ..., requests_per_second: _Optional[float] = ..., info_port: _Optional[int] = ..., load: _Optional[_Union[ServerLoad, _Mapping]] = ..., decommissioned: _Optional[bool] = ...) -> None: ...

class ClusterStatus(_message.Message):
    __slots__ = ("active_master", "backup_masters", "servers", "regions_in_transition", "table_count", "region_count", "cluster_id")
    ACTIVE_MASTER_FIELD_NUMBER: _ClassVar[int]
    BACKUP_MASTERS_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    REGIONS_IN_TRANSITION_FIELD_NUMBER: _ClassVar[int]
    TABLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REGION_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    active_master: str
    backup_masters: _containers.RepeatedScalarFieldContainer[str]
    servers: _containers.RepeatedCompositeFieldContainer[ServerDescription]
    regions_in_transition: _containers.RepeatedCompositeFieldContainer[RegionDescription]
    table_count: int
    region_count: int
    cluster_id: str
    def __init__(self, active_master: _Optional[str] = ..., backup_masters: _Optional[_Iterable[str]] = ..., servers: _Optional[_Iterable[_Union[ServerDescription, _Mapping]]] = ..., regions_in_transition: _Optional[_Iterable[_Union[RegionDescription, _Mapping]]] = ..., table_count: _Optional[int] = ..., region_count: _Optional[int] = ..., cluster_id: _Optional[str] = ...) -> None: ...

class BalanceResponse(_message.Message):
    __slots__ = ("moves", "switched_off")
    MOVES_FIELD_NUMBER: _ClassVar[int]
    SWITCHED_OFF_FIELD_NUMBER: _ClassVar[int]
    moves: int
    switched_off: bool
    def __init__(self, moves: _Optional[int] = ..., switched_off: _Optional[bool] = ...) -> None: ...

class NamespaceName(_message.Message):
    __slots__ = ("name", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    properties: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AlterNamespaceRequest(_message.Message):
    __slots__ = ("name", "set", "unset")
    class SetEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    UNSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    set: _containers.ScalarMap[str, str]
    unset: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., set: _Optional[_Mapping[str, str]] = ..., unset: _Optional[_Iterable[str]] = ...) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class BalancerSwitch(_message.Message):
    __slots__ = ("on",)
    ON_FIELD_NUMBER: _ClassVar[int]
    on: bool
    def __init__(self, on: _Optional[bool] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("name", "table", "skip_flush")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SKIP_FLUSH_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    skip_flush: bool
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., skip_flush: _Optional[bool] = ...) -> None: ...

class SnapshotDescription(_message.Message):
    __slots__ = ("name", "table", "created_ms", "regions", "size_bytes", "problem")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    created_ms: int
    regions: int
    size_bytes: int
    problem: str
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., created_ms: _Optional[int] = ..., regions: _Optional[int] = ..., size_bytes: _Optional[int] = ..., problem: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotDescription]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[SnapshotDescription, _Mapping]]] = ...) -> None: ...

class HbckRequest(_message.Message):
    __slots__ = ("clean",)
    CLEAN_FIELD_NUMBER: _ClassVar[int]
    clean: bool
    def __init__(self, clean: _Optional[bool] = ...) -> None: ...

class HbckProblem(_message.Message):
    __slots__ = ("kind", "table", "detail", "region", "path", "bytes", "age_s", "cleanable")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    AGE_S_FIELD_NUMBER: _ClassVar[int]
    CLEANABLE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    table: str
    detail: str
    region: str
    path: str
    bytes: int
    age_s: float
    cleanable: bool
    def __init__(self, kind: _Optional[str] = ..., table: _Optional[str] = ..., detail: _Optional[str] = ..., region: _Optional[str] = ..., path: _Optional[str] = ..., bytes: _Optional[int] = ..., age_s: _Optional[float] = ..., cleanable: _Optional[bool] = ...) -> None: ...

class HbckReport(_message.Message):
    __slots__ = ("checked_ms", "problems", "removed", "too_new")
    CHECKED_MS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    TOO_NEW_FIELD_NUMBER: _ClassVar[int]
    checked_ms: int
    problems: _containers.RepeatedCompositeFieldContainer[HbckProblem]
    removed: _containers.RepeatedCompositeFieldContainer[HbckProblem]
    too_new: int
    def __init__(self, checked_ms: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[HbckProblem, _Mapping]]] = ..., removed: _Optional[_Iterable[_Union[HbckProblem, _Mapping]]] = ..., too_new: _Optional[int] = ...) -> None: ...

class SnapshotName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class TruncateTableRequest(_message.Message):
    __slots__ = ("name", "preserve_splits")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_SPLITS_FIELD_NUMBER: _ClassVar[int]
    name: str
    preserve_splits: bool
    def __init__(self, name: _Optional[str] = ..., preserve_splits: _Optional[bool] = ...) -> None: ...

class ExportSnapshotRequest(_message.Message):
    __slots__ = ("name", "copy_to")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COPY_TO_FIELD_NUMBER: _ClassVar[int]
    name: str
    copy_to: str
    def __init__(self, name: _Optional[str] = ..., copy_to: _Optional[str] = ...) -> None: ...

class ExportSnapshotResponse(_message.Message):
    __slots__ = ("files", "bytes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    files: int
    bytes: int
    def __init__(self, files: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class CloneSnapshotRequest(_message.Message):
    __slots__ = ("name", "table", "nonce")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    nonce: int
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., nonce: _Optional[int] = ...) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ("name", "nonce")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    nonce: int
    def __init__(self, name: _Optional[str] = ..., nonce: _Optional[int] = ...) -> None: ...

class SplitRequest(_message.Message):
    __slots__ = ("table", "region", "split_key", "nonce")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_KEY_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    table: str
    region: str
    split_key: bytes
    nonce: int
    def __init__(self, table: _Optional[str] = ..., region: _Optional[str] = ..., split_key: _Optional[bytes] = ..., nonce: _Optional[int] = ...) -> None: ...

class MergeRequest(_message.Message):
    __slots__ = ("region_a", "region_b", "nonce", "regions")
    REGION_A_FIELD_NUMBER: _ClassVar[int]
    REGION_B_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    region_a: str
    region_b: str
    nonce: int
    regions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, region_a: _Optional[str] = ..., region_b: _Optional[str] = ..., nonce: _Optional[int] = ..., regions: _Optional[_Iterable[str]] = ...) -> None: ...

class TableActionRequest(_message.Message):
    __slots__ = ("table", "region", "major", "family", "wait")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    table: str
    region: str
    major: bool
    family: bytes
    wait: bool
    def __init__(self, table: _Optional[str] = ..., region: _Optional[str] = ..., major: _Optional[bool] = ..., family: _Optional[bytes] = ..., wait: _Optional[bool] = ...) -> None: ...

class CompactionState(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    def __init__(self, state: _Optional[str] = ...) -> None: ...

class MoveRequest(_message.Message):
    __slots__ = ("region", "server", "nonce")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    region: str
    server: str
    nonce: int
    def __init__(self, region: _Optional[str] = ..., server: _Optional[str] = ..., nonce: _Optional[int] = ...) -> None: ...

class DecommissionRequest(_message.Message):
    __slots__ = ("servers", "offload")
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    OFFLOAD_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedScalarFieldContainer[str]
    offload: bool
    def __init__(self, servers: _Optional[_Iterable[str]] = ..., offload: _Optional[bool] = ...) -> None: ...

class DecommissionResponse(_message.Message):
    __slots__ = ("servers", "moved")
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedScalarFieldContainer[str]
    moved: int
    def __init__(self, servers: _Optional[_Iterable[str]] = ..., moved: _Optional[int] = ...) -> None: ...

class RecommissionRequest(_message.Message):
    __slots__ = ("server", "regions")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    server: str
    regions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server: _Optional[str] = ..., regions: _Optional[_Iterable[str]] = ...) -> None: ...

class Switch(_message.Message):
    __slots__ = ("name", "on")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    name: str
    on: bool
    def __init__(self, name: _Optional[str] = ..., on: _Optional[bool] = ...) -> None: ...

class CatalogJanitorResponse(_message.Message):
    __slots__ = ("cleaned",)
    CLEANED_FIELD_NUMBER: _ClassVar[int]
    cleaned: int
    def __init__(self, cleaned: _Optional[int] = ...) -> None: ...

class NormalizeRequest(_message.Message):
    __slots__ = ("table_names", "regex", "namespace")
    TABLE_NAMES_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    table_names: _containers.RepeatedScalarFieldContainer[str]
    regex: str
    namespace: str
    def __init__(self, table_names: _Optional[_Iterable[str]] = ..., regex: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class NormalizeResponse(_message.Message):
    __slots__ = ("ran", "splits", "merges")
    RAN_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    MERGES_FIELD_NUMBER: _ClassVar[int]
    ran: bool
    splits: int
    merges: int
    def __init__(self, ran: _Optional[bool] = ..., splits: _Optional[int] = ..., merges: _Optional[int] = ...) -> None: ...

class RegionName(_message.Message):
    __slots__ = ("region",)
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: str
    def __init__(self, region: _Optional[str] = ...) -> None: ...

class ServerNames(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, servers: _Optional[_Iterable[str]] = ...) -> None: ...

class RegionServerReportRequest(_message.Message):
    __slots__ = ("load",)
    LOAD_FIELD_NUMBER: _ClassVar[int]
    load: ServerLoad
    def __init__(self, load: _Optional[_Union[ServerLoad, _Mapping]] = ...) -> None: ...

class RequestSplitRequest(_message.Message):
    __slots__ = ("region", "split_key")
    REGION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_KEY_FIELD_NUMBER: _ClassVar[int]
    region: str
    split_key: bytes
    def __init__(self, region: _Optional[str] = ..., split_key: _Optional[bytes] = ...) -> None: ...
