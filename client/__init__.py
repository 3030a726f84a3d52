"""minihbase's Python client (happybase-shaped) and the `minihbase` CLI. See docs/cli.md.

    import client
    conn = client.Connection("127.0.0.1:2181", timeout=30.0)
    table = conn.table("t1")
"""

import logging

from client.batch import Batch
from client.connection import Connection
from client.pool import ConnectionPool, NoConnectionsAvailable
from client.table import Table

__all__ = ["Batch", "Connection", "ConnectionPool", "NoConnectionsAvailable", "Table"]

# A library's logging stays silent unless the program configures logging (then "client.*",
# kazoo's connection warnings as "client.zookeeper" included, reach its handlers).
logging.getLogger("client").addHandler(logging.NullHandler())
