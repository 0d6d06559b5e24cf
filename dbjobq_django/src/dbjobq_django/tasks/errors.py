"""Exception classes named in task results for what happened outside the task function.

A :class:`~django.tasks.TaskError` names its exception by dotted path; these give the paths of
outcomes DBJobQ decides itself. They import without a Tasks framework (``TaskError.exception_class``
imports them by path).
"""

from __future__ import annotations


class TaskCancelled(Exception):
    """The task was cancelled (``cancel_task()`` or the admin) before it finished."""


class WorkerLost(Exception):
    """The worker running the task stopped renewing its lease (it crashed or was killed)."""
