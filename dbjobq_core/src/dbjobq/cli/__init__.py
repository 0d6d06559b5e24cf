"""The `dbjobq` command line."""

from __future__ import annotations

from .app import main
from .main import cli
from .worker_options import (
    WORKER_OPTIONS,
    add_argparse_worker_options,
    click_worker_options,
    configure_logging,
    run_worker_blocking,
    worker_kwargs,
)

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
