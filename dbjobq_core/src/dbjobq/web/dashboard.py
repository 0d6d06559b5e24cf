"""The dashboard: routes, the permission each one needs, CSRF, and the dispatch every adapter calls."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from ..errors import DBJobQError
from ..metrics.database import DatabaseMetrics
from ..queue import JobQueue
from . import actions, metrics_page, pages
from .http import CSRF_COOKIE, CSRF_FIELD, SECURITY_HEADERS, WebRequest, WebResponse, new_token, same_token
from .render import render

logger = logging.getLogger(__name__)

View = Callable[["Context"], Awaitable[WebResponse]]

#: GET routes: path pattern -> page. Named groups become ``ctx.params``.
PAGES: list[tuple[re.Pattern[str], View]] = [
    (re.compile(r"/metrics"), metrics_page.metrics_text),
    (re.compile(r"/"), pages.overview),
    (re.compile(r"/live"), pages.overview_live),
    (re.compile(r"/jobs"), pages.jobs),
    (re.compile(r"/jobs/retry-failed"), pages.confirm_retry_failed),
    (re.compile(r"/jobs/(?P<job_id>[^/]+)"), pages.job),
    (re.compile(r"/schedules"), pages.schedules),
    (re.compile(r"/workers"), pages.workers),
    (re.compile(r"/queues"), pages.queues),
]

#: POST routes: path -> (action, view). The action names are what authorization hooks receive.
ACTIONS: dict[str, tuple[str, View]] = {
    "/jobs/retry": ("retry", actions.retry_job),
    "/jobs/cancel": ("cancel", actions.cancel_job),
    "/jobs/delete": ("delete", actions.delete_job),
    "/jobs/retry-failed": ("retry_failed", actions.retry_failed),
    "/schedules/enable": ("enable", actions.enable_schedule),
    "/schedules/disable": ("disable", actions.disable_schedule),
    "/schedules/run": ("run", actions.run_schedule),
    "/schedules/delete": ("delete_schedule", actions.delete_schedule),
    "/queues/pause": ("pause", actions.pause_queue),
    "/queues/resume": ("resume", actions.resume_queue),
}

#: Every action name, for authorization hooks that grant some and not others.
ACTION_NAMES: tuple[str, ...] = tuple(action for action, _ in ACTIONS.values())


@dataclass
class Context:
    """What a view gets: the queue, the request, the dashboard's options, the path's parameters."""

    queue: JobQueue
    request: WebRequest
    dashboard: Dashboard
    params: dict[str, str]
    csrf: tuple[str, str] | None = None

    def url(self, path: str, **query: str | None) -> str:
        """A link to ``path`` below the dashboard's root, with the non-empty ``query`` values."""
        wanted = {k: v for k, v in query.items() if v}
        return self.request.root + path + ("?" + urlencode(wanted) if wanted else "")

    def page(self, template: str, status: int = 200, **context: Any) -> WebResponse:
        """Render a full page (or fragment) with the context every template shares."""
        body = render(
            template,
            ctx=self,
            root=self.request.root,
            title=self.dashboard.title,
            actions_enabled=self.request.actions_enabled,
            refusal_hint=self.request.refusal_hint,
            csrf=self.csrf,
            refresh_ms=int(self.dashboard.refresh_interval * 1000),
            notice=pages.notice(self.request.query),
            **context,
        )
        return WebResponse(status=status, body=body)

    def redirect(self, default: str, **query: str | None) -> WebResponse:
        """303 to the form's ``next`` (when it is a path of this dashboard) or to ``default``."""
        target = self.request.form.get("next", "")
        root = self.request.root
        # No ``next`` at all is the default too (with an empty root, "" would equal the root).
        if not target or not (target.startswith(root + "/") or target == root) or target.startswith(("//", "/\\")):
            target = root + default
        wanted = {k: v for k, v in query.items() if v}
        if wanted:
            target = re.sub(r"[?&](notice|n|job)=[^&]*", "", target)
            target += ("&" if "?" in target else "?") + urlencode(wanted)
        return WebResponse(status=303, location=target)


