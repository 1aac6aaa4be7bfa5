# deertrack: the two commands are `make run` (whole stack with demo data) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install layer-check localstack run test lint bench clean demo-model browser

install: $(VENV)/.installed

# Every place's requirements: the layer's (core), the batch image's, the dev tooling's, the tests'.
# torch is pinned to 2.13.0 (the CPU wheel on these machines; a looser spec downloads a CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[batch,dev,test]'
	touch $@

# The Lambda layer alone: a virtualenv holding only the core requirements (`pip install .`, no extras,
# so no torch, moto or matplotlib), in which functions/app.py must import.
LAYER_VENV ?= .local/layer-venv
layer-check:
	rm -rf $(LAYER_VENV)
	$(PYTHON) -m venv $(LAYER_VENV)
	$(LAYER_VENV)/bin/pip install --quiet --disable-pip-version-check .
	cd functions && ../$(LAYER_VENV)/bin/python -c "import app, sys; \
	heavy = sorted({'torch', 'moto', 'matplotlib', 'gpu_batch', 'infra'} & set(sys.modules)); \
	assert not heavy, heavy; print('functions/app.py imports with the layer alone')"
	! $(LAYER_VENV)/bin/python -c "import torch" 2>/dev/null
	! $(LAYER_VENV)/bin/python -c "import moto" 2>/dev/null

# LocalStack's pinned core (infra/localstack/requirements.lock) in its own virtualenv under .local/localstack/
# (Python 3.11; ~1-4 min once; `deertrack up` would install it on first use anyway).
localstack: install
	$(BIN)/deertrack localstack install

run: install
	$(BIN)/deertrack up --demo

# The browser test drives the distribution's Chromium (Playwright's own browser download does not work here);
# it is installed when missing, where apt is there and we may use it (CI runs as root).
CHROMIUM ?= /usr/bin/chromium

# The whole suite on the embedded moto, then the end-to-end tests again on an embedded LocalStack; first, that the
# Lambda side imports with the layer's requirements alone (layer-check, ~1 min).
test: install localstack browser
	$(BIN)/ruff check .
	$(MAKE) layer-check
	$(BIN)/pytest
	$(BIN)/pytest tests/e2e --emulator localstack

browser:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "no $(CHROMIUM) and no way to install it: the browser test will skip (apt-get install chromium)"

lint: install
	$(BIN)/ruff check .

# `deertrack bench load` and `bench queries` measure a running stack (make run in another shell), so `make bench` leaves them out.
bench: install
	$(BIN)/deertrack bench all --skip load --skip queries

# Rebuilds the shipped re-ID model and its card (layers/deertrack/reid/models/): synthetic training,
# calibration and held-out seeds (infra/demo/dataset.py), ~30 min on 2 CPU cores. CI never runs it.
demo-model: install
	$(BIN)/deertrack reid train --epochs 18 --out layers/deertrack/reid/models/deer-reid-demo.pt --name deer-reid-demo-v1

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache *.egg-info
