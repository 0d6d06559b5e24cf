# shop/jobs.py
from dbjobq import job
from shop.models import Order


@job(max_retries=3)
def confirm_order(data):
    # A sync job: it runs in a worker thread and uses the ORM like any Django code.
    order = Order.objects.get(pk=data["order_id"])
    order.status = "confirmed"
    order.save(update_fields=["status"])
    return {"order": order.pk, "status": order.status}


@job(queue="email")
async def send_receipt(data):
    # An async job: it runs on the worker's event loop.
    return f"receipt sent to {data['email']}"
