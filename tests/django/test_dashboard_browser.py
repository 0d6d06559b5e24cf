"""The dashboard served by Django (``include("dbjobq_django.dashboard.urls")``) in a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from dbjobq_django.dashboard import views
from tests.browser import (
    REFRESH,
    check_chart_refreshes,
    check_filter_by_status,
    check_pages,
    check_pause_and_resume,
    check_refused,
    check_retry_and_cancel,
    check_xss_stays_text,
    launch,
    seed,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser(django_db_setup: Any) -> Iterator[Any]:
    """The module's Chromium, started after Django's test databases exist (see tests/browser.py).

    While it is open, Playwright's sync API keeps an event loop running in this thread, which Django's
    async-safety check mistakes for async code: the ORM calls here (users, flushes) are plain sync.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield from launch()


def _login(context: Any, live_server: Any, user: User) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _staff(name: str, *perms: str) -> User:
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms, content_type__app_label="dbjobq"))
    return user


@pytest.fixture
def dashboard(live_server: Any, settings: Any) -> Any:
    """(base URL, job ids, database URL) of the dashboard in the test project, on Django's SQLite."""
    from dbjobq_django import get_settings

    settings.DBJOBQ = {**settings.DBJOBQ, "DATABASE": "default"}
    url = get_settings().engine_url().render_as_string(hide_password=False)
    ids = seed(url)
    views._dashboard.refresh_interval = REFRESH
    yield live_server.url + "/jobs", ids, url
    views._dashboard.refresh_interval = 5.0


def test_dashboard_browser_django_staff_with_permissions(live_server: Any, dashboard: Any, browser: Any) -> None:
    base, ids, url = dashboard
    context = browser.new_context()
    try:
        _login(context, live_server, _staff("ops", "view_job", "change_job", "view_schedule", "change_schedule"))
        page = context.new_page()
        check_pages(page, base, ids)
        check_xss_stays_text(page, base, ids)
        check_filter_by_status(page, base)
        check_chart_refreshes(page, base, url)
        check_retry_and_cancel(page, base, ids)
        check_pause_and_resume(page, base, url)
        page.goto(live_server.url + "/admin/dbjobq/job/")
        page.get_by_role("link", name="Dashboard").click()  # reachable from the admin
        page.wait_for_url("**/jobs/")
    finally:
        context.close()


def test_dashboard_browser_django_view_only_staff_is_refused(live_server: Any, dashboard: Any, browser: Any) -> None:
    base, ids, _url = dashboard
    context = browser.new_context()
    try:
        _login(context, live_server, _staff("viewer", "view_job"))
        check_refused(context.new_page(), base, ids)
        anonymous = browser.new_context()
        page = anonymous.new_page()
        page.goto(base + "/")
        assert "/admin/login/" in page.url  # not staff: sent to log in
        anonymous.close()
    finally:
        context.close()
