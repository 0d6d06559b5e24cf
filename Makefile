# The README's commands. Each target does its own set-up: a fresh machine needs only Python 3.10+ and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DIST ?= dist
PACKAGES := dbjobq_core dbjobq_django dbjobq_flask dbjobq_fastapi
PROJECTS := pyproject.toml dbjobq_core/pyproject.toml dbjobq_django/pyproject.toml \
            dbjobq_flask/pyproject.toml dbjobq_fastapi/pyproject.toml

.PHONY: demo test lint typecheck pytest docs bench bench-quick dist install-wheels clean

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

# The four wheels and sdists in $(DIST)/, built with the .venv's hatchling (offline, no throw-away
# build environments), then checked as the package index would check them.
dist: $(STAMP)
	rm -rf $(DIST)
	for package in $(PACKAGES); do $(BIN)/python -m build --quiet --no-isolation --outdir $(DIST) $$package || exit 1; done
	$(BIN)/twine check --strict $(DIST)/*

# `make install-wheels INTO=~/venvs/dbjobq`: a fresh virtualenv with everything, from $(DIST)'s wheels.
install-wheels: dist
	$(if $(INTO),,$(error give the new virtualenv's path: make install-wheels INTO=path/to/venv))
	PYTHON=$(PYTHON) scripts/install_wheels.sh $(INTO) $(DIST)

clean:
	rm -rf $(VENV) $(DIST) .site .pytest_cache .mypy_cache .ruff_cache
