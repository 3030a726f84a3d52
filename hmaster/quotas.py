"""HBase's namespace quotas (see docs/coordination.md, "Tables"): the namespace properties
hbase.namespace.quota.maxtables and hbase.namespace.quota.maxregions cap how many tables a
namespace holds and how many regions its tables hold together. Creates and clones that would
pass either are refused, and so are splits and restores that would pass the region cap;
merges only lower the count, and truncate does not grow it. Lowering a cap below what a namespace holds is allowed: nothing is taken away, only
growth is refused.
"""

from __future__ import annotations

from coordination.znodes import MERGED, SPLIT, SPLITTING
from minihbase.errors import InvalidArgumentError, QuotaExceededError
from storage.schema import namespace_of

MAX_TABLES = "hbase.namespace.quota.maxtables"
MAX_REGIONS = "hbase.namespace.quota.maxregions"


def validate(namespace: str, properties: dict[str, str]) -> None:
    """A quota property must be a whole number of at least 1 (HBase refuses 0 too)."""
    for key in (MAX_TABLES, MAX_REGIONS):
        value = properties.get(key)
        if value is not None and not (value.isdigit() and 1 <= int(value) < 1 << 63):
            raise InvalidArgumentError(f"namespace {namespace!r}: {key} must be a whole number "
                                       f"from 1 to {(1 << 63) - 1}, got {value!r}")


def _limits(meta, namespace: str) -> tuple[int | None, int | None]:
    """(max tables, max regions) of `namespace`, None where unset: one read of its znode."""
    properties = meta.namespace_properties(namespace)
    return tuple(None if properties.get(k) is None else int(properties[k])
                 for k in (MAX_TABLES, MAX_REGIONS))


def _usage(meta, namespace: str) -> tuple[int, int]:
    """(tables, regions) of `namespace`: its live regions, plus one for each split between
    its journal and its meta swap (which adds the region)."""
    tables = [t for t in meta.tables() if namespace_of(t) == namespace]
    regions = sum(1 for t in tables for r in meta.regions(t) if r.state not in (SPLIT, MERGED))
    splitting = sum(1 for j in meta.journals().values()
                    if j.get("kind") == "split" and j.get("step") == SPLITTING
                    and namespace_of(j.get("table", "")) == namespace)
    return len(tables), regions + splitting


def check_create(meta, table: str, regions: int) -> None:
    """Before a create (or clone) of `table` with `regions` regions; the caller holds the lock
    that serialises creates, so two cannot both take the last place."""
    ns = namespace_of(table)
    max_tables, max_regions = _limits(meta, ns)
    if max_tables is None and max_regions is None:
        return
    tables, used = _usage(meta, ns)
    if max_tables is not None and tables + 1 > max_tables:
        raise QuotaExceededError(
            f"table {table!r} cannot be created: namespace {ns!r} holds {tables} table(s) and "
            f"allows {max_tables} ({MAX_TABLES})")
    if max_regions is not None and used + regions > max_regions:
        raise QuotaExceededError(
            f"table {table!r} cannot be created with {regions} region(s): namespace {ns!r} "
            f"holds {used} and allows {max_regions} ({MAX_REGIONS})")


def check_regions(meta, table: str, added: int, what: str) -> None:
    """Before `what` (a split: one region more; a restore: the snapshot's count minus the
    table's) adds `added` regions to `table`'s namespace."""
    ns = namespace_of(table)
    _, max_regions = _limits(meta, ns)
    if max_regions is None or added <= 0:
        return
    _, used = _usage(meta, ns)
    if used + added > max_regions:
        raise QuotaExceededError(
            f"{what} refused: it adds {added} region(s) to namespace {ns!r}, which holds "
            f"{used} and allows {max_regions} ({MAX_REGIONS})")
