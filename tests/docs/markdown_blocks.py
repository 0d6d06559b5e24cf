"""Reading fenced code blocks out of Markdown, for the documentation tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: The line that, as the last non-blank line before a block, makes it compile-only.
FRAGMENT_MARKER = "<!-- fragment -->"

_FILE_COMMENT = re.compile(r"^#\s*(?P<name>[\w./-]+\.py)\s*$")
_FILE_LABEL = re.compile(r"^`(?P<name>[\w./-]+\.py)`:?$")
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its code, and whether it is a fragment."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    fragment: bool
    label: str  # the last non-blank line of text before the block (e.g. "**After (Async)**:")

    @property
    def filename(self) -> str | None:
        """The file the block is, if it says so: a first line ``# tasks.py`` or a label ```tasks.py`:``."""
        first = self.code.lstrip("\n").split("\n", 1)[0].strip()
        match = _FILE_COMMENT.match(first) or _FILE_LABEL.match(self.label)
        return match["name"] if match else None

    @property
    def where(self) -> str:
        """``file.md:line`` for messages."""
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        language = (match["info"].split() or [""])[0].lower()
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index])
            index += 1
        previous = [line.strip() for line in lines[:start] if line.strip()]
        label = previous[-1] if previous else ""
        found.append(Block(path, start + 1, language, "\n".join(body) + "\n", label == FRAGMENT_MARKER, label))
        index += 1
    return found


def python_blocks(path: Path) -> list[Block]:
    """The ``python`` (or ``py``) blocks of ``path``."""
    return [block for block in blocks(path) if block.language in ("python", "py", "python3")]
