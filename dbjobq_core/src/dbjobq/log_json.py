"""``--log-format json``: one JSON object per line for log pipelines (Loki, Elasticsearch, CloudWatch).

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, then the record's stable
fields when it has them: ``action``, ``job_id``, ``job_type``, ``queue``, ``attempt``, ``outcome``,
``duration`` (seconds) and the rest of what the worker passes in ``extra``; a traceback goes in
``exception``. The human format stays the default.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

#: The attributes every LogRecord has: everything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)
