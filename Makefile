# Two commands on a fresh machine (Python 3.11):  make report   and   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup report smoke test test-fast lab verify bench clean-smoke

setup: $(VENV)/.installed

# torch first and pinned: a plain `torch` resolves to a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

report: setup          ## every notebook, full mode: figures/, results/, report/index.html
	$(BIN)/python -m helpers.commands.report --mode full

smoke: setup           ## every notebook, small samples, minutes: build/smoke/
	$(BIN)/python -m helpers.commands.report --mode smoke

test: setup            ## the test suite (what .ci/run calls)
	$(BIN)/python -m pytest -q -rs --durations=15

test-fast: setup       ## the inner loop: pure helpers and the command lines, no encoder, no notebook (about a minute)
	$(BIN)/python -m pytest -q -rs -m "not slow" --durations=5

lab: setup             ## JupyterLab on notebooks/, in this environment (helpers importable)
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/jupyter lab --notebook-dir=notebooks

verify: setup          ## recompute a small fixed part of the study from scratch, compare with results/
	$(BIN)/python -m helpers.commands.verify

bench: setup
	$(BIN)/python benchmarks/embed_throughput.py

clean-smoke:
	rm -rf build/smoke
