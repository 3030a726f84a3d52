"""The one exception hierarchy of minihbase (see docs/rpc.md, "Errors").

Every layer raises these (storage, daemons, client). `protos/status.py` holds the single table
that maps each class to a gRPC status code on the server and back to the same class on the
client, so a caller catches `TableNotFoundError` whether the error happened in-process or
three hops away. Messages name the bad argument or the missing thing.

Retryable errors are declared once, here, by `retryable = True`: the client retries those with
back-off (after re-reading region locations, unless `stale_location = False`: the region is
where the client thought, only busy) and surfaces every other error at once.
"""


class HBaseError(Exception):
    """Base of every minihbase error."""

    retryable = False
    stale_location = True  # a retryable failure: the cached region location may be wrong


# --- bad input (the caller's fault; never retried) -------------------------------------------

class InvalidArgumentError(HBaseError, ValueError):
    """A malformed request: empty or oversize row key, bad table name, value too large..."""


class NotACounterError(InvalidArgumentError):
    """An increment of a cell whose value is not an 8-byte counter (HBase's
    DoNotRetryIOException "Field is not a long"): the Thrift gateway answers it with IOError,
    as HBase's, not IllegalArgument."""


class TableNotFoundError(HBaseError):
    """The named table does not exist."""


class TableExistsError(HBaseError):
    """create was asked for a table that already exists."""


class TableNotDisabledError(HBaseError):
    """drop/alter needs the table disabled first (HBase's rule)."""


class TableNotEnabledError(HBaseError):
    """A data call or disable on a table that is not enabled."""


class NoSuchColumnFamilyError(HBaseError):
    """The named column family is not in the table's schema."""


class NamespaceNotFoundError(HBaseError):
    """The named namespace does not exist (create_namespace first)."""


class NamespaceExistsError(HBaseError):
    """create_namespace was asked for a namespace that already exists."""


class NamespaceNotEmptyError(HBaseError):
    """drop_namespace of a namespace that still has tables, or of a reserved one."""


class SnapshotNotFoundError(HBaseError):
    """The named snapshot does not exist (HBase's SnapshotDoesNotExistException)."""


class SnapshotExistsError(HBaseError):
    """A snapshot of that name already exists."""


class SnapshotCreationError(HBaseError):
    """A snapshot could not be taken (a region in transition, a server gone); nothing of it is
    kept, and taking it again may succeed."""


class TableReadOnlyError(HBaseError):
    """A mutation of a table whose READONLY attribute is true (HBase's "region is read only").
    Not retried: alter the table's READONLY to false first."""


# --- storage ----------------------------------------------------------------------------------

class CorruptionError(HBaseError):
    """An on-disk record failed its checksum or is structurally impossible. Never served."""


class RegionClosedError(HBaseError):
    """The region was closed (moved, split, merged) while the call was in progress."""

    retryable = True


# --- cluster ----------------------------------------------------------------------------------

class NotServingRegionError(HBaseError):
    """This server does not (or no longer) serve the region: re-read the location and retry."""

    retryable = True


class RegionOfflineError(HBaseError):
    """The region is known but not open anywhere right now (in transition)."""

    retryable = True


class RegionOpenFailedError(HBaseError):
    """A region that was asked to move (or be assigned) could not be opened: it is
    FAILED_OPEN, its open retried by the master; the message says why. Not retried here."""


class ServerUnavailableError(HBaseError):
    """The server could not be reached or went away mid-call."""

    retryable = True


class ServerAbortedError(HBaseError):
    """The region server lost its ZooKeeper session or found its WAL fenced: it aborts and
    acknowledges nothing more. Retry elsewhere."""

    retryable = True


class WALFencedError(ServerAbortedError):
    """The master renamed this server's WAL directory (WALs/<server> -> <server>-splitting) to
    split it: the server was declared dead and must acknowledge no further write."""


class MasterNotRunningError(HBaseError):
    """No active master, or the master is still initialising."""

    retryable = True


class StaleMasterError(HBaseError):
    """A region server refused a command (open, close, split, merge, snapshot) from a master
    that /hbase/master no longer names: its ZooKeeper session expired while it was frozen and
    another master took over. The stale master aborts when it gets this. Not retryable."""


class ClockOutOfSyncError(HBaseError):
    """The master refused a region server whose clock differs from the master's by more than
    --max-clock-skew (HBase's ClockOutOfSyncException): the cells it stamps would hide, or be
    hidden by, other servers' writes to the same rows. The region server aborts when it gets
    this. Not retryable: the clock must be fixed first."""


class UnknownScannerError(HBaseError):
    """The scanner id is unknown: expired lease, or the region moved."""


class RowTooBigError(HBaseError):
    """A Get's row holds more than the server's --max-row-bytes of cells, or more than one
    response may carry (HBase's RowTooBigException); a scan reads it, in parts. Not
    retried."""


class ConnectionClosedError(HBaseError):
    """A call on a client Connection after its close() (client-side only)."""


class ClusterNotFoundError(HBaseError):
    """ZooKeeper holds no cluster under the parent znode asked for (a wrong --zk-parent, or
    a quorum that is not this cluster's); not retried."""


class OperationTimeoutError(HBaseError):
    """The client's overall operation timeout ran out while retrying."""


class OutcomeUnknownError(HBaseError):
    """The master lost its ZooKeeper connection in the middle of the call: it may or may not
    have been applied (its chores finish or undo what it left half-done). Not retryable in
    general (a flush or balance sent again would run twice); the client resends only calls it
    can match to their first attempt (done_if errors, or a split/merge/move nonce). Look, then
    decide."""


class OperationNotAllowedError(HBaseError):
    """The cluster forbids this operation right now: its switch is off (splitormerge_switch),
    its target is decommissioned, or its table's SPLIT_ENABLED / MERGE_ENABLED is false (HBase:
    "failed as region split is disabled for the table"). Not retried: an admin must change
    that first."""


class QuotaExceededError(HBaseError):
    """The operation would pass a namespace quota (hbase.namespace.quota.maxtables or
    maxregions). Not retried."""


class RegionTooBusyError(HBaseError):
    """Writes are blocked while the region flushes or compacts (too many store files), or
    while its region server's memstores are at their global limit."""

    retryable = True
    stale_location = False  # as HBase's client keeps the location of a RegionTooBusyException


class CallQueueTooBigError(HBaseError):
    """The region server is already handling as many bytes of write requests as it takes at
    once (--max-call-queue-bytes, HBase's CallQueueTooBigException); retried with back-off."""

    retryable = True
    stale_location = False
