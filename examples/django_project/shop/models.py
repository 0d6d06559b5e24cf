"""An order, confirmed by a background job."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    """A customer's order."""

    email = models.EmailField()
    status = models.CharField(max_length=20, default="new")

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.status})"
