#!/usr/bin/env bash
# Install DBJobQ and its three adapters from the wheels `make dist` built, into a fresh virtualenv:
#
#     scripts/install_wheels.sh VENV [DIST]     # DIST defaults to ./dist; $PYTHON picks the interpreter
#
# The four DBJobQ distributions come from DIST only (--no-index): the package index's `dbjobq` is an
# older, different 0.1.0 that must never be picked up. Their third-party dependencies (SQLAlchemy,
# the database drivers, Django, Flask, FastAPI, ...) come from the package index as in any pip install.
set -euo pipefail

usage="usage: scripts/install_wheels.sh VENV [DIST]"
venv=${1:?$usage}
dist=${2:-dist}
python=${PYTHON:-python3}

shopt -s nullglob
cores=("$dist"/dbjobq-*-py3-none-any.whl)
if (( ${#cores[@]} != 1 )); then
  echo "error: expected one dbjobq wheel in $dist/, found ${#cores[@]}: run 'make dist' first" >&2
  exit 1
fi
version=$(basename "${cores[0]}" | cut -d- -f2)
for name in dbjobq_django dbjobq_flask dbjobq_fastapi; do
  if [[ ! -e "$dist/$name-$version-py3-none-any.whl" ]]; then
    echo "error: $dist/$name-$version-py3-none-any.whl is missing: run 'make dist' first" >&2
    exit 1
  fi
done
if [[ -e "$venv" ]]; then
  echo "error: $venv already exists: remove it or give another path (this installs into a fresh virtualenv)" >&2
  exit 1
fi

packages=("dbjobq==$version" "dbjobq-django==$version" "dbjobq-flask==$version" "dbjobq-fastapi==$version")
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
# 1. DBJobQ's own four, from the wheels and nothing else.
"${pip[@]}" install --no-index --no-deps --find-links "$dist" "${packages[@]}"
# 2. Their dependencies, every database driver ([all]) and the dashboard's ([web]) from the index. The
#    pinned versions are already installed by step 1, so pip keeps them and adds only what they require.
"${pip[@]}" install --find-links "$dist" "dbjobq[all,web]==$version" "${packages[@]:1}"
"${pip[@]}" check
echo "Installed DBJobQ $version (core with every driver and the dashboard; Django, Flask and FastAPI adapters) into $venv"
echo "Activate it with: source $venv/bin/activate    then try: dbjobq --help"
