"""An order for the operator console's browser tests, made in the e2e app's database:
paid through Stripe by a customer of its own, its payment listed under "late money"
(the last filter tab). Run as ``python -m tests.e2e.console_world`` with the app's env;
prints JSON."""

from __future__ import annotations

import json
import uuid

from sqlmodel import select

from payflow_app.core.db import write_transaction
from payflow_app.models import Payment, pk, utcnow
from tests import factories


def main() -> None:
    suffix = uuid.uuid4().hex[:8]
    email, reference = f"late-{suffix}@example.com", f"cs_test_console_{suffix}"
    order = factories.paid_order(quantity=2, email=email, reference=reference)
    with write_transaction() as session:
        payment = session.exec(select(Payment).where(Payment.provider_reference == reference)).one()
        payment.late_at, payment.review_reason = utcnow(), "late money, accepted (e2e)"
    print(
        json.dumps(
            {
                "order_id": pk(order),
                "order_number": order.number,
                "ticket_number": factories.tickets_of(order)[1].number,
                "email": email,
                "reference": reference,
            }
        )
    )


if __name__ == "__main__":
    main()
