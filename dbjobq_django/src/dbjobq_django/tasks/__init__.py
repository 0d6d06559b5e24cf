"""Django Tasks on DBJobQ: ``TASKS = {"default": {"BACKEND": "dbjobq_django.tasks.DBJobQBackend"}}``.

Serves ``django.tasks`` (Django 6.0+) and the ``django-tasks`` backport (Django 4.2-5.2, install
``dbjobq-django[tasks]``). ``@task`` functions are enqueued as DBJobQ jobs through the ORM (inside
``transaction.atomic()`` they commit with it), ``manage.py runworker`` runs them, and
``get_result()`` reads their status back. :func:`cancel_task` and :func:`schedule_task` reach what
Django's API leaves out.

Names are loaded on first use: this module is an installed app's ``tasks`` module, which
autodiscovery imports in every project, with or without a Tasks framework installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import DBJobQBackend, DBJobQTask
    from .errors import TaskCancelled, WorkerLost
    from .operations import acancel_task, aschedule_task, cancel_task, schedule_task

_EXPORTS = {
    "DBJobQBackend": "backend",
    "DBJobQTask": "backend",
    "TaskCancelled": "errors",
    "WorkerLost": "errors",
    "acancel_task": "operations",
    "aschedule_task": "operations",
    "cancel_task": "operations",
    "schedule_task": "operations",
}

__all__ = [
    "DBJobQBackend",
    "DBJobQTask",
    "TaskCancelled",
    "WorkerLost",
    "acancel_task",
    "aschedule_task",
    "cancel_task",
    "schedule_task",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
