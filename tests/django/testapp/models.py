"""A model the ORM-using job writes."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    """A line of text written by a job."""

    text = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.text
