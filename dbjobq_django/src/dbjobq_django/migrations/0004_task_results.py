"""The admin's "task results": a proxy of the jobs table (no database change)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dbjobq", "0003_queue_status_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskResultRecord",
            fields=[],
            options={
                "verbose_name": "task result",
                "ordering": ["-id"],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("dbjobq.job",),
        ),
    ]
