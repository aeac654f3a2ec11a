# The two ways in: `make app` (set up and launch the app) and `make test` (set up and run the tests).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: app test setup setup-dev bench

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

app: setup
	$(PY) app.py

test: setup-dev
	$(PY) -m pytest -q

# Accuracy, speed, cold start and memory -> BENCHMARKS.md and bench/results/*.json (10-20 min on 2 CPUs).
bench: setup
	$(PY) -m bench
