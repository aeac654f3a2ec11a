# The two ways in: `make app` (set up and launch the app) and `make test` (set up and run the tests).
# Both install this checkout into .venv as an editable package (`pip install -e`), with the app's extra,
# and for the tests the training extra and the test tools too; pip shows what it installs as it goes.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --progress-bar on

.PHONY: app test setup setup-dev bench

$(PY):
	@echo "== creating the virtual environment $(VENV) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app: pyproject.toml | $(PY)
	@echo "== installing maskface and its app dependencies into $(VENV) (TensorFlow, Gradio, ...: about 2 GB the first time)"
	$(PIP) -e ".[app]"
	touch $@

$(VENV)/.dev: $(VENV)/.app pyproject.toml requirements-dev.txt
	@echo "== installing the training extra and the test tools into $(VENV)"
	$(PIP) -e ".[app,train]" -r requirements-dev.txt
	touch $@

setup: $(VENV)/.app
setup-dev: $(VENV)/.dev

app: setup
	@echo "== starting the app (Ctrl-C stops it)"
	$(PY) app.py

test: setup-dev
	$(PY) -m pytest -q

# Accuracy, speed, cold start and memory -> BENCHMARKS.md and bench/results/*.json (10-20 min on 2 CPUs).
bench: setup-dev
	$(PY) -m bench
