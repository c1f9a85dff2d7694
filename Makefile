# Yujing — the two commands people need are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DEBIAN_FRONTEND := noninteractive

.PHONY: demo test test-fast test-deps lint venv clean kafka-up kafka-down bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Run the whole pipeline embedded on ~5 weeks x 50 simulated regions and print the scorecard.
demo: $(STAMP)
	$(BIN)/yujing demo

## Set up everything the suite needs and run it (the suite starts its own Kafka broker).
## Two test processes (pytest-xdist), one a core: most tests wait on a broker, a server or a
## subprocess, and one process at a time took ~22 minutes on two cores against ~13. Each
## process starts its own broker and servers.
TEST_PROCESSES ?= 2
test: $(STAMP) test-deps lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist load

## The inner loop: unit tests only (no broker, no database server, no subprocess runs).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit -m "not slow and not postgres"

## Tools the suite drives: kcat (a non-Python Kafka producer), Prometheus and Alertmanager,
## Chromium (the ticket page) and PostgreSQL (Debian's packages; the suite starts its own servers on loopback), the
## Kafka jars (via mvn).
test-deps:
	@command -v kcat >/dev/null || command -v kafkacat >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && { apt-get install -y -q kcat >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q kcat >/dev/null; }; }; } || \
	  echo "kcat not installed: its test will skip locally (and fail under CI=true)"
	@command -v prometheus-alertmanager >/dev/null && command -v promtool >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && { apt-get install -y -q prometheus prometheus-alertmanager >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q prometheus prometheus-alertmanager >/dev/null; }; }; } || \
	  echo "Prometheus/Alertmanager not installed: their tests will skip locally (and fail under CI=true)"
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && { apt-get install -y -q postgresql >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; }; } || \
	  echo "PostgreSQL not installed: its tests will skip locally (and fail under CI=true)"
	@command -v chromium >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
	  echo "Chromium not installed: the ticket page's test will skip locally (and fail under CI=true)"
	scripts/kafka.sh fetch

## Benchmarks (not part of `make test`): tables on stdout, JSON in bench/results/.
## The eight of docs/benchmarks.md (the last is detection quality, docs/detectors.md).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	scripts/kafka.sh fetch
	$(BIN)/python bench/bench_throughput.py --events 300000 --faust-events 150000 --readings 2000000
	$(BIN)/python bench/bench_latency.py --regions 100 --weeks 5 --faust-regions 20 --live-hours 48
	$(BIN)/python bench/bench_detection_tick.py --series 10000
	$(BIN)/python bench/bench_backtest.py --regions 1000 --weeks 52
	$(BIN)/python bench/bench_scaling.py --readings 600000 --workers 1 2 4
	$(BIN)/python bench/bench_cli.py --runs 15
	$(BIN)/python bench/bench_import.py --rows 1000000
	$(BIN)/python bench/bench_detection_quality.py

## A local broker for people: KRaft, loopback, port 9092, data in var/kafka-data.
kafka-up:
	scripts/kafka.sh start 9092 $(CURDIR)/var/kafka-data

kafka-down:
	scripts/kafka.sh stop $(CURDIR)/var/kafka-data

## ruff's checks and format, and the import contract (pyproject's [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check monitor detectors alerts dashboards tests bench
	$(BIN)/ruff format --check monitor detectors alerts dashboards tests bench
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
