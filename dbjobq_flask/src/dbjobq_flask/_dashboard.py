"""The web dashboard as a Flask blueprint, registered by ``init_app`` at ``DBJOBQ_DASHBOARD_URL_PREFIX``.

Flask is WSGI, so the core's ASGI app is not mounted: the blueprint's one view translates the Flask
request into the core's :class:`~dbjobq.web.WebRequest`, runs :meth:`Dashboard.handle` on the app's
loop thread (the same one the sync face uses, with its connection pool) and returns the page. The
views and templates stay the core's; authorization runs here, in the request context, so the app's
callable can look at ``flask_login.current_user`` or ``flask.g``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request, url_for

from dbjobq.web import Dashboard, WebRequest

from ._state import state_of

#: The blueprint's name (``url_for("dbjobq_dashboard.page", path="jobs")``).
BLUEPRINT = "dbjobq_dashboard"

_CLOSED = (
    "The dashboard is closed: set DBJOBQ_DASHBOARD_AUTHORIZE to a function(action) -> bool that checks "
    "your user (action is 'view' for pages), or DBJOBQ_DASHBOARD_PUBLIC = True to open it to everyone."
)

_dashboard = Dashboard()


def register(app: Flask, url_prefix: str) -> None:
    """Add the dashboard blueprint to ``app`` at ``url_prefix``."""
    blueprint = Blueprint(BLUEPRINT, __name__)
    blueprint.add_url_rule("/", "page", _page, defaults={"path": ""}, methods=["GET", "HEAD", "POST"])
    blueprint.add_url_rule("/<path:path>", "page", _page, methods=["GET", "HEAD", "POST"])
    app.register_blueprint(blueprint, url_prefix=url_prefix.rstrip("/") or None)


def _page(path: str) -> Response:
    settings = state_of(current_app).settings
    authorize = settings.dashboard_authorize
    wanted = _dashboard.permission_for(request.method, "/" + path)
    if settings.dashboard_public:
        allowed, hint = True, ""
    elif authorize is not None:
        allowed, hint = bool(authorize(wanted)), ""
    else:
        allowed, hint = False, _CLOSED
    root = url_for(f"{BLUEPRINT}.page", path="").rstrip("/")
    converted = WebRequest(
        method=request.method,
        path="/" + path,
        query=request.args.to_dict(),
        root=root,
        form=request.form.to_dict() if request.method == "POST" else {},
        cookies=dict(request.cookies),
        allowed=allowed,
        actions_enabled=settings.dashboard_public or authorize is not None,
        refusal_hint=hint,
    )
    answer = state_of(current_app).call(lambda queue: _dashboard.handle(queue, converted))
    response = Response(answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers)
    if answer.location is not None:
        response.headers["Location"] = answer.location
    for name, value in answer.cookies.items():
        response.set_cookie(name, value, path=root or "/", httponly=True, samesite="Strict")
    return response
