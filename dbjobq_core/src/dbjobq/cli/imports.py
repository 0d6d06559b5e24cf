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


def import_modules(values: Iterable[str], *, from_cwd: bool = True, source: str = "--import") -> list[str]:
    """Import each module (registering its ``@job`` functions) and return their names.

    With ``from_cwd`` the current directory becomes importable, *after* the standard paths: a file
    in it named like an installed module (``aiosqlite.py``, which the storage imports lazily later)
    never shadows the real one. A module that is missing or fails to import is one clear error that
    tells the two apart, not a traceback. ``source`` names where the names came from, for messages.
    """
    names = split_modules(values)
    if names and from_cwd:
        add_cwd_last()
    for name in names:
        import_one(name, source)
    return names


def add_cwd_last() -> None:
    """Make the current directory importable, behind the interpreter's own paths and site-packages."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def import_one(name: str, source: str = "--import") -> None:
    """Import module ``name``; raise ``click.ClickException`` saying whether it is missing or broken."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name
        if missing is None or missing == name or name.startswith(missing + "."):
            raise click.ClickException(
                f"Could not import {name!r} ({source}): {exc}. Give a module importable from the current "
                "directory or the PYTHONPATH, e.g. --import myapp.jobs"
            ) from exc
        # The module exists but one of its own imports does not: say that, not "not found".
        raise click.ClickException(
            f"Importing {name!r} ({source}) failed: it imports {missing!r}, which is not installed ({exc}). "
            f"Install it, or run `python -c 'import {name}'` to see the traceback"
        ) from exc
    except Exception as exc:
        raise click.ClickException(
            f"Importing {name!r} ({source}) failed: {type(exc).__name__}: {exc} "
            f"(run `python -c 'import {name}'` to see the traceback)"
        ) from exc
