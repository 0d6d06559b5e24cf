"""The dashboard's framework-neutral request and response: what every adapter translates to and from.

The views are written once against these two classes. An adapter (the standalone ASGI app, FastAPI,
Flask, Django) builds a :class:`WebRequest` from its own request — having checked who may do what
with its own auth — awaits :meth:`dbjobq.web.Dashboard.handle`, and turns the :class:`WebResponse`
back into its own response.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Cookie and form field of the dashboard's own CSRF token (double submit), where the framework has none.
CSRF_COOKIE = "dbjobq_csrf"
CSRF_FIELD = "csrf_token"


@dataclass
class WebRequest:
    """One request to the dashboard.

    ``path`` is below the dashboard's mount point (``"/"``, ``"/jobs/…"``); ``root`` is the mount
    point's URL path without a trailing slash (links are built from it). ``allowed`` says whether the
    user may do what this request asks (:meth:`Dashboard.permission_for` names it: ``"view"`` or an
    action); ``actions_enabled`` whether action buttons are offered at all. ``framework_csrf`` is
    ``(field name, token)`` when the framework checks CSRF itself (Django); otherwise the dashboard
    checks its own double-submit token (``cookies`` and ``form``).
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    root: str = ""
    form: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    allowed: bool = True
    actions_enabled: bool = False
    refusal_hint: str = ""
    framework_csrf: tuple[str, str] | None = None


@dataclass
class WebResponse:
    """What the dashboard answers: an HTML page (``body``) or a redirect (``location``, status 303)."""

    status: int = 200
    body: str = ""
    location: str | None = None
    content_type: str = "text/html; charset=utf-8"
    #: Cookies to set (name -> value), each ``HttpOnly; SameSite=Strict`` on the dashboard's path.
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def new_token() -> str:
    """A fresh random token (CSRF cookie, standalone access token)."""
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; never true when either side is missing or empty."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


#: Security headers on every page: nothing framed, nothing loaded from elsewhere, no sniffing.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
