"""A client inside the compose network (the Thrift gateway) that first looks for the master
while its container is down must reach it once it is back.

Inside Docker a stopped container's name does not resolve, and the client then dials the same
port on its ZooKeeper host (the host-side fallback of docs/docker.md). That choice was kept for
the channel's whole life, so "master:16000" meant ZooKeeper's container for good: after both
masters were killed and started again, every admin call through the gateway failed with
"connection refused" until the gateway itself was restarted.
"""

import pytest

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def cluster(docker_images):
    from tests.docker.cluster import DockerCluster

    c = DockerCluster(regionservers=1)
    try:
        yield c.start()
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()


def _list_tables(port: int) -> str:
    """"ok", "timeout" (the gateway took the call but has no answer from the master) or
    "refused" (the gateway does not take calls yet)."""
    import happybase

    try:
        hb = happybase.Connection("127.0.0.1", port, timeout=3_000)
    except Exception:  # noqa: BLE001 - refused: the gateway is not listening yet
        return "refused"
    try:
        hb.tables()
        return "ok"
    except TimeoutError:
        return "timeout"
    except Exception:  # noqa: BLE001 - closed by a published port with nobody behind it
        return "refused"
    finally:
        hb.close()


def test_gateway_reaches_a_master_restarted_after_it_first_looked(cluster):
    masters = [cluster.masters[name].get_wrapped_container() for name in ("master1", "master2")]
    for m in masters:
        m.kill()  # /hbase/master lingers until the killed master's session expires
    gateway = cluster.thrift.get_wrapped_container()
    gateway.restart(timeout=10)  # a fresh client: its first master call happens now
    cluster.wait_for(lambda: _list_tables(cluster.thrift_port) == "timeout", 60,
                     "the gateway to look for the master in vain")
    masters[0].start()
    cluster.wait_for(lambda: getattr(cluster.active_master_record(), "host", None) == "master1",
                     60, "master1 active again")
    took = cluster.wait_for(lambda: _list_tables(cluster.thrift_port) == "ok", 30,
                            "the gateway to reach the restarted master")
    print(f"\n[docker] gateway reached the restarted master after {took:.1f}s")
