"""What the dashboard shows, read from the services and formatted for a language."""

from __future__ import annotations

from payflow_app.core.money import Money
from payflow_app.i18n import format_datetime, format_money, t
from payflow_app.services.accounts import wallet
from payflow_app.services.payments import account_overview


def account_view(user_id: int, lang: str) -> dict[str, object]:
    """Every var of ``DashboardState`` that shows the customer's account, formatted
    for ``lang`` (a blocking read: call it in a thread)."""

    def money(value: Money) -> str:
        return format_money(value.amount, value.currency, lang)

    balances = wallet.balances(user_id=user_id) or [Money(0, "PLN")]
    plan = account_overview.plan_view(user_id=user_id)
    return {
        "balances": [{"currency": b.currency, "amount": money(b)} for b in balances],
        "ledger": [
            {
                "date": format_datetime(line.created_at, lang),
                "type": t(lang, f"ledger.{line.entry_type}"),
                "amount": money(line.amount),
                "balance": money(line.balance_after),
                "order": line.order_number,
            }
            for line in wallet.ledger(user_id=user_id)
        ],
        "orders": [
            {
                "number": o.number,
                "description": o.description,
                "amount": money(o.amount),
                "status": t(lang, f"status.{o.status}"),
                "date": format_datetime(o.created_at, lang),
            }
            for o in account_overview.orders(user_id=user_id, lang=lang)
        ],
        "galleries": [
            {
                "id": str(g.id),
                "title": g.title,
                "status": g.status,
                "status_label": t(lang, "gallery.locked" if g.payment_in_progress else f"gallery.{g.status}"),
                "locked": "yes" if g.payment_in_progress else "",
            }
            for g in account_overview.galleries(user_id=user_id)
        ],
        "plan_name": plan.name,
        "plan_limits": t(
            lang,
            "plan.limits",
            storage=plan.storage_limit_mb,
            used=plan.galleries_used,
            galleries=plan.gallery_limit,
        ),
        "upgrades": [
            {"code": p.code, "label": t(lang, "plan.upgrade_to", name=p.name, price=money(p.price))}
            for p in plan.upgrades
        ],
    }
