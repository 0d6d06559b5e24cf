"""The web dashboard as a FastAPI sub-application: ``app.mount("/jobs", jobq.dashboard(...))``.

The views are the core's (:class:`dbjobq.web.Dashboard`); this module only routes, runs the app's
own dependencies as the guard, and turns their refusals into the dashboard's error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, params
from fastapi.exception_handlers import http_exception_handler
from starlette.responses import Response

from dbjobq.web import Dashboard, WebRequest, starlette_response, web_request

from ._dependencies import get_queue

_CLOSED = (
    "The dashboard is closed: mount jobq.dashboard(dependencies=[Depends(your_guard)]) with your own "
    "authentication dependency, or jobq.dashboard(public=True) to open it to everyone who reaches it."
)


def make_dashboard(
    *,
    dependencies: Sequence[params.Depends] | None = None,
    action_dependencies: Sequence[params.Depends] | None = None,
    public: bool = False,
    read_only: bool = False,
    dashboard: Dashboard | None = None,
) -> FastAPI:
    """A FastAPI app serving the dashboard, to mount in yours (it uses your app's DBJobQ lifespan).

    ``dependencies`` guard every page and action (your dependency raising ``HTTPException(401/403)``);
    ``action_dependencies`` guard the actions on top of them (e.g. admins only). Closed by default:
    without ``dependencies`` every request is refused unless ``public=True``. ``read_only=True``
    offers no action.
    """
    board = dashboard or Dashboard()
    guarded = dependencies is not None or public
    actions = guarded and not read_only
    hint = "" if actions else "This dashboard is mounted read-only."
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def serve(request: Request) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        converted = await web_request(
            request, dashboard=board, allowed=guarded, actions_enabled=actions, refusal_hint=hint
        )
        if not guarded:
            converted.refusal_hint = _CLOSED
        return starlette_response(await board.handle(get_queue(request), converted), root)

    async def refused(request: Request, exc: Exception) -> Response:
        # The app's guard said no (HTTPException): the dashboard's own page, not JSON, for a browser.
        assert isinstance(exc, HTTPException)
        if "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        shown = WebRequest(method="GET", path="/", root=root, cookies=dict(request.cookies))
        return starlette_response(board.error_response(shown, exc.status_code, str(exc.detail)), root)

    guard: list[Any] = list(dependencies or [])
    app.add_api_route("/{path:path}", serve, methods=["GET", "HEAD"], dependencies=guard, include_in_schema=False)
    app.add_api_route(
        "/{path:path}",
        serve,
        methods=["POST"],
        dependencies=guard + list(action_dependencies or []),
        include_in_schema=False,
    )
    app.add_exception_handler(HTTPException, refused)
    return app
