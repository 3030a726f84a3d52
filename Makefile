# minihbase: every set-up step lives here or in scripts/, so a fresh clone needs only
#   make up     (a running cluster)     and     make test    (the whole test suite)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help deps venv protos check-protos test test-storage test-cluster up down wipe \
        images docker-engine local-up local-down local-wipe bench bench-cluster bench-chaos clean

help:
	@echo "make up        build the images if needed and start the docker-compose cluster"
	@echo "make test      run the whole test suite"
	@echo "make down      stop the docker cluster; make wipe also deletes its data volume"
	@echo "make local-up  the same cluster as processes on loopback, no Docker (local-down stops it)"

# System packages (ZooKeeper, Java) from Debian; idempotent.
deps:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@# Debian's python3 has no venv module until python3-venv is installed
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/apt-install.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

protos: venv
	$(PY) -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. --pyi_out=. protos/minihbase.proto

# CI fails when the committed generated code does not match the .proto.
check-protos: venv
	@scripts/check-protos.sh $(PY)

test: deps venv check-protos images
	$(PY) -m pytest -q -ra tests

test-storage: venv
	$(PY) -m pytest -q tests/storage

test-cluster: deps venv
	$(PY) -m pytest -q tests/cluster

# --- Docker: the cluster people meet -----------------------------------------------------
docker-engine:
	@scripts/docker-engine.sh

images: venv
	@PY=$(PY) scripts/build-images.sh

up: images
	@scripts/compose.sh up -d
	@PYTHONPATH=. $(PY) scripts/wait-cluster.py --zk 127.0.0.1:2181 --regionservers 3 --thrift 127.0.0.1:9090 \
		--timeout 90

down:
	@scripts/compose.sh down

wipe:
	@scripts/compose.sh down -v

# --- The same cluster as local processes (no Docker) ---------------------------------------
local-up: deps venv
	$(PY) -m minihbase.local_cluster start --dir var/local

local-down: venv
	$(PY) -m minihbase.local_cluster stop --dir var/local

local-wipe: local-down
	rm -rf var/local

bench: venv
	$(PY) bench/storage.py

# YCSB-style workloads against a local cluster it starts itself, with a grpcio echo baseline.
bench-cluster: deps venv
	$(PY) bench/cluster.py

# BigLinkedList under a chaos monkey (docs/chaos.md): PASS/FAIL, exit status 1 on FAIL.
bench-chaos: deps venv
	$(PY) bench/biglinkedlist.py --duration 300

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
