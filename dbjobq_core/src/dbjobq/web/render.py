"""Rendering: the Jinja2 environment (autoescaped), the filters the templates use, the throughput chart.

Everything a job stored (data, result, error, type, queue, worker) reaches the page through Jinja's
autoescaping: a payload holding ``<script>`` is shown as text. Nothing here marks stored text safe.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigurationError

try:
    import jinja2
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "The DBJobQ dashboard needs Jinja2: pip install 'dbjobq[web]'"
    ) from exc

_env: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """The shared template environment (templates ship inside the package)."""
    global _env
    if _env is None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("dbjobq.web", "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            when=format_time, age=format_age, pretty_json=pretty_json, number=format_number, epoch=to_epoch
        )
        _env = env
    return _env


def render(template: str, **context: Any) -> str:
    """Render ``template`` with ``context``."""
    return environment().get_template(template).render(**context)


def to_epoch(value: datetime | float | None) -> float | None:
    """Epoch seconds of a datetime or a number (``None`` kept)."""
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def format_time(value: datetime | float | None) -> str:
    """``2026-01-31 12:00:05 UTC``, or an en dash for no time."""
    epoch = to_epoch(value)
    if epoch is None:
        return "\u2013"  # an en dash
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_age(seconds: float | None) -> str:
    """A short duration: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    if seconds is None:
        return "\u2013"  # an en dash
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_number(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def pretty_json(value: Any) -> str:
    """Indented JSON for a payload or result (shown escaped, inside ``<pre>``)."""
    try:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def throughput_chart(points: list[tuple[float, int, int]], *, width: int = 720, height: int = 140) -> dict[str, Any]:
    """The geometry of the throughput chart (completed stacked under failed, one bar per minute), for
    ``_chart.html`` to draw as inline SVG. ``points`` are (minute start, completed, failed)."""
    top = max((c + f for _, c, f in points), default=0)
    scale_max = _nice_ceiling(top)
    plot_h = height - 20
    slot = width / max(len(points), 1)
    bars = []
    for i, (minute, completed, failed) in enumerate(points):
        h_done = plot_h * completed / scale_max
        h_fail = plot_h * failed / scale_max
        label = datetime.fromtimestamp(minute, tz=timezone.utc).strftime("%H:%M")
        bars.append(
            {
                "x": round(i * slot + 1, 2),
                "w": round(max(slot - 2, 1), 2),
                "done_y": round(plot_h - h_done, 2),
                "done_h": round(h_done, 2),
                "fail_y": round(plot_h - h_done - h_fail, 2),
                "fail_h": round(h_fail, 2),
                "title": f"{label} UTC: {completed} completed, {failed} failed",
            }
        )
    return {
        "width": width,
        "height": height,
        "plot_h": plot_h,
        "bars": bars,
        "scale_max": scale_max,
        "completed": sum(c for _, c, _ in points),
        "failed": sum(f for _, _, f in points),
        "generated_at": time.time(),
    }


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (at least 1), for a readable axis."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns
