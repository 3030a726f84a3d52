"""The master's web UI and metrics on its info port (HBase's 16010; see docs/web-ui.md).

    GET /                  cluster page: masters, live and dead region servers (regions,
                           requests/s, what a recovering server waits for and since when),
                           regions in transition (why, for how long), tables and their
                           regions, snapshots, the HBCK report
    GET /table/<t>         one table: state, the table attributes set (MAX_FILESIZE...),
                           families, every region ([start, end) readable, server, state,
                           size, store files, reads, writes)
    GET /rs/<server>       one region server as the master sees it, with a link to its own UI
    GET /api/status        the same facts as `minihbase status --json` (client.protocol's
                           status_dict of GetClusterStatus), plus servers' waiting_for
    GET /api/tables, /api/table/<t>, /api/rs/<server>    JSON behind the other pages
    GET /api/snapshots     the snapshots, as `minihbase list_snapshots --json` prints them
    GET /api/hbck          the last HBCK report of the master's chore (`minihbase hbck` checks
                           now)
    GET /metrics           Prometheus text (this master's registry only)
    GET /health            200 {"status": "ok", "role": "active"|"backup"} while the process
                           serves; for container health checks
    GET /status.json       alias of /api/status (kept for older scripts)

Every fact comes from hmaster.status (the code behind GetClusterStatus and DescribeTable), so
the pages, the API and the CLI never disagree. A backup master serves /health, /metrics and a
page naming the active master. Rendering reads ZooKeeper (a few reads per table); the page
refreshes every 5 s, which is cheap next to the master's own watches.
"""

from __future__ import annotations

import time

from client.protocol import family_dict, snapshot_dict, status_dict, table_dict
from coordination.znodes import DEAD, ONLINE, SWITCHES, MasterRecord
from hmaster import status as status_mod
from minihbase import metrics
from minihbase.info_http import (InfoHttpServer, age, badge, cards, esc, html_response,
                                 human_bytes, json_response, key_range, link, page, path_part,
                                 readable_key, table, ui_url)
from protos.schema import attributes_from_pb
from storage.schema import table_attributes_text


