# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install chromium lint bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## run: set up, start the local broker, run a simulated day through the pipeline
run: install
	$(BIN)/python -m streams.devtools.demo

## test: the whole test suite (starts its own Kafka broker; dashboards in headless Chromium)
test: install chromium
	$(BIN)/pytest

## chromium: Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium is missing (sudo apt-get install chromium); the browser tests will be skipped"; \
	  fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## bench: the benchmarks (each prints figures and a ratio against a same-run baseline)
bench: install
	$(BIN)/python bench/classify_bench.py
	$(BIN)/python bench/cdr_adapter_bench.py
	$(BIN)/python bench/warehouse_bench.py
	$(BIN)/callstream broker start
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/ingest_http_bench.py

lock: install
	{ grep '^#' requirements.lock; $(BIN)/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	-$(BIN)/callstream broker stop
	rm -rf $(VENV) data
