"""`minihbase-regionserver` / `python -m regionserver.main`: the region server daemon.

Flags (each also read from MINIHBASE_<FLAG_UPPER_SNAKE>, e.g. MINIHBASE_ZK; a flag on the command
line wins; see minihbase/daemon.py) are listed in FLAGS and docs/local-cluster.md. Logs: one line
per event, every line naming this server ("[regionserver host,port,startcode]"). SIGTERM/SIGINT
= clean stop (exit 0); an abort (ZooKeeper session expired, WAL fenced) exits 1. See docs/rpc.md.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import signal
import time

from minihbase.daemon import LOG_FLAGS, parse_flags, setup_logging
from regionserver.server import RegionServer, ServerConfig
from storage.config import SERVER_GC_THRESHOLDS

ABORT_EXIT_DEADLINE_S = 5.0
# Open files below which the server warns at start: every store file keeps one open (HBase's
# reference guide asks for ulimit -n of 10,000 or more for the same reason).
MIN_OPEN_FILES = 10_000

FLAGS = [
    ("zk", None, str, "ZooKeeper quorum host:port[,host:port...]"),
    ("rootdir", None, str, "shared root directory (WALs/, data/, oldWALs/)"),
    ("bind", "0.0.0.0", str, "address the gRPC server listens on"),
    ("port", 16020, int, "gRPC port; 0 = any free port"),
    ("advertise", "", str, "host name clients dial (default: this host's name)"),
    ("info-port", 16030, int, "HTTP info port; 0 = any free port, -1 = none"),
    ("zk-parent", "/hbase", str, "parent znode"),
    ("session-timeout", 15.0, float, "ZooKeeper session timeout, seconds"),
    ("flush-size", 128 << 20, int, "memstore bytes that trigger a flush"),
    ("global-memstore-size", 1 << 30, int,
     "all regions' memstore bytes at which writes wait for flushes (flushes start at 95 %)"),
    ("periodic-flush-interval", 3600.0, float,
     "seconds after which a memstore's oldest edit is flushed, however small"),
    ("wal-roll-period", 3600.0, float, "seconds after which the WAL's segment is rolled"),
    ("split-size", 10 << 30, int, "store bytes past which the master is asked to split"),
    ("max-value-bytes", 10 << 20, int, "largest cell value accepted"),
    ("max-row-bytes", 128 << 20, int,
     "bytes of one row's cells a Get may read; past it RowTooBigError (scans are not bound)"),
    ("max-call-queue-bytes", 128 << 20, int,
     "bytes of write (Multi) requests handled at once; past it a call is answered "
     "CallQueueTooBigError, which clients retry"),
    ("block-cache-bytes", 64 << 20, int, "block cache capacity"),
    ("scanner-lease", 60.0, float, "seconds an idle scanner lives"),
    ("report-period", 1.0, float, "seconds between load reports to the master"),
    ("handler-threads", 24, int, "gRPC handler threads"),
    ("trim-period", 30.0, float,
     "seconds between returns of freed heap memory to the OS (glibc malloc_trim); 0 = never"),
    *LOG_FLAGS,
]


def parse_args(argv=None) -> argparse.Namespace:
    return parse_flags("minihbase-regionserver", __doc__.split("\n")[0], FLAGS, argv)


def config_from_args(a: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        zk=a.zk, rootdir=os.path.abspath(a.rootdir), bind=a.bind, port=a.port,
        advertise=a.advertise, info_port=a.info_port, zk_parent=a.zk_parent,
        session_timeout=a.session_timeout, flush_size=a.flush_size,
        global_memstore_size=a.global_memstore_size, split_size=a.split_size,
        max_value_bytes=a.max_value_bytes, max_row_bytes=a.max_row_bytes,
        max_call_queue_bytes=a.max_call_queue_bytes,
        block_cache_bytes=a.block_cache_bytes,
        scanner_lease=a.scanner_lease, report_period=a.report_period,
        handler_threads=a.handler_threads, trim_period=a.trim_period,
        periodic_flush_interval=a.periodic_flush_interval, wal_roll_period=a.wal_roll_period)


def raise_open_files_limit(log: logging.Logger) -> int:
    """Raise this process's soft limit of open files to its hard limit; returns the limit.

    Each HFile reader keeps its file open, so a server holds about one descriptor per store
    file of every region it serves; under a common soft limit of 1,024 a server of a few
    hundred regions failed its flushes with EMFILE ("Too many open files")."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            log.info("open files limit raised from %d to %d", soft, target)
            soft = target
        except (ValueError, OSError) as e:
            log.warning("could not raise the open files limit from %d to %d: %s", soft,
                        target, e)
    if soft != resource.RLIM_INFINITY and soft < MIN_OPEN_FILES:
        log.warning("open files limit is %d: every store file keeps one open, so flushes and "
                    "region opens fail past it; raise it (ulimit -n, at least %d)", soft,
                    MIN_OPEN_FILES)
    return soft


def main(argv=None) -> int:
    args = parse_args(argv)
    name_filter = setup_logging("regionserver", args.log_level, args.log_file,
                                args.log_max_bytes, args.log_backups)
    log = logging.getLogger("regionserver")

    gc.set_threshold(*SERVER_GC_THRESHOLDS)  # why: storage/config.py
    raise_open_files_limit(log)
    server = RegionServer(config_from_args(args))
    name_filter.server = server
    signal.signal(signal.SIGTERM, lambda *_: server.stop_async())
    signal.signal(signal.SIGINT, lambda *_: server.stop_async())
    try:
        server.start()
    except Exception as e:
        log.error("could not start: %s: %s", type(e).__name__, e)
        server.abort(f"start failed: {e}")
        server.wait(10)
        logging.shutdown()
        os._exit(1)
    gc.freeze()  # start-up objects (modules, protos) are never garbage: stop walking them
    code = None
    aborted_at = None
    while code is None:  # wait in slices so signal handlers run promptly
        code = server.wait(0.5)
        if code is None and server.abort_reason is not None:
            # An aborting server must be gone quickly (its regions are being reassigned); if
            # tear-down hangs (an unreachable ZooKeeper, a stuck fsync), exit anyway.
            aborted_at = aborted_at or time.monotonic()
            if time.monotonic() - aborted_at > ABORT_EXIT_DEADLINE_S:
                log.error("abort tear-down took over %.0f s: exiting now", ABORT_EXIT_DEADLINE_S)
                code = 1
    log.info("exiting with code %d", code)
    logging.shutdown()
    # os._exit: a handler thread stuck in a fenced fsync must not keep a dead server alive.
    os._exit(code)


if __name__ == "__main__":
    main()
