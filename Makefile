# Two entry points a new machine needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup bench clean

# Two installs from the same venv: the demo needs only what a step needs at run time (seconds on a
# warm package cache); the tests need every extra (kfp, mlflow, streamlit, moto, selenium).
DEMO_READY := $(VENV)/.demo-installed
TEST_READY := $(VENV)/.test-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --no-compile: byte-compiling all of scikit-learn, scipy and pandas up front cost more than the
# demo's first imports compiling the modules it uses.
$(DEMO_READY): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile -e .
	touch $@

$(TEST_READY): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(DEMO_READY)

setup: $(TEST_READY)

# Install what the demo needs, write the breast-cancer example into demo/, run the bake-off on
# its local store (demo/.bakeoff), then say what to type next, with a path that works from here.
demo: $(DEMO_READY)
	mkdir -p demo
	cd demo && ../$(BIN)/bakeoff init --example breast-cancer --force && ../$(BIN)/bakeoff run bakeoff.yaml
	@echo ""
	@echo "next, from here (the demo's runs are in demo/.bakeoff):"
	@echo "  $(BIN)/bakeoff runs --store demo/.bakeoff"
	@echo "  $(BIN)/bakeoff report --store demo/.bakeoff --wide"
	@echo "  cd demo && ../$(BIN)/bakeoff run bakeoff.yaml     # again: every model is cached"
	@echo "or put bakeoff on your PATH first:  . $(BIN)/activate"

# Set up and run the whole test suite (it starts its own S3 server on 127.0.0.1). Two workers
# (pytest-xdist), each given whole test files (--dist loadfile, so a module's shared bake-off or
# server is made once): most tests wait on processes they start, so two at a time fill the two
# cores of a CI machine. Each worker has its own session fixtures, ports and temporary folders.
test: $(TEST_READY)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# Performance figures quoted in the README (several minutes; run on an otherwise idle machine).
bench: setup
	$(BIN)/python bench/startup_bench.py
	$(BIN)/python bench/demo_bench.py
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/compile_bench.py
	$(BIN)/python bench/memory_bench.py

clean:
	rm -rf $(VENV) demo .bakeoff
