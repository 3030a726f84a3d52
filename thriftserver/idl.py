"""The Thrift1 interface (thriftserver/hbase.thrift) loaded as a Python module: its structs,
exceptions and the `Hbase` service, shared by the gateway and any Python Thrift client."""

from __future__ import annotations

import os

import thriftpy2

IDL_PATH = os.path.join(os.path.dirname(__file__), "hbase.thrift")

hbase = thriftpy2.load(IDL_PATH, module_name="hbase_thrift")
