"""Validation rules of the envelope and the payloads."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from casegold_contracts import (
    CaseAcknowledged,
    CaseOpenedPayload,
    Customer,
    EscalationRaisedPayload,
    RevisitOutcomeRecordedPayload,
    dump,
    new_event,
    parse,
    rfc3339,
)
from casegold_contracts.builders import (
    DEFAULT_TIME,
    make_actor,
    make_case_opened,
    make_case_opened_payload,
    make_escalation_raised,
    make_event,
)
from casegold_contracts.strategies import aware_datetimes


def error_paths(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


@settings(deadline=None)
@given(aware_datetimes, aware_datetimes)
def test_envelope_timestamps_are_always_utc(occurred: datetime, recorded: datetime) -> None:
    event = make_event("case_acknowledged", at=occurred, recorded_at=recorded)
    assert event.occurred_at.tzinfo is UTC and event.recorded_at.tzinfo is UTC
    assert (event.occurred_at, event.recorded_at) == (occurred, recorded)
    parsed = parse(dump(event))
    assert isinstance(parsed, CaseAcknowledged)
    assert parsed == event
    assert parsed.occurred_at.tzinfo is not None
    assert parsed.occurred_at.utcoffset() == timedelta(0)


def test_timestamps_serialise_as_rfc3339_with_z() -> None:
    beijing = timezone(timedelta(hours=8))
    event = make_event("case_acknowledged", at=datetime(2025, 3, 15, 17, 30, tzinfo=beijing))
    assert b'"occurred_at":"2025-03-15T09:30:00Z"' in dump(event)


@settings(deadline=None)
@given(aware_datetimes, aware_datetimes)
def test_timestamps_on_the_wire_are_always_rfc3339(occurred: datetime, recorded: datetime) -> None:
    # pydantic-core encodes the UTC-held field itself: byte for byte `rfc3339` of the value.
    encoded = dump(make_event("case_acknowledged", at=occurred, recorded_at=recorded))
    assert f'"occurred_at":"{rfc3339(occurred)}"'.encode() in encoded
    assert f'"recorded_at":"{rfc3339(recorded)}"'.encode() in encoded


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        make_event("case_acknowledged", at=datetime(2025, 3, 15, 9, 30))
    assert "occurred_at" in error_paths(caught.value)


@pytest.mark.parametrize(
    ("given_phone", "stored"),
    [
        ("+86 138-0013-8000", "+8613800138000"),
        ("(555) 123.4567", "5551234567"),
        ("1234567", "1234567"),
    ],
)
def test_phone_is_normalised(given_phone: str, stored: str) -> None:
    assert Customer(phone=given_phone).phone == stored


@pytest.mark.parametrize(
    "phone", ["123456", "1" * 21, "++123456789", "12345678+", "call 5551234", "١٢٣٤٥٦٧٨", ""]
)
def test_bad_phones_are_refused_with_the_field_path(phone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CaseOpenedPayload.model_validate(make_case_opened_payload(customer={"phone": phone}))
    assert "customer.phone" in error_paths(caught.value)


@pytest.mark.parametrize(
    ("field", "limit"),
    [("summary", 500), ("description", 10_000), ("category", 64), ("product", 200)],
)
def test_free_text_is_bounded(field: str, limit: int) -> None:
    CaseOpenedPayload.model_validate(make_case_opened_payload(**{field: "x" * limit}))
    with pytest.raises(ValidationError) as caught:
        CaseOpenedPayload.model_validate(make_case_opened_payload(**{field: "x" * (limit + 1)}))
    assert field in error_paths(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("summary", "   "),
        ("category", ""),
        ("channel", "fax"),
        ("priority", "P5"),
        ("customer_key", "not-a-hash"),
    ],
)
def test_case_opened_rejects(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        CaseOpenedPayload.model_validate(make_case_opened_payload(**{field: value}))
    assert field in error_paths(caught.value)


def test_case_resolved_requires_a_root_cause() -> None:
    with pytest.raises(ValidationError) as caught:
        make_event("case_resolved", payload={"resolution": "Refunded"})
    assert "payload.root_cause" in error_paths(caught.value)


def test_revisit_outcome_rules() -> None:
    callback_id = uuid4()
    with pytest.raises(ValidationError):
        RevisitOutcomeRecordedPayload(callback_id=callback_id, outcome="satisfied")
    with pytest.raises(ValidationError):
        RevisitOutcomeRecordedPayload(callback_id=callback_id, outcome="satisfied", score=6)
    with pytest.raises(ValidationError):
        RevisitOutcomeRecordedPayload(callback_id=callback_id, outcome="unsatisfied")
    unreachable = RevisitOutcomeRecordedPayload(
        callback_id=callback_id, outcome="unreachable", attempt=3
    )
    assert unreachable.score is None


def test_escalation_tier_must_match_step() -> None:
    event = make_escalation_raised(step="tier_2")
    assert (event.payload.tier, event.payload.audience) == (2, "department_manager")
    data = event.payload.model_dump()
    with pytest.raises(ValidationError):
        EscalationRaisedPayload.model_validate({**data, "tier": 1})


def test_events_are_frozen() -> None:
    event = make_case_opened()
    with pytest.raises(ValidationError):
        event.case_id = uuid4()  # type: ignore[misc]


def test_a_direct_event_gets_its_current_version_and_refuses_others() -> None:
    fields: dict[str, Any] = {
        "event_id": uuid4(),
        "case_id": uuid4(),
        "occurred_at": DEFAULT_TIME,
        "recorded_at": DEFAULT_TIME,
        "actor": make_actor(),
    }
    assert CaseAcknowledged.model_validate(fields).schema_version == 1
    with pytest.raises(ValidationError):
        CaseAcknowledged.model_validate({**fields, "schema_version": 2})


def test_new_event_by_type_name_and_by_class() -> None:
    case_id, event_id = uuid4(), uuid4()
    by_name = new_event(
        "case_assigned",
        case_id,
        {"owner": "agent-9"},
        make_actor(),
        DEFAULT_TIME,
        DEFAULT_TIME,
        event_id=event_id,
    )
    by_class = new_event(
        type(by_name),
        case_id,
        {"owner": "agent-9"},
        make_actor(),
        DEFAULT_TIME,
        DEFAULT_TIME,
        event_id=event_id,
    )
    assert by_name == by_class
    assert by_name.event_id == event_id


def test_builders_override_payload_and_envelope() -> None:
    case_id = uuid4()
    event = make_case_opened(case_id=case_id, priority="P1", customer={"phone": "+1 555 0100 999"})
    assert event.case_id == case_id
    assert event.payload.priority == "P1"
    assert event.payload.customer.phone == "+15550100999"
    assert event.payload.customer_key != make_case_opened().payload.customer_key
