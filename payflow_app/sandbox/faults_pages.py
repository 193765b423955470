"""The operator's view of the fault knobs: ``/sandbox/faults``, a plain HTML page
with one form per rail, and ``/sandbox/faults/{provider}`` as JSON (GET answers the
knobs; PUT replaces them, a knob left out taking its default)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payflow_app.api.errors import BadRequest, error_response, json_object
from payflow_app.sandbox import faults
from payflow_app.sandbox.banner import banner
from payflow_app.sandbox.faults import KNOBS, PROVIDERS, Faults

RAIL_NAMES = {"stripe": "Stripe", "univapay": "UnivaPay", "payhero": "PayHero M-PESA"}

PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Fault knobs — payflow sandbox</title>
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:860px;margin:24px auto;padding:0 16px}}h1{{font-size:24px}}
section{{background:#fff;border-radius:10px;padding:20px;margin:16px 0;box-shadow:0 2px 12px #0001}}
h2{{font-size:18px;margin:0 0 12px}}.knob{{display:grid;grid-template-columns:200px 140px 1fr;gap:12px;align-items:center;margin:8px 0}}
label{{font-family:ui-monospace,monospace;font-size:14px}}input[type=number]{{padding:6px;font-size:15px;width:120px}}
.help{{font-size:13px;color:#64748b}}button{{margin-top:12px;padding:8px 14px;font-size:15px;cursor:pointer}}
.error{{background:#fee2e2;color:#991b1b;padding:10px;border-radius:6px}}
.saved{{background:#dcfce7;color:#166534;padding:10px;border-radius:6px}}.note{{font-size:14px;color:#92400e}}</style></head><body>
"""
    + banner("en")  # the knobs are for operators: English only
    + """<main><h1>Fault knobs</h1>
<p>Make each provider misbehave on purpose: late, repeated, lost, reordered or forged callbacks,
and a failing or slow status API. Every process of the app reads these knobs.</p>
{notice}{sections}</main></body></html>"""
)


def _field(provider: str, knob: faults.Knob, value: object) -> str:
    field_id = f"{provider}-{knob.name}"
    if knob.kind is bool:
        checked = " checked" if value is True or value in ("on", "true", "1", "yes") else ""
        control = f'<input id="{field_id}" name="{knob.name}" type="checkbox"{checked}>'
    else:
        bounds = f'min="{knob.low:g}" max="{knob.high:g}" step="{"1" if knob.kind is int else "any"}"'
        control = (
            f'<input id="{field_id}" name="{knob.name}" type="number" {bounds} '
            f'value="{html.escape(str(value))}">'
        )
    return (
        f'<div class="knob"><label for="{field_id}">{knob.name}</label>{control}'
        f'<span class="help">{html.escape(knob.help)}</span></div>'
    )


def _section(provider: str, values: Mapping[str, object], error: str | None = None) -> str:
    name = RAIL_NAMES[provider]
    fields = "".join(_field(provider, knob, values.get(knob.name, "")) for knob in KNOBS)
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    note = (
        '<p class="note">PAYFLOW_SANDBOX_PAYHERO_WITHHOLD_CALLBACKS is on: every PayHero '
        "callback is withheld, whatever drop_rate says.</p>"
        if faults.withheld_by_setting(provider)
        else ""
    )
    return f"""<section aria-labelledby="{provider}-title"><h2 id="{provider}-title">{name}</h2>{note}{problem}
<form method="post" action="/sandbox/faults"><input type="hidden" name="provider" value="{provider}">
{fields}<button type="submit">Save {name} knobs</button></form></section>"""


async def _page(
    *, notice: str = "", failed: tuple[str, Mapping[str, str], str] | None = None, status: int = 200
) -> HTMLResponse:
    """The page with every rail's stored knobs; ``failed`` is (rail, the values
    typed, what is wrong with them), shown in that rail's form instead."""
    sections = []
    for provider in PROVIDERS:
        if failed and failed[0] == provider:
            sections.append(_section(provider, failed[1], failed[2]))
        else:
            stored = await asyncio.to_thread(faults.load_faults, provider)
            sections.append(_section(provider, stored.to_json()))
    return HTMLResponse(PAGE.format(notice=notice, sections="".join(sections)), status_code=status)


async def faults_page(request: Request) -> Response:
    saved = request.query_params.get("saved", "")
    notice = (
        f'<p class="saved" role="status">Saved the {RAIL_NAMES[saved]} knobs.</p>'
        if saved in RAIL_NAMES
        else ""
    )
    return await _page(notice=notice)


async def save_from_form(request: Request) -> Response:
    """Save one rail's knobs from its form and go back to the page (303); a bad
    value answers the page with the error (400) and saves nothing."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    provider = form.get("provider", "")
    if provider not in PROVIDERS:
        notice = f'<p class="error" role="alert">Choose one of the rails: {", ".join(PROVIDERS)}.</p>'
        return await _page(notice=notice, status=400)
    try:
        knobs = Faults.from_form(form)
    except ValueError as exc:
        return await _page(failed=(provider, form, str(exc)), status=400)
    await asyncio.to_thread(faults.save_faults, provider, knobs)
    return RedirectResponse(f"/sandbox/faults?saved={provider}", status_code=303)


def _unknown_provider(provider: str) -> Response:
    return error_response(
        404, "unknown_provider", f"No rail {provider!r}; the sandbox has {', '.join(PROVIDERS)}."
    )


async def get_faults(request: Request) -> Response:
    """``GET /sandbox/faults/{provider}``: the rail's knobs."""
    provider = request.path_params["provider"]
    if provider not in PROVIDERS:
        return _unknown_provider(provider)
    knobs = await asyncio.to_thread(faults.load_faults, provider)
    return JSONResponse(knobs.to_json())


async def put_faults(request: Request) -> Response:
    """``PUT /sandbox/faults/{provider}`` with a JSON object of knobs: saved and
    answered, or 400 ``invalid_faults`` (nothing saved)."""
    provider = request.path_params["provider"]
    if provider not in PROVIDERS:
        return _unknown_provider(provider)
    try:
        knobs = Faults.from_json(await json_object(request))
    except BadRequest as exc:
        return exc.response
    except ValueError as exc:
        return error_response(400, "invalid_faults", str(exc))
    await asyncio.to_thread(faults.save_faults, provider, knobs)
    return JSONResponse(knobs.to_json())
