# medialoom: `make demo` runs a real job on a generated library, `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m medialoom.demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q
	$(MAKE) -C clients/c test PY=$(abspath $(BIN)/python)
	cd clients/js && npm ci --silent && npm test

# make bench [BENCH_ARGS=--quick]: every benchmark, a table of figures at the end (README);
# Celery/Dramatiq anchors join the throughput figures once `make bench-anchors` installed them
.PHONY: bench-quick bench-anchors
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

# installs Celery + Dramatiq into .bench-venv and redis-server (apt-get) when missing, then
# measures them beside ours and the raw relay floor, interleaved (BENCH_ARGS=--quick: 1 round)
bench-anchors: $(STAMP)
	$(BIN)/python -m benchmarks.anchors --setup
	$(BIN)/python -m benchmarks.bench_fabric --only throughput --anchors $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo demo-library artifacts .pytest_cache .ruff_cache
