"""DBJobQ for Django: ``INSTALLED_APPS += ["dbjobq_django"]`` gives a job queue on your database.

``enqueue()`` (sync, joins the current transaction), ``await aenqueue()`` (async views),
``get_job()`` (sync, through the ORM), ``get_queue()`` (the core JobQueue), ``get_settings()`` (the
effective ``DBJOBQ`` settings), ``manage.py runworker``, ``manage.py dbjobq``, the admin, and
``dbjobq_django.testing`` for tests.
"""

from __future__ import annotations

from .conf import DBJobQSettings, get_settings
from .enqueueing import aenqueue, enqueue, get_job, get_queue

__version__ = "0.2.0"

__all__ = ["DBJobQSettings", "__version__", "aenqueue", "enqueue", "get_job", "get_queue", "get_settings"]
