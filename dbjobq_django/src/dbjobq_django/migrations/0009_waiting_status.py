"""The ``waiting`` status (jobs enqueued with ``depends_on``) among the job status choices: a change of
Django's model state only, the column is unchanged (no new schema version)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dbjobq", "0008_payload_longtext_worker_types")]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("running", "Running"),
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                    ("waiting", "Waiting"),
                ],
                max_length=16,
            ),
        ),
    ]
