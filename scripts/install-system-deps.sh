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
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
