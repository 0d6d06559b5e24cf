"""Views that enqueue, sync (in the request's transaction) and async."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse

import dbjobq_django


def enqueue_view(request: HttpRequest) -> JsonResponse:
    """Enqueue in a transaction; ``?fail=1`` rolls it back."""
    try:
        with transaction.atomic(using=dbjobq_django.get_settings().database):
            job_id = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
            if request.GET.get("fail"):
                raise ValueError("rolled back")
    except ValueError:
        return JsonResponse({"job_id": None}, status=400)
    return JsonResponse({"job_id": job_id})


async def aenqueue_view(request: HttpRequest) -> JsonResponse:
    """Enqueue from an async view."""
    job_id = await dbjobq_django.aenqueue("testapp.add", {"a": 2, "b": 3})
    return JsonResponse({"job_id": job_id})
