"""Schema and region values to and from their protobuf messages, in one place for the master
(which sends them) and the region servers (which read them). Proto defaults (0 / "") mean
HBase's defaults; a value that cannot be valid raises InvalidArgumentError naming it."""

from __future__ import annotations

from minihbase.bytes_text import quoted
from minihbase.errors import InvalidArgumentError
from protos import minihbase_pb2 as pb
from storage.schema import TABLE_ATTRIBUTES, FamilyDescriptor, RegionInfo, TableDescriptor


def region_info_to_pb(info: RegionInfo) -> pb.RegionInfo:
    return pb.RegionInfo(table=info.table, start_key=info.start_key, end_key=info.end_key,
                         region_id=info.region_id, name=info.name)


def region_info_from_pb(m: pb.RegionInfo) -> RegionInfo:
    if not m.table:
        raise InvalidArgumentError("RegionInfo has no table name")
    start, end = bytes(m.start_key), bytes(m.end_key)
    if end and start >= end:
        raise InvalidArgumentError(f"RegionInfo of table {m.table!r}: start key {quoted(start)} "
                                   f"is not below end key {quoted(end)}")
    return RegionInfo(m.table, start, end, int(m.region_id))


def family_from_pb(f: pb.FamilySchema) -> FamilyDescriptor:
    if not f.name:
        raise InvalidArgumentError("column family name must not be empty")
    if f.max_versions < 0 or f.ttl_seconds < 0 or f.block_size < 0 or f.min_versions < 0:
        raise InvalidArgumentError(
            f"column family {f.name!r}: max_versions, min_versions, ttl_seconds and block_size "
            f"must not be negative (got {f.max_versions}, {f.min_versions}, {f.ttl_seconds}, "
            f"{f.block_size})")
    try:
        return FamilyDescriptor(
            name=f.name.encode(), max_versions=f.max_versions or 1, min_versions=f.min_versions,
            ttl=f.ttl_seconds or None, bloom=f.bloom or "ROW",
            compression=f.compression or "NONE", block_size=f.block_size or 64 * 1024,
            block_cache=not f.no_block_cache, in_memory=f.in_memory,
            keep_deleted_cells=f.keep_deleted_cells or "FALSE",
            data_block_encoding=f.data_block_encoding or "NONE")
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"column family {f.name!r}: {e}") from None


def attributes_from_pb(m) -> dict:
    """The table attributes a TableSchema or AlterTableRequest sets, by field name."""
    return {f: getattr(m, f) for f in TABLE_ATTRIBUTES.values() if m.HasField(f)}


def table_from_pb(s: pb.TableSchema) -> TableDescriptor:
    return TableDescriptor(s.name, tuple(family_from_pb(f) for f in s.families),
                           **attributes_from_pb(s))


def table_to_pb(desc: TableDescriptor) -> pb.TableSchema:
    return pb.TableSchema(name=desc.name, families=[
        pb.FamilySchema(name=f.name.decode(), max_versions=f.max_versions,
                        min_versions=f.min_versions, ttl_seconds=f.ttl or 0, bloom=f.bloom,
                        compression=f.compression, block_size=f.block_size,
                        no_block_cache=not f.block_cache, in_memory=f.in_memory,
                        keep_deleted_cells=f.keep_deleted_cells,
                        data_block_encoding=f.data_block_encoding)
        for f in desc.families], **desc.attributes())


def merge_request_to_pb(parents: list[RegionInfo], desc: TableDescriptor,
                        server: str) -> pb.MergeRegionsRequest:
    """The master's MergeRegions call: every parent in `regions`; a two-region merge also in
    region_a/region_b, which a region server older than `regions` reads (one given more than
    two then finds no region_a_info and refuses, rather than merging only two)."""
    m = pb.MergeRegionsRequest(regions=[region_info_to_pb(p) for p in parents],
                               schema=table_to_pb(desc), server=server)
    if len(parents) == 2:
        a, b = parents
        m.region_a, m.region_b = a.name, b.name
        m.region_a_info.CopyFrom(region_info_to_pb(a))
        m.region_b_info.CopyFrom(region_info_to_pb(b))
    return m


def merge_parents_from_pb(m: pb.MergeRegionsRequest) -> list[RegionInfo]:
    """The parents a MergeRegions call names: `regions`, or an older master's two."""
    if m.regions:
        return [region_info_from_pb(r) for r in m.regions]
    return [region_info_from_pb(m.region_a_info), region_info_from_pb(m.region_b_info)]
