# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-scaleout install chromium postgresql lint bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	# compat: the checkout on sys.path by a .pth line; the default editable finder costs every
	# command 0.05 s of start-up (docs/deploy.md)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . \
		--config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

## run: set up, start the local broker, run a simulated day through the pipeline
run: install
	$(BIN)/python -m streams.devtools.demo

## test: the whole test suite (starts its own Kafka broker, PostgreSQL and moto S3 server;
## dashboards in headless Chromium)
test: install chromium postgresql
	$(BIN)/pytest

## test-scaleout: the three-worker test alone (PostgreSQL + S3, a kill -9; also in `make test`)
test-scaleout: install postgresql
	$(BIN)/pytest -m scaleout -s

# $(call debian_package,TEST,PACKAGE,WHO NEEDS IT): apt-get install PACKAGE when TEST fails
# and we are root; otherwise say what will be skipped.
define debian_package
	@if ! $(1) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's $(2) for $(3)…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "note: $(2) is missing (sudo apt-get install $(2)); $(3) will be skipped"; \
	  fi; \
	fi
endef

## chromium: Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser)
chromium:
	$(call debian_package,test -x /usr/bin/chromium,chromium,the browser tests)

## postgresql: Debian's PostgreSQL for the DuckLake catalog tests (they start and stop their own
## server in a temp dir; the package's own cluster is not used)
postgresql:
	$(call debian_package,ls /usr/lib/postgresql/*/bin/initdb,postgresql,the PostgreSQL catalog tests)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## bench: the benchmarks (each prints figures and a ratio against a same-run baseline)
bench: install
	$(BIN)/python bench/classify_bench.py
	$(BIN)/python bench/cdr_adapter_bench.py
	$(BIN)/python bench/warehouse_bench.py
	$(BIN)/python bench/export_bench.py
	$(BIN)/callstream broker start
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/ingest_http_bench.py
	$(BIN)/python bench/lake_bench.py

lock: install
	{ grep '^#' requirements.lock; $(BIN)/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	-$(BIN)/callstream broker stop
	rm -rf $(VENV) data
