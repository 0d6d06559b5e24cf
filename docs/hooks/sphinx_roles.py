"""MkDocs hook: docstrings use Sphinx roles (:meth:`stop`); show them as plain code in the API reference."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:meth|class|func|data|attr|mod|exc|obj):(?=<code>)")


def on_page_content(html: str, **_kwargs: Any) -> str:
    """Drop the role prefix in front of inline code."""
    return _ROLE.sub("", html)
