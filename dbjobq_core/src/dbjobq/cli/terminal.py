"""Text from the database reaches the operator's terminal inert: control characters are escaped.

A job's error echoes whatever its exception said, and job types, queue names, worker ids and schedule
ids are whatever was written: an ``ESC [`` sequence among them could recolour, clear or retitle the
terminal, or hide lines. Everything the command line prints from the database, and every error line
and log line it prints, goes through :func:`escape_control`. Rich markup is never applied to stored
text either: it is always printed as a ``rich.text.Text``, which rich does not parse for markup.
"""

from __future__ import annotations

import logging
import re

# C0 controls (ESC, BEL, CR, backspace…), DEL, the C1 controls (0x9b is a one-byte CSI on some
# terminals) and the bidirectional overrides that reorder what is shown ("Trojan Source").
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ANY_CONTROL = re.compile(f"[{_CONTROL}\t\n]")
_CONTROL_BUT_LINES = re.compile(f"[{_CONTROL}]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as ``\\x1b``-style escapes.

    With ``keep_newlines`` line breaks and tabs stay (a traceback keeps its shape); carriage returns,
    which could overwrite a line already shown, are escaped either way.
    """
    pattern = _CONTROL_BUT_LINES if keep_newlines else _ANY_CONTROL
    return pattern.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """A log formatter whose lines carry no terminal control sequences (job errors are logged)."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, control characters escaped (line breaks of tracebacks kept)."""
        return escape_control(super().format(record), keep_newlines=True)
