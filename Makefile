# p2peval: two commands on a fresh machine.
#   make demo   set up .venv and run the main job on toy-city data
#   make test   set up .venv and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean system-deps bench

venv: $(STAMP)

# Re-run pip only when the dependency list changed (idempotent).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m p2peval demo --out results/demo

# Debian packages the browser and database tests need (root on Debian; skipped when present).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! test -x /usr/lib/postgresql/15/bin/initdb; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null; \
	  else echo "note: chromium/postgresql missing and not root: browser/postgres tests will be skipped"; fi; \
	fi

test: $(STAMP) system-deps
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m p2peval bench all --out results/benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
