"""Chains and fan-ins, on top of job dependencies (``enqueue(…, depends_on=[…])``).

``await chain(jobq, [(step_a, data), (step_b, data), …])`` enqueues each step depending on the one
before it; ``await group(jobq, func, items, then=(callback, data))`` enqueues one job per item and a
callback that depends on all of them. A failed or cancelled step fails what comes after it, as any
dependent fails (see docs/flow-control.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .models import EnqueueOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .queue import JobQueue

__all__ = ["chain", "group"]

Step = tuple[Callable[..., Any] | str, dict[str, Any] | None]


async def chain(jobq: JobQueue, steps: Sequence[Step], /, **options: Unpack[EnqueueOptions]) -> list[str]:
    """Enqueue ``steps`` (pairs of a job and its data) so that each runs once the one before it
    completed; return their ids in order. ``options`` apply to every step (not ``depends_on``)."""
    if not steps:
        raise ValueError("A chain needs at least one step")
    if "depends_on" in options:
        raise ValueError("A chain's first step may not have depends_on: enqueue it, then chain the rest")
    ids: list[str] = []
    for func, data in steps:
        step: EnqueueOptions = {**options, "depends_on": ids[-1:] or None}
        ids.append(await jobq.enqueue(func, data, **step))
    return ids


async def group(
    jobq: JobQueue,
    func: Callable[..., Any] | str,
    items: Iterable[dict[str, Any] | None],
    /,
    *,
    then: Step,
    **options: Unpack[EnqueueOptions],
) -> tuple[list[str], str]:
    """Enqueue one job of ``func`` per item in bulk, and the callback ``then`` (a job and its data)
    that runs once all of them completed; return (the group's ids, the callback's id)."""
    ids = list(await jobq.enqueue_many(func, items, **options))
    if not ids:
        raise ValueError("A group needs at least one item")
    callback, data = then
    last: EnqueueOptions = {**options, "depends_on": ids}
    return ids, await jobq.enqueue(callback, data, **last)
