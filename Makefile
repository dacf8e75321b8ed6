# VideoSSR: the two commands are `make demo` (build the embedded demo datasets) and `make test`.
.PHONY: setup demo test lint bench bench-scale bench-stream lmms-eval-check clean

PY := .venv/bin/python
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) build/run.py

test: setup lint
	$(PY) -m pytest tests -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Arguments pass through: make bench ARGS="--workers 2 --repeats 1"
bench: setup
	$(PY) -m benchmarks.bench $(ARGS)

bench-scale: setup
	$(PY) -m benchmarks.bench_scale $(ARGS)

bench-stream: setup
	$(PY) -m benchmarks.stream $(ARGS)

# VIUBench as an lmms-eval task, checked in lmms-eval 0.7.3's own cached environment (VIUBENCH=folder to
# use a given build; default ./viubench, else a small one built on the fly).
lmms-eval-check: setup
	bash scripts/lmms_eval_check.sh

clean:
	rm -rf videossr-30k viubench .videossr-work outputs .pytest_cache .ruff_cache
