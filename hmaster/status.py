"""Cluster status: servers with their states, tables, and regions in transition with why and
since when (see docs/coordination.md, "Status"). Read straight from ZooKeeper, so it shows
exactly what a new master would resume from.

A region is *at rest* when it is OPEN (table enabled) or CLOSED (table disabled); anything else
is in transition and carries state, server, since_ms and waiting_for, so nothing is ever
silently stuck.
"""

from __future__ import annotations

from coordination.znodes import CLOSED, DISABLED, DISABLING, OPEN, RegionRecord, ServerState
from protos.schema import region_info_to_pb, table_to_pb
from protos import minihbase_pb2 as pb


def in_transition(rec: RegionRecord, table_state: str) -> bool:
    if table_state in (DISABLED, DISABLING):
        return rec.state != CLOSED
    return rec.state != OPEN


def region_description(rec: RegionRecord, loads: dict) -> pb.RegionDescription:
    d = pb.RegionDescription(info=region_info_to_pb(rec.info), state=rec.state, server=rec.server,
                             state_since_ms=rec.since_ms, waiting_for=rec.waiting_for)
    load = loads.get(rec.server)
    if load is not None:
        for rl in load.regions:
            if rl.region == rec.info.name:
                d.load.CopyFrom(rl)
                break
    return d


def _loads(servers) -> dict:
    return {name: servers.load(name) for name in servers.live() if servers.load(name)}


def table_description(meta, servers, table: str) -> pb.TableDescription:
    rec = meta.read_table(table)  # TableNotFoundError
    loads = _loads(servers)
    return pb.TableDescription(
        schema=table_to_pb(rec.descriptor), state=rec.state,
        regions=[region_description(r, loads) for r in meta.regions(table)])


def cluster_status(meta, servers, election, cluster_id: str) -> pb.ClusterStatus:
    loads = _loads(servers)
    status = pb.ClusterStatus(active_master=election.active_master_name(),
                              backup_masters=election.backup_masters(), cluster_id=cluster_id)
    records = meta.all_regions()
    counts: dict[str, int] = {}
    for r in records:
        if r.state == OPEN:
            counts[r.server] = counts.get(r.server, 0) + 1
    states = meta.server_states()
    decommissioned = set(meta.decommissioned())
    for name in servers.live():
        if name not in states:  # joined, not yet recorded
            states[name] = ServerState(name)
    for name in sorted(states):
        st = states[name]
        load = loads.get(name)
        sd = pb.ServerDescription(name=name, state=st.state, state_since_ms=st.since_ms,
                                  region_count=counts.get(name, 0),
                                  decommissioned=name in decommissioned)
        if load is not None:
            sd.requests_per_second = load.requests_per_second
            sd.info_port = load.info_port
            sd.load.CopyFrom(load)
        status.servers.append(sd)
    table_states = {}
    for t in meta.tables():
        try:
            table_states[t] = meta.read_table(t).state
        except Exception:  # noqa: BLE001 -- dropped meanwhile
            continue
    status.table_count = len(table_states)
    status.region_count = len(records)
    for r in records:
        if in_transition(r, table_states.get(r.info.table, "")):
            status.regions_in_transition.append(region_description(r, loads))
    return status
