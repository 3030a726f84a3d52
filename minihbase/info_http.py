"""The daemons' info port plumbing (see docs/web-ui.md): a read-only HTTP server on the standard
library's ThreadingHTTPServer in a daemon thread, plus the HTML building blocks both web UIs
share (page shell with inline CSS and a 5 s self-refresh, tables, readable row keys, sizes,
ages). Everything interpolated into HTML goes through `esc` (html.escape); nothing here knows
about masters or region servers.

Routes are `(prefix, fn)` pairs; fn(rest_of_path, query) returns (status, content_type, body)
with body str or bytes. A route that raises becomes a 500 with one line of text, logged at
DEBUG -- the info port is never on a critical path and never takes the daemon down.
"""

from __future__ import annotations

import html
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

from minihbase.bytes_text import binary

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


_request = threading.local()  # .host: the host name the browser used for this request

_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def ui_url(advertised_host: str, info_port: int) -> str:
    """URL of another daemon's UI. Normally its advertised host; but when the browser reached
    this daemon through loopback (a local cluster, or docker-compose publishing every daemon's
    info port on the host), through that same loopback name -- container names such as "rs1"
    do not resolve outside Docker."""
    host = getattr(_request, "host", "")
    if host in _LOOPBACK or host.startswith("127."):
        advertised_host = host
    if ":" in advertised_host:
        advertised_host = f"[{advertised_host}]"
    return f"http://{advertised_host}:{info_port}/"


class InfoHttpServer:
    """Serves `routes` on bind:port (0 = a free port; the bound one is `.port`)."""

    def __init__(self, bind: str, port: int, routes: list, name: str = "info-server"):
        self._routes = routes  # [(prefix, fn)], first match wins; exact "/" matches only "/"
        self._name = name
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                _request.host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
                code, ctype, body = owner.dispatch(self.path)
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):  # no per-request log lines at INFO
                log.debug(fmt, *args)

        host = bind.strip("[]") if bind else "0.0.0.0"
        if ":" in host:
            class V6Server(ThreadingHTTPServer):
                address_family = socket.AF_INET6
            self._httpd = V6Server((host, port), Handler)
        else:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    def dispatch(self, raw_path: str) -> tuple[int, str, bytes | str]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path) or "/"
        for prefix, fn in self._routes:
            if (prefix == "/" and path == "/") or (prefix != "/" and (
                    path == prefix or path.startswith(prefix.rstrip("/") + "/"))):
                rest = path[len(prefix):].lstrip("/") if prefix != "/" else ""
                try:
                    return fn(rest, parts.query)
                except LookupError as e:
                    return 404, TEXT, f"not found: {e}\n"
                except Exception as e:  # noqa: BLE001
                    log.debug("info page %s failed", path, exc_info=True)
                    return 500, TEXT, f"error: {type(e).__name__}: {e}\n"
        return 404, TEXT, f"not found: {path}\n"

    def start(self):
        threading.Thread(target=self._httpd.serve_forever, name=self._name,
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- responses ---------------------------------------------------------------------------------

def json_response(doc, code: int = 200):
    return code, JSON, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def html_response(body: str, code: int = 200):
    return code, HTML, body


# --- HTML building blocks -------------------------------------------------------------------

def esc(value) -> str:
    return html.escape(str(value), quote=True)


def link(href: str, text) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def path_part(name: str) -> str:
    """A table or server name as one URL path segment (server names hold commas)."""
    return quote(name, safe="")


def readable_key(key: bytes, empty: str = "") -> str:
    """Row key as text (HBase's Bytes.toStringBinary); `empty` for b"". Not yet HTML-escaped."""
    return binary(key) if key else empty


def key_range(start: bytes, end: bytes) -> str:
    """[start, end) as HTML, empty ends shown as open."""
    s = esc(readable_key(start)) if start else '<span class="dim">(first)</span>'
    e = esc(readable_key(end)) if end else '<span class="dim">(last)</span>'
    return f'<span class="key">[{s}, {e})</span>'


def human_bytes(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def age(since_ms: int, now: float | None = None) -> str:
    """How long ago since_ms was, e.g. '3.2 s', '4 min 10 s'."""
    if not since_ms:
        return ""
    secs = max(0.0, (now if now is not None else time.time()) - since_ms / 1000.0)
    if secs < 60:
        return f"{secs:.1f} s"
    if secs < 3600:
        return f"{int(secs // 60)} min {int(secs % 60)} s"
    return f"{int(secs // 3600)} h {int(secs % 3600 // 60)} min"


def badge(state: str) -> str:
    kind = {"OPEN": "ok", "ONLINE": "ok", "ENABLED": "ok", "RUNNING": "ok", "active": "ok",
            "DEAD": "bad", "CRASHED": "bad", "FAILED_OPEN": "bad", "ABORTED": "bad",
            "DISABLED": "dim", "CLOSED": "dim", "backup": "dim"}.get(state, "warn")
    return f'<span class="badge {kind}">{esc(state)}</span>'


def table(headers: list[str], rows: list[list[str]], empty: str = "none",
          cls: str = "") -> str:
    """rows hold ready HTML (callers escape); an empty table says `empty`."""
    if not rows:
        return f'<p class="dim">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def cards(items: list[tuple[str, str]]) -> str:
    """Summary tiles: (label, HTML value)."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{esc(k)}</div><div class="value">{v}</div></div>'
        for k, v in items) + "</div>"


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f5f6f8}
header{background:#1f3b57;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}header a{color:#cfe3ff}nav a{margin-right:14px}
main{max-width:1280px;margin:0 auto;padding:12px 24px 40px}
h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e4e7ec;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}tr:hover td{background:#f8fafc}
td.num,th.num{text-align:right}.key{font-family:ui-monospace,Menlo,Consolas,monospace;
word-break:break-all}.dim{color:#7a8494}
.badge{padding:1px 6px;border-radius:8px;font-size:12px;font-weight:600}
.ok{background:#dff5e3;color:#17602a}.bad{background:#fde2e1;color:#9b1c1c}
.warn{background:#fff3cd;color:#7a5a00}.badge.dim{background:#eceff3}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #e0e4ea;
border-radius:6px;padding:8px 12px;min-width:140px}.card .label{color:#7a8494;font-size:12px}
.card .value{font-size:17px;font-weight:600}
footer{color:#7a8494;font-size:12px;margin-top:24px}
"""


def page(title: str, heading: str, nav: list[tuple[str, str]], body: str,
         refresh: int = 5) -> str:
    navs = " ".join(link(href, text) for text, href in nav)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{int(refresh)}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(heading)}</h1><nav>{navs}</nav></header><main>{body}"
            f'<footer>rendered {esc(time.strftime("%Y-%m-%d %H:%M:%S"))}; refreshes every '
            f"{int(refresh)} s</footer></main></body></html>")
