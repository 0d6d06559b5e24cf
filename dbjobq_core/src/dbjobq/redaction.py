"""Keeping secrets out of messages: every database URL DBJobQ shows goes through :func:`mask_url`.

A URL carries its password in two places: the user-info part (``user:password@host``) and query
parameters that drivers read (``?password=…``, ``?sslpassword=…``, a token for a cloud proxy).
Reprs, logs, command output and error messages show the URL with both masked.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import URL, make_url

#: What a secret is replaced with.
MASK = "***"

#: A query parameter whose name contains one of these (any case) holds a secret.
SECRET_KEY_WORDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
)

# Query values are percent-encoded when a URL is rendered, which would turn "***" into "%2A%2A%2A":
# secret values are set to this plain placeholder, then swapped for the mask in the rendered text.
_PLACEHOLDER = "DBJOBQSECRETMASKED"

_SECRET_WORDS = "|".join(re.escape(word) for word in SECRET_KEY_WORDS)
# Text that does not parse as a URL: mask `user:…@` and every `secret_key=value` (query parameters
# and libpq's `password=… host=…` keyword form alike).
_USERINFO = re.compile(r"(?P<head>://[^:@/\s]*:)(?P<secret>.*)(?P<tail>@)", re.DOTALL)
_SECRET_PAIR = re.compile(
    rf"(?P<head>(?:^|[?&;\s])[\w.-]*(?:{_SECRET_WORDS})[\w.-]*\s*=\s*)(?P<secret>[^&;\s#]*)", re.IGNORECASE
)


def is_secret_key(name: str) -> bool:
    """True if a URL query parameter (or setting) named ``name`` holds a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_KEY_WORDS)


def mask_url(url: str | URL | Any) -> str:
    """``url`` as text with its password and secret query parameters replaced by ``***``.

    Accepts a SQLAlchemy ``URL`` or a string; a string that does not parse as a URL is masked as text
    (``scheme://user:***@…``, ``password=***``), so even malformed input can be shown safely.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(str(url))
        except Exception:  # any parse failure: fall back to masking the text itself
            return mask_text(str(url))
    query = {key: (_PLACEHOLDER if is_secret_key(key) else value) for key, value in parsed.query.items()}
    rendered = parsed.set(query=query).render_as_string(hide_password=True)
    return rendered.replace(_PLACEHOLDER, MASK)


def mask_text(text: str) -> str:
    """Mask what looks like a password in free text holding a URL or a ``key=value`` connection string."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    return _SECRET_PAIR.sub(lambda m: f"{m['head']}{MASK}", text)
