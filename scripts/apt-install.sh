#!/usr/bin/env bash
# apt-install.sh PKG...: installs Debian packages (apt-get update first), as root or via sudo.
# The other scripts decide what is missing and call this for it.
set -euo pipefail
[ $# -gt 0 ] || exit 0
echo "installing system packages: $*"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
