"""Sending Django's task signals so that a receiver that raises changes nothing but a log line.

Django's own backends send with ``Signal.send()``, so a raising receiver propagates into the worker
(django-tasks-db then records a successful task as failed). Here every receiver is called robustly:
its exception is logged (by ``django.dispatch`` with the traceback, and here with the task) and the
task's stored outcome stays what the task did.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.dispatch import Signal

from . import compat

logger = logging.getLogger(__name__)


def sender(alias: str) -> type[Any]:
    """The class that sends signals for backend ``alias`` (the configured one, else DBJobQBackend)."""
    from .backend import DBJobQBackend

    try:
        return type(compat.task_backends[alias])
    except compat.InvalidTaskBackend:
        return DBJobQBackend


def send(signal: Signal, sender: type[Any], result: compat.TaskResult[Any, Any]) -> None:
    """Send ``signal`` from sync code; log receivers that raise."""
    _log_failures(signal, result, signal.send_robust(sender, task_result=result))


async def asend(signal: Signal, sender: type[Any], result: compat.TaskResult[Any, Any]) -> None:
    """Send ``signal`` from async code (sync receivers run in a thread); log receivers that raise."""
    if hasattr(signal, "asend_robust"):  # Django 5.0+
        responses = await signal.asend_robust(sender, task_result=result)
    else:
        responses = await sync_to_async(signal.send_robust)(sender, task_result=result)
    _log_failures(signal, result, responses)


def _log_failures(signal: Signal, result: compat.TaskResult[Any, Any], responses: list[tuple[Any, Any]]) -> None:
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "A receiver of %s raised for task %s (%s); the task's outcome is unchanged: %r (receiver %r)",
                _name(signal),
                result.id,
                result.task.module_path,
                response,
                receiver,
                extra={"action": "task_signal_failed", "job_id": result.id},
            )


def _name(signal: Signal) -> str:
    for name in ("task_enqueued", "task_started", "task_finished"):
        if getattr(compat, name) is signal:
            return name
    return repr(signal)
