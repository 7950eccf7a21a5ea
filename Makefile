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

test: $(STAMP) $(MODEL) $(SCANNER_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .grid .pytest_cache $(dir $(MODEL))

# Hash-pinned locks of the service images' requirements (the Dockerfiles install them with --require-hashes);
# tests/app/test_image_locks.py checks each lock still satisfies its requirements.txt.
IMAGE_LOCKS := app/api/requirements.lock app/auth/requirements.lock jobs/scraper/requirements.lock
.PHONY: lock
lock: $(IMAGE_LOCKS)
%/requirements.lock: %/requirements.txt
	uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --custom-compile-command "make lock" $< -o $@
