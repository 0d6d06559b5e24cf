"""The dashboard on Starlette: the standalone app ``dbjobq web`` serves, and the request/response
translation the FastAPI adapter reuses.

Standalone access: every page is readable (the server binds 127.0.0.1 unless told otherwise);
actions need the token the server was started with. Opening ``/?token=…`` once stores it in an
HttpOnly cookie and drops it from the address bar; a script may send ``Authorization: Bearer …``.
Without a token the dashboard is read-only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

from ..errors import ConfigurationError
from ..queue import JobQueue
from ..storage.sqlalchemy_storage import SQLAlchemyStorage
from .dashboard import Dashboard
from .http import WebRequest, WebResponse, same_token

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("The standalone DBJobQ dashboard needs Starlette: pip install 'dbjobq[web]'") from exc

logger = logging.getLogger(__name__)

#: Cookie holding the standalone server's access token once the operator opened the ``?token=`` link.
TOKEN_COOKIE = "dbjobq_token"
#: Largest form body accepted (the dashboard's forms hold an id and a token).
MAX_FORM_BYTES = 64 * 1024


async def web_request(
    request: Request,
    *,
    dashboard: Dashboard,
    allowed: bool | None = None,
    actions_enabled: bool,
    refusal_hint: str = "",
) -> WebRequest:
    """Translate a Starlette request for :meth:`Dashboard.handle` (form bodies parsed and bounded)."""
    form: dict[str, str] = {}
    if request.method == "POST":
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                break
        form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
    return WebRequest(
        method=request.method,
        path="/" + str(request.path_params.get("path", "")),
        query=dict(request.query_params),
        root=str(request.scope.get("root_path", "")).rstrip("/"),
        form=form,
        cookies=dict(request.cookies),
        allowed=True if allowed is None else allowed,
        actions_enabled=actions_enabled,
        refusal_hint=refusal_hint,
    )


def starlette_response(response: WebResponse, root: str) -> Response:
    """Translate a :class:`WebResponse` into a Starlette response (cookies scoped to the dashboard)."""
    out = Response(response.body, status_code=response.status, media_type=None, headers=response.headers)
    out.headers["content-type"] = response.content_type
    if response.location is not None:
        out.headers["location"] = response.location
    for name, value in response.cookies.items():
        out.set_cookie(name, value, path=root or "/", httponly=True, samesite="strict")
    return out


def create_app(
    target: str | JobQueue, *, token: str | None = None, dashboard: Dashboard | None = None
) -> Starlette:
    """The standalone dashboard as an ASGI app, on a database URL (opened by the app's lifespan) or
    on an open :class:`JobQueue`. Read-only without ``token``; with it, actions need it."""
    board = dashboard or Dashboard()
    # An open queue serves at once (no lifespan needed); a URL is opened by the app's lifespan.
    state: dict[str, JobQueue] = {"queue": target} if isinstance(target, JobQueue) else {}
    if token is not None and len(token) < 8:
        raise ConfigurationError("The dashboard token must be at least 8 characters long")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if isinstance(target, JobQueue):
            yield
            return
        storage = SQLAlchemyStorage(target)
        await storage.initialize()
        state["queue"] = JobQueue(storage)
        try:
            yield
        finally:
            await storage.close()

    def hint(has_token: bool) -> str:
        if token is None:
            return "Start dbjobq web with --token to allow actions (retry, cancel, …)."
        return "" if has_token else "Open the link with ?token=… that dbjobq web printed to allow actions."

    async def endpoint(request: Request) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        offered = request.query_params.get("token")
        if offered is not None and request.method == "GET":
            if not same_token(offered, token):
                return starlette_response(WebResponse(status=403, body="Wrong or missing token."), root)
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            target_url = request.url.path + ("?" + urlencode(rest) if rest else "")
            remembered = WebResponse(status=303, location=target_url, cookies={TOKEN_COOKIE: offered})
            return starlette_response(remembered, root)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        has_token = same_token(request.cookies.get(TOKEN_COOKIE), token) or same_token(bearer, token)
        wanted = board.permission_for(request.method, "/" + str(request.path_params.get("path", "")))
        converted = await web_request(
            request,
            dashboard=board,
            allowed=wanted == "view" or has_token,
            actions_enabled=token is not None,
            refusal_hint=hint(has_token),
        )
        return starlette_response(await board.handle(state["queue"], converted), root)

    return Starlette(
        routes=[Route("/{path:path}", endpoint, methods=["GET", "HEAD", "POST"])], lifespan=lifespan
    )
