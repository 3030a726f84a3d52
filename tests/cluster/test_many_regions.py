"""Region counts and key lengths HBase users run at: what grows with the number of regions a
server holds must not meet a fixed limit (bench/many_regions.py measures the costs)."""

from __future__ import annotations

from tests.cluster.conftest import stop_cluster, wait_for


def test_a_server_holding_regions_with_long_keys_still_reports_its_load(cluster_factory,
                                                                          connection_for):
    """A load report names every region of its server, and a region's name carries its start
    key: 70 regions with 30 KB keys make a 4.2 MB report, which the master's gRPC server
    refused past gRPC's 4 MB default, every second, so it never learned those regions' sizes
    and requests (status, the web UI, the normalizer)."""
    cluster = cluster_factory("longkeys", regionservers=1, masters=1, balancer_period=3600)
    try:
        conn = connection_for(cluster, timeout=60)
        for t in range(10):  # 8 regions a table: a create of more outgrows one transaction
            keys = [bytes([ord("a") + t]) + bytes([ord("b") + i]) * 30_000 for i in range(7)]
            conn.create_table(f"wide{t}", {"cf": {}}, split_keys=keys)

        def reported():
            (server,) = conn.status()["servers"]
            return len(server["region_loads"]) == 80
        wait_for(reported, 20, "the master to know the load of all 80 regions")
    finally:
        stop_cluster(cluster)
