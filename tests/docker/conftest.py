"""Fixtures for the Docker tests: the project's images (built when missing) and a cluster of
them started with testcontainers. A missing Docker engine is an error here, never a skip."""

import os
import subprocess
import sys

import pytest

# No registry is reachable: testcontainers' reaper image (ryuk) cannot be pulled, and our own
# fixtures remove every container, network and volume they create.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def docker_images():
    """Build (or reuse) minihbase:latest and minihbase-zookeeper:latest."""
    env = dict(os.environ, PY=sys.executable)
    result = subprocess.run([os.path.join(ROOT, "scripts", "build-images.sh")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        pytest.fail(f"building the images failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="module")
def docker_cluster(docker_images, request):
    from tests.docker.cluster import DockerCluster

    cluster = DockerCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        if getattr(request.node, "docker_failed", False):
            print(cluster.logs())
        cluster.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.module.__dict__.setdefault("_docker_failed", True)
        item.parent.docker_failed = True
