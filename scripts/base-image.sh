#!/usr/bin/env bash
# Provides the base image both minihbase images build FROM, and prints its name.
#   1. BASE_IMAGE already present locally        -> use it
#   2. BASE_IMAGE can be pulled from a registry   -> pull it (what users with internet get)
#   3. neither (no registry, as in this CI)       -> debootstrap Debian bookworm (minbase) and
#      `docker import` it under the local name minihbase/base:bookworm
set -euo pipefail
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
LOCAL_BASE=minihbase/base:bookworm
have() { docker image inspect "$1" >/dev/null 2>&1; }
if have "$BASE_IMAGE"; then echo "$BASE_IMAGE"; exit 0; fi
if have "$LOCAL_BASE"; then echo "$LOCAL_BASE"; exit 0; fi
if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE"; exit 0; fi
echo "no registry reachable for $BASE_IMAGE: bootstrapping $LOCAL_BASE with debootstrap" >&2
root=$(mktemp -d /tmp/minihbase-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/tmp/minihbase-debootstrap.log 2>&1 \
  || { tail -20 /tmp/minihbase-debootstrap.log >&2; exit 1; }
# Keep images small: no apt lists or caches in the base.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$LOCAL_BASE" >/dev/null
echo "$LOCAL_BASE"
