"""The help texts of `minihbase shell` and the `minihbase` CLI, kept in one place as data.

COMMANDS holds every shell command: the HBase shell group it belongs to, a one-line summary
(also the description of the CLI subcommand of the same name), what `help 'command'` prints
about it (what it does, its options) and examples in shell syntax. `cli` holds examples of the
CLI subcommand, if there is one. The tests run every shell example through the shell's parser
and dispatcher, and every CLI example through the CLI's argument parser, so none can drift
from what the parsers accept. ARGUMENTS says what each CLI argument means.
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple


class CommandHelp(NamedTuple):
    group: str                 # one of GROUPS
    summary: str               # one line
    text: str                  # what it does and its options ("" when the summary says it all)
    examples: tuple[str, ...]  # shell lines
    cli: tuple[str, ...] = ()  # `minihbase ...` lines; () when the CLI has no such command


# HBase's shell groups, in its order (those with a command minihbase has).
GROUPS = ("general", "ddl", "namespace", "dml", "tools", "snapshots")

# Other names for a command: HBase's `desc`, and this shell's and the CLI's short names.
ALIASES = {"desc": "describe", "balance": "balancer", "merge": "merge_region", "quit": "exit"}

# What a table reference (t = get_table 't1') can do: t.put ... is put 't1', ...
TABLE_METHODS = ("put", "get", "scan", "delete", "deleteall", "count", "incr", "get_counter",
                 "append", "describe", "disable", "enable", "drop", "flush", "truncate", "exists",
                 "is_enabled", "is_disabled", "list_regions", "get_splits", "locate_region")


def _wrap(text: str) -> str:
    return textwrap.fill(text, 92)


_FAMILY_ATTRIBUTES = """\
Column family attributes (a hash with NAME => 'cf'; anything left out keeps its default):
  VERSIONS => 3                versions kept per column (1; at least 1)
  MIN_VERSIONS => 1            versions kept even past the TTL (0)
  TTL => 86400                 seconds a cell lives, or 'FOREVER' (the default); also as
                               HBase 2 takes it: '1 DAY', '2 DAYS 3 HOURS 4 MINUTES 5 SECONDS'
                               or '86400 SECONDS (1 DAY)', as describe prints it
  BLOOMFILTER => 'ROWCOL'      NONE, ROW (the default) or ROWCOL
  COMPRESSION => 'ZSTD'        NONE (the default), ZSTD or GZ
  BLOCKSIZE => 65536           HFile data block size in bytes (64 KiB; 1 KiB to 16 MiB)
  BLOCKCACHE => false          cache the family's blocks on reads (true)
  IN_MEMORY => true            evict its cached blocks after the others' (false)
  KEEP_DELETED_CELLS => true   deleted cells stay readable by time-range reads: FALSE (the
                               default), TRUE or 'TTL' (until the TTL)
  DATA_BLOCK_ENCODING => 'FAST_DIFF'   NONE (the default), PREFIX or FAST_DIFF"""

_CONVERTERS = """\
  FORMATTER => 'toString'       show values with one of Bytes' methods: toString,
                                toStringBinary (the default), toHex, toInt, toLong, toShort,
                                toFloat, toDouble, toBoolean (FORMATTER_CLASS may only be
                                org.apache.hadoop.hbase.util.Bytes)
  'cf:q:toLong' in COLUMNS      that column shown with that method (also
                                'cf:q:c(org.apache.hadoop.hbase.util.Bytes).toLong')"""

_TABLE_ATTRIBUTES = """\
Table attributes (HBase's; in create a hash of their own, with or without SPLITS):
  MAX_FILESIZE => 268435456    its regions split past this many bytes (the servers')
  MEMSTORE_FLUSHSIZE => '134217728'   its regions flush past this many bytes (the servers')
  READONLY => true             every put, delete, increment, append is refused (false)
  COMPACTION_ENABLED => false  no compaction, asked for or not (true)
  SPLIT_ENABLED => false       no split, automatic or asked for (true)
  MERGE_ENABLED => false       no merge (true)
  DURABILITY => 'ASYNC_WAL'    USE_DEFAULT (= SYNC_WAL), FSYNC_WAL, or ASYNC_WAL and SKIP_WAL,
                               which lose acknowledged writes in a crash (docs/storage.md)
  NORMALIZATION_ENABLED => true   the region normalizer splits and merges its regions (false)
  NORMALIZER_TARGET_REGION_COUNT => 8     ... towards that many regions (0: unset)
  NORMALIZER_TARGET_REGION_SIZE_MB => 256 ... towards regions of that size (0: unset; the
                               older name NORMALIZER_TARGET_REGION_SIZE is read as this)"""

_HBCK_REPORT = """\
The report lists holes and overlaps between a table's regions, regions without their
directory or on a server that is gone, regions stuck in transition, orphaned region and
table directories, and stale snapshot attempts (.hbase-snapshot/.tmp); directories changed in
the last 30 s are only counted, too new to judge."""

_REGION = ("A region is named by its full name (t1,<start key in hex>,<id>.<encoded>) or its\n"
           "32-hex-digit encoded name, as describe and list_regions print them.")

COMMANDS: dict[str, CommandHelp] = {
    # -- general ---------------------------------------------------------------------------
    "status": CommandHelp(
        "general", "Show the cluster's status: masters, region servers, regions in transition.",
        """\
The format is 'summary' (the default): the active and backup masters, each region server with
its state and region count, and the regions in transition with what they wait for;
'simple': and a line of load per server as it last reported it (requests per second,
regions, memstore, store files, WAL, block cache hit ratio); 'detailed': and a line per region
with its read and write request counts.""",
        ("status", "status 'simple'", "status 'detailed'"),
        ("minihbase status", "minihbase status detailed")),
    "version": CommandHelp(
        "general", "Show the version of minihbase.", "",
        ("version",), ("minihbase version",)),
    "whoami": CommandHelp(
        "general", "Show the user running the shell.", "", ("whoami",), ("minihbase whoami",)),
    "help": CommandHelp(
        "general", "Show the commands by group, one command's help, or a group's commands' help.",
        "Needs no cluster.", ("help", "help 'scan'", "help 'ddl'")),
    "exit": CommandHelp(
        "general", "Leave the shell (also quit, or end of input).", "", ("exit",)),

    # -- ddl -------------------------------------------------------------------------------
    "create": CommandHelp(
        "ddl", "Create a table with one or more column families, optionally pre-split.",
        f"""\
Give the table name, then each family as a name or as a hash of attributes. A name
NS:TABLE creates the table in namespace NS (create_namespace first).

{_FAMILY_ATTRIBUTES}

Table options (a hash of their own, or trailing KEY => value pairs):
  SPLITS => ['b', 'm']          region boundaries: here three regions ['',b) [b,m) [m,'')
  NUMREGIONS => 8, SPLITALGO => 'HexStringSplit'   that many even regions; also
                                'UniformSplit' (binary keys) and 'DecimalStringSplit'

{_TABLE_ATTRIBUTES}

As in HBase, t = create ... also makes a table reference (see help 'get_table').""",
        ("create 't1', 'cf'",
         "create 't1', 'cf1', 'cf2'",
         "create 't1', {NAME => 'cf', VERSIONS => 3, TTL => 86400, BLOOMFILTER => 'ROWCOL'}",
         "create 't1', 'cf', SPLITS => ['100', '200', '300']",
         "create 't1', 'cf', {NUMREGIONS => 16, SPLITALGO => 'HexStringSplit'}",
         "create 'ns1:t1', {NAME => 'cf', COMPRESSION => 'ZSTD'}, {MAX_FILESIZE => 268435456}",
         "create 't1', {NAME => 'cf'}, {MEMSTORE_FLUSHSIZE => '134217728', READONLY => true}"),
        ("minihbase create t1 cf",
         "minihbase create t1 cf1 cf2 --versions 3 --ttl 86400 --splits 100 200 300",
         "minihbase create ns1:t1 cf --compression ZSTD --max-filesize 268435456",
         "minihbase create t1 cf --readonly --compaction-enabled false")),
    "alter": CommandHelp(
        "ddl", "Add, change or delete column families, or set or unset table attributes.",
        f"""\
A hash with NAME => 'cf' adds the family, or changes the attributes it names and keeps the
others; a bare name adds a family with the defaults. 'delete' => 'cf' (or NAME => 'cf',
METHOD => 'delete') deletes a family and its data. Several changes may follow each other.
The table may stay enabled: its regions reopen with the new schema, and alter prints
"Updating all regions with the new schema..." and then alter_status's lines.

{_FAMILY_ATTRIBUTES}

{_TABLE_ATTRIBUTES}
A table attribute is set bare or with METHOD => 'table_att', and unset with
METHOD => 'table_att_unset', NAME => 'READONLY' (or a list of names).""",
        ("alter 't1', NAME => 'cf', VERSIONS => 5",
         "alter 't1', 'cf2'",
         "alter 't1', NAME => 'cf', TTL => 'FOREVER'",
         "alter 't1', NAME => 'cf', TTL => '2 DAYS 12 HOURS'",
         "alter 't1', 'delete' => 'cf2'",
         "alter 't1', {NAME => 'cf3'}, {NAME => 'cf2', METHOD => 'delete'}",
         "alter 't1', MAX_FILESIZE => 268435456",
         "alter 't1', METHOD => 'table_att_unset', NAME => 'MAX_FILESIZE'",
         "alter 't1', READONLY => 'true'",
         "alter 't1', {METHOD => 'table_att', COMPACTION_ENABLED => false}",
         "alter 't1', METHOD => 'table_att_unset', NAME => ['READONLY', 'DURABILITY']"),
        ("minihbase alter t1 cf --versions 5",
         "minihbase alter t1 cf --ttl FOREVER",
         "minihbase alter t1 cf --ttl '1 DAY'",
         "minihbase alter t1 --delete cf2",
         "minihbase alter t1 --max-filesize 0",
         "minihbase alter t1 --readonly false --durability ASYNC_WAL")),
    "alter_async": CommandHelp(
        "ddl", "alter, as HBase's shell names it when it should not wait for the regions.",
        """\
Takes what alter takes. HBase's alter_async returns before the regions reopen; minihbase's
master reopens them before it answers any alter, so this returns when alter would, and
alter_status then reports every region updated.""",
        ("alter_async 't1', NAME => 'cf', VERSIONS => 5",
         "alter_async 't1', NAME => 'cf', TTL => '1 DAY'")),
    "alter_status": CommandHelp(
        "ddl", "Show how many regions of a table have the schema of its last alter.",
        """\
Prints "N/M regions updated." as HBase's does: the regions of an enabled table that are
neither in transition nor closed. It waits (within the timeout) while an alter is being
finished or a region is in transition, showing progress, then prints "Done.". A table that
is not enabled has no open region ("All regions updated."): its regions read the new schema
when it is enabled.""",
        ("alter_status 't1'",),
        ("minihbase alter_status t1",)),
    "describe": CommandHelp(
        "ddl", "Show a table's state, attributes, column families and regions.",
        """\
Families are printed as HBase 2 prints them ({NAME => 'cf', BLOOMFILTER => 'ROW', ...}); then
every region: its encoded name, key range, state, server, since when, and what it waits for
if it is in transition. Also: desc.""",
        ("describe 't1'", "desc 'ns1:t1'"),
        ("minihbase describe t1",)),
    "disable": CommandHelp(
        "ddl", "Disable a table: close its regions (needed before drop and restore_snapshot).",
        "", ("disable 't1'",), ("minihbase disable t1",)),
    "enable": CommandHelp(
        "ddl", "Enable a disabled table: open its regions again.", "",
        ("enable 't1'",), ("minihbase enable t1",)),
    "drop": CommandHelp(
        "ddl", "Drop a disabled table and its data.", "",
        ("disable 't1'; drop 't1'",), ("minihbase drop t1",)),
    "disable_all": CommandHelp(
        "ddl", "Disable every table whose whole name matches a regular expression.",
        """\
Lists the tables and asks y/n first (in a script, the next line is the answer). A table that
fails is named and the others are still done.""",
        ("disable_all 'test_.*'",), ("minihbase disable_all 'test_.*' --yes",)),
    "enable_all": CommandHelp(
        "ddl", "Enable every table whose whole name matches a regular expression.",
        "Lists the tables and asks y/n first, as disable_all.",
        ("enable_all 'test_.*'",), ("minihbase enable_all 'test_.*'",)),
    "drop_all": CommandHelp(
        "ddl", "Drop every (disabled) table whose whole name matches a regular expression.",
        "Lists the tables and asks y/n first, as disable_all.",
        ("drop_all 'test_.*'",), ("minihbase drop_all 'test_.*' --yes",)),
    "exists": CommandHelp(
        "ddl", "Say whether a table exists.", "", ("exists 't1'",), ("minihbase exists t1",)),
    "is_enabled": CommandHelp(
        "ddl", "Say whether a table is enabled (true or false).", "",
        ("is_enabled 't1'",), ("minihbase is_enabled t1",)),
    "is_disabled": CommandHelp(
        "ddl", "Say whether a table is disabled (true or false).", "",
        ("is_disabled 't1'",), ("minihbase is_disabled t1",)),
    "list": CommandHelp(
        "ddl", "List the tables, or those whose whole name matches a regular expression.",
        "Each table with its state, region count and families.",
        ("list", "list 'user.*'", "list 'ns1:.*'"),
        ("minihbase list", "minihbase list 'user.*'")),
    "list_regions": CommandHelp(
        "ddl", "List a table's regions: name, server, start and end key, state.", "",
        ("list_regions 't1'",), ("minihbase list_regions t1",)),
    "locate_region": CommandHelp(
        "ddl", "Show the region that holds a row, and the server serving it.", "",
        ("locate_region 't1', 'row1'", 'locate_region \'t1\', "r\\x00"'),
        ("minihbase locate_region t1 row1",)),
    "show_filters": CommandHelp(
        "ddl", "List the filters the FILTER option of scan, get and count understands.",
        "See docs/cli.md, 'Filters', for their arguments.", ("show_filters",)),
    "get_table": CommandHelp(
        "ddl", "Make a table reference, whose methods run commands on that table.",
        """\
After t = get_table 't1' (or t = create 't1', 'cf'), t.put 'r1', 'cf:q', 'v' is
put 't1', 'r1', 'cf:q', 'v'. A reference's methods:
""" + _wrap(", ".join(TABLE_METHODS)),
        ("t = get_table 't1'", "t.put 'r1', 'cf:q', 'v'", "t.scan {LIMIT => 10}",
         "t.get('r1')")),
    "clone_table_schema": CommandHelp(
        "ddl", "Create a new, empty table with another table's schema and region boundaries.",
        """\
It copies the families, the table attributes and (unless the third argument is false) the
region
boundaries, not the data: for the data too, take a snapshot and clone_snapshot it.""",
        ("clone_table_schema 't1', 't2'", "clone_table_schema 't1', 't2', false"),
        ("minihbase clone_table_schema t1 t2", "minihbase clone_table_schema t1 t2 --no-splits")),

    # -- namespace -------------------------------------------------------------------------
    "create_namespace": CommandHelp(
        "namespace", "Create a namespace; its tables are named NS:TABLE.",
        """\
Properties are kept with the namespace (describe_namespace shows them). Two are quotas the
master enforces: hbase.namespace.quota.maxtables (tables in the namespace) and
hbase.namespace.quota.maxregions (regions of its tables together; splits count). A create,
clone or split that would pass one is refused (QuotaExceededError).""",
        ("create_namespace 'ns1'",
         "create_namespace 'ns2', {'hbase.namespace.quota.maxtables' => '5'}"),
        ("minihbase create_namespace ns1",
         "minihbase create_namespace ns2 --set hbase.namespace.quota.maxregions=20")),
    "alter_namespace": CommandHelp(
        "namespace", "Set or remove a namespace's properties (its quotas among them).",
        "A quota lowered below what the namespace holds takes nothing away: it only refuses "
        "growth.",
        ("alter_namespace 'ns1', {METHOD => 'set', 'hbase.namespace.quota.maxtables' => '8'}",
         "alter_namespace 'ns1', {METHOD => 'unset', NAME => 'hbase.namespace.quota.maxtables'}"),
        ("minihbase alter_namespace ns1 --set hbase.namespace.quota.maxtables=8",
         "minihbase alter_namespace ns1 --unset hbase.namespace.quota.maxtables")),
    "drop_namespace": CommandHelp(
        "namespace", "Drop an empty namespace ('default' and 'hbase' always exist).", "",
        ("drop_namespace 'ns1'",), ("minihbase drop_namespace ns1",)),
    "describe_namespace": CommandHelp(
        "namespace", "Show a namespace, its properties and how many tables it has.", "",
        ("describe_namespace 'ns1'",), ("minihbase describe_namespace ns1",)),
    "list_namespace": CommandHelp(
        "namespace", "List the namespaces, or those whose whole name matches a regex.", "",
        ("list_namespace", "list_namespace 'ns.*'"),
        ("minihbase list_namespace", "minihbase list_namespace 'ns.*'")),
    "list_namespace_tables": CommandHelp(
        "namespace", "List the tables of a namespace.", "",
        ("list_namespace_tables 'ns1'", "list_namespace_tables 'default'"),
        ("minihbase list_namespace_tables ns1",)),

    # -- dml -------------------------------------------------------------------------------
    "put": CommandHelp(
        "dml", "Write one cell: table, row, family:qualifier, value, and optionally a timestamp.",
        """\
The timestamp is in milliseconds since the epoch (default: now, on the region server).
Write binary bytes in double quotes with \\xHH escapes; single quotes take text as it is.""",
        ("put 't1', 'r1', 'cf:q', 'value'",
         "put 't1', 'r1', 'cf:q', 'value', 1732250000000",
         'put \'t1\', "r\\x00\\x01", \'cf:q\', "\\xff"'),
        ("minihbase put t1 r1 cf:q value", "minihbase put t1 r1 cf:q value --ts 1732250000000",
         "minihbase put t1 'r\\x00\\x01' cf:q '\\xFF'")),
    "get": CommandHelp(
        "dml", "Read a row, or some of its columns or versions.",
        f"""\
Columns are given as 'family:qualifier' or a whole 'family', as further arguments, an array,
or in an options hash:
  COLUMN => 'cf:q' or COLUMNS => ['cf:a', 'cf']   only these columns or families
  VERSIONS => 3                 up to that many versions of each column (1)
  TIMESTAMP => ts               only the version at exactly ts (milliseconds)
  TIMERANGE => [min, max]       only versions with min <= ts < max
  FILTER => "..."               HBase's filter language, applied on the region server
                                (see show_filters)
{_CONVERTERS}""",
        ("get 't1', 'r1'",
         "get 't1', 'r1', 'cf:a', 'cf:b'",
         "get 't1', 'r1', ['cf:a', 'cf2']",
         "get 't1', 'r1', {COLUMN => 'cf:q', VERSIONS => 3}",
         "get 't1', 'r1', {COLUMN => 'cf:q', TIMERANGE => [1732250000000, 1732260000000]}",
         "get 't1', 'r1', {FILTER => \"QualifierFilter(>=, 'binary:b')\"}",
         "get 't1', 'r1', {COLUMN => ['cf:hits:toLong', 'cf:name'], FORMATTER => 'toString'}"),
        ("minihbase get t1 r1", "minihbase get t1 r1 cf:a cf:b --versions 3",
         "minihbase get t1 r1 --ts 1732250000000",
         "minihbase get t1 r1 --filter \"ValueFilter(=, 'substring:error')\"")),
    "scan": CommandHelp(
        "dml", "Read the rows of a table, or of a key range, in key order.",
        f"""\
Options (a hash):
  STARTROW => 'a'               the first row (inclusive)
  STOPROW => 'm'                the row to stop before (exclusive)
  ROWPREFIXFILTER => 'user1'    only rows starting with it (replaces STARTROW and STOPROW)
  LIMIT => 10                   at most this many rows (0: no limit)
  COLUMNS => ['cf:q', 'cf2']    only these columns or families (also COLUMN => 'cf:q')
  VERSIONS => 3                 up to that many versions of each column (1)
  TIMESTAMP => ts               only versions at exactly ts (milliseconds)
  TIMERANGE => [min, max]       only versions with min <= ts < max
  REVERSED => true              from STARTROW down to STOPROW (exclusive)
  RAW => true                   the cells as stored: delete markers too (type=...), and
                                the cells they mask until a major compaction
  FILTER => "..."               HBase's filter language, applied on the region servers
                                (see show_filters)
  CACHE => 1000                 accepted and ignored (the client fetches in batches)
{_CONVERTERS}""",
        ("scan 't1'",
         "scan 't1', {STARTROW => 'a', STOPROW => 'm', LIMIT => 10}",
         "scan 't1', {ROWPREFIXFILTER => 'user1', COLUMNS => ['cf:q']}",
         "scan 't1', {STARTROW => 'm', REVERSED => true, LIMIT => 5}",
         "scan 't1', {RAW => true, VERSIONS => 10}",
         "scan 't1', {FILTER => \"PrefixFilter('user') AND KeyOnlyFilter()\"}",
         "scan 't1', {COLUMNS => ['cf:hits:toLong']}"),
        ("minihbase scan t1 --limit 10",
         "minihbase scan t1 --start a --stop m --columns cf:q",
         "minihbase scan t1 --prefix user1 --reverse",
         "minihbase scan t1 --raw --versions 10",
         "minihbase scan t1 --filter \"PrefixFilter('user') AND KeyOnlyFilter()\"")),
    "delete": CommandHelp(
        "dml", "Delete one version of a column: the newest, or the one at a timestamp.",
        """\
As in HBase, older versions show again once the newest is deleted; deleteall removes every
version. With a family ('cf') instead of a column, the family's cells at exactly the
timestamp are deleted.""",
        ("delete 't1', 'r1', 'cf:q'", "delete 't1', 'r1', 'cf:q', 1732250000000"),
        ("minihbase delete t1 r1 cf:q", "minihbase delete t1 r1 cf:q --ts 1732250000000")),
    "deleteall": CommandHelp(
        "dml", "Delete a whole row, or every version of a column or family; or every row "
        "with a prefix.",
        """\
With a timestamp, only the versions at or before it. nil as the column means the whole row
(deleteall 't1', 'r1', nil, ts).
{ROWPREFIXFILTER => 'p'} instead of the row deletes every row starting with p (HBase 2):
the rows are scanned (keys only) and deleted in batches of CACHE rows (100; at most
100000), so memory stays bounded. An empty prefix is refused (truncate empties a table).""",
        ("deleteall 't1', 'r1'", "deleteall 't1', 'r1', 'cf:q'",
         "deleteall 't1', 'r1', 'cf', 1732250000000", "deleteall 't1', 'r1', nil, 1732250000000",
         "deleteall 't1', {ROWPREFIXFILTER => 'user1'}",
         "deleteall 't1', {ROWPREFIXFILTER => 'user1', CACHE => 1000}, 'cf:q', 1732250000000"),
        ("minihbase deleteall t1 r1", "minihbase deleteall t1 r1 cf:q --ts 1732250000000",
         "minihbase deleteall t1 --prefix user1",
         "minihbase deleteall t1 cf:q --prefix user1 --cache 1000")),
    "count": CommandHelp(
        "dml", "Count the rows of a table, showing progress every INTERVAL rows.",
        """\
Options: INTERVAL => 1000 (progress on stderr every that many rows), FILTER => "..." (count
only the rows the filter returns), CACHE => n (accepted and ignored). Only keys travel: the
count uses FirstKeyOnlyFilter and KeyOnlyFilter, as HBase's does.""",
        ("count 't1'", "count 't1', INTERVAL => 100000",
         "count 't1', {FILTER => \"ValueFilter(=, 'substring:error')\"}"),
        ("minihbase count t1", "minihbase count t1 --interval 100000")),
    "incr": CommandHelp(
        "dml", "Add to a counter column (by 1, or by the amount given) and print its value.",
        """\
A counter is an 8-byte big-endian number; an absent one starts at 0. A retried increment
is never counted twice (it carries a nonce).""",
        ("incr 't1', 'r1', 'cf:hits'", "incr 't1', 'r1', 'cf:hits', 10",
         "incr 't1', 'r1', 'cf:hits', -1"),
        ("minihbase incr t1 r1 cf:hits", "minihbase incr t1 r1 cf:hits 10")),
    "get_counter": CommandHelp(
        "dml", "Read a counter column written by incr.", "",
        ("get_counter 't1', 'r1', 'cf:hits'",), ("minihbase get_counter t1 r1 cf:hits",)),
    "append": CommandHelp(
        "dml", "Append bytes to the end of a column's newest value and print the result.",
        "An absent column starts empty. A retried append is never applied twice.",
        ("append 't1', 'r1', 'cf:log', ',seen'",), ("minihbase append t1 r1 cf:log ,seen",)),
    "get_splits": CommandHelp(
        "dml", "List a table's split keys: the start key of every region but the first.", "",
        ("get_splits 't1'",), ("minihbase get_splits t1",)),
    "truncate": CommandHelp(
        "dml", "Delete every row of a table, leaving it one empty region.",
        """\
The table is disabled, then the master swaps its regions for an empty one in one step (its
families and table attributes kept) and enables it again.""",
        ("truncate 't1'",), ("minihbase truncate t1",)),
    "truncate_preserve": CommandHelp(
        "dml", "Truncate a table, keeping its region boundaries.", "",
        ("truncate_preserve 't1'",), ("minihbase truncate_preserve t1",)),

    # -- tools -----------------------------------------------------------------------------
    "balancer": CommandHelp(
        "tools", "Run the balancer now: move regions so every server holds about as many.",
        "Moves nothing, and says so, while the balancer is switched off. Also: balance.",
        ("balancer", "balance"), ("minihbase balance",)),
    "balance_switch": CommandHelp(
        "tools", "Switch the balancer on or off (its periodic runs and balancer).",
        "Prints the state before. The switch survives a master failover.",
        ("balance_switch false", "balance_switch true"), ("minihbase balance_switch off",)),
    "balancer_enabled": CommandHelp(
        "tools", "Say whether the balancer is switched on.", "",
        ("balancer_enabled",), ("minihbase balancer_enabled",)),
    "split": CommandHelp(
        "tools", "Split a table's regions, or one region, at their midpoint or at a key.",
        f"""\
A table without a key: every region that has a split point (from its store files; a region
whose rows are all in memory is flushed first). With a key: the region holding it.
{_REGION}""",
        ("split 't1'", "split 't1', 'm'",
         "split '0123456789abcdef0123456789abcdef'"),
        ("minihbase split t1", "minihbase split t1 m")),
    "merge_region": CommandHelp(
        "tools", "Merge two or more adjacent regions of a table into one.",
        f"""\
The regions, in any order, must form one run of adjacent regions of one table (HBase 2.3+):
give them as arguments or as one array. A trailing false is accepted; true (HBase's force,
merging regions that are not adjacent) is refused: not supported. Also: merge.
{_REGION}""",
        ("merge_region '0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'",
         "merge_region 'ENCODED_1', 'ENCODED_2', 'ENCODED_3'",
         "merge_region ['ENCODED_1', 'ENCODED_2', 'ENCODED_3']"),
        ("minihbase merge 0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210",
         "minihbase merge ENCODED_1 ENCODED_2 ENCODED_3")),
    "move": CommandHelp(
        "tools", "Move a region to a server, or to the least-loaded other server.",
        f"The server is its full name host,port,startcode as status prints it.\n{_REGION}",
        ("move '0123456789abcdef0123456789abcdef'",
         "move '0123456789abcdef0123456789abcdef', 'rs2,16020,1732250000000'"),
        ("minihbase move 0123456789abcdef0123456789abcdef rs2,16020,1732250000000",)),
    "flush": CommandHelp(
        "tools", "Flush the memstores of a table's regions, or of one region, to HFiles.",
        _REGION, ("flush 't1'", "flush '0123456789abcdef0123456789abcdef'"),
        ("minihbase flush t1",)),
    "compact": CommandHelp(
        "tools", "Request a compaction of a table or region (or of one of its families).",
        f"""\
As in HBase the region servers queue it and the command returns at once; compaction_state
tells when it is done (the CLI's --wait waits).
{_REGION}""",
        ("compact 't1'", "compact 't1', 'cf'"),
        ("minihbase compact t1", "minihbase compact t1 cf --wait")),
    "major_compact": CommandHelp(
        "tools", "Request a major compaction: each store rewritten as one file without deletes.",
        "Queued and returns at once, as compact.",
        ("major_compact 't1'", "major_compact 't1', 'cf'"),
        ("minihbase major_compact t1", "minihbase major_compact t1 cf --wait")),
    "compaction_state": CommandHelp(
        "tools", "Show what a table's regions are compacting or have queued.",
        "NONE, MINOR, MAJOR or MAJOR_AND_MINOR; a disabled table is NONE.",
        ("compaction_state 't1'",), ("minihbase compaction_state t1",)),
    "hbck_chore_run": CommandHelp(
        "tools", "Have the master check consistency now and print its HBCK report.",
        _HBCK_REPORT + "\nThe CLI's minihbase hbck prints the same and exits 1 when it finds "
                       "a problem.",
        ("hbck_chore_run",)),
    "cleaner_chore_run": CommandHelp(
        "tools", "Run the master's orphan cleaner now, then print the HBCK report.",
        """\
It deletes only orphaned region directories of the table as it is now, and stale snapshot
attempts, untouched for the master's --orphan-grace and seen orphaned by it for as long; it
names what it deleted.""",
        ("cleaner_chore_run",)),

    # -- snapshots -------------------------------------------------------------------------
    "snapshot": CommandHelp(
        "snapshots", "Take a snapshot of a table (enabled or disabled) under a new name.",
        """\
Each region is flushed first unless SKIP_FLUSH => true (then what is only in memstores is
left out). No data is copied: the store files are hard-linked.""",
        ("snapshot 't1', 's1'", "snapshot 't1', 's1', {SKIP_FLUSH => true}"),
        ("minihbase snapshot t1 s1", "minihbase snapshot t1 s1 --skip-flush")),
    "clone_snapshot": CommandHelp(
        "snapshots", "Create a new table from a snapshot: its schema, regions and cells.",
        "The new table must not exist; it shares the snapshot's files.",
        ("clone_snapshot 's1', 't2'",), ("minihbase clone_snapshot s1 t2",)),
    "restore_snapshot": CommandHelp(
        "snapshots", "Put a disabled table back as it was when the snapshot was taken.",
        "The table stays disabled, as in HBase; a dropped table is created again.",
        ("disable 't1'; restore_snapshot 's1'; enable 't1'",),
        ("minihbase restore_snapshot s1",)),
    "delete_snapshot": CommandHelp(
        "snapshots", "Delete a snapshot (tables cloned from it keep their data).", "",
        ("delete_snapshot 's1'",), ("minihbase delete_snapshot s1",)),
    "delete_all_snapshot": CommandHelp(
        "snapshots", "Delete every snapshot whose whole name matches a regular expression.",
        "Lists them and asks y/n first (in a script, the next line is the answer).",
        ("delete_all_snapshot 's.*'",), ("minihbase delete_all_snapshot 's.*' --yes",)),
    "delete_table_snapshots": CommandHelp(
        "snapshots", "Delete the snapshots of the tables matching a regex (and a name regex).",
        "Lists them and asks y/n first, as delete_all_snapshot.",
        ("delete_table_snapshots 't1'", "delete_table_snapshots 't.*', 'daily_.*'"),
        ("minihbase delete_table_snapshots 't.*' 'daily_.*' --yes",)),
    "list_snapshots": CommandHelp(
        "snapshots", "List the snapshots, or those whose whole name matches a regex.",
        "Each with its table, creation time, region count and size.",
        ("list_snapshots", "list_snapshots 'daily_.*'"),
        ("minihbase list_snapshots", "minihbase list_snapshots 'daily_.*'")),
    "list_table_snapshots": CommandHelp(
        "snapshots", "List the snapshots of the tables matching a regex (and a name regex).", "",
        ("list_table_snapshots 't1'", "list_table_snapshots 't.*', 'daily_.*'"),
        ("minihbase list_table_snapshots t1",)),
    "assign": CommandHelp(
        "tools", "Open a region that is not open now, without waiting for its next retry.",
        f"""\
For a region FAILED_OPEN (its open is retried with a growing back-off) once what failed is
fixed, e.g. its directory restored. A region already open stays where it is.
{_REGION}""",
        ("assign '0123456789abcdef0123456789abcdef'",),
        ("minihbase assign 0123456789abcdef0123456789abcdef",)),
    "unassign": CommandHelp(
        "tools", "Close an open region; it stays closed until assign opens it.",
        f"""\
Its rows are unavailable meanwhile (RegionOfflineError), and the master does not reopen it on
its own; rit and hbck show it waiting for an assign. A second argument (HBase's force) is
accepted and changes nothing: the master keeps no region state apart from meta to clear.
{_REGION}""",
        ("unassign '0123456789abcdef0123456789abcdef'",),
        ("minihbase unassign 0123456789abcdef0123456789abcdef",)),
    "rit": CommandHelp(
        "tools", "List the regions in transition, with their state and what they wait for.",
        "", ("rit",), ("minihbase rit",)),
    "decommission_regionservers": CommandHelp(
        "tools", "Stop assigning regions to region servers; by default move theirs away.",
        """\
Each server is a full name host,port,startcode, host,port or a host (all of its servers). With
true (the default) their regions move to the other servers before this returns; with false
they stay until moved. The balancer leaves decommissioned servers out. Refused when no other
server would be left. A decommissioned server that stops is forgotten (a restarted one has a
new name).""",
        ("decommission_regionservers 'rs1,16020,1732250000000'",
         "decommission_regionservers ['rs1', 'rs2'], false"),
        ("minihbase decommission_regionservers rs1,16020,1732250000000",
         "minihbase decommission_regionservers rs1 --no-offload")),
    "recommission_regionserver": CommandHelp(
        "tools", "Let regions be assigned to a decommissioned region server again.",
        "The server as decommission_regionservers takes it, naming one decommissioned server. "
        "Named regions (full or encoded names) move back onto it at once; the balancer brings "
        "others over time.",
        ("recommission_regionserver 'rs1,16020,1732250000000'",
         "recommission_regionserver 'rs1,16020,1732250000000', "
         "['0123456789abcdef0123456789abcdef']"),
        ("minihbase recommission_regionserver rs1,16020,1732250000000",)),
    "list_decommissioned_regionservers": CommandHelp(
        "tools", "List the decommissioned region servers.", "",
        ("list_decommissioned_regionservers",),
        ("minihbase list_decommissioned_regionservers",)),
    "splitormerge_switch": CommandHelp(
        "tools", "Switch region splits or merges on or off for the whole cluster.",
        "Off, the master refuses them, asked for (split, merge_region) or automatic. Prints the "
        "state before; the switch survives a master failover.",
        ("splitormerge_switch 'SPLIT', false", "splitormerge_switch 'MERGE', true"),
        ("minihbase splitormerge_switch SPLIT off",)),
    "splitormerge_enabled": CommandHelp(
        "tools", "Say whether splits (or merges) are switched on.", "",
        ("splitormerge_enabled 'SPLIT'",), ("minihbase splitormerge_enabled MERGE",)),
    "catalogjanitor_run": CommandHelp(
        "tools", "Run the split/merge janitor now, even when it is switched off.",
        "It deletes the directories of split or merged parents no child references any more; "
        "prints how many.", ("catalogjanitor_run",), ("minihbase catalogjanitor_run",)),
    "catalogjanitor_switch": CommandHelp(
        "tools", "Switch the master's periodic split/merge janitor on or off.",
        "Prints the state before; the switch survives a master failover.",
        ("catalogjanitor_switch false",), ("minihbase catalogjanitor_switch on",)),
    "catalogjanitor_enabled": CommandHelp(
        "tools", "Say whether the split/merge janitor is switched on.", "",
        ("catalogjanitor_enabled",), ("minihbase catalogjanitor_enabled",)),
    "normalize": CommandHelp(
        "tools",
        "Run the region normalizer now on NORMALIZATION_ENABLED tables: all, or those selected.",
        """\
For every table with NORMALIZATION_ENABLED => true, splits regions over twice the target size
and merges adjacent small ones (the target: NORMALIZER_TARGET_REGION_SIZE_MB, or the table's
size over NORMALIZER_TARGET_REGION_COUNT, or the mean region size). Prints false while the
normalizer is switched off, else true and what it did.

Table filter (HBase's; a table it selects without NORMALIZATION_ENABLED is still left alone):
  TABLE_NAMES => ['t1', 'ns1:t2']   those tables (a missing one is skipped); TABLE_NAME => 't1'
  NAMESPACE => 'ns1'                every table of the namespace (ignored with TABLE_NAMES)
  REGEX => 'ns1:.*'                 of those (or of all), the ones whose whole name matches""",
        ("normalize", "normalize {'TABLE_NAMES' => ['t1', 't2']}", "normalize REGEX => 'ns1:.*'",
         "normalize NAMESPACE => 'ns1', REGEX => '.*_big'"),
        ("minihbase normalize", "minihbase normalize --tables t1 t2",
         "minihbase normalize --namespace ns1 --regex '.*_big'")),
    "normalizer_switch": CommandHelp(
        "tools", "Switch the region normalizer on or off.",
        "Off, neither its periodic runs (master --normalizer-period) nor normalize do anything. "
        "Prints the state before; the switch survives a master failover.",
        ("normalizer_switch false",), ("minihbase normalizer_switch on",)),
    "normalizer_enabled": CommandHelp(
        "tools", "Say whether the region normalizer is switched on.", "",
        ("normalizer_enabled",), ("minihbase normalizer_enabled",)),
    "list_deadservers": CommandHelp(
        "tools", "List the region servers the master declared dead and recovered.", "",
        ("list_deadservers",), ("minihbase list_deadservers",)),
    "clear_deadservers": CommandHelp(
        "tools", "Forget dead region servers (all of them when none is named).",
        "Servers whose crash handling is still running are kept, and listed.",
        ("clear_deadservers", "clear_deadservers 'rs1,16020,1732250000000'"),
        ("minihbase clear_deadservers",)),
    "zk_dump": CommandHelp(
        "tools", "Show the cluster as ZooKeeper records it, and each quorum server's status.",
        "Read from ZooKeeper itself, so it works while no master is active.",
        ("zk_dump",), ("minihbase zk_dump",)),
}

# Commands only the CLI has.
CLI_ONLY: dict[str, CommandHelp] = {
    "hbck": CommandHelp(
        "tools", "HBase's HBCK report, checked now; exit code 1 when it finds a problem.",
        _HBCK_REPORT, (),
        ("minihbase hbck", "minihbase --json hbck --clean")),
    "export_snapshot": CommandHelp(
        "snapshots", "Copy a snapshot into another cluster's root directory, or a backup.",
        """\
HBase's ExportSnapshot. The master copies the snapshot's files on its own host into
COPY_TO/.hbase-snapshot/NAME, checking every block as it goes: the destination gets the whole
snapshot or nothing, and a damaged file is reported by name. COPY_TO is an absolute path on
the master's host (in Docker, inside its container). A cluster whose root directory is COPY_TO
then lists the snapshot and can clone_snapshot or restore_snapshot it.""", (),
        ("minihbase export_snapshot s1 /backups/hbase",)),
    "shell": CommandHelp(
        "general", "The interactive shell, in HBase shell syntax (type help there).", "", (),
        ("minihbase shell", "minihbase shell script.hb")),
}

# What the CLI's arguments mean, by argparse dest; "command.dest" for one command only.
ARGUMENTS = {
    "table": "the table's name (NS:TABLE in a namespace)",
    "families": "column family names; the family options apply to each",
    "family": "a column family's name",
    "namespace": "the namespace's name",
    "regex": "a regular expression the whole name must match",
    "table_regex": "a regular expression the whole table name must match",
    "name": "the snapshot's name",
    "new_table": "the new table's name",
    "row": "the row key (\\xHH escapes for binary bytes)",
    "column": "family:qualifier (a family alone: the whole family)",
    "columns": "columns (family:qualifier; family:qualifier:toLong shows the value with "
               "that Bytes method, see the shell's help 'get') or whole families",
    "value": "the value (\\xHH escapes for binary bytes)",
    "amount": "how much to add (default 1; may be negative)",
    "target": "a table, or one region's name",
    "region": "a region's full or encoded name",
    "region_a": "a region's full or encoded name",
    "region_b": "another region's name; all of them form one run of adjacent regions",
    "merge.more": "more regions of that run (HBase 2.3+ merges any number)",
    "server": "host,port,startcode (default: the least-loaded other server)",
    "key": "the split key (default: each region's midpoint)",
    "state": "on (true) or off (false)",
    "format": "summary (the default), simple or detailed",
    "script": "run the commands in this file instead",
    "splits": "region boundaries (split keys)",
    "delete": "delete this column family (repeatable)",
    "min_versions": "versions kept even past the TTL (HBase's MIN_VERSIONS; 0)",
    "bloom": "bloom filter (HBase's BLOOMFILTER; ROW)",
    "compression": "HFile compression (HBase's COMPRESSION; NONE)",
    "block_size": "HFile data block size in bytes (HBase's BLOCKSIZE; 65536)",
    "ts": "timestamp in milliseconds since the epoch",
    "get.ts": "only cells with a timestamp <= this",
    "delete.ts": "delete the version at exactly this timestamp",
    "deleteall.ts": "delete only the versions at or before this timestamp",
    "deleteall.row": "the row key (\\xHH escapes for binary bytes); with --prefix there is "
                     "no row: this is the column",
    "deleteall.column": "family:qualifier or a family: every version of it (default: the "
                        "whole row)",
    "put.ts": "the cell's timestamp (default: now)",
    "versions": "versions per column to return",
    "prefix": "only rows starting with this",
    "limit": "at most this many rows",
    "reverse": "from --start down to --stop",
    "yes": "do not ask",
    "wait": "return once every region has compacted (within --timeout)",
    "major": "a major compaction",
    "clean": "also run the master's orphan cleaner now (docs/coordination.md)",
    "servers": "full names host,port,startcode, host,port or host names",
    "set": "a property to set, KEY=VALUE (repeatable)",
    "copy_to": "the destination root directory (an absolute path on the master's host)",
    "unset": "a property to remove (repeatable)",
    "no_offload": "leave their regions where they are",
    "regions": "regions to move back onto it (full or encoded names)",
    "kind": "SPLIT or MERGE",
    # the table attributes (storage/schema.py TABLE_ATTRIBUTES; docs/storage.md)
    "max_filesize": "HBase's MAX_FILESIZE: its regions split past this many store bytes "
                    "(default: the servers' --split-size; at least 64 KiB; alter: 0 unsets it)",
    "memstore_flushsize": "HBase's MEMSTORE_FLUSHSIZE: its regions flush past this many "
                          "memstore bytes (default: the servers' --flush-size; at least 64 KiB; "
                          "alter: 0 unsets it)",
    "readonly": "HBase's READONLY: refuse every put, delete, increment, append and "
                "check-and-put (default false)",
    "compaction_enabled": "HBase's COMPACTION_ENABLED: false: no compaction of its regions, "
                          "asked for or not (default true)",
    "split_enabled": "HBase's SPLIT_ENABLED: false: no split of its regions, automatic or asked "
                     "for (default true)",
    "merge_enabled": "HBase's MERGE_ENABLED: false: no merge of its regions (default true)",
    "durability": "HBase's DURABILITY: how its writes use the WAL (default USE_DEFAULT = "
                  "SYNC_WAL; ASYNC_WAL and SKIP_WAL lose acknowledged writes in a crash)",
    "normalization_enabled": "HBase's NORMALIZATION_ENABLED: the region normalizer splits "
                             "and merges its regions (default false)",
    "normalizer_target_region_count": "HBase's NORMALIZER_TARGET_REGION_COUNT: the normalizer "
                                      "aims at this many regions (0 unsets it)",
    "normalizer_target_region_size_mb": "HBase's NORMALIZER_TARGET_REGION_SIZE_MB: the "
                                        "normalizer aims at regions of this many MiB (0 unsets "
                                        "it; wins over the count)",
    "recommission_regionserver.server": "the decommissioned server's full name",
    "normalize.tables": "only these tables (a missing one is skipped)",
    "normalize.regex": "only the tables whose whole name matches it (NS:TABLE)",
    "normalize.namespace": "only the tables of this namespace (ignored with --tables)",
    "clear_deadservers.servers": "dead servers' full names (default: every dead server)",
}


_USAGE = """\
SHELL USAGE:
Quote names, rows, columns and values: 'single quotes' take text as it is, "double quotes"
take escapes, so binary bytes are written "\\x00\\xff" (as scan prints them). Commas separate
arguments; options are hashes {KEY => value, ...} whose keys (NAME, VERSIONS, STARTROW ...)
need no quotes, and trailing KEY => value pairs need no braces. Lines are parsed, never run as
Ruby. Several commands on one line are separated by ';'; a command goes on over lines while
a '{', '[' or '(' is open or a line ends with ',' or '\\'. In a script, a y/n question is
answered by the script's next line."""


def command(name: str) -> CommandHelp | None:
    """The help of a shell command (or one of its other names), None if there is none."""
    return COMMANDS.get(ALIASES.get(name, name))


def command_text(name: str) -> str:
    """What `help 'name'` prints: the summary, the details, the examples."""
    h = command(name)
    parts = [h.summary] + ([h.text] if h.text else [])
    parts.append("Examples:\n" + "\n".join(f"  hbase> {e}" for e in h.examples))
    return "\n\n".join(parts)


def group_text(group: str) -> str:
    """What `help 'group'` prints: the help of each of its commands."""
    return "\n\n".join(f"Command: {name}\n{command_text(name)}"
                       for name in group_commands(group))


def group_commands(group: str) -> list[str]:
    return sorted(name for name, h in COMMANDS.items() if h.group == group)


def overview() -> str:
    """What `help` prints: the commands by group, then how lines are written."""
    lines = ["minihbase shell, in HBase shell syntax. help 'COMMAND' (e.g. help 'get') shows a "
             "command's help;", "help 'GROUP' (e.g. help 'ddl') the help of a group's commands.",
             "", "COMMAND GROUPS:"]
    for group in GROUPS:
        lines += [f"  Group name: {group}",
                  _wrap("  Commands: " + ", ".join(group_commands(group))).replace(
                      "\n", "\n            "), ""]
    return "\n".join(lines) + "\n" + _USAGE


def cli_help(name: str) -> CommandHelp:
    """The help of CLI command `name`: its own, or the shell command's of that name."""
    return CLI_ONLY.get(name) or command(name)


def cli_description(name: str) -> str:
    """The summary; for a command only the CLI has, also its text (written for the CLI)."""
    h = cli_help(name)
    return f"{h.summary}\n\n{h.text}" if name in CLI_ONLY and h.text else h.summary


def cli_epilog(name: str) -> str:
    """The examples under `minihbase COMMAND --help`, and where the shell's help is."""
    text = "examples:\n" + "\n".join(f"  {e}" for e in cli_help(name).cli)
    if command(name) is not None:
        text += f"\n\nin minihbase shell: help '{ALIASES.get(name, name)}'"
    return text
