# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean chromium bench

# torch and torchvision are installed together from the registry (never the machine's local CPU-only torch wheel,
# which the registry's torchvision cannot import with). pip's cache is kept, so a second venv installs quickly.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,faces,milvus,ray]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/lookalike demo

# Two workers, one per core, each taking whole test files (their module fixtures are built once) and running one
# OpenMP thread, so that the two do not fight over the cores: 255 s of pytest on the 2-core machine, against 287 s
# with torch's two threads per worker and 362 s in one process.
test: $(VENV)/.installed chromium
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile

# Lint and type checks (configured in pyproject.toml); CI runs them beside the tests.
lint: $(VENV)/.installed
	$(BIN)/ruff check lookalike tests bench
	$(BIN)/mypy

# The browser test drives Debian's chromium package. Installed here when missing and apt-get can; otherwise that one
# test is skipped and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium with apt-get; the browser test will be skipped"

# `make bench`: every speed and quality comparison against the peers, each appending its table to BENCHMARKS.md
# with the date, machine, commit and command. The peers are installed into their own environment, never into .venv.
BENCH_VENV := .venv-bench
DATA ?= ../shared/data
BENCH_MINUTES ?= 10

$(BENCH_VENV)/.installed: pyproject.toml bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[faces,milvus,ray]' -r bench/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/ceiling.py --record
	$(BENCH_VENV)/bin/python bench/train_throughput.py $(DATA)/cifar10_train_subset --record
	$(BENCH_VENV)/bin/python bench/index_throughput.py $(DATA)/flowers_recognition --record
	$(BENCH_VENV)/bin/python bench/index_throughput.py $(DATA)/imagenette_224_train_subset --record
	$(BENCH_VENV)/bin/python bench/search_speed.py --record
	$(BENCH_VENV)/bin/python bench/equal_time.py $(DATA)/cifar10_train_subset --train $(DATA)/cifar10_train_subset \
	    --test $(DATA)/cifar10_test_subset --minutes $(BENCH_MINUTES) --record
	$(BENCH_VENV)/bin/python bench/duplicates_quality.py $(DATA)/flowers_recognition --out $$(mktemp -d)/dq --record
	$(BENCH_VENV)/bin/python bench/clusters_quality.py --faces $(DATA)/lfw_deepfunneled_subset \
	    --photos $(DATA)/flowers_recognition --out $$(mktemp -d)/cq --record
	$(BENCH_VENV)/bin/python bench/collection_scale.py --sizes 100000 1000000 --out $$(mktemp -d)/cs --record
	$(BENCH_VENV)/bin/python bench/store_agreement.py $(DATA)/flowers_recognition --record
	$(BENCH_VENV)/bin/python bench/ray_overhead.py $(DATA)/flowers_recognition --images 750 --record
	$(BENCH_VENV)/bin/python bench/store_scale.py --n 1000000 --record

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo-output .pytest_cache test-artifacts
