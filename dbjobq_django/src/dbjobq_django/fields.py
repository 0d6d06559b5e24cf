"""Model fields whose column types are exactly those of the core's SQLAlchemy schema on every database.

Django's defaults differ from SQLAlchemy's in a few places (``real`` vs ``DOUBLE`` and ``bool`` vs
``BOOLEAN`` on SQLite, ``longtext`` vs ``TEXT`` on MySQL, an extra ``varchar_pattern_ops`` index on
a PostgreSQL ``varchar`` primary key). These fields close the gap so that a table migrated by Django
and one created by ``SQLAlchemyStorage.initialize()`` are the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

# django-stubs' fields are generic (set type, get type) but Django's are not subscriptable at run time.
# The get type is Any where a column may be nullable (django-stubs then wants Optional).
if TYPE_CHECKING:
    _CharField = models.CharField[Any, str]
    _TextField = models.TextField[Any, Any]
    _FloatField = models.FloatField[Any, Any]
    _BooleanField = models.BooleanField[Any, bool]
else:
    _CharField, _TextField = models.CharField, models.TextField
    _FloatField, _BooleanField = models.FloatField, models.BooleanField


class KeyField(_CharField):
    """A ``VARCHAR`` primary key without Django's extra ``…_like`` index on PostgreSQL.

    The core never queries ids with ``LIKE``; spelling the type ``character varying`` (the same
    type) keeps Django's schema editor from adding the pattern-ops index the core does not have.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "postgresql":
            return f"character varying({self.max_length})"
        return super().db_type(connection)


class TextField(_TextField):
    """``TEXT`` everywhere (Django's MySQL default is ``longtext``)."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "text"
        return super().db_type(connection)


class PayloadField(_TextField):
    """Job data, results and errors of any size: ``LONGTEXT`` on MySQL (schema version 6), ``TEXT`` elsewhere."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "mysql":
            return "longtext"
        return super().db_type(connection)


class DoubleField(_FloatField):
    """A double-precision float: epoch seconds (Django's SQLite default spells it ``real``)."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "sqlite":
            return "DOUBLE"
        return super().db_type(connection)


class BooleanField(_BooleanField):
    """A boolean (Django's SQLite default spells it ``bool``)."""

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "sqlite":
            return "BOOLEAN"
        return super().db_type(connection)
