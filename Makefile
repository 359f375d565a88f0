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

# Re-run pip only when the dependency list or the C kernel changed (idempotent).
$(STAMP): pyproject.toml p2peval/metrics/_labhist.c p2peval/core/_bilinear.c
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
	  else echo "note: chromium/postgresql missing and not root: the browser/postgres tests will fail"; fi; \
	fi

test: $(STAMP) system-deps
	$(PY) -m pytest -q tests

# Every benchmark, one after the other (about 20 minutes on 2 idle cores); figures in results/benchmarks/.
bench: $(STAMP) system-deps
	$(PY) -m p2peval bench fcn-score --protocol fast --n 16 --repeats 3 --out results/benchmarks/fcn_score_fast_cpu.json
	$(PY) -m p2peval bench fcn-score --protocol pix2pix --n 1 --repeats 3 --no-warmup --out results/benchmarks/fcn_score_pix2pix_cpu.json
	$(PY) -m p2peval bench import-caffe --repeats 3 --parity-size 256x256 --out results/benchmarks
	$(PY) -m p2peval bench train-step --size 256 --batch 1 --device cpu --threads 2 --repeats 10 --out results/benchmarks/train_step_cpu_256.json
	$(PY) -m p2peval bench train-step --model cyclegan --size 128 --batch 1 --set generator.n_blocks=6 --threads 2 --repeats 10 --device cpu --out results/benchmarks/train_step_cyclegan_cpu_128.json
	$(PY) -m p2peval bench fcn-score --forward none --protocol pix2pix --n 48 --workers 1 --out results/benchmarks/fcn_score_feed_pix2pix_cpu_w1.json
	$(PY) -m p2peval bench color-hist --images 200 --size 256 --workers 2 --repeats 5 --out results/benchmarks
	$(PY) -m p2peval.data.toycity.bench --n 40 --repeats 3 --out results/benchmarks/toycity.json
	$(PY) -m studies.loadtest --participants 20 --out results/benchmarks/study_load.json
	$(PY) -m studies.capacity --levels 20,50,100,200 --databases sqlite,postgresql --out results/benchmarks/study_capacity.json

clean:
	rm -rf $(VENV) build *.egg-info p2peval/metrics/_labhist*.so p2peval/core/_bilinear*.so
