# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## run: set up, start the local broker, run a simulated day through the pipeline
run: install
	$(BIN)/python -m streams.demo

## test: the whole test suite (starts its own Kafka broker)
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/classify_bench.py

lock: install
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	-$(BIN)/callstream broker stop
	rm -rf $(VENV) data
