"""`minihbase-thrift` / `python -m thriftserver.main`: the Thrift gateway daemon, HBase's
`hbase thrift start` (docs/thrift.md): HBase's Thrift1 API, what happybase speaks, served from a
minihbase client connection to the cluster.

Flags (each also read from MINIHBASE_<FLAG_UPPER_SNAKE>, e.g. MINIHBASE_ZK; minihbase/daemon.py)
are listed in FLAGS. Logs: one line per event, every line naming the gateway
("[thrift host,port]"). SIGTERM/SIGINT = clean stop (exit 0); a port in use or an unreachable
ZooKeeper at start = exit 1 with one line saying which.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from minihbase.daemon import LOG_FLAGS, parse_flags, setup_logging
from minihbase.errors import HBaseError

FLAGS = [
    ("zk", None, str, "ZooKeeper quorum host:port[,host:port...]"),
    ("zk-parent", "/hbase", str, "parent znode"),
    ("bind", "0.0.0.0", str, "address the Thrift server listens on"),
    ("port", 9090, int, "Thrift port; 0 = any free port"),
    ("info-port", 9095, int, "HTTP info port (/health, /); 0 = any free port, -1 = none"),
    ("framed", False, bool, "framed transport (HBase's -f; default: buffered)"),
    ("compact", False, bool, "compact protocol (HBase's -c; default: binary)"),
    ("max-connections", 1000, int, "client connections served at once; more are refused"),
    ("scanner-lease", 60.0, float, "seconds an idle scanner lives before it is closed"),
    ("keepalive", 60, int, "seconds a client connection may be silent before the gateway "
     "checks (TCP keepalive) that its host is still there; one that is not is closed; 0 = never"),
    ("timeout", 60.0, float, "seconds each operation on the cluster may take, retries included"),
    *LOG_FLAGS,
]


def main(argv=None) -> int:
    a = parse_flags("minihbase-thrift", __doc__.split("\n")[0], FLAGS, argv)
    name_filter = setup_logging("thrift", a.log_level, a.log_file, a.log_max_bytes,
                                a.log_backups)
    log = logging.getLogger("thriftserver")

    import client
    from thriftserver.server import GatewayConfig, ThriftGateway

    config = GatewayConfig(zk=a.zk, zk_parent=a.zk_parent, bind=a.bind, port=a.port,
                           info_port=a.info_port, framed=a.framed, compact=a.compact,
                           max_connections=a.max_connections, scanner_lease=a.scanner_lease,
                           keepalive=a.keepalive, timeout=a.timeout)
    try:
        connection = client.Connection(a.zk, zk_parent=a.zk_parent, timeout=a.timeout)
    except HBaseError as exc:
        log.error("could not start: %s", exc)
        return 1
    try:
        gateway = ThriftGateway(config, connection)
    except OSError as exc:
        log.error("could not start: cannot listen on %s:%d: %s", a.bind, a.port, exc)
        connection.close()
        return 1
    name_filter.server = gateway
    stopper: list[threading.Thread] = []

    def stop(*_):
        if not stopper:
            stopper.append(threading.Thread(target=gateway.stop, name="stop"))
            stopper[0].start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving HBase's Thrift1 API on %s:%d (%s transport, %s protocol), cluster at "
             "%s%s", a.bind, gateway.port, "framed" if a.framed else "buffered",
             "compact" if a.compact else "binary", a.zk,
             f", info port {gateway.info.port}" if gateway.info else "")
    serving = threading.Thread(target=gateway.serve_forever, name="accept", daemon=True)
    serving.start()
    while serving.is_alive():  # wait in slices so signal handlers run promptly
        serving.join(0.5)
    for thread in stopper:
        thread.join(30)
    log.info("stopped")
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
