"""The ``Depends(get_queue)`` dependency: the app's JobQueue, as the DBJobQ lifespan left it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from dbjobq import ConfigurationError, JobQueue

#: Key of the JobQueue in the lifespan state and attribute name on ``app.state``.
STATE_KEY = "dbjobq_queue"

_NOT_SET_UP = (
    "DBJobQ is not set up for this app: pass lifespan=jobq.lifespan to FastAPI(...), "
    "or run `async with jobq.lifespan(app):` inside your own lifespan"
)


def get_queue(connection: HTTPConnection) -> JobQueue:
    """The app's :class:`~dbjobq.JobQueue`, for ``Depends(get_queue)`` in routes and other dependencies.

    Works in HTTP and WebSocket routes, in routers and in mounted sub-applications. Raises
    ``ConfigurationError`` when the DBJobQ lifespan is not running for the app.
    """
    # The lifespan state reaches every request (mounted sub-apps too); app.state covers a lifespan
    # nested in the user's own one whose yielded state does not carry ours.
    queue = getattr(connection.state, STATE_KEY, None)
    if queue is None:
        queue = getattr(connection.app.state, STATE_KEY, None)
    if not isinstance(queue, JobQueue):
        raise ConfigurationError(_NOT_SET_UP)
    return queue


#: ``Annotated`` alias: declare ``queue: QueueDep`` in a route or dependency to receive the JobQueue.
QueueDep = Annotated[JobQueue, Depends(get_queue)]
