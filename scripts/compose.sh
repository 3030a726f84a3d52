#!/usr/bin/env bash
# Runs Docker Compose, v2 (`docker compose`) where present, else v1 (`docker-compose`).
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then exec docker compose -p minihbase "$@"; fi
exec docker-compose -p minihbase "$@"
