"""A small Flask app that sends its welcome emails and builds its reports through DBJobQ.

    cd examples/flask_app
    flask --app flask_signup dbjobq init-db
    flask --app flask_signup run                 # in one terminal
    flask --app flask_signup dbjobq worker       # in another
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from dbjobq_flask import DBJobQ

#: The extension, created once; each app made by create_app() gets its own state.
jobq = DBJobQ()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: config from DBJOBQ_* keys (environment FLASK_DBJOBQ_* too), views, jobs."""
    app = Flask(__name__)
    app.config.from_prefixed_env()  # e.g. FLASK_DBJOBQ_DATABASE_URL=postgresql+asyncpg://...
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        # Signs the session cookie that says whose jobs are whose. A random key per process forgets
        # sessions on restart: set FLASK_SECRET_KEY in production.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    jobq.init_app(app)

    from . import jobs, views  # noqa: F401  (views register routes; jobs register @job functions)

    app.register_blueprint(views.bp)
    return app
