"""The `dbjobq` command line."""

from __future__ import annotations

from ..runner import (
    WORKER_OPTIONS,
    add_argparse_worker_options,
    click_worker_options,
    configure_logging,
    run_worker_blocking,
    worker_kwargs,
)
from .app import main
from .main import cli

__all__ = [
    "WORKER_OPTIONS",
    "add_argparse_worker_options",
    "cli",
    "click_worker_options",
    "configure_logging",
    "main",
    "run_worker_blocking",
    "worker_kwargs",
]
