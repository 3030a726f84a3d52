#!/usr/bin/env bash
# Installs the system packages minihbase's processes and tests need, only when missing:
# Debian's ZooKeeper (with the Java it runs on) and chromium (web UI test). Safe to run again;
# no-op when all is there.
set -euo pipefail
need=()
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
command -v java >/dev/null || need+=(default-jre-headless)
# headless browser for the web UI test (tests/cluster/test_ui_chromium.py)
command -v chromium >/dev/null || need+=(chromium)
"$(dirname "$0")/apt-install.sh" ${need[@]+"${need[@]}"}
