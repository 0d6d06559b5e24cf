"""Skip messages name nothing outside the repository (a reader of CI output has only the checkout)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PATH = re.compile(r"(?<![\w.])(?:\.\./|/)[\w.@+-]+(?:/[\w.@+-]+)*")


def outside_folders(message: str, root: Path = ROOT) -> list[str]:
    """The paths in ``message`` that climb out of ``root`` (``../…``) or name a folder beside it."""
    found = []
    for path in _PATH.findall(message):
        if path.startswith("../"):
            found.append(path)
            continue
        resolved = Path(path)
        if resolved.is_relative_to(root.parent) and not resolved.is_relative_to(root):
            found.append(path)
    return found
