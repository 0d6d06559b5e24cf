"""Importing the user's job modules, as ``--import`` asks, from the current directory too."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

import click


def split_modules(values: Iterable[str]) -> list[str]:
    """Module names from repeated and/or comma-separated ``--import`` values."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def import_modules(values: Iterable[str]) -> list[str]:
    """Import each module (registering its ``@job`` functions); the current directory comes first on sys.path.

    A module that is missing or fails to import is one clear error, not a traceback.
    """
    names = split_modules(values)
    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise click.ClickException(
                f"Could not import {name!r}: {exc}. Give a module importable from the current directory "
                "or the PYTHONPATH, e.g. --import myapp.jobs"
            ) from exc
        except Exception as exc:
            raise click.ClickException(
                f"Importing {name!r} failed: {type(exc).__name__}: {exc} "
                f"(run `python -c 'import {name}'` to see the traceback)"
            ) from exc
    return names
