"""`minihbase-master` / `python -m hmaster.main`: the HMaster daemon (see docs/coordination.md).

Flags (each also read from MINIHBASE_<FLAG_UPPER_SNAKE>, e.g. MINIHBASE_ZK; a flag on the command
line wins; see minihbase/daemon.py) are listed in FLAGS and docs/local-cluster.md. Logs: one line
per event, every line naming this master ("[master host,port,startcode]"). SIGTERM/SIGINT =
clean stop (exit 0): the ZooKeeper session is closed, so /hbase/master vanishes and a backup
takes over at once. An expired session exits 3 (a master that may have been replaced must stop
writing meta).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from hmaster.normalizer import NormalizerConfig
from hmaster.server import MasterConfig, MasterServer
from minihbase.daemon import LOG_FLAGS, parse_flags, setup_logging

FLAGS = [
    ("zk", None, str, "ZooKeeper quorum host:port[,host:port...]"),
    ("rootdir", None, str, "shared root directory (WALs/, data/, oldWALs/)"),
    ("bind", "0.0.0.0", str, "address the gRPC server listens on"),
    ("port", 16000, int, "gRPC port; 0 = any free port"),
    ("advertise", "", str, "host name clients and region servers dial (default: host name)"),
    ("info-port", 16010, int, "HTTP info port; 0 = any free port, -1 = none"),
    ("zk-parent", "/hbase", str, "parent znode"),
    ("session-timeout", 15.0, float, "ZooKeeper session timeout, seconds"),
    ("balancer-period", 30.0, float, "seconds between balancer runs"),
    ("oldwals-ttl", 600.0, float, "seconds after which archived WAL segments are deleted"),
    ("orphan-grace", 600.0, float, "seconds after which orphaned region directories and stale "
     "snapshot attempts are deleted; 0 = never"),
    ("max-clock-skew", 30.0, float, "seconds a joining region server's clock may differ from "
     "the master's; further off, it is refused and aborts (hbase.master.maxclockskew)"),
    ("warn-clock-skew", 10.0, float, "seconds of clock difference above which a joining region "
     "server is logged (hbase.master.warningclockskew)"),
    ("normalizer-period", 300.0, float, "seconds between region normalizer runs"),
    ("normalizer-min-region-count", 3, int,
     "tables with fewer regions get no merge plans from the normalizer"),
    ("normalizer-merge-min-age", 3 * 86400.0, float,
     "seconds a region must have existed before the normalizer merges it"),
    ("normalizer-merge-min-bytes", 1 << 20, int,
     "store bytes a region must hold before the normalizer merges it"),
    ("backup", False, bool, "start as a backup: do not contend until some master has been active"),
    *LOG_FLAGS,
]


def parse_args(argv=None) -> argparse.Namespace:
    return parse_flags("minihbase-master", __doc__.split("\n")[0], FLAGS, argv)


def config_from_args(a: argparse.Namespace) -> MasterConfig:
    return MasterConfig(zk=a.zk, rootdir=os.path.abspath(a.rootdir), bind=a.bind, port=a.port,
                        advertise=a.advertise, info_port=a.info_port, zk_parent=a.zk_parent,
                        session_timeout=a.session_timeout, balancer_period=a.balancer_period,
                        backup=a.backup, oldwals_ttl=a.oldwals_ttl,
                        orphan_grace=a.orphan_grace, max_clock_skew=a.max_clock_skew,
                        warn_clock_skew=a.warn_clock_skew, normalizer=NormalizerConfig(
                            period=a.normalizer_period,
                            min_region_count=a.normalizer_min_region_count,
                            merge_min_age_s=a.normalizer_merge_min_age,
                            merge_min_bytes=a.normalizer_merge_min_bytes))


def main(argv=None) -> int:
    args = parse_args(argv)
    name_filter = setup_logging("master", args.log_level, args.log_file,
                                args.log_max_bytes, args.log_backups)
    log = logging.getLogger("hmaster")

    server = MasterServer(config_from_args(args))
    name_filter.server = server
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server.start()
    except Exception as e:  # noqa: BLE001 -- one clear line, not a traceback
        log.error("could not start: %s: %s", type(e).__name__, e)
        server.stop(0)
        logging.shutdown()
        os._exit(1)
    while not stop.wait(0.5):  # slices, so signal handlers run promptly
        pass
    server.stop()
    log.info("exiting with code 0")
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
