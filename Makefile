# Yujing — the two commands people need are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Run the whole pipeline embedded on ~5 weeks x 50 simulated regions and print the scorecard.
demo: $(STAMP)
	$(BIN)/yujing demo

## Set up everything the suite needs and run it.
test: $(STAMP)
	$(BIN)/ruff check monitor detectors alerts dashboards tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check monitor detectors alerts dashboards tests
	$(BIN)/ruff format --check monitor detectors alerts dashboards tests

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
