"""The dashboard's one Django view: the core's views (``dbjobq.web.Dashboard``) behind Django's auth.

Django serves the page; the core renders it. The request becomes the core's ``WebRequest`` with the
user's permission for what it asks already decided here, and Django's CSRF token in every form.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse

from dbjobq.web import Dashboard, WebRequest, WebResponse

from ..enqueueing import get_queue

#: The permission each dashboard request needs ("view" is reading any page).
PERMISSIONS = {
    "view": "dbjobq.view_job",
    "retry": "dbjobq.change_job",
    "cancel": "dbjobq.change_job",
    "retry_failed": "dbjobq.change_job",
    "delete": "dbjobq.delete_job",
    "enable": "dbjobq.change_schedule",
    "disable": "dbjobq.change_schedule",
    "run": "dbjobq.change_schedule",
    "delete_schedule": "dbjobq.delete_schedule",
    "pause": "dbjobq.change_job",
    "resume": "dbjobq.change_job",
}

_dashboard = Dashboard()


@staff_member_required
def dashboard(request: HttpRequest, path: str) -> HttpResponse:
    """Every dashboard page and action (CSRF-checked by Django's middleware for POSTs)."""
    wanted = _dashboard.permission_for(request.method or "GET", "/" + path)
    permission = PERMISSIONS.get(wanted)
    converted = WebRequest(
        method=request.method or "GET",
        path="/" + path,
        query=request.GET.dict(),
        root=reverse("dbjobq_dashboard:index").rstrip("/"),
        form=request.POST.dict() if request.method == "POST" else {},
        allowed=permission is not None and request.user.has_perm(permission),
        # Buttons are shown to every staff user; each click is checked against its permission above.
        actions_enabled=True,
        refusal_hint="Ask an administrator for the DBJobQ permissions (view, change and delete job/schedule).",
        framework_csrf=("csrfmiddlewaretoken", get_token(request)),
    )
    answer: WebResponse = async_to_sync(_dashboard.handle)(get_queue(), converted)
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers.items():
        response[name] = value
    if answer.location is not None:
        response["Location"] = answer.location
    return response
