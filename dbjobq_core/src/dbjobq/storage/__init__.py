"""Job stores: the abstract interface and the SQLAlchemy implementation."""

from __future__ import annotations

from .base import BaseStorage, NewJob, Outcome
from .sqlalchemy_storage import SQLAlchemyStorage

__all__ = ["BaseStorage", "NewJob", "Outcome", "SQLAlchemyStorage"]
