"""The DBJobQ web dashboard: one server-rendered UI, served standalone or mounted by each adapter.

``pip install 'dbjobq[web]'`` (Starlette, Jinja2, uvicorn). Framework-neutral core:
:class:`Dashboard` answers a :class:`WebRequest` with a :class:`WebResponse`; the adapters translate
(``dbjobq_fastapi``, ``dbjobq_flask``, ``dbjobq_django.dashboard``). :func:`create_app` is the
standalone ASGI app that ``dbjobq web`` serves; :func:`web_request` and :func:`starlette_response`
translate for Starlette-based frameworks. This package is public: the adapters import it (and only it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .http import CSRF_COOKIE, CSRF_FIELD, WebRequest, WebResponse

if TYPE_CHECKING:
    from .asgi import create_app, starlette_response, web_request
    from .dashboard import ACTION_NAMES, Dashboard

__all__ = [
    "ACTION_NAMES",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "Dashboard",
    "WebRequest",
    "WebResponse",
    "create_app",
    "starlette_response",
    "web_request",
]


def __getattr__(name: str) -> Any:
    # Jinja2 and Starlette are optional: imported when first used, with an "install dbjobq[web]" error.
    if name in ("Dashboard", "ACTION_NAMES"):
        from . import dashboard

        return getattr(dashboard, name)
    if name in ("create_app", "starlette_response", "web_request"):
        from . import asgi

        return getattr(asgi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
