"""docker-compose.yml as Compose resolves it (`config`: anchors and merges applied). Needs the
Compose command the Makefile uses, not a running Docker engine."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _services(rendered: str) -> dict[str, str]:
    """Each top-level service's block of the rendered YAML (two-space indented names)."""
    blocks: dict[str, list[str]] = {}
    current = None
    in_services = False
    for line in rendered.splitlines():
        if not line.startswith(" "):
            in_services, current = line.rstrip() == "services:", None
            continue
        m = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
        if in_services and m:
            current = m.group(1)
            blocks[current] = []
        elif in_services and current:
            blocks[current].append(line)
    return {name: "\n".join(lines) for name, lines in blocks.items()}


def test_every_container_log_is_rolled_and_bounded():
    """Docker's json-file driver keeps a container's output forever by default: a cluster that
    runs for weeks would fill the disk with its logs (HBase rolls its own: 256 MB x 20)."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "compose.sh"), "config"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    services = _services(out.stdout)
    assert {"zookeeper", "master", "backup-master", "rs1", "thrift"} <= set(services), services
    for name, block in services.items():
        assert re.search(r"max-size: '?256m'?", block), f"{name}: no log max-size\n{block}"
        assert re.search(r"max-file: '?21'?", block), f"{name}: no log max-file\n{block}"
