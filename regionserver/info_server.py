"""The region server's info port (HBase's 16030): a tiny read-only HTTP server.

    GET /          -> JSON: server name, state, and the ServerLoad (regions, WAL, block cache)
    GET /metrics   -> Prometheus text: a few gauges from the same ServerLoad

Never on the data path; a failure here is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict

log = logging.getLogger(__name__)


class InfoServer:
    def __init__(self, server, bind: str, port: int):
        self._server = server
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                try:
                    body, ctype = owner._render(self.path)
                except Exception as e:
                    body, ctype = f"error: {e}\n".encode(), "text/plain"
                self.send_response(200 if body is not None else 404)
                body = body if body is not None else b"not found\n"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):  # no per-request log lines
                log.debug(fmt, *args)

        self._httpd = ThreadingHTTPServer((bind, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    def start(self) -> "InfoServer":
        threading.Thread(target=self._httpd.serve_forever, name="info-server",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _render(self, path: str):
        srv = self._server
        load = srv.load()
        if path in ("/", "/status", "/status.json"):
            state = "ABORTED" if srv.abort_reason else ("STOPPING" if srv._stopping else
                                                         "RUNNING")
            doc = {"server": srv.name, "state": state, "abort_reason": srv.abort_reason,
                   "load": MessageToDict(load, preserving_proto_field_name=True)}
            return json.dumps(doc, indent=2).encode() + b"\n", "application/json"
        if path == "/metrics":
            lines = [
                f"minihbase_regionserver_regions {len(load.regions)}",
                f"minihbase_regionserver_wal_bytes {load.wal_bytes}",
                f"minihbase_regionserver_wal_segments {load.wal_segments}",
                f"minihbase_regionserver_requests_per_second {load.requests_per_second}",
                f"minihbase_regionserver_block_cache_hits {load.block_cache_hits}",
                f"minihbase_regionserver_block_cache_misses {load.block_cache_misses}",
            ]
            for r in load.regions:
                lines.append(f'minihbase_region_memstore_bytes{{region="{r.region}"}} '
                             f"{r.memstore_bytes}")
                lines.append(f'minihbase_region_store_files{{region="{r.region}"}} '
                             f"{r.store_files}")
            return ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4"
        return None, "text/plain"
