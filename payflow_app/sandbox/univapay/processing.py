"""What happens to a charge after UnivaPay has answered ``pending``: it is processed
asynchronously as its test card says, 3-D Secure is completed or failed on the
issuer page, and every change of status is sent to the app as a webhook.

Test cards: a number ending 1111 is rejected (error 306); 4000 0000 0000 3220
needs 3-D Secure (unless ``three_ds.mode`` is ``skip`` or ``provided``), which,
when failed, ends in error 358; every other valid number succeeds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from payflow_app.sandbox.delivery import Destination, schedule_webhook
from payflow_app.sandbox.faults import wrong_credential
from payflow_app.sandbox.univapay import store
from payflow_app.sandbox.univapay.objects import CAPTURE, CARD_NUMBER, new_id, public
from payflow_app.settings import get_settings

THREE_DS_CARD = "4000000000003220"
REJECTED_ENDING = "1111"
# UnivaPay's processing error codes (univapay-node errors/parser.ts): 306 is
# CARD_REJECTED, 358 THREE_DS_COULD_NOT_BE_COMPLETED.
CARD_REJECTED = {
    "code": 306,
    "message": "Card rejected",
    "detail": "The issuer rejected the card (sandbox test card ending 1111).",
}
THREE_DS_FAILED = {
    "code": 358,
    "message": "3-D Secure authentication failed",
    "detail": "The cardholder did not complete 3-D Secure authentication.",
}
PROCESSING_ERROR = {
    "code": 500,
    "message": "There was a processing error",
    "detail": "The transaction token no longer exists.",
}
PROCESSING_DELAY_SECONDS = 0.2
# A charge still pending this long after creation lost its processing task (the
# server restarted); it is processed when next asked about.
STALE_PENDING_SECONDS = 3.0
FINISHED = ("successful", "failed", "error", "canceled")
_tasks: set[asyncio.Task[None]] = set()


def _outcome(charge: dict[str, Any], card_number: str) -> dict[str, Any]:
    """The changes processing makes to a pending charge paid with ``card_number``."""
    if card_number.endswith(REJECTED_ENDING):
        return {"status": "failed", "error": CARD_REJECTED}
    if card_number == THREE_DS_CARD and charge["three_ds"]["mode"] not in ("skip", "provided"):
        return {"status": "awaiting", "three_ds": {**charge["three_ds"], "redirect_id": new_id()}}
    return _paid(charge)


def _paid(charge: dict[str, Any]) -> dict[str, Any]:
    if not charge.get(CAPTURE, True):
        return {"status": "authorized"}
    return {
        "status": "successful",
        "charged_amount": charge["requested_amount"],
        "charged_currency": charge["requested_currency"],
        "charged_amount_formatted": charge["requested_amount_formatted"],
    }


async def process_charge(charge_id: str) -> dict[str, Any] | None:
    """Take a pending charge to its next status; None if it was not pending."""
    charge = await asyncio.to_thread(store.load_charge, charge_id)
    if charge is None or charge["status"] != "pending":
        return None
    token = await asyncio.to_thread(store.load_token, charge["transaction_token_id"])
    changes = (
        _outcome(charge, token[CARD_NUMBER]) if token else {"status": "error", "error": PROCESSING_ERROR}
    )
    processed = await asyncio.to_thread(store.transition, charge_id, leaving=("pending",), **changes)
    if processed is not None:
        send_webhook(processed)
    return processed


async def _process_later(charge_id: str) -> None:
    await asyncio.sleep(PROCESSING_DELAY_SECONDS)
    await process_charge(charge_id)


def schedule_processing(charge_id: str) -> None:
    task = asyncio.get_running_loop().create_task(_process_later(charge_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def process_if_stale(charge: dict[str, Any]) -> dict[str, Any]:
    """The charge as it is now, processed first if its processing was lost."""
    if charge["status"] != "pending":
        return charge
    created = datetime.fromisoformat(charge["created_on"].replace("Z", "+00:00"))
    if (datetime.now(UTC) - created).total_seconds() < STALE_PENDING_SECONDS:
        return charge
    processed = await process_charge(charge["id"])
    return processed or await asyncio.to_thread(store.load_charge, charge["id"]) or charge


async def finish_three_ds(charge_id: str, *, authenticated: bool) -> dict[str, Any] | None:
    """The cardholder completed or failed 3-D Secure; None if the charge was not awaiting."""
    charge = await asyncio.to_thread(store.load_charge, charge_id)
    if charge is None:
        return None
    changes = _paid(charge) if authenticated else {"status": "failed", "error": THREE_DS_FAILED}
    finished = await asyncio.to_thread(store.transition, charge_id, leaving=("awaiting",), **changes)
    if finished is not None:
        send_webhook(finished)
    return finished


def return_url(charge: dict[str, Any]) -> str | None:
    """Where the issuer sends the cardholder back: the 3DS redirect endpoint (else the
    charge's redirect endpoint) with the charge, its token and its status appended."""
    endpoint = charge["three_ds"].get("redirect_endpoint") or charge["redirect"].get("endpoint")
    if not endpoint:
        return None
    base, hash_mark, fragment = endpoint.partition("#")
    query = urlencode(
        {
            "univapayChargeId": charge["id"],
            "univapayTokenId": charge["transaction_token_id"],
            "status": charge["status"],
        }
    )
    joiner = "&" if "?" in base and not base.endswith(("?", "&")) else ("" if "?" in base else "?")
    return f"{base}{joiner}{query}{hash_mark}{fragment}"


def send_webhook(charge: dict[str, Any], *, event: str | None = None) -> None:
    """``charge_finished`` for a final status, ``charge_updated`` otherwise (or the
    ``event`` given, e.g. ``refund_finished`` with a refund as the data), with the
    configured Authorization value verbatim (UnivaPay signs nothing)."""
    settings = get_settings()
    if event is None:
        event = "charge_finished" if charge["status"] in FINISHED else "charge_updated"
    payload = json.dumps({"event": event, "data": public(charge)})
    url, auth = settings.univapay_webhook_url, settings.univapay_webhook_auth
    schedule_webhook(
        provider="univapay",
        payload=payload,
        label=f"{event}:{charge['id']}:{charge['status']}",
        to=_destination(url, auth),
        forged=_destination(url, wrong_credential(auth)),
    )


def _destination(url: str, authorization: str) -> Destination:
    return Destination(
        url,
        lambda: {
            "Content-Type": "application/json",
            "User-Agent": "UnivaPay-Webhook (payflow sandbox)",
            "Authorization": authorization,
        },
    )
