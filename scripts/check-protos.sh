#!/usr/bin/env bash
# Regenerates the gRPC stubs into a temp dir and fails if the committed ones differ.
set -euo pipefail
PY=${1:-python3}
[ -f protos/minihbase.proto ] || exit 0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -I. --python_out="$tmp" --grpc_python_out="$tmp" --pyi_out="$tmp" protos/minihbase.proto
for f in minihbase_pb2.py minihbase_pb2_grpc.py minihbase_pb2.pyi; do
  if ! cmp -s "$tmp/protos/$f" "protos/$f"; then
    echo "protos/$f is stale: run 'make protos' and commit the result" >&2
    exit 1
  fi
done
echo "generated protos are up to date"
