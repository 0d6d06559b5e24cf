# shop/tests.py
from django.core.management import call_command
from django.test import TransactionTestCase

from shop.models import Order


class ConfirmOrderTests(TransactionTestCase):
    def test_order_is_confirmed(self):
        response = self.client.post("/orders/", {"email": "ada@example.com"})
        call_command("runworker", "--burst")
        order = Order.objects.get(pk=response.json()["order"])
        self.assertEqual(order.status, "confirmed")
