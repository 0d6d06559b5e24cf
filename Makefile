# The README's commands. Each target does its own set-up: a fresh machine needs only Python 3.10+ and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROJECTS := pyproject.toml dbjobq_core/pyproject.toml dbjobq_django/pyproject.toml \
            dbjobq_flask/pyproject.toml dbjobq_fastapi/pyproject.toml

.PHONY: demo test lint typecheck pytest docs bench bench-quick clean

$(STAMP): $(PROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e "./dbjobq_core[all,web]" -e ./dbjobq_django -e ./dbjobq_flask \
		-e ./dbjobq_fastapi --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir .site

test: lint typecheck pytest docs

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .site .pytest_cache .mypy_cache .ruff_cache
