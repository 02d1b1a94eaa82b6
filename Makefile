# Two commands from a fresh clone: `make demo` runs the product, `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test screenshots headless lint fmt ci clean chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) manage.py demo

# The browser tests (tests/e2e) drive Debian's Chromium; install it only when it is missing.
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(STAMP) chromium
	$(PY) -m pytest

# The pictures the README, docs/operations.md and /help/ show, taken again by the browser tests.
# Only on purpose: `make test` saves its screenshots in a scratch folder and leaves docs/ alone.
screenshots: $(STAMP) chromium
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -m browser -p no:cacheprovider

headless: $(STAMP)
	$(PY) manage.py demo --headless --orders 300 --seed 7 --json

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

ci:
	bash .ci/run

clean:
	rm -rf .data .pytest_cache .ruff_cache
