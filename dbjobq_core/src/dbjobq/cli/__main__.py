"""``python -m dbjobq.cli``: the same as the ``dbjobq`` command."""

from __future__ import annotations

from . import main

main()
