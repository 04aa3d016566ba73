"""Test-data builders: valid events with sensible defaults and keyword overrides."""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar, overload
from uuid import UUID

from .case_events import CaseOpened
from .case_payloads import Customer
from .codec import new_event
from .envelope import Actor, Event
from .escalation_events import CaseSnapshot, EscalationRaised
from .events import AnyEvent
from .ids import customer_key, derived_id, escalation_id
from .registry import EVENT_TYPES
from .vocabulary import STEP_TIERS, ActorKind, Audience, EscalationReason, Step

E = TypeVar("E", bound=Event)

# A Monday morning, so business-hours calendars start inside opening hours.
DEFAULT_TIME: Final = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# One fixed case, so a test's successive builder calls talk about the same case by default.
DEFAULT_CASE_ID: Final = UUID("00000000-0000-4000-8000-00000000ca5e")
DEFAULT_PHONE: Final = "+8613800138000"
TEST_SALT: Final = "test-salt"

_AUDIENCE_BY_STEP: Final[dict[Step, Audience]] = {
    "warning": "owner",
    "tier_1": "team_lead",
    "tier_2": "department_manager",
    "tier_3": "director",
}
_SYSTEM_TYPES: Final = {"command_rejected", "repeat_complainant_detected", "escalation_raised"}


def make_actor(kind: ActorKind = "agent", id: str = "agent-1") -> Actor:
    """Build an actor."""
    return Actor(kind=kind, id=id)


def _default_actor(event_type: str) -> Actor:
    # Each event type defaults to the actor that produces it in the running system.
    if event_type == "case_opened":
        return make_actor("ivr", "ivr-gateway")
    if event_type == "escalation_acknowledged":
        return make_actor("manager", "manager-1")
    if event_type == "revisit_outcome_recorded":
        return make_actor("revisit_agent", "revisit-1")
    if event_type in _SYSTEM_TYPES:
        return make_actor("system", "escalation")
    return make_actor()


def make_case_opened_payload(**overrides: Any) -> dict[str, Any]:
    """Return a valid `case_opened` payload as a dict; `customer_key` follows the phone."""
    customer: Any = overrides.pop("customer", None) or {
        "phone": DEFAULT_PHONE,
        "name": "Li Wei",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
    }
    phone = customer.phone if isinstance(customer, Customer) else customer.get("phone", "")
    try:
        key = customer_key(phone, TEST_SALT)
    except ValueError:
        # Tests of phone validation still need a well-formed key beside the bad phone.
        key = "0" * 64
    payload: dict[str, Any] = {
        "external_ref": "call-0001",
        "channel": "ivr",
        "customer": customer,
        "customer_key": key,
        "category": "product",
        "priority": "P3",
        "summary": "Washing machine leaks after repair",
        "description": "The customer reports water on the floor after every wash.",
        "sensitive": False,
        "sensitive_reasons": (),
    }
    return {**payload, **overrides}


def _default_payload(
    event_type: str, case_id: UUID, at: datetime, overrides: dict[str, Any]
) -> dict[str, Any]:
    if event_type == "case_opened":
        return make_case_opened_payload(**overrides)
    if event_type == "escalation_raised":
        return _escalation_payload(case_id=case_id, due_at=at, **overrides)
    defaults: dict[str, Callable[[], dict[str, Any]]] = {
        "case_assigned": lambda: {"owner": "agent-1"},
        "callback_promised": lambda: {"promise_id": "promise-1", "due_at": at + timedelta(hours=4)},
        "promise_kept": lambda: {"promise_id": "promise-1"},
        "solution_agreed": lambda: {"summary": "Replace the machine free of charge"},
        "customer_awaited": lambda: {"reason": "Waiting for the customer's receipt"},
        "case_resolved": lambda: {
            "resolution": "Machine replaced; customer confirmed it works",
            "root_cause": {"category": "product", "text": "Seal fitted wrongly at the factory"},
        },
        "case_reopened": lambda: {"reason": "The leak came back"},
        "note_added": lambda: {"text": "Customer prefers calls after 18:00"},
        "priority_set": lambda: {"priority": "P2", "reason": "Customer is elderly"},
        "escalation_acknowledged": lambda: {
            "escalation_id": escalation_id(case_id, "first_response", 1, "tier_1")
        },
        "case_handed_to_dealer": lambda: {"dealer_id": "dealer-1"},
        "command_rejected": lambda: {
            "rejected_event_id": derived_id("test-rejected", str(case_id)),
            "rejected_type": "case_resolved",
            "reason": "invalid_transition",
        },
        "repeat_complainant_detected": lambda: {
            "prior_case_ids": (derived_id("test-prior-case", str(case_id)),),
            "window_days": 30,
        },
        "revisit_outcome_recorded": lambda: {
            "callback_id": derived_id("test-callback", str(case_id)),
            "outcome": "satisfied",
            "score": 5,
            "attempt": 1,
        },
    }
    return {**defaults.get(event_type, dict)(), **overrides}


