# shop/tests.py
from django.core.management import call_command
from django.test import TestCase, TransactionTestCase, override_settings

import dbjobq_django
from dbjobq_django import testing
from shop.jobs import confirm_order
from shop.models import Order


class WorkerTests(TransactionTestCase):
    # A real worker has its own connections: the rows must be committed (TransactionTestCase).
    def test_order_is_confirmed(self):
        response = self.client.post("/orders/", {"email": "ada@example.com"})
        call_command("runworker", "--burst")
        order = Order.objects.get(pk=response.json()["order"])
        self.assertEqual(order.status, "confirmed")


@override_settings(DBJOBQ={"EAGER": True})
class EagerTests(TestCase):
    # Eager mode: the job runs in the test's thread and transaction once the view's own commits.
    def test_order_is_confirmed_at_commit(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/orders/", {"email": "ada@example.com"})
        order = Order.objects.get(pk=response.json()["order"])
        self.assertEqual(order.status, "confirmed")
        job = dbjobq_django.get_job(response.json()["job_id"])  # sync, through the ORM
        self.assertEqual((job.status, job.attempts), ("completed", 1))


class EnqueuedJobTests(TestCase):
    # The helpers read and run jobs through the ORM, inside the test's transaction.
    def test_placing_an_order_enqueues_its_confirmation(self):
        response = self.client.post("/orders/", {"email": "ada@example.com"})
        order_id = response.json()["order"]
        job = testing.assert_enqueued(confirm_order, {"order_id": order_id})
        self.assertEqual(job.status, "pending")
        self.assertEqual(testing.run_due_jobs().completed, 1)
        self.assertEqual(Order.objects.get(pk=order_id).status, "confirmed")
