"""``GET /metrics``: Prometheus text beside the dashboard's pages, under the same authorization as them
(the ``"view"`` permission): public where the pages are, closed where they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import metrics
from .http import WebResponse

if TYPE_CHECKING:
    from .dashboard import Context

MISSING = "Prometheus metrics need prometheus-client: pip install 'dbjobq[metrics]'\n"


async def metrics_text(ctx: Context) -> WebResponse:
    """The database gauges (cached a few seconds) and this process's worker metrics, if any."""
    if not metrics.available():
        return WebResponse(status=501, body=MISSING, content_type="text/plain; charset=utf-8")
    body = await metrics.render_metrics(ctx.queue, ctx.dashboard.database_metrics(ctx.queue))
    return WebResponse(body=body.decode(), content_type=metrics.CONTENT_TYPE)
