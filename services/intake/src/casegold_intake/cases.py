"""Pure builders: a validated request, the caller and the time in; the event and reply out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID, uuid4

from pydantic import BaseModel

from casegold_contracts import Actor as EventActor
from casegold_contracts import (
    ActorKind,
    CaseOpened,
    Event,
    customer_key,
    derived_id,
    new_event,
)
from casegold_contracts.fields import SUMMARY_MAX
from casegold_intake.commands import EVENT_TYPE, PromiseCallback, payload_of
from casegold_intake.models import CaseAccepted, CaseRequest, CommandAccepted, MentionRequest
from casegold_intake.sla_terms import SlaPolicy
from casegold_platform.http import Principal, Role

_ACTOR_KIND: Final[dict[Role, ActorKind]] = {
    "ivr": "ivr",
    "agent": "agent",
    "manager": "manager",
    "monitor": "monitor",
    "revisit_agent": "revisit_agent",
    "ops": "system",
}


class InvalidField(ValueError):
    """A field that passed shape validation but breaks a configured rule (answered as 422)."""

    def __init__(self, loc: Sequence[str | int], message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = tuple(loc)
        self.message = message
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Ids:
    """The case and event ids of one request."""

    case_id: UUID
    event_id: UUID


def fingerprint(kind: str, body: BaseModel, case_id: UUID | None = None) -> bytes:
    """SHA-256 of what a request means: its route, its case and its validated, normalised body.

    Hashing the validated model rather than raw bytes makes whitespace, key order and phone
    formatting irrelevant: a retry that says the same thing is the same request.
    """
    head = f"{kind}\n{case_id or ''}\n".encode()
    return hashlib.sha256(head + body.model_dump_json().encode()).digest()


def ids_for(principal: Principal, key: str | None, digest: bytes) -> Ids:
    """Deterministic ids for a keyed request (so a retry re-makes the same event), else random."""
    if key is None:
        return Ids(uuid4(), uuid4())
    # The body's digest is part of the name: a different body can never reuse an event id,
    # even if an earlier attempt under the same key reached Kafka after its 503.
    parts = (principal.client, key, digest.hex())
    return Ids(derived_id("intake-case", *parts), derived_id("intake-event", *parts))


def check_category(category: str, allowed: Sequence[str], loc: Sequence[str | int]) -> None:
    """Refuse a category outside the configured list."""
    if category not in allowed:
        raise InvalidField(loc, f"unknown category; configured: {', '.join(allowed)}", "enum")


def actor(principal: Principal) -> EventActor:
    """The event actor of a caller: its role's kind and its client id."""
    return EventActor(kind=_ACTOR_KIND[principal.role], id=principal.client)


def open_case(
    request: CaseRequest,
    *,
    principal: Principal,
    ids: Ids,
    now: datetime,
    policy: SlaPolicy,
    salt: str,
) -> tuple[CaseOpened, CaseAccepted]:
    """The `case_opened` event of a new complaint and the reply carrying its due times."""
    reasons = policy.sensitive_reasons(request.summary, request.description)
    return _opened(
        principal=principal,
        ids=ids,
        now=now,
        policy=policy,
        salt=salt,
        reasons=reasons,
        fields=request.model_dump(exclude={"occurred_at"}, exclude_none=True),
        complaint_occurred_at=request.occurred_at,
        requested_priority=request.priority,
    )


def open_mention_case(
    request: MentionRequest,
    *,
    principal: Principal,
    ids: Ids,
    now: datetime,
    policy: SlaPolicy,
    salt: str,
) -> tuple[CaseOpened, CaseAccepted]:
    """A `social` case from a negative public mention; sensitive when policy keywords match."""
    summary = request.summary or _summary_of(request.text, request.source_url)
    reasons = policy.sensitive_reasons(summary, request.text, " ".join(request.keywords))
    fields = request.model_dump(
        include={"customer", "category", "dealer_id", "product", "external_ref"}, exclude_none=True
    )
    fields.update(
        channel="social",
        summary=summary,
        description=request.text,
        mention=request.mention().model_dump(),
    )
    return _opened(
        principal=principal,
        ids=ids,
        now=now,
        policy=policy,
        salt=salt,
        reasons=reasons,
        fields=fields,
        complaint_occurred_at=request.occurred_at,
        requested_priority=request.priority,
    )


def _summary_of(text: str, source_url: str) -> str:
    first_line = " ".join(text.split())[:SUMMARY_MAX]
    return first_line or f"Negative public mention: {source_url}"[:SUMMARY_MAX]


def _opened(
    *,
    principal: Principal,
    ids: Ids,
    now: datetime,
    policy: SlaPolicy,
    salt: str,
    reasons: tuple[str, ...],
    fields: dict[str, object],
    complaint_occurred_at: datetime | None,
    requested_priority: str | None,
) -> tuple[CaseOpened, CaseAccepted]:
    sensitive = bool(reasons)
    customer = fields["customer"]
    assert isinstance(customer, dict)
    priority = requested_priority or policy.default_priority(
        category=str(fields["category"]),
        channel=str(fields["channel"]),
        dealer_id=None if fields.get("dealer_id") is None else str(fields["dealer_id"]),
        sensitive=sensitive,
    )
    payload = {
        **fields,
        "priority": priority,
        "customer_key": customer_key(str(customer["phone"]), salt),
        "complaint_occurred_at": complaint_occurred_at,
        "sensitive": sensitive,
        "sensitive_reasons": reasons,
    }
    event = new_event(
        CaseOpened,
        case_id=ids.case_id,
        payload=payload,
        actor=actor(principal),
        occurred_at=now,
        recorded_at=now,
        event_id=ids.event_id,
    )
    opened = event.payload
    terms = policy.terms(event)
    reply = CaseAccepted(
        case_id=ids.case_id,
        event_id=ids.event_id,
        opened_at=event.recorded_at,
        channel=opened.channel,
        category=opened.category,
        priority=opened.priority,
        sensitive=sensitive,
        sensitive_reasons=list(reasons),
        policy=terms.policy,
        due=terms.due,
    )
    return event, reply


def command_event(
    command: BaseModel,
    *,
    case_id: UUID,
    principal: Principal,
    ids: Ids,
    now: datetime,
) -> tuple[Event, CommandAccepted]:
    """The catalogue event of one command, and the 202 reply naming it."""
    name = str(getattr(command, "command", ""))
    promise_id = None
    if isinstance(command, PromiseCallback):
        # Named by intake when the agent gave no id, so keep_promise has something to cite.
        promise_id = command.promise_id or f"promise-{ids.event_id}"
    event = new_event(
        EVENT_TYPE[name],
        case_id=case_id,
        payload=payload_of(command, promise_id),
        actor=actor(principal),
        occurred_at=now,
        recorded_at=now,
        event_id=ids.event_id,
    )
    reply = CommandAccepted(
        case_id=case_id,
        event_id=ids.event_id,
        command=name,
        event_type=EVENT_TYPE[name],
        promise_id=promise_id,
    )
    return event, reply
