"""Durations on the command line."""

from __future__ import annotations

import pytest

from dbjobq.cli.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("7d", 604800),
        ("2h30m", 9000),
        ("1w", 604800),
        ("90", 90),
        ("1.5h", 5400),
        (" 2H ", 7200),
        ("0s", 0),
        ("1d12h", 129600),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7x", "h", "1h30", "-5m", "5 m", "m5", "inf", "nan", "1h-2m"])
def test_durations_reject_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="Invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "0.5s"), (45, "45s"), (900, "15m"), (9000, "2h30m"), (90061, "1d1h")]
)
def test_durations_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
