"""A module outside every installed app whose import has a visible side effect (it is in sys.modules).

A stored job type naming it must never make a worker import it (a job type is data).
"""

from __future__ import annotations


def side_effect() -> str:
    """Would run if a worker imported this module and called what a stored row names."""
    return "ran"