class Dashboard:
    """The web dashboard, independent of any web framework: adapters call :meth:`handle`.

    ``title`` heads every page; the overview refreshes every ``refresh_interval`` seconds; the jobs
    list shows ``page_size`` jobs a page; finished jobs are counted per queue up to ``count_cap``.
    """

    def __init__(
        self,
        *,
        title: str = "DBJobQ",
        refresh_interval: float = 5.0,
        page_size: int = 50,
        count_cap: int = 10_000,
    ) -> None:
        if refresh_interval <= 0 or page_size < 1 or count_cap < 1:
            raise ValueError("refresh_interval, page_size and count_cap must be positive")
        self.title = title
        self.refresh_interval = refresh_interval
        self.page_size = page_size
        self.count_cap = count_cap
        self._metrics: dict[str, DatabaseMetrics] = {}

    def database_metrics(self, queue: JobQueue) -> DatabaseMetrics:
        """The cached database gauges of ``queue``'s database (one cache per database, whichever
        ``JobQueue`` object a request comes with)."""
        key = repr(queue.storage)
        if key not in self._metrics:
            self._metrics[key] = DatabaseMetrics(count_cap=self.count_cap)
        return self._metrics[key]

    def __repr__(self) -> str:
        return f"Dashboard(title={self.title!r})"

    @staticmethod
    def permission_for(method: str, path: str) -> str:
        """What a request asks to do: ``"view"`` for reading, else the action's name (``"retry"``,
        ``"cancel"``, ``"delete"``, ``"retry_failed"``, ``"enable"``, ``"disable"``, ``"run"``,
        ``"delete_schedule"``, ``"pause"``, ``"resume"``). Adapters authorize this before :meth:`handle`."""
        if method.upper() == "POST":
            found = ACTIONS.get(_normalize(path))
            return found[0] if found else "unknown"
        return "view"

    def error_response(self, request: WebRequest, status: int, message: str) -> WebResponse:
        """The dashboard's error page for a refusal decided outside it (e.g. a framework's guard)."""
        csrf, _cookies = self._csrf(request)
        # The error page reads nothing from the queue.
        ctx = Context(cast(JobQueue, None), request, self, {}, csrf)
        return error_page(ctx, status, message)

    async def handle(self, queue: JobQueue, request: WebRequest) -> WebResponse:
        """Answer one request on ``queue``: check CSRF and ``request.allowed``, run the view."""
        csrf, cookies = self._csrf(request)
        path = _normalize(request.path)
        ctx = Context(queue, request, self, {}, csrf)
        try:
            response = await self._dispatch(ctx, path)
        except DBJobQError as exc:
            logger.warning("Dashboard request failed: %s", exc, extra={"action": "dashboard_error"})
            response = error_page(ctx, 400, str(exc))
        response.cookies.update(cookies)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _dispatch(self, ctx: Context, path: str) -> WebResponse:
        request = ctx.request
        method = request.method.upper()
        if method == "POST":
            found = ACTIONS.get(path)
            if found is None:
                return error_page(ctx, 404, "There is no such action.")
            if request.framework_csrf is None and not same_token(
                request.form.get(CSRF_FIELD), request.cookies.get(CSRF_COOKIE)
            ):
                stale = "The form's security token is missing or stale: reload the page and try again."
                return error_page(ctx, 403, stale)
            if not request.actions_enabled or not request.allowed:
                logger.info("Dashboard action %s refused", found[0], extra={"action": "dashboard_refused"})
                return error_page(ctx, 403, f"You are not allowed to {found[0].replace('_', ' ')} here.")
            logger.info("Dashboard action %s", found[0], extra={"action": "dashboard_" + found[0]})
            return await found[1](ctx)
        if method not in ("GET", "HEAD"):
            return error_page(ctx, 405, "Method not allowed.")
        if not request.allowed:
            return error_page(ctx, 403, "You are not allowed to view the dashboard.")
        for pattern, view in PAGES:
            match = pattern.fullmatch(path)
            if match:
                ctx.params = match.groupdict()
                return await view(ctx)
        return error_page(ctx, 404, "There is no such page.")

    @staticmethod
    def _csrf(request: WebRequest) -> tuple[tuple[str, str], dict[str, str]]:
        """The (field, token) to put in forms, and the cookie to set when the browser has none yet."""
        if request.framework_csrf is not None:
            return request.framework_csrf, {}
        token = request.cookies.get(CSRF_COOKIE) or ""
        if len(token) < 32:
            token = new_token()
            return (CSRF_FIELD, token), {CSRF_COOKIE: token}
        return (CSRF_FIELD, token), {}


def error_page(ctx: Context, status: int, message: str) -> WebResponse:
    """A page saying what went wrong (and, when refused, how to get access)."""
    return ctx.page("error.html", status=status, message=message, status_code=status, active="")


def _normalize(path: str) -> str:
    path = "/" + path.strip("/")
    return path
