"""Record the schema version in ``dbjobq_meta``, as ``SQLAlchemyStorage.initialize()`` does.

The value is frozen: this migration creates schema version 1. When the core's ``SCHEMA_VERSION``
moves on, a new migration changes the tables and the row (a test fails until it exists).
"""

from typing import Any

from django.db import migrations

SCHEMA_VERSION = 1


def forwards(apps: Any, schema_editor: Any) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).get_or_create(
        key="schema_version", defaults={"value": str(SCHEMA_VERSION)}
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    metadata = apps.get_model("dbjobq", "Metadata")
    metadata.objects.using(schema_editor.connection.alias).filter(key="schema_version").delete()


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
