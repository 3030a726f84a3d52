"""The master's info port (HBase's 16010): a tiny read-only HTTP server.

    GET /              -> HTML: active/backup masters, live and dead servers, tables and each
                          table's regions (key range, state, server, waiting_for)
    GET /status.json   -> the ClusterStatus as JSON
    GET /metrics       -> Prometheus text: servers by state, regions, regions in transition

A backup master answers with its role only. Never on any critical path; errors become a 500.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict

from hmaster import status as status_mod

log = logging.getLogger(__name__)


class InfoServer:
    def __init__(self, master, bind: str, port: int):
        self._master = master
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                try:
                    body, ctype = owner._render(self.path)
                    code = 200 if body is not None else 404
                except Exception as e:  # noqa: BLE001
                    body, ctype, code = f"error: {e}\n".encode(), "text/plain", 500
                body = body if body is not None else b"not found\n"
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
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

    def _status(self):
        m = self._master
        return status_mod.cluster_status(m.meta, m.servers, m.election, m.cluster_id)

    def _render(self, path: str):
        m = self._master
        if not m.active:
            doc = {"master": m.name, "role": "backup"}
            return json.dumps(doc).encode() + b"\n", "application/json"
        if path in ("/status.json", "/status"):
            doc = MessageToDict(self._status(), preserving_proto_field_name=True)
            return json.dumps(doc, indent=2).encode() + b"\n", "application/json"
        if path == "/metrics":
            st = self._status()
            lines = [f"minihbase_master_tables {st.table_count}",
                     f"minihbase_master_regions {st.region_count}",
                     f"minihbase_master_regions_in_transition {len(st.regions_in_transition)}"]
            by_state: dict[str, int] = {}
            for s in st.servers:
                by_state[s.state] = by_state.get(s.state, 0) + 1
            for state, n in sorted(by_state.items()):
                lines.append(f'minihbase_master_servers{{state="{state}"}} {n}')
            return ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4"
        if path == "/":
            return self._html().encode(), "text/html; charset=utf-8"
        return None, "text/plain"

    def _html(self) -> str:
        m, st, e = self._master, self._status(), html.escape
        out = [f"<html><head><title>minihbase master {e(m.name)}</title></head><body>",
               f"<h1>minihbase master</h1><p>active: {e(st.active_master)}; backups: "
               f"{e(', '.join(st.backup_masters) or 'none')}; cluster id {e(st.cluster_id)}</p>",
               "<h2>Region servers</h2><table border=1><tr><th>server</th><th>state</th>"
               "<th>regions</th><th>requests/s</th></tr>"]
        for s in st.servers:
            out.append(f"<tr><td>{e(s.name)}</td><td>{e(s.state)}</td><td>{s.region_count}</td>"
                       f"<td>{s.requests_per_second:.1f}</td></tr>")
        out.append("</table><h2>Regions in transition</h2><table border=1><tr><th>region</th>"
                   "<th>state</th><th>server</th><th>waiting for</th></tr>")
        for r in st.regions_in_transition:
            out.append(f"<tr><td>{e(r.info.name)}</td><td>{e(r.state)}</td><td>{e(r.server)}"
                       f"</td><td>{e(r.waiting_for)}</td></tr>")
        out.append("</table><h2>Tables</h2>")
        for t in m.meta.tables():
            td = status_mod.table_description(m.meta, m.servers, t)
            out.append(f"<h3>{e(t)} ({e(td.state)})</h3><table border=1><tr><th>start</th>"
                       "<th>end</th><th>state</th><th>server</th></tr>")
            for r in td.regions:
                out.append(f"<tr><td>{e(repr(r.info.start_key))}</td><td>"
                           f"{e(repr(r.info.end_key))}</td><td>{e(r.state)}</td>"
                           f"<td>{e(r.server)}</td></tr>")
            out.append("</table>")
        out.append("</body></html>")
        return "\n".join(out)
