"""The check that fails a skip whose message names a folder outside the repository."""

from __future__ import annotations

from pathlib import Path

from tests.skips import outside_folders


def test_skip_messages_outside_folders_are_found() -> None:
    root = Path("/work/wt/project")
    assert outside_folders("../shared/migration-guide.md is not here", root) == ["../shared/migration-guide.md"]
    assert outside_folders("/work/wt/shared/guide.md is missing", root) == ["/work/wt/shared/guide.md"]
    assert outside_folders("needs /work/wt/project/docs/page.md", root) == []
    assert outside_folders("postgresql server not available: ConnectionRefusedError(111)", root) == []
    assert outside_folders("needs os.fork", root) == []
