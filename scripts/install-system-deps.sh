#!/usr/bin/env bash
# Installs the system packages minihbase's processes and tests need, only when missing:
# Debian's ZooKeeper (with the Java it runs on), chromium (web UI test) and libfaketime
# (clock-skew tests). Safe to run again; no-op when all is there.
set -euo pipefail
need=()
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
command -v java >/dev/null || need+=(default-jre-headless)
# headless browser for the web UI test (tests/cluster/test_ui_chromium.py)
command -v chromium >/dev/null || need+=(chromium)
# libfaketime: the clock-skew tests run a region server with its wall clock moved
compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || need+=(faketime)
"$(dirname "$0")/apt-install.sh" ${need[@]+"${need[@]}"}
