"""DBJobQ for Flask: ``DBJobQ(app)``, a sync face safe in threaded servers, and ``flask dbjobq``."""

from __future__ import annotations

from ._config import CONFIG_DEFAULTS, Settings
from ._extension import DBJobQ
from ._state import DBJobQState

__all__ = ["CONFIG_DEFAULTS", "DBJobQ", "DBJobQState", "Settings"]
