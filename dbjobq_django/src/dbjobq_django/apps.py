"""The Django app: ``INSTALLED_APPS += ["dbjobq_django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class DBJobQConfig(AppConfig):
    """DBJobQ's app config: models, migrations, admin, system checks and ``runworker``."""

    name = "dbjobq_django"
    label = "dbjobq"
    verbose_name = "DBJobQ"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            conf,
        )

        # DBJOBQ["SCHEDULES"] joins the process's declared schedules, which workers sync at start.
        conf.declare_schedules()
