# shop/views.py
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import dbjobq_django
from shop.jobs import confirm_order, send_receipt
from shop.models import Order

# A job id is not a secret (ids are time-ordered): job_status answers only for the jobs this
# visitor's session started, and 404 for any other id.
REMEMBERED_JOBS = 20


def remember(request, job_id):
    request.session["jobs"] = [*request.session.get("jobs", []), job_id][-REMEMBERED_JOBS:]


def started_here(request, job_id):
    return job_id in request.session.get("jobs", [])


@csrf_exempt
@require_POST
def place_order(request):
    try:
        with transaction.atomic():
            order = Order.objects.create(email=request.POST.get("email", ""))
            # Written in this transaction: the job exists only if the transaction commits.
            job_id = dbjobq_django.enqueue(confirm_order, {"order_id": order.pk})
            order.full_clean()  # an invalid email rolls back the order *and* its job
    except ValidationError as exc:
        return JsonResponse({"errors": exc.message_dict}, status=400)
    remember(request, job_id)
    return JsonResponse({"order": order.pk, "job_id": job_id}, status=201)


async def email_receipt(request, order_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    order = await Order.objects.aget(pk=order_id)
    job_id = await dbjobq_django.aenqueue(send_receipt, {"email": order.email})
    await sync_to_async(remember)(request, job_id)  # the session store is sync code
    return JsonResponse({"job_id": job_id}, status=202)


# Django 5 can decorate async views with @csrf_exempt and @require_POST; 4.2 cannot.
email_receipt.csrf_exempt = True


async def job_status(request, job_id):
    job = None
    if await sync_to_async(started_here)(request, job_id):
        job = await dbjobq_django.get_queue().get_job(job_id)
    if job is None:
        return JsonResponse({"error": "no such job"}, status=404)
    return JsonResponse({"id": job.id, "status": job.status, "result": job.result})
