"""System checks: a misconfigured ``DBJOBQ`` setting is reported by ``manage.py check``, with a hint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from . import conf


@checks.register("dbjobq")
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report every problem of the ``DBJOBQ`` setting (``dbjobq.E00x`` errors, ``dbjobq.W00x`` warnings).

    It reads settings only (no database connection), so it runs with every ``manage.py check``.
    """
    messages: list[checks.CheckMessage] = []
    for problem in conf.problems():
        kind = checks.Warning if problem.warning else checks.Error
        messages.append(kind(problem.message, hint=problem.hint, id=problem.id))
    return messages
