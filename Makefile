# The README's commands. Each target does its own set-up: a fresh machine needs only Python 3.10+ and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DIST ?= dist
PACKAGES := dbjobq_core dbjobq_django dbjobq_flask dbjobq_fastapi
PROJECTS := pyproject.toml dbjobq_core/pyproject.toml dbjobq_django/pyproject.toml \
            dbjobq_flask/pyproject.toml dbjobq_fastapi/pyproject.toml

# Django 6.x (django.tasks built in) needs Python 3.12+: a second virtualenv runs tests/django there.
DJANGO6_VENV := .venv-django6
DJANGO6_STAMP := $(DJANGO6_VENV)/.installed
PYTHON_DJANGO6 ?= $(firstword $(foreach p,python3.12 python3.13 $(wildcard $(HOME)/.pyenv/versions/3.1[23]*/bin/python3),\
	$(shell $(p) -c "import sys; print('$(p)' if sys.version_info >= (3, 12) else '')" 2>/dev/null)))

.PHONY: demo test lint typecheck pytest test-django6 docs bench bench-quick dist install-wheels clean

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

$(DJANGO6_STAMP): $(PROJECTS) Makefile  # its package list is here
	@test -n "$(PYTHON_DJANGO6)" || { echo "Django 6 needs Python 3.12+: set PYTHON_DJANGO6=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON_DJANGO6) -m venv $(DJANGO6_VENV)
	$(DJANGO6_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(DJANGO6_VENV)/bin/python -m pip install --quiet -e "./dbjobq_core[all,web]" -e ./dbjobq_django "django>=6.1,<6.2" \
		"pytest>=8" "pytest-asyncio>=0.24" "pytest-django>=4.9" "psycopg[binary]>=3.1" "httpx>=0.27" "playwright>=1.45" \
		"opentelemetry-sdk>=1.25"
	touch $(DJANGO6_STAMP)

# The Django suite on Django 6.1's own django.tasks (`make pytest` runs it on Django 5.2 + the backport).
# The multi-process tests (marker `processes`) run once, in `make pytest`: the worker processes are the same.
DJANGO6_PYTEST_ARGS ?= -m "not processes"
test-django6: $(DJANGO6_STAMP)
	$(DJANGO6_VENV)/bin/python -c "import django, sys; print('Django', django.__version__, 'on Python', sys.version.split()[0])"
	$(DJANGO6_VENV)/bin/pytest tests/django $(DJANGO6_PYTEST_ARGS) $(PYTEST_ARGS)

test: lint typecheck pytest test-django6 docs

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
	rm -rf $(VENV) $(DJANGO6_VENV) .venv-plain $(DIST) .site .pytest_cache .mypy_cache .ruff_cache
