#!/usr/bin/env bash
# Builds the two minihbase images when missing or stale:
#   minihbase-zookeeper:latest  Debian's zookeeper package on the base image
#   minihbase:latest            the daemons + CLI, installed from wheels built here on the host
# Each image is labelled with a hash of its inputs, so `make up` skips the build when nothing
# changed. FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
scripts/docker-engine.sh
BASE=$(scripts/base-image.sh)

label() { docker image inspect -f '{{ index .Config.Labels "minihbase.inputs" }}' "$1" 2>/dev/null || true; }
hash_of() { (echo "$BASE"; cat "$@") | sha256sum | cut -c1-16; }

zk_hash=$(hash_of docker/zookeeper/*)
if [ "${FORCE:-0}" = 1 ] || [ "$(label minihbase-zookeeper:latest)" != "$zk_hash" ]; then
  echo "building minihbase-zookeeper:latest FROM $BASE"
  docker build -q --build-arg BASE_IMAGE="$BASE" --label minihbase.inputs="$zk_hash" \
    -t minihbase-zookeeper:latest docker/zookeeper >/dev/null
fi

src_hash=$(hash_of docker/minihbase/Dockerfile pyproject.toml $(git ls-files '*.py' '*.thrift' | grep -v '^tests/\|^bench/'))
if [ "${FORCE:-0}" = 1 ] || [ "$(label minihbase:latest)" != "$src_hash" ]; then
  echo "building minihbase:latest FROM $BASE (wheels built on the host)"
  ctx=build/docker-context
  rm -rf "$ctx"; mkdir -p "$ctx/wheels"
  "$PY" -m pip wheel -q . -w "$ctx/wheels" 2>&1 | grep -v '^WARNING: Location' || true
  cp docker/minihbase/Dockerfile "$ctx/"
  docker build -q --build-arg BASE_IMAGE="$BASE" --label minihbase.inputs="$src_hash" \
    -t minihbase:latest "$ctx" >/dev/null
fi
# A rebuild leaves the previous image untagged; drop those (ours only, by their label).
docker image prune -f --filter label=minihbase.inputs >/dev/null
echo "images ready: minihbase:latest minihbase-zookeeper:latest"
