"""Creates a customer in the e2e app's database, optionally with a funded wallet
(through the real top-up fulfilment). Run by the tests as
``python -m tests.e2e.accounts EMAIL PASSWORD FUND_MINOR`` with the app's env."""

from __future__ import annotations

import sys

from payflow_app.core.db import write_transaction
from payflow_app.core.money import Money
from payflow_app.models import User, pk
from payflow_app.services.accounts.customers import hash_password
from payflow_app.services.payments.fulfilment import fulfil_payment
from payflow_app.services.payments.purchases import place_top_up
from tests import factories


def main(email: str, password: str, fund_minor: int) -> None:
    with write_transaction() as session:
        user = User(email=email, full_name="Test Customer", password_hash=hash_password(password))
        session.add(user)
        session.flush()
        user_id = pk(user)
    if fund_minor:
        order = place_top_up(user_id=user_id, amount=Money(fund_minor, "PLN"))
        payment = factories.pending_payment(order, reference=f"cs_test_e2e_{user_id}")
        fulfil_payment(payment_id=pk(payment), truth=factories.paid_truth(payment))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
