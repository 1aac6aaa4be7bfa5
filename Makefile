# deertrack: the two commands are `make run` (whole stack with demo data) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test lint bench clean demo-model browser

install: $(VENV)/.installed

# torch is pinned to 2.13.0 (the CPU wheel on these machines; a looser spec downloads a CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

run: install
	$(BIN)/deertrack up --demo

# The browser test drives the distribution's Chromium (Playwright's own browser download does not work here);
# it is installed when missing, where apt is there and we may use it (CI runs as root).
CHROMIUM ?= /usr/bin/chromium

test: install browser
	$(BIN)/ruff check .
	$(BIN)/pytest

browser:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "no $(CHROMIUM) and no way to install it: the browser test will skip (apt-get install chromium)"

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
