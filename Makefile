# Two entry points a new machine needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup bench clean

$(BIN)/bakeoff: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/bakeoff

# Set up, write the breast-cancer example into demo/ and run the bake-off on the local store.
demo: setup
	mkdir -p demo
	cd demo && ../$(BIN)/bakeoff init --example breast-cancer --force && ../$(BIN)/bakeoff run bakeoff.yaml

# Set up and run the whole test suite (it starts its own S3 server on 127.0.0.1).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Performance figures quoted in the README (several minutes; run on an otherwise idle machine).
bench: setup
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/compile_bench.py
	$(BIN)/python bench/memory_bench.py

clean:
	rm -rf $(VENV) demo .bakeoff
