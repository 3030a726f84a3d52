#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io, docker-compose and debootstrap
# when missing, and starts dockerd in the background when no engine is running. Idempotent.
# In CI a missing engine is a failure (this script exits non-zero), never a skip.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
"$(dirname "$0")/apt-install.sh" ${need[@]+"${need[@]}"}
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /tmp/minihbase-dockerd.log)"
  $SUDO sh -c 'nohup dockerd >/tmp/minihbase-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info >/dev/null 2>&1 || { echo "Docker engine did not start; see /tmp/minihbase-dockerd.log" >&2; exit 1; }
