# Two commands matter on a fresh clone: `make train` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CI sets TORCH_SPEC=torch==2.13.0 to take the CPU build; users get the normal range from pyproject.toml.
TORCH_SPEC ?=
STAMP := $(VENV)/.installed
# Two test processes, each taking whole files (module fixtures are built once): the suite is mostly waiting on
# subprocesses and single-threaded Python, so two share 2 cores well. PYTEST_ARGS="-n 0" runs one process.
PYTEST_ARGS ?= -n 2 --dist loadfile
# e.g. make bench BENCH_ARGS="--out bench.json --check"
BENCH_ARGS ?=

.PHONY: install train tune test test-fast lint format mlflow tensorboard bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_SPEC),$(BIN)/pip install -q "$(TORCH_SPEC)")
	$(BIN)/pip install -q -e ".[dev,export,serve]"
	touch $(STAMP)

install: $(STAMP)

train: install
	$(BIN)/python main.py fit --config configs/digits.yaml

# A 12-trial Optuna study on Digits with 8-epoch trials (configs/sweeps/digits.yaml, docs/sweeps.md).
TUNE_ARGS ?= --trainer.max_epochs=8 --model.scheduler.init_args.T_max=8
tune: install
	$(BIN)/python main.py tune --config configs/digits.yaml --sweep configs/sweeps/digits.yaml $(TUNE_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

mlflow: install
	PATH="$(abspath $(BIN)):$$PATH" ./scripts/run_mlflow.sh

tensorboard: install
	PATH="$(abspath $(BIN)):$$PATH" ./scripts/run_tensorboard.sh

bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
