"""The master's web UI in a real browser (Debian's chromium, headless; docs/web-ui.md): load the
cluster page from a live local cluster, find the table's link in the DOM the browser built,
follow it, check the table page shows the table's regions, and keep screenshots of both pages
in artifacts/web/ (gitignored; CI uploads that directory).

Chromium runs as root here, so --no-sandbox; every run gets a fresh --user-data-dir and no
network beyond 127.0.0.1 (background networking, component updates, sync and QUIC off). The
command-line modes --dump-dom and --screenshot are enough: no DevTools client needed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest

from tests.cluster.conftest import stop_cluster

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "artifacts", "web")
TABLE = "ui_table"

# `make test` installs chromium (scripts/install-system-deps.sh); in CI its absence is a
# failure, never a skip. Outside CI (a bare `pytest` on a dev box) it may be skipped.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (scripts/install-system-deps.sh installs it)")


def chromium(tmp_path, *args: str, timeout: float = 60.0) -> str:
    profile = tmp_path / f"profile-{len(os.listdir(tmp_path))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--window-size=1366,900", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout


def screenshot(tmp_path, url: str, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.abspath(os.path.join(ARTIFACTS, name))
    if os.path.exists(path):
        os.unlink(path)
    chromium(tmp_path, f"--screenshot={path}", url)
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, f"{path}: not a real PNG"
    return path


@pytest.fixture(scope="module")
def ui_cluster(cluster_factory):
    c = cluster_factory("ui", regionservers=2, masters=1, balancer_period=3600)
    yield c
    stop_cluster(c)


def test_browser_follows_table_link_from_master_page(ui_cluster, tmp_path):
    import client
    from coordination.znodes import MasterRecord, Paths

    conn = client.Connection(ui_cluster.quorum, timeout=30)
    try:
        conn.create_table(TABLE, {"cf": {}}, split_keys=[b"g", b"p"])
        t = conn.table(TABLE)
        with t.batch() as b:
            for i in range(30):
                b.put(b"%c-row%02d" % (b"ajz"[i % 3], i), {b"cf:q": b"x" * 50})
    finally:
        conn.close()
    rec = MasterRecord.from_bytes(ui_cluster.zk().get(Paths().master)[0])
    base = f"http://127.0.0.1:{rec.info_port}/"

    dom = chromium(tmp_path, "--dump-dom", base)
    assert "minihbase master" in dom
    links = dict((html.unescape(text), html.unescape(href))
                 for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', dom))
    assert TABLE in links, f"no link to {TABLE} in the master page: {sorted(links)}"
    screenshot(tmp_path, base, "master-page.png")

    table_url = urllib.parse.urljoin(base, links[TABLE])
    table_dom = chromium(tmp_path, "--dump-dom", table_url)
    text = html.unescape(re.sub(r"<[^>]+>", "", table_dom))
    assert f"table {TABLE}" in text
    for rng in ("[(first), g)", "[g, p)", "[p, (last))"):
        assert rng in text, f"region {rng} missing from the table page"
    assert text.count("OPEN") >= 3
    shot = screenshot(tmp_path, table_url, "table-page.png")
    print(f"screenshots: {shot} and master-page.png")
