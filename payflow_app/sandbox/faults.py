"""Fault knobs of the offline providers: one set per rail (``stripe``, ``univapay``,
``payhero``), kept in a ``SandboxObject`` row (id ``faults_{provider}``, kind
``faults``) so every process and the test server see the same knobs.

Callbacks (webhooks) are shaped by :func:`plan_deliveries`; the providers' status
APIs await :func:`status_fault`. Randomness comes from this module's own
``random.Random()``; rates of 0 and 1 are deterministic."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import SandboxObject
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
PROVIDERS = ("stripe", "univapay", "payhero")
KIND = "faults"
# With ``reorder`` on, each copy of a callback waits up to this much longer.
REORDER_WINDOW_SECONDS = 1.0
MAX_SECONDS = 3600.0
_rng = random.Random()


@dataclass(frozen=True)
class Knob:
    """One knob: its name (the JSON key and form field), its type and its range."""

    name: str
    kind: type[bool] | type[int] | type[float]
    low: float = 0.0
    high: float = 1.0
    help: str = ""

    @property
    def expectation(self) -> str:
        if self.kind is bool:
            return "true or false"
        whole = "a whole number" if self.kind is int else "a number"
        return f"{whole} from {self.low:g} to {self.high:g}"

    def check(self, value: Any) -> Any:
        """The value, as stored; ValueError (a readable message) when it is not one."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be {self.expectation} (got {value!r}).")
            return value
        allowed = (int,) if self.kind is int else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, allowed)
            or not math.isfinite(value)
            or not self.low <= value <= self.high
        ):
            raise ValueError(f"{self.name} must be {self.expectation} (got {value!r}).")
        return self.kind(value)

    def parse(self, text: str) -> Any:
        """The value of a form field (an unticked checkbox sends nothing: false)."""
        if self.kind is bool:
            return text.strip().lower() in ("on", "true", "1", "yes")
        try:
            return self.check(self.kind(text.strip()))
        except ValueError:
            raise ValueError(f"{self.name} must be {self.expectation} (got {text!r}).") from None


KNOBS = (
    Knob("delay_seconds", float, 0, MAX_SECONDS, "Extra seconds before each callback is sent."),
    Knob("duplicates", int, 1, 10, "Each callback is delivered this many times (same body)."),
    Knob("drop_rate", float, 0, 1, "Probability that a callback is never sent; 1 withholds all."),
    Knob("reorder", bool, help="Callbacks arrive out of order (each copy waits up to 1 s more)."),
    Knob("bad_signature", bool, help="Callbacks carry a wrong credential; the app must refuse them."),
    Knob("status_error_rate", float, 0, 1, "Probability that the status API answers HTTP 500."),
    Knob("status_delay_seconds", float, 0, MAX_SECONDS, "Seconds the status API waits before answering."),
)


@dataclass(frozen=True)
class DeliveryPlan:
    """How one callback is sent: a copy after each of ``delays`` (seconds from now;
    none when it is dropped), with a wrong credential when ``forged``."""

    delays: tuple[float, ...]
    forged: bool = False


@dataclass(frozen=True)
class Faults:
    """A rail's knobs; the defaults are a well-behaved provider. Constructing one
    with a value out of range raises ValueError with a readable message."""

    delay_seconds: float = 0.0
    duplicates: int = 1
    drop_rate: float = 0.0
    reorder: bool = False
    bad_signature: bool = False
    status_error_rate: float = 0.0
    status_delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        for knob in KNOBS:
            object.__setattr__(self, knob.name, knob.check(getattr(self, knob.name)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        """Knobs from a JSON object; a knob left out takes its default. ValueError
        for an unknown knob or a value of the wrong type or range."""
        unknown = sorted(set(data) - {k.name for k in KNOBS})
        if unknown:
            known = ", ".join(k.name for k in KNOBS)
            raise ValueError(f"Unknown knob {unknown[0]!r}; the knobs are {known}.")
        return cls(**data)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Faults:
        """Knobs from the operator page's form fields (checkboxes absent = off)."""
        return cls(**{k.name: k.parse(form.get(k.name, "")) for k in KNOBS})

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def plan(self, *, base_delay: float, rng: random.Random) -> DeliveryPlan:
        """The deliveries of one callback the provider would otherwise send after
        ``base_delay`` seconds."""
        if self.drop_rate and rng.random() < self.drop_rate:
            return DeliveryPlan(delays=(), forged=self.bad_signature)
        delays = [base_delay + self.delay_seconds] * self.duplicates
        if self.reorder:
            delays = [d + rng.uniform(0.0, REORDER_WINDOW_SECONDS) for d in delays]
            rng.shuffle(delays)
        return DeliveryPlan(delays=tuple(delays), forged=self.bad_signature)


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"Unknown provider {provider!r}; the sandbox has {', '.join(PROVIDERS)}.")


def load_faults(provider: str) -> Faults:
    """The rail's knobs as the operator set them (defaults when never set)."""
    _check_provider(provider)
    with read_session() as session:
        row = session.get(SandboxObject, f"faults_{provider}")
    if row is None:
        return Faults()
    try:
        return Faults.from_json(json.loads(row.data))
    except ValueError:
        log.warning("sandbox faults for %s are unreadable; using none", provider)
        return Faults()


def save_faults(provider: str, faults: Faults) -> Faults:
    """Replace the rail's knobs; answers them."""
    _check_provider(provider)
    data = json.dumps(faults.to_json())
    for _ in range(2):  # a concurrent first save may insert the row under us
        try:
            with write_transaction() as session:
                row = session.get(SandboxObject, f"faults_{provider}", with_for_update=True)
                if row is None:
                    row = SandboxObject(id=f"faults_{provider}", provider=provider, kind=KIND, data=data)
                row.data = data
                session.add(row)
            return faults
        except IntegrityError:
            continue
    raise RuntimeError(f"could not save the sandbox faults of {provider}")


def reset_faults() -> None:
    """Every rail back to a well-behaved provider."""
    with write_transaction() as session:
        for row in session.exec(select(SandboxObject).where(SandboxObject.kind == KIND)).all():
            session.delete(row)


def withheld_by_setting(provider: str) -> bool:
    """``PAYFLOW_SANDBOX_PAYHERO_WITHHOLD_CALLBACKS`` drops every PayHero callback,
    whatever the knobs say."""
    return provider == "payhero" and get_settings().sandbox_payhero_withhold_callbacks


def plan_deliveries(provider: str, *, rng: random.Random | None = None) -> DeliveryPlan:
    """How the rail sends its next callback, after the sandbox's webhook delay
    (``settings.sandbox_webhook_delay_seconds``) and the rail's knobs. Reads the
    database: call it in a thread from async code."""
    faults = load_faults(provider)
    if withheld_by_setting(provider):
        faults = dataclasses.replace(faults, drop_rate=1.0)
    return faults.plan(base_delay=get_settings().sandbox_webhook_delay_seconds, rng=rng or _rng)


async def status_fault(provider: str) -> bool:
    """Wait the rail's ``status_delay_seconds``, then say whether its status API
    must answer HTTP 500 this time (probability ``status_error_rate``)."""
    faults = await asyncio.to_thread(load_faults, provider)
    if faults.status_delay_seconds:
        await asyncio.sleep(faults.status_delay_seconds)
    failed = bool(faults.status_error_rate) and _rng.random() < faults.status_error_rate
    if failed:
        log.warning("sandbox fault: %s status API answers HTTP 500", provider)
    return failed


def wrong_credential(genuine: str) -> str:
    """A credential that is certainly not ``genuine`` (for ``bad_signature``)."""
    return f"{genuine}-forged-by-sandbox"