class InfoServer:
    """Same interface as the region server's: InfoServer(master, bind, port).start()/.stop(),
    `.port` is the bound port (published in the MasterRecord)."""

    def __init__(self, master, bind: str, port: int):
        self._m = master
        self.registry = metrics.new_registry()
        self.registry.register(metrics.ScrapeCollector(self._collect))
        if getattr(master, "rpc_metrics", None) is not None:
            self.registry.register(master.rpc_metrics)
        self._http = InfoHttpServer(bind, port, [
            ("/health", self._health), ("/metrics", self._metrics),
            ("/api/status", self._api_status), ("/status.json", self._api_status),
            ("/api/tables", self._api_tables), ("/api/table", self._api_table),
            ("/api/rs", self._api_server), ("/api/snapshots", self._api_snapshots),
            ("/api/hbck", self._api_hbck),
            ("/table", self._table_page),
            ("/rs", self._server_page), ("/", self._cluster_page)], name="master-info")
        self.port = self._http.port

    def start(self) -> "InfoServer":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    # --- facts (all from hmaster.status) -------------------------------------------------------

    def _status(self):
        m = self._m
        return status_mod.cluster_status(m.meta, m.servers, m.election, m.cluster_id)

    def _describe(self, name: str):
        from minihbase.errors import TableNotFoundError
        try:
            return status_mod.table_description(self._m.meta, self._m.servers, name)
        except TableNotFoundError as e:
            raise LookupError(f"table {name}") from e

    def _server_states(self) -> dict:
        try:
            return self._m.meta.server_states()
        except Exception:  # noqa: BLE001 -- shown as unknown, never a broken page
            return {}

    def _status_doc(self, st=None) -> dict:
        doc = _jsonable(status_dict(st if st is not None else self._status()))
        states = self._server_states()
        for s in doc["servers"]:
            st = states.get(s["name"])
            s["waiting_for"] = st.waiting_for if st else ""
        doc["master"] = self._m.name
        return doc

    def _active_record(self) -> MasterRecord | None:
        try:
            data, _ = self._m.zk.get(self._m.paths.master)
            return MasterRecord.from_bytes(data)
        except Exception:  # noqa: BLE001
            return None

    # --- JSON and plain endpoints --------------------------------------------------------------

    def _health(self, rest, query):
        role = "active" if self._m.active else "backup"
        return json_response({"status": "ok", "role": role, "master": self._m.name})

    def _metrics(self, rest, query):
        body, ctype = metrics.render(self.registry)
        return 200, ctype, body

    def _not_active(self):
        rec = self._active_record()
        return json_response({"master": self._m.name, "role": "backup",
                              "active_master": rec.name if rec else ""}, code=503)

    def _api_status(self, rest, query):
        if not self._m.active:
            return self._not_active()
        return json_response(self._status_doc())

    def _api_tables(self, rest, query):
        if not self._m.active:
            return self._not_active()
        return json_response([_jsonable(table_dict(self._describe(t)))
                              for t in self._m.meta.tables()])

    def _api_table(self, rest, query):
        if not self._m.active:
            return self._not_active()
        return json_response(_jsonable(table_dict(self._describe(rest))))

    def _api_snapshots(self, rest, query):
        if not self._m.active:
            return self._not_active()
        return json_response([snapshot_dict(d) for d in self._m.snapshots.describe_all()])

    def _api_hbck(self, rest, query):
        if not self._m.active:
            return self._not_active()
        checked, problems = self._m.hbck_report or (None, [])
        return json_response({"checked_ms": int(checked * 1000) if checked else None,
                              "problems": [p.to_dict() for p in problems]})

    def _hbck_section(self) -> str:
        """HBase's HBCK report: the master's last consistency check (every minute)."""
        report = self._m.hbck_report
        if report is None:
            return "<h2>HBCK report</h2><p class=\"dim\">not checked yet (every minute)</p>"
        checked, problems = report
        return (f"<h2>HBCK report</h2><p class=\"dim\">checked {esc(age(int(checked * 1000)))}"
                f" ago; <code>minihbase hbck</code> checks now</p>"
                + table(["problem", "table", "detail"],
                        [[badge(p.kind), esc(p.table), esc(p.detail)] for p in problems],
                        "no inconsistencies found"))

    def _api_server(self, rest, query):
        if not self._m.active:
            return self._not_active()
        return json_response(self._server_doc(rest))

    def _server_doc(self, name: str) -> dict:
        doc = self._status_doc()
        found = [s for s in doc["servers"] if s["name"] == name]
        if not found:
            raise LookupError(f"region server {name}")
        from client.protocol import region_dict
        loads = status_mod._loads(self._m.servers)
        regions = [_jsonable(region_dict(status_mod.region_description(r, loads)))
                   for r in self._m.meta.all_regions() if r.server == name]
        return {**found[0], "hosted_regions": regions}

    # --- metrics (read at scrape time) ---------------------------------------------------------

    def _collect(self):
        m = self._m
        yield metrics.gauge("minihbase_master_active", "1 if this master is the active one",
                            1 if m.active else 0)
        crash = getattr(m, "crash", None)
        durations = dict(getattr(crash, "last_recovery_s", {}) or {})
        yield metrics.summary("minihbase_master_crash_recovery_seconds",
                              "region server crash recoveries finished by this master, from "
                              "notice to every region reassigned",
                              getattr(crash, "recoveries", 0),
                              getattr(crash, "recovery_seconds", 0.0))
        if durations:
            g = metrics.GaugeMetricFamily("minihbase_master_crash_recovery_last_seconds",
                                          "duration of the recovery of each server the "
                                          "status lists as dead",
                                          labels=["server"])
            for name, secs in sorted(durations.items()):
                g.add_metric([name], secs)
            yield g
        if not m.active:
            return
        st = self._status()
        yield metrics.gauge("minihbase_master_tables", "tables", st.table_count)
        yield metrics.gauge("minihbase_master_regions", "regions in meta", st.region_count)
        yield metrics.gauge("minihbase_master_regions_in_transition",
                            "regions neither OPEN (enabled table) nor CLOSED (disabled)",
                            len(st.regions_in_transition))
        now_ms = time.time() * 1000
        oldest = max((now_ms - r.state_since_ms for r in st.regions_in_transition
                      if r.state_since_ms), default=0)
        yield metrics.gauge("minihbase_master_rit_oldest_seconds",
                            "age of the oldest region in transition", oldest / 1000.0)
        by_state: dict[str, int] = {}
        servers = metrics.GaugeMetricFamily("minihbase_master_server_regions",
                                            "OPEN regions per live region server",
                                            labels=["server"])
        rps = metrics.GaugeMetricFamily("minihbase_master_server_requests_per_second",
                                        "requests/s each region server last reported",
                                        labels=["server"])
        for s in st.servers:
            by_state[s.state] = by_state.get(s.state, 0) + 1
            if s.state == ONLINE:
                servers.add_metric([s.name], s.region_count)
                rps.add_metric([s.name], s.requests_per_second)
        states = metrics.GaugeMetricFamily("minihbase_master_servers",
                                           "region servers by state", labels=["state"])
        for state, n in sorted(by_state.items()):
            states.add_metric([state], n)
        yield states
        yield servers
        yield rps

    # --- HTML pages ------------------------------------------------------------------------------

    def _nav(self):
        return [("Cluster", "/"), ("API", "/api/status"), ("Metrics", "/metrics")]

    def _backup_page(self):
        rec = self._active_record()
        body = f"<h2>Backup master</h2><p>{esc(self._m.name)} is a standby. "
        if rec is not None:
            target = ui_url(rec.host, rec.info_port) if rec.info_port else ""
            body += "The active master is " + (link(target, rec.name) if target
                                                else esc(rec.name)) + ".</p>"
        else:
            body += "No master is active right now (election in progress).</p>"
        return html_response(page(f"minihbase backup master {self._m.name}",
                                  "minihbase backup master", self._nav(), body))

    def _cluster_page(self, rest, query):
        m = self._m
        if not m.active:
            return self._backup_page()
        st = self._status()  # one read of meta per page
        doc = self._status_doc(st)
        live = [s for s in doc["servers"] if s["state"] == ONLINE]
        gone = [s for s in doc["servers"] if s["state"] != ONLINE]
        recovering = [s for s in gone if s["state"] != DEAD]  # crash procedure running
        summary = cards([
            ("active master", esc(doc["active_master"])),
            ("backup masters", esc(", ".join(doc["backup_masters"]) or "none")),
            ("live servers", str(len(live))), ("dead servers", str(len(gone) - len(recovering))),
            ("recovering", str(len(recovering))),
            ("tables", str(doc["table_count"])), ("regions", str(doc["region_count"])),
            ("in transition", str(len(doc["regions_in_transition"]))),
            ("initialised", "yes" if m.recovered.is_set() else "recovering..."),
            ("balancer", "on" if m.meta.balancer_on() else "off (balance_switch)"),
            ("switched off", esc(", ".join(n for n in SWITCHES if not m.meta.switch_on(n))
                                 or "none (split, merge, catalogjanitor, normalizer on)")),
        ])
        body = [summary, f'<p class="dim">cluster id {esc(doc["cluster_id"])}</p>']
        body.append("<h2>Live region servers</h2>")
        body.append(table(["server", "state", "since", "regions", "requests/s", "web UI"],
                          [self._server_row(s, st) for s in live], "no live region server"))
        body.append("<h2>Dead and recovering region servers</h2>")
        took = dict(getattr(getattr(m, "crash", None), "last_recovery_s", {}) or {})
        body.append(table(["server", "state", "for", "waiting for",
                           "recovery (after its session ended)"],
                          [[link("/rs/" + path_part(s["name"]), s["name"]), badge(s["state"]),
                            esc(age(s["state_since_ms"])), esc(s["waiting_for"]),
                            esc(f'{took[s["name"]]:.2f} s' if s["name"] in took else "-")]
                           for s in gone], "none", "dead"))
        body.append("<h2>Regions in transition</h2>")
        body.append(table(["region", "key range", "state", "server", "for", "waiting for"],
                          [[esc(r.info.name), key_range(r.info.start_key, r.info.end_key),
                            badge(r.state), esc(r.server or "-"), esc(age(r.state_since_ms)),
                            esc(r.waiting_for)] for r in st.regions_in_transition],
                          "none: every region is at rest"))
        body.append("<h2>Tables</h2>")
        rows, details = [], []
        for t in m.meta.tables():
            try:
                td = self._describe(t)
            except LookupError:
                continue  # dropped meanwhile
            fams = ", ".join(f.name for f in td.schema.families)
            rows.append([link("/table/" + path_part(t), t), badge(td.state), esc(fams),
                         str(len(td.regions)),
                         esc(human_bytes(sum(r.load.store_bytes + r.load.memstore_bytes
                                             for r in td.regions)))])
            details.append(f"<details><summary>{esc(t)}: {len(td.regions)} regions"
                           f"</summary>{_regions_table(td.regions, limit=50, table_name=t)}"
                           f"</details>")
        body.append(table(["table", "state", "families", "regions", "size"], rows,
                          "no tables yet"))
        body += details
        body.append("<h2>Snapshots</h2>")
        body.append(table(["snapshot", "table", "taken", "regions", "size", "problem"],
                          [[esc(d.name), esc(d.table or "-"),
                            esc(age(d.created_ms) + " ago" if d.created_ms else "-"),
                            str(d.regions), esc(human_bytes(d.size_bytes)), esc(d.problem)]
                           for d in m.snapshots.describe_all()], "no snapshots"))
        body.append(self._hbck_section())
        return html_response(page(f"minihbase master {m.name}", "minihbase master",
                                  self._nav(), "".join(body)))

    def _server_row(self, s: dict, st) -> list[str]:
        host = s["name"].split(",", 1)[0]
        ui = (link(ui_url(host, s["info_port"]), f"{host}:{s['info_port']}")
              if s.get("info_port") else '<span class="dim">-</span>')
        state = badge(s["state"]) + (" " + badge("DECOMMISSIONED") if s["decommissioned"]
                                     else "")
        return [link("/rs/" + path_part(s["name"]), s["name"]), state,
                esc(age(s["state_since_ms"])), str(s["regions"]),
                f'{s["requests_per_second"]:.1f}', ui]

    def _table_page(self, rest, query):
        if not self._m.active:
            return self._backup_page()
        td = self._describe(rest)
        fams = table(["family", "versions", "min versions", "TTL", "bloom", "compression",
                      "block size", "block cache", "in memory", "keep deleted cells",
                      "data block encoding"],
                     [_family_row(family_dict(f)) for f in td.schema.families])
        attributes = table_attributes_text(attributes_from_pb(td.schema))
        body = (cards([("state", badge(td.state)), ("regions", str(len(td.regions))),
                       ("open", str(sum(r.state == "OPEN" for r in td.regions)))]) +
                "<h2>Table attributes</h2><p>" +
                (esc(attributes) or '<span class="dim">none set: HBase\'s defaults</span>') +
                f"</p><h2>Families</h2>{fams}<h2>Regions</h2>{_regions_table(td.regions)}")
        return html_response(page(f"table {rest}", f"table {rest}", self._nav(), body))

    def _server_page(self, rest, query):
        if not self._m.active:
            return self._backup_page()
        doc = self._server_doc(rest)
        loads = status_mod._loads(self._m.servers)
        regions = [status_mod.region_description(r, loads) for r in self._m.meta.all_regions()
                   if r.server == rest]
        host = rest.split(",", 1)[0]
        ui = (link(ui_url(host, doc["info_port"]), ui_url(host, doc["info_port"]))
              if doc.get("info_port") else "-")
        body = (cards([("state", badge(doc["state"])), ("for", esc(age(doc["state_since_ms"]))),
                       ("regions", str(doc["regions"])),
                       ("requests/s", f'{doc["requests_per_second"]:.1f}'),
                       ("its own UI", ui)]) +
                (f"<p>waiting for: {esc(doc['waiting_for'])}</p>" if doc["waiting_for"] else "")
                + f"<h2>Regions meta places on it</h2>{_regions_table(regions)}")
        return html_response(page(f"region server {rest}", f"region server {rest}",
                                  self._nav(), body))


