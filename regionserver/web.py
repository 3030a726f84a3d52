"""The region server's web UI and metrics on its info port (HBase's 16030; see docs/web-ui.md).

    GET /               page: state, regions (key range, MemStore, store files and size, reads,
                        writes, flushes, compactions, queued flush/compaction), WAL size and
                        syncs, block cache hit ratio, requests and latency by operation, the
                        most recent slow operations, and a link back to the master's UI
    GET /api/server     the same facts as JSON
    GET /status.json    {"server", "state", "abort_reason", "load": ServerLoad as a dict}
    GET /metrics        Prometheus text (this server's registry only)
    GET /health         200 {"status": "ok"} while serving; 503 once stopping or aborted

Facts are read from the server's own objects at request time (OnlineRegions, each Region's
counters, WAL.stats, BlockCache.stats(), the RpcMetrics that data_service.add_to_server
installed); nothing here touches the data path. The page, /api/server and /metrics do not call
`RegionServer.load()`, because it advances the requests/s window the load reporter uses;
/status.json does (it returns exactly the ServerLoad), so each scrape of it shortens the
reporter's next window (the rate stays a rate, over a shorter interval).
"""

from __future__ import annotations

import threading
import time

from google.protobuf.json_format import MessageToDict

from minihbase import metrics
from minihbase.info_http import (InfoHttpServer, badge, cards, esc, html_response,
                                 human_bytes, json_response, key_range, page, readable_key,
                                 table, ui_url)


