"""The dashboard in a real browser, served standalone (``dbjobq web``'s app), by FastAPI and by Flask.

(Django's serving mode is tested in tests/django/test_dashboard_browser.py, under pytest-django.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException, Request

from tests.browser import (
    REFRESH,
    browser,  # noqa: F401 (fixture)
    check_chart_refreshes,
    check_filter_by_status,
    check_pages,
    check_pause_and_resume,
    check_refused,
    check_retry_and_cancel,
    check_xss_stays_text,
    seed,
    serve_asgi,
    serve_wsgi,
)

pytestmark = pytest.mark.slow

TOKEN = "browser-test-token"


def admin(request: Request) -> None:
    """The FastAPI app's own guard for actions."""
    if request.cookies.get("role") != "admin":
        raise HTTPException(403, "Admins only")


def _standalone(url: str) -> tuple[str, Callable[[], None], Callable[[Any], None]]:
    from dbjobq.web import Dashboard, create_app

    base, stop = serve_asgi(create_app(url, token=TOKEN, dashboard=Dashboard(refresh_interval=REFRESH)))

    def login(context: Any) -> None:
        context.new_page().goto(base + f"/?token={TOKEN}")  # the printed link: the token becomes a cookie

    return base, stop, login


def _fastapi(url: str) -> tuple[str, Callable[[], None], Callable[[Any], None]]:
    from fastapi import Depends, FastAPI

    from dbjobq_fastapi import DBJobQ

    jobq = DBJobQ(url)
    app = FastAPI(lifespan=jobq.lifespan)
    dashboard = jobq.dashboard(public=True, action_dependencies=[Depends(admin)], refresh_interval=REFRESH)
    app.mount("/admin/jobs", dashboard)
    root, stop = serve_asgi(app)
    base = root + "/admin/jobs"

    def login(context: Any) -> None:
        context.add_cookies([{"name": "role", "value": "admin", "url": root}])

    return base, stop, login


def _flask(url: str, tmp_path: Path) -> tuple[str, Callable[[], None], Callable[[Any], None]]:
    from flask import Flask, request

    from dbjobq_flask import DBJobQ, _dashboard

    app = Flask("browser", instance_path=str(tmp_path / "instance"))
    app.config.update(
        DBJOBQ_DATABASE_URL=url,
        DBJOBQ_DASHBOARD_URL_PREFIX="/ops/jobs",
        DBJOBQ_DASHBOARD_AUTHORIZE=lambda action: action == "view" or request.cookies.get("role") == "admin",
    )
    jobq = DBJobQ(app)
    _dashboard._dashboard.refresh_interval = REFRESH
    root, stop = serve_wsgi(app)

    def stop_all() -> None:
        stop()
        jobq.close(app)
        _dashboard._dashboard.refresh_interval = 5.0

    def login(context: Any) -> None:
        context.add_cookies([{"name": "role", "value": "admin", "url": root}])

    return root + "/ops/jobs", stop_all, login


@pytest.fixture(params=["standalone", "fastapi", "flask"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str, Any]]:
    """(base URL, seeded job ids, database URL, login) of the dashboard in one serving mode."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'dash.sqlite3'}"
    ids = seed(url)
    if request.param == "standalone":
        base, stop, login = _standalone(url)
    elif request.param == "fastapi":
        base, stop, login = _fastapi(url)
    else:
        base, stop, login = _flask(url, tmp_path)
    try:
        yield base, ids, url, login
    finally:
        stop()


def test_dashboard_browser_every_page_chart_filter_and_escaping(browser: Any, served: Any) -> None:  # noqa: F811
    base, ids, url, _login = served
    context = browser.new_context()
    try:
        page = context.new_page()
        check_pages(page, base, ids)
        check_xss_stays_text(page, base, ids)
        check_filter_by_status(page, base)
        check_chart_refreshes(page, base, url)
    finally:
        context.close()


def test_dashboard_browser_retry_and_cancel(browser: Any, served: Any) -> None:  # noqa: F811
    base, ids, _url, login = served
    context = browser.new_context()
    try:
        login(context)
        check_retry_and_cancel(context.new_page(), base, ids)
    finally:
        context.close()


def test_dashboard_browser_pause_and_resume(browser: Any, served: Any) -> None:  # noqa: F811
    base, _ids, url, login = served
    context = browser.new_context()
    try:
        login(context)
        check_pause_and_resume(context.new_page(), base, url)
    finally:
        context.close()


def test_dashboard_browser_unauthorised_click_is_refused(browser: Any, served: Any) -> None:  # noqa: F811
    base, ids, _url, _login = served
    context = browser.new_context()
    try:
        check_refused(context.new_page(), base, ids)
    finally:
        context.close()