def _regions_table(regions, limit: int | None = None, table_name: str = "") -> str:
    rows = []
    for r in regions[:limit] if limit else regions:
        ld = r.load
        server = (link("/rs/" + path_part(r.server), r.server) if r.server
                  else '<span class="dim">-</span>')
        rows.append([key_range(r.info.start_key, r.info.end_key), server, badge(r.state),
                     esc(human_bytes(ld.store_bytes + ld.memstore_bytes)), str(ld.store_files),
                     esc(ld.compaction_state or "NONE"),
                     str(ld.read_requests), str(ld.write_requests),
                     esc(r.waiting_for) + (f' <span class="dim">({esc(age(r.state_since_ms))})'
                                           f"</span>" if r.waiting_for else ""),
                     f'<span class="key dim">{esc(r.info.name.rsplit(".", 1)[-1])}</span>'])
    out = table(["[start, end)", "server", "state", "size", "store files", "compaction",
                 "reads", "writes", "waiting for", "encoded name"], rows, "no regions", "regions")
    if limit and len(regions) > limit:
        out += f"<p>{link('/table/' + path_part(table_name), f'all {len(regions)} regions')}</p>"
    return out


def _jsonable(value):
    """Row keys (bytes) as readable text, like the pages show them."""
    if isinstance(value, bytes):
        return readable_key(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _family_row(f: dict) -> list[str]:
    """One family's options as describe shows them (client.protocol.family_dict)."""
    return [esc(f["name"]), str(f["max_versions"]), str(f["min_versions"]),
            esc(f"{f['ttl']} s" if f["ttl"] else "forever"), esc(f["bloom"]),
            esc(f["compression"]), esc(human_bytes(f["block_size"])),
            "yes" if f["block_cache"] else "no", "yes" if f["in_memory"] else "no",
            esc(f["keep_deleted_cells"]), esc(f.get("data_block_encoding", "NONE"))]
