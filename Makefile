# deertrack: the two commands are `make run` (whole stack with demo data) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install localstack run test lint bench clean demo-model

install: $(VENV)/.installed

# torch is pinned to 2.13.0 (the CPU wheel on these machines; a looser spec downloads a CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# LocalStack's pinned core (infra/localstack/requirements.lock) in its own virtualenv under .local/localstack/
# (Python 3.11; ~1-4 min once; `deertrack up` would install it on first use anyway).
localstack: install
	$(BIN)/deertrack localstack install

run: install
	$(BIN)/deertrack up --demo

# The whole suite on the embedded moto, then the end-to-end tests again on an embedded LocalStack.
test: install localstack
	$(BIN)/ruff check .
	$(BIN)/pytest
	$(BIN)/pytest tests/e2e --emulator localstack

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/deertrack bench all

# Rebuilds the shipped re-ID model and its card (layers/deertrack/reid/models/): synthetic training,
# calibration and held-out seeds (infra/demo/dataset.py), ~30 min on 2 CPU cores. CI never runs it.
demo-model: install
	$(BIN)/deertrack reid train --epochs 18 --out layers/deertrack/reid/models/deer-reid-demo.pt --name deer-reid-demo-v1

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache *.egg-info
