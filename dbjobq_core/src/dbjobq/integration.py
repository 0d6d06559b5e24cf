"""The seam between the core and the framework adapters.

The adapters (``dbjobq_django``, ``dbjobq_flask``, ``dbjobq_fastapi``) import the public API
(``dbjobq``, ``dbjobq.storage``, ``dbjobq.models``) and, for what a framework integration needs beyond
it, this module only: ``tests/core/test_integration_seam.py`` fails when an adapter reaches any other
core module. Everything here keeps its name when the core's internals move.
"""

from __future__ import annotations

from . import declarations, eager, registry, scheduling
from .cli import bulk as bulk_commands
from .cli import jobs as jobs_commands
from .cli import migrate as migrate_commands
from .cli import queues as queues_commands
from .cli import schedules as schedules_commands
from .cli import stats as stats_commands
from .cli.formatting import progress_text
from .cli.imports import import_modules
from .cli.main import USER_ERRORS, CliState, DBJobQGroup, one_line
from .errors import InvalidOptionError
from .logs import log_through_host
from .redaction import is_secret_key, mask_url
from .runner import (
    WORKER_OPTIONS,
    add_argparse_worker_options,
    click_worker_options,
    configure_logging,
    run_worker_blocking,
)
from .storage.dialects import now_sql
from .storage.ids import new_token
from .storage.payloads import check_rows as check_payload_rows
from .storage.records import (
    claimed_values,
    decode_meta,
    job_from_row,
    new_job_row,
    outcome_values,
    schedule_row,
)
from .storage.schema import (
    NOTIFY_FUNCTION_SQL,
    NOTIFY_TRIGGER_SQL,
    finished_index_sql,
    unique_key_sql,
    waiting_index_sql,
)
from .storage.sql_dependencies import judge as judge_dependencies
from .storage.urls import POOL_OPTIONS, is_memory_sqlite, parse_url
from .testing import describe_miss
from .timing import as_seconds
from .tracing import trace_context, use_trace_context
from .worker.config import WorkerConfig, did_you_mean

__all__ = [
    "NOTIFY_FUNCTION_SQL",
    "NOTIFY_TRIGGER_SQL",
    "POOL_OPTIONS",
    "USER_ERRORS",
    "WORKER_OPTIONS",
    "CliState",
    "DBJobQGroup",
    "InvalidOptionError",
    "WorkerConfig",
    "add_argparse_worker_options",
    "as_seconds",
    "bulk_commands",
    "check_payload_rows",
    "claimed_values",
    "click_worker_options",
    "configure_logging",
    "declarations",
    "decode_meta",
    "describe_miss",
    "did_you_mean",
    "eager",
    "finished_index_sql",
    "import_modules",
    "is_memory_sqlite",
    "is_secret_key",
    "job_from_row",
    "jobs_commands",
    "judge_dependencies",
    "log_through_host",
    "mask_url",
    "migrate_commands",
    "new_job_row",
    "new_token",
    "now_sql",
    "one_line",
    "outcome_values",
    "parse_url",
    "progress_text",
    "queues_commands",
    "registry",
    "run_worker_blocking",
    "schedule_row",
    "schedules_commands",
    "scheduling",
    "stats_commands",
    "trace_context",
    "unique_key_sql",
    "use_trace_context",
    "waiting_index_sql",
]
