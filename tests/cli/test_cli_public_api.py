"""The names ``dbjobq.cli`` exports (the adapters rely on them)."""

from __future__ import annotations

import dbjobq.cli


def test_cli_public_api_is_pinned() -> None:
    assert dbjobq.cli.__all__ == [
        "WORKER_OPTIONS",
        "add_argparse_worker_options",
        "cli",
        "click_worker_options",
        "configure_logging",
        "main",
        "run_worker_blocking",
        "worker_kwargs",
    ]
    assert dbjobq.cli.__all__ == sorted(dbjobq.cli.__all__)
    for name in dbjobq.cli.__all__:
        assert hasattr(dbjobq.cli, name)
