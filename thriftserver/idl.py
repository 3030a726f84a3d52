"""The Thrift1 interface (thriftserver/hbase.thrift) loaded as a Python module: its structs,
exceptions and the `Hbase` service, shared by the gateway and any Python Thrift client."""

from __future__ import annotations

import os

import thriftpy2
from thriftpy2.rpc import make_client

IDL_PATH = os.path.join(os.path.dirname(__file__), "hbase.thrift")

hbase = thriftpy2.load(IDL_PATH, module_name="hbase_thrift")


def gateway_answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """Whether a gateway answers a Thrift call at host:port. A port accepting connections is
    not enough: Docker's published port accepts them before the process behind it listens
    (or while it restarts), then closes them."""
    try:
        c = make_client(hbase.Hbase, host, port, timeout=int(timeout_s * 1000))
    except Exception:  # noqa: BLE001 -- refused, unresolvable: not up
        return False
    try:
        c.getTableNames()
        return True
    except Exception:  # noqa: BLE001 -- closed, timed out, an IOError: not serving yet
        return False
    finally:
        c.close()
