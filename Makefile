# The workbench's commands. `make demo` and `make test` are all most people need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install native demo test test-quick test-compiled lint lab clean fuzz

install: $(STAMP)

# Re-install only when the dependency declaration changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	touch $(STAMP)

# Recompile the model's hot path (setup.py) after editing it; until then the sources run.
native: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -e .

demo: $(STAMP)
	$(BIN)/workbench run scenarios/quickstart.yaml --out outputs/quickstart

# The whole suite on the model's Python sources: a test that patches a model module reaches
# every caller, and a traceback points at source. `make test-compiled` runs the checks that
# matter for the compiled hot path on it (CI runs both).
test: $(STAMP)
	WORKBENCH_PURE_PYTHON=1 $(BIN)/python -m pytest

# While working: everything but the tests marked slow (the longest validations and study runs).
test-quick: $(STAMP)
	WORKBENCH_PURE_PYTHON=1 $(BIN)/python -m pytest -m "not slow"

# The compiled model (setup.py, mypyc): it must be in use, give the Python model's tables bit for
# bit, stay deterministic, pass the validation against theory, and run the benchmark smoke test.
test-compiled: $(STAMP)
	WORKBENCH_REQUIRE_COMPILED=1 $(BIN)/python -m pytest tests/model/test_compiled.py \
		tests/model/test_determinism.py tests/validation tests/test_bench.py

# New examples each time: the input grammars (scenario fields, --set, studies, traces) for about
# ten minutes on two cores (`make fuzz EXAMPLES=1000` for a short look), then new Raft and
# convergence schedules at their own counts.
EXAMPLES ?= 15000
fuzz: $(STAMP)
	WORKBENCH_FUZZ=1 WORKBENCH_EXAMPLES=$(EXAMPLES) $(BIN)/python -m pytest tests/properties/test_input_contract.py
	WORKBENCH_FUZZ=1 $(BIN)/python -m pytest tests/properties/test_raft_safety.py tests/properties/test_convergence.py

lint: $(STAMP)
	$(BIN)/ruff check workbench tests

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) outputs .pytest_cache build workbench/model/native.json
	find workbench/model -name '*.so' -delete