@overload
def make_event(event_type: type[E], **kwargs: Any) -> E: ...
@overload
def make_event(event_type: str, **kwargs: Any) -> AnyEvent: ...
def make_event(
    event_type: type[Event] | str,
    *,
    case_id: UUID = DEFAULT_CASE_ID,
    at: datetime = DEFAULT_TIME,
    recorded_at: datetime | None = None,
    actor: Actor | None = None,
    event_id: UUID | None = None,
    payload: Mapping[str, Any] | None = None,
    **payload_fields: Any,
) -> Event:
    """Build any event type; `at` is occurred_at, other keywords override payload fields."""
    name = event_type if isinstance(event_type, str) else _type_name(event_type)
    if payload is not None:
        merged = {**payload, **payload_fields}
    else:
        merged = _default_payload(name, case_id, at, payload_fields)
    return new_event(
        EVENT_TYPES[name].model,
        case_id=case_id,
        payload=merged,
        actor=actor or _default_actor(name),
        occurred_at=at,
        recorded_at=recorded_at or at,
        event_id=event_id,
    )


def _type_name(model: type[Event]) -> str:
    name = model.model_fields["type"].default
    assert isinstance(name, str)
    return name


def make_case_opened(**kwargs: Any) -> CaseOpened:
    """Build a `case_opened` event; envelope keywords as for make_event, the rest go to payload."""
    return make_event(CaseOpened, **kwargs)


def make_case_snapshot(**overrides: Any) -> CaseSnapshot:
    """Build the case snapshot carried by an escalation notice."""
    fields: dict[str, Any] = {
        "status": "open",
        "owner": "agent-1",
        "priority": "P3",
        "category": "product",
        "sensitive": False,
        "late_seconds": 0,
    }
    return CaseSnapshot.model_validate({**fields, **overrides})


def _escalation_payload(
    *,
    case_id: UUID,
    due_at: datetime,
    milestone: str = "first_response",
    cycle: int = 1,
    step: Step = "tier_1",
    reason: EscalationReason | None = None,
    fired_at: datetime | None = None,
    audience: Audience | None = None,
    case: CaseSnapshot | Mapping[str, Any] | None = None,
    **rest: Any,
) -> dict[str, Any]:
    return {
        "escalation_id": escalation_id(case_id, milestone, cycle, step),
        "milestone": milestone,
        "cycle": cycle,
        "step": step,
        "tier": STEP_TIERS[step],
        "reason": reason or ("sla_warning" if step == "warning" else "sla_breach"),
        "due_at": due_at,
        "fired_at": fired_at or due_at,
        "repeat": 0,
        "audience": audience or _AUDIENCE_BY_STEP[step],
        "case": case if case is not None else make_case_snapshot(),
        **rest,
    }


def make_escalation_raised(
    *,
    case_id: UUID = DEFAULT_CASE_ID,
    due_at: datetime = DEFAULT_TIME,
    actor: Actor | None = None,
    event_id: UUID | None = None,
    **payload_fields: Any,
) -> EscalationRaised:
    """Build an `escalation_raised` event; its id, tier and audience follow the step given."""
    payload = _escalation_payload(case_id=case_id, due_at=due_at, **payload_fields)
    return new_event(
        EscalationRaised,
        case_id=case_id,
        payload=payload,
        actor=actor or _default_actor("escalation_raised"),
        occurred_at=payload["fired_at"],
        recorded_at=payload["fired_at"],
        event_id=event_id,
    )
