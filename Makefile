# `make run` sets up this machine (the back ends of the daemons CONFIG enables, the doc tools) and starts
# every enabled daemon; `make test` runs the test suite. CONFIG=path/to.ini picks the config.
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?=
CFG := $(if $(CONFIG),-c $(CONFIG),)

.PHONY: setup run test test-fast bench lint docs install-docs stop status
DOC_DIR ?= /usr/local/share/doc/edeposit-amqpd

setup:
	scripts/bootstrap.sh run $(CONFIG)

run: setup
	$(VENV)/bin/edeposit-amqpd $(CFG) schema create all
	$(VENV)/bin/edeposit-amqpd $(CFG) start-all

stop:
	$(VENV)/bin/edeposit-amqpd $(CFG) stop-all

status:
	$(VENV)/bin/edeposit-amqpd $(CFG) status

test:
	scripts/bootstrap.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -p no:cacheprovider tests

test-fast:
	$(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench:
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[bench]'
	$(PY) tests/bench/rpc_roundtrip.py

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

docs:
	$(PY) -m sphinx -W -b html docs docs/_build/html

# The HTML guide where the systemd unit's Documentation= points.
install-docs: docs
	mkdir -p $(DOC_DIR)
	rm -rf $(DOC_DIR)/html
	cp -r docs/_build/html $(DOC_DIR)/html