class InfoServer:
    def __init__(self, server, bind: str, port: int):
        self._srv = server
        self.registry = metrics.new_registry()
        self.registry.register(metrics.ScrapeCollector(self._collect))
        # Scrapes run on the HTTP server's threads: two first scrapes at once must not both
        # register the RPC metrics (prometheus_client rejects the duplicate).
        self._register_lock = threading.Lock()
        self._registered_rpc = None  # guarded by _register_lock
        self._http = InfoHttpServer(bind, port, [
            ("/health", self._health), ("/metrics", self._metrics),
            ("/api/server", self._api_server), ("/status.json", self._status_json),
            ("/", self._page)], name="rs-info")
        self.port = self._http.port

    def start(self) -> "InfoServer":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    # --- facts ---------------------------------------------------------------------------------

    def _rpc(self):
        service = getattr(self._srv, "service", None)
        return getattr(service, "rpc_metrics", None)

    def _state(self) -> str:
        srv = self._srv
        if srv.abort_reason:
            return "ABORTED"
        return "STOPPING" if getattr(srv, "_stopping", False) else "RUNNING"

    def _regions(self) -> list[dict]:
        online = self._srv.online
        if online is None:
            return []
        states = online.states()
        out = []
        items = sorted(online.items(), key=lambda kv: kv[0])
        open_names = {name for name, _ in items}
        for name, region in items:
            info = region.info
            out.append({
                "name": name, "table": info.table, "start_key": info.start_key,
                "end_key": info.end_key, "state": states.get(name, "OPEN"),
                "memstore_bytes": region.memstore_size(), "store_bytes": region.store_size(),
                "store_files": region.store_file_count(),
                "read_requests": region.read_requests, "write_requests": region.write_requests,
                "flushes": region.flushes, "compactions": region.compactions,
                "flush_seconds": getattr(region, "flush_seconds", 0.0),
                "compaction_seconds": getattr(region, "compaction_seconds", 0.0),
                "flush_queued": bool(getattr(region, "_flush_queued", False)),
                "compaction_queued": bool(getattr(region, "_compaction_queued", False)),
                "compaction_state": region.compaction_state(),
            })
        for name, state in sorted(states.items()):  # opening/closing: no Region object yet
            if name not in open_names:
                out.append({"name": name, "table": name.split(",", 1)[0], "start_key": b"",
                            "end_key": b"", "state": state, "memstore_bytes": 0,
                            "store_bytes": 0, "store_files": 0, "read_requests": 0,
                            "write_requests": 0, "flushes": 0, "compactions": 0,
                            "flush_seconds": 0.0, "compaction_seconds": 0.0,
                            "flush_queued": False, "compaction_queued": False,
                            "compaction_state": "NONE", "transitional": True})
        return out

    def _server_doc(self, regions: list[dict] | None = None) -> dict:
        srv = self._srv
        regions = self._regions() if regions is None else regions
        wal = srv.wal
        ws = wal.stats if wal is not None else None
        bc = srv.block_cache.stats() if srv.block_cache is not None else {}
        lookups = bc.get("hits", 0) + bc.get("misses", 0)
        rpc = self._rpc()
        fl = srv.flusher
        return {
            "server": srv.name, "state": self._state(), "abort_reason": srv.abort_reason,
            "uptime_seconds": round(time.monotonic() - srv._started_at, 1),
            "regions": [{**r, "start_key": readable_key(r["start_key"]),
                         "end_key": readable_key(r["end_key"])} for r in regions],
            "memstore_bytes": sum(r["memstore_bytes"] for r in regions),
            "memstore_limit_bytes": fl.limit if fl else 0,
            "global_memstore_flushes": fl.flushes if fl else 0,
            "blocked_writes": fl.blocked_writes if fl else 0,
            "store_bytes": sum(r["store_bytes"] for r in regions),
            "store_files": sum(r["store_files"] for r in regions),
            "flush_queue": sum(r["flush_queued"] for r in regions),
            "compaction_queue": sum(r["compaction_queued"] for r in regions),
            "wal": {"bytes": wal.size_bytes() if wal else 0,
                    "segments": wal.segment_count() if wal else 0,
                    "syncs": ws.syncs if ws else 0,
                    "sync_seconds_total": ws.sync_seconds_total if ws else 0.0,
                    "appends": ws.appends if ws else 0,
                    "bytes_written": ws.bytes_written if ws else 0},
            "block_cache": {**bc, "hit_ratio": (bc.get("hits", 0) / lookups) if lookups
                            else None},
            "operations": rpc.by_method() if rpc else {},
            "slow_operations": rpc.recent_slow() if rpc else [],
            "slow_threshold_seconds": rpc.slow_seconds if rpc else None,
            "forced_flushes": getattr(srv.online, "flushes_forced", 0),
            "periodic_flushes": getattr(srv.online, "flushes_periodic", 0),
            "split_requests": getattr(srv.online, "split_requests", 0),
            "nonce_duplicates": srv.online.nonces.duplicates if srv.online else 0,
            "open_scanners": len(srv.scanners) if srv.scanners is not None else 0,
        }

    # --- endpoints -------------------------------------------------------------------------------

    def _health(self, rest, query):
        state = self._state()
        return json_response({"status": "ok" if state == "RUNNING" else state.lower(),
                              "server": self._srv.name}, 200 if state == "RUNNING" else 503)

    def _metrics(self, rest, query):
        rpc = self._rpc()
        with self._register_lock:
            if rpc is not None and self._registered_rpc is not rpc:
                self.registry.register(rpc)  # the service exists once the server started
                self._registered_rpc = rpc
        body, ctype = metrics.render(self.registry)
        return 200, ctype, body

    def _api_server(self, rest, query):
        return json_response(self._server_doc())

    def _status_json(self, rest, query):
        srv = self._srv
        load = srv.load() if srv.online is not None else None
        return json_response({"server": srv.name, "state": self._state(),
                              "abort_reason": srv.abort_reason,
                              "load": MessageToDict(load, preserving_proto_field_name=True)
                              if load is not None else {}})

    def _collect(self):
        doc = self._server_doc()
        g, c = metrics.gauge, metrics.counter
        yield g("minihbase_regionserver_up", "1 while serving, 0 once stopping or aborted",
                1 if doc["state"] == "RUNNING" else 0)
        yield g("minihbase_regionserver_regions", "regions online", len(doc["regions"]))
        yield g("minihbase_regionserver_memstore_bytes", "MemStore bytes, all regions",
                doc["memstore_bytes"])
        yield g("minihbase_regionserver_memstore_limit_bytes",
                "global memstore size: writes wait at it, flushes start at 95 %",
                doc["memstore_limit_bytes"])
        yield c("minihbase_regionserver_global_memstore_flushes",
                "flushes made to keep all memstores under the global limit",
                doc["global_memstore_flushes"])
        yield c("minihbase_regionserver_blocked_writes",
                "writes that waited at the global memstore limit", doc["blocked_writes"])
        yield g("minihbase_regionserver_store_bytes", "store file bytes, all regions",
                doc["store_bytes"])
        yield g("minihbase_regionserver_store_files", "store files, all regions",
                doc["store_files"])
        yield g("minihbase_regionserver_flush_queue", "regions with a flush queued",
                doc["flush_queue"])
        yield g("minihbase_regionserver_compaction_queue", "regions with a compaction queued",
                doc["compaction_queue"])
        w = doc["wal"]
        yield g("minihbase_wal_bytes", "bytes in live WAL segments", w["bytes"])
        yield g("minihbase_wal_segments", "live WAL segments", w["segments"])
        yield metrics.summary("minihbase_wal_sync_seconds",
                              "WAL sync rounds (group commits) and their total time",
                              w["syncs"], w["sync_seconds_total"])
        yield c("minihbase_wal_appends", "WAL records appended", w["appends"])
        yield c("minihbase_wal_written_bytes", "bytes appended to the WAL", w["bytes_written"])
        bc = doc["block_cache"]
        yield c("minihbase_block_cache_hits", "block cache hits", bc.get("hits", 0))
        yield c("minihbase_block_cache_misses", "block cache misses", bc.get("misses", 0))
        yield c("minihbase_block_cache_evictions", "blocks evicted", bc.get("evictions", 0))
        yield g("minihbase_block_cache_bytes", "bytes cached", bc.get("size_bytes", 0))
        yield g("minihbase_block_cache_capacity_bytes", "cache capacity",
                bc.get("capacity_bytes", 0))
        yield c("minihbase_regionserver_forced_flushes",
                "flushes forced to release old WAL segments", doc["forced_flushes"])
        yield c("minihbase_regionserver_periodic_flushes",
                "flushes of memstores whose oldest edit passed the periodic flush interval",
                doc["periodic_flushes"])
        yield g("minihbase_regionserver_open_scanners", "server-side scanners open (leased)",
                doc["open_scanners"])
        yield c("minihbase_regionserver_nonce_duplicates",
                "retried increments answered from their nonce, not applied again",
                doc["nonce_duplicates"])
        fams = {
            "memstore_bytes": metrics.GaugeMetricFamily(
                "minihbase_region_memstore_bytes", "MemStore bytes", labels=["table", "region"]),
            "store_bytes": metrics.GaugeMetricFamily(
                "minihbase_region_store_bytes", "store file bytes", labels=["table", "region"]),
            "store_files": metrics.GaugeMetricFamily(
                "minihbase_region_store_files", "store files", labels=["table", "region"]),
            "read_requests": metrics.CounterMetricFamily(
                "minihbase_region_read_requests", "rows read since the region opened here",
                labels=["table", "region"]),
            "write_requests": metrics.CounterMetricFamily(
                "minihbase_region_write_requests", "mutations since the region opened here",
                labels=["table", "region"]),
        }
        flush = metrics.SummaryMetricFamily(
            "minihbase_region_flush_seconds", "MemStore flushes since the region opened here, "
            "and the time they took", labels=["table", "region"])
        compaction = metrics.SummaryMetricFamily(
            "minihbase_region_compaction_seconds", "store compactions since the region opened "
            "here, and the time they took", labels=["table", "region"])
        for r in doc["regions"]:
            if r.get("transitional"):
                continue
            labels = [r["table"], r["name"]]
            for key, fam in fams.items():
                fam.add_metric(labels, r[key])
            flush.add_metric(labels, count_value=r["flushes"], sum_value=r["flush_seconds"])
            compaction.add_metric(labels, count_value=r["compactions"],
                                  sum_value=r["compaction_seconds"])
        yield from fams.values()
        yield flush
        yield compaction

    # --- HTML ------------------------------------------------------------------------------------

    def _master_ui(self) -> str:
        srv = self._srv
        try:
            from coordination.znodes import MasterRecord
            rec = MasterRecord.from_bytes(srv.zk.get(srv.paths.master)[0])
            if rec.info_port:
                return ui_url(rec.host, rec.info_port)
        except Exception:  # noqa: BLE001 -- no master yet, or ZooKeeper unreachable
            pass
        return ""

    def _page(self, rest, query):
        raw = self._regions()
        doc = self._server_doc(raw)
        for r, d in zip(raw, doc["regions"]):
            d["start_raw"], d["end_raw"] = r["start_key"], r["end_key"]
        w, bc = doc["wal"], doc["block_cache"]
        ratio = bc["hit_ratio"]
        avg_sync = (w["sync_seconds_total"] / w["syncs"] * 1000) if w["syncs"] else 0.0
        summary = cards([
            ("state", badge(doc["state"])), ("uptime", esc(f'{doc["uptime_seconds"]:.0f} s')),
            ("regions", str(len(doc["regions"]))),
            ("MemStore", esc(f'{human_bytes(doc["memstore_bytes"])} / '
                             f'{human_bytes(doc["memstore_limit_bytes"])}')),
            ("store files", f'{doc["store_files"]} ({esc(human_bytes(doc["store_bytes"]))})'),
            ("block cache hit ratio", "-" if ratio is None else f"{ratio:.1%}"),
            ("block cache", esc(f'{human_bytes(bc.get("size_bytes", 0))} / '
                                f'{human_bytes(bc.get("capacity_bytes", 0))}')),
            ("WAL", esc(f'{human_bytes(w["bytes"])} in {w["segments"]} segment(s)')),
            ("WAL syncs", esc(f'{w["syncs"]} (avg {avg_sync:.2f} ms)')),
            ("flush queue", str(doc["flush_queue"])),
            ("compaction queue", str(doc["compaction_queue"])),
        ])
        body = [summary]
        if doc["abort_reason"]:
            body.append(f'<p class="badge bad">aborted: {esc(doc["abort_reason"])}</p>')
        rows = []
        for r in doc["regions"]:
            queued = " ".join(x for x, on in (  # the state counts queued compactions too
                ("flush", r["flush_queued"]),
                (r["compaction_state"].lower().replace("_", " ") + " compaction",
                 r["compaction_state"] != "NONE")) if on)
            rows.append([esc(r["table"]),
                         '<span class="dim">(opening/closing)</span>' if r.get("transitional")
                         else key_range(r["start_raw"], r["end_raw"]), badge(r["state"]),
                         esc(human_bytes(r["memstore_bytes"])), str(r["store_files"]),
                         esc(human_bytes(r["store_bytes"])), str(r["read_requests"]),
                         str(r["write_requests"]),
                         esc(f'{r["flushes"]} ({r["flush_seconds"] * 1000:.0f} ms)'),
                         esc(f'{r["compactions"]} ({r["compaction_seconds"] * 1000:.0f} ms)'),
                         esc(queued or "-")])
        body.append("<h2>Regions</h2>")
        body.append(table(["table", "[start, end)", "state", "MemStore", "store files",
                           "store size", "reads", "writes", "flushes (time)",
                           "compactions (time)", "queued"],
                          rows, "no regions open here"))
        body.append("<h2>Requests by operation</h2>")
        ops = doc["operations"]
        body.append(table(["operation", "calls", "errors", "mean latency"],
                          [[esc(name), str(v["count"]), str(v["errors"]),
                            esc(f'{v["seconds"] / v["count"] * 1000:.2f} ms' if v["count"]
                                else "-")] for name, v in sorted(ops.items()) if v["count"]],
                          "no requests yet"))
        thr = doc["slow_threshold_seconds"]
        body.append(f"<h2>Recent slow operations (over {thr * 1000:.0f} ms)</h2>"
                    if thr is not None else "<h2>Recent slow operations</h2>")
        body.append(table(["when", "operation", "region", "took", "outcome"],
                          [[esc(time.strftime("%H:%M:%S", time.localtime(s["at"]))),
                            esc(s["method"]), f'<span class="key">{esc(s["region"])}</span>',
                            esc(f'{s["seconds"] * 1000:.1f} ms'),
                            '<span class="badge ok">ok</span>' if s["ok"]
                            else '<span class="badge bad">error</span>']
                           for s in doc["slow_operations"][:20]], "none"))
        nav = [("This server", "/"), ("API", "/api/server"), ("Metrics", "/metrics")]
        master = self._master_ui()
        if master:
            nav.insert(0, ("Master", master))
        return html_response(page(f"region server {doc['server']}",
                                  f"region server {doc['server']}", nav, "".join(body)))
