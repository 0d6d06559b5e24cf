"""How long a worker loop waits after database errors in a row."""

from __future__ import annotations

#: The longest wait between two tries, in seconds.
MAX_BACKOFF = 30.0


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` database errors in a row: 0.5, 1, 2, … up to 30."""
    return min(MAX_BACKOFF, 0.5 * 2.0 ** (failures - 1))
