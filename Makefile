# Two entry points a newcomer needs: `make plan` and `make test`. Both bootstrap .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.grid-installed
STACK  ?= dev
# The ai service's embedding model, converted to ONNX once from the packaged weights (app/ai/model_export.py).
MODEL  := app/ai/model/model.onnx
# Checkov cannot share .venv (see policies/scanner-requirements.txt): grid.scanner finds it here.
SCANNER       := .grid/scanner
SCANNER_STAMP := $(SCANNER)/.installed

.PHONY: plan test lint fmt install scanner scan clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Grid needs Python 3.11 or newer: install it and re-run with PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,ai,dev]'
	@touch $(STAMP)

install: $(STAMP) $(MODEL)

$(MODEL): $(STAMP) app/ai/model_export.py
	$(BIN)/python -m app.ai.model_export $(dir $(MODEL))

$(SCANNER_STAMP): policies/scanner-requirements.txt
	$(PYTHON) -m venv $(SCANNER)
	$(SCANNER)/bin/python -m pip install --quiet -r policies/scanner-requirements.txt
	@touch $(SCANNER_STAMP)

scanner: $(SCANNER_STAMP)

# Checkov on the Terraform-plan export of every stack; fails on anything policies/scanner-skips.yaml doesn't skip.
scan: $(STAMP) $(SCANNER_STAMP)
	$(BIN)/python -m grid.scanner

plan: $(STAMP)
	$(BIN)/grid plan --stack $(STACK)

# The suite in its two parts (tests/conftest.py --part): the unit part on both cores (pytest-xdist, one file per worker
# at a time; the workers share the session's plans), then the workloads' own code (app services, jobs) and `grid local`,
# which start real servers and time their answers, in one process. bench/unit_suite_bench.py times the unit part with these same options.
UNIT_TESTS    := --part unit -n 2 --dist loadfile
SERVER_TESTS  := --part servers

# Python writes bytecode for the run even where the environment says not to (PYTHONDONTWRITEBYTECODE): otherwise every
# process of the suite (two workers, the servers part, each CLI and service it starts) compiles the repo's modules and
# rewrites the test modules again, ~2 s of each worker's start alone. __pycache__ is ignored by git.
test: export PYTHONDONTWRITEBYTECODE =
test: $(STAMP) $(MODEL) $(SCANNER_STAMP)
	$(BIN)/python -m pytest $(UNIT_TESTS)
	$(BIN)/python -m pytest $(SERVER_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .grid .pytest_cache $(dir $(MODEL))

# Hash-pinned locks of everything an image or a function installs (`make lock`; Dockerfiles install them with
# pip --require-hashes --no-deps, and pip enters hash-checking mode on its own for a function's requirements.txt).
# tests/app/test_image_locks.py checks each lock is current with its inputs. Each lock resolves for the Python its
# image runs: python:3.11-slim for the services, Ubuntu 24.04's 3.12 under CUDA, the functions' python312 runtime.
# The model stage's CPU torch comes from PyTorch's index (TORCH_WHEELS: a page of wheel links, or a directory).
TORCH_WHEELS ?= https://download.pytorch.org/whl/torch/
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --python-platform x86_64-manylinux_2_28 \
        --custom-compile-command "make lock"
FUNCTION_LOCKS := $(patsubst %/requirements.in,%/requirements.txt,$(wildcard app/functions/*/requirements.in))
IMAGE_LOCKS := app/api/requirements.lock app/auth/requirements.lock app/ai/requirements-cpu.lock \
               app/ai/requirements-cuda.lock app/ai/requirements-export.lock $(FUNCTION_LOCKS) \
               jobs/scraper/requirements.lock
.PHONY: lock
lock: $(IMAGE_LOCKS)
app/%/requirements.lock: app/%/requirements.txt
	$(LOCK) --python-version 3.11 $^ -o $@
jobs/%/requirements.lock: jobs/%/requirements.txt
	$(LOCK) --python-version 3.11 $^ -o $@
app/ai/requirements-cpu.lock: app/ai/requirements.txt app/ai/requirements-cpu.txt
	$(LOCK) --python-version 3.11 $^ -o $@
app/ai/requirements-cuda.lock: app/ai/requirements.txt app/ai/requirements-cuda.txt
	$(LOCK) --python-version 3.12 $^ -o $@
app/ai/requirements-export.lock: app/ai/requirements-export.txt
	$(LOCK) --python-version 3.11 --find-links $(TORCH_WHEELS) $^ -o $@
app/functions/%/requirements.txt: app/functions/%/requirements.in
	$(LOCK) --python-version 3.12 $^ -o $@
