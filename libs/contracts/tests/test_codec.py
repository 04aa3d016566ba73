"""Round trips, tolerance of unknown fields, and the never-raising parse."""

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casegold_contracts import (
    EVENT_TYPES,
    CaseAssigned,
    CaseOpened,
    Event,
    Undecodable,
    codec,
    dump,
    message_key,
    parse,
    registry,
)
from casegold_contracts.builders import make_case_opened, make_event
from casegold_contracts.strategies import any_events, events_of

ALL_TYPES = sorted(EVENT_TYPES)


def document(event: Event) -> dict[str, Any]:
    """Return the wire form of an event as a dict, for tampering."""
    result: dict[str, Any] = json.loads(dump(event))
    return result


def encode(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_builder_event_round_trips(event_type: str) -> None:
    event = make_event(event_type)
    parsed = parse(dump(event))
    assert parsed == event
    assert type(parsed) is EVENT_TYPES[event_type].model


@pytest.mark.parametrize("event_type", ALL_TYPES)
@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_valid_event_round_trips(event_type: str, data: st.DataObject) -> None:
    event = data.draw(events_of(event_type))
    assert parse(dump(event)) == event


def test_dump_is_compact_utf8_json() -> None:
    event = make_event("note_added", text="客户要求退款 — refund")
    raw = dump(event)
    assert b'": ' not in raw and b", " not in raw
    assert "客户要求退款".encode() in raw
    assert raw.decode("utf-8")
    assert b"NaN" not in raw and b"Infinity" not in raw


def test_message_key_is_the_case_id() -> None:
    event = make_case_opened()
    assert message_key(event) == str(event.case_id).encode()


def test_unknown_fields_are_ignored_everywhere() -> None:
    event = make_case_opened()
    tampered = document(event)
    tampered["trace"] = {"span": 1}
    tampered["actor"]["team"] = "north"
    tampered["payload"]["loyalty_tier"] = "gold"
    tampered["payload"]["customer"]["vip"] = True
    assert parse(encode(tampered)) == event


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "malformed_json"),
        (b"{", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b'{"a": NaN}', "malformed_json"),
        (b'"\\ud800"', "malformed_json"),
        (b"[" * 10_000, "malformed_json"),
        (b"[]", "not_an_object"),
        (b"null", "not_an_object"),
        (b'"case_opened"', "not_an_object"),
        (b"{}", "invalid"),
        (b'{"type": 7}', "invalid"),
        (b'{"type": "case_teleported", "schema_version": 1}', "unknown_type"),
        (b'{"type": "case_opened"}', "invalid"),
        (b'{"type": "case_opened", "schema_version": true}', "invalid"),
        (b'{"type": "case_opened", "schema_version": 0}', "invalid"),
        (b'{"type": "case_opened", "schema_version": 99}', "unsupported_version"),
        (b'{"type": "case_opened", "schema_version": 1}', "invalid"),
    ],
)
def test_bad_messages_are_undecodable_with_a_reason(raw: bytes, reason: str) -> None:
    result = parse(raw)
    assert isinstance(result, Undecodable)
    assert result.reason == reason
    assert result.length == len(raw)
    assert len(result.detail) <= 300


def test_invalid_payload_names_the_field_but_not_the_value() -> None:
    tampered = document(make_case_opened())
    tampered["payload"]["customer"]["phone"] = "call me 555"
    result = parse(encode(tampered))
    assert isinstance(result, Undecodable)
    assert (result.reason, result.event_type) == ("invalid", "case_opened")
    assert "payload.customer.phone" in result.detail
    assert "555" not in result.detail


def test_unknown_type_reports_the_type() -> None:
    result = parse(b'{"type": "case_teleported"}')
    assert isinstance(result, Undecodable)
    assert result.event_type == "case_teleported"


def test_older_version_is_upcast_on_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend case_assigned went to v2 by renaming `assignee` to `owner`.
    spec = EVENT_TYPES["case_assigned"]
    monkeypatch.setattr(CaseAssigned, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(codec, "EVENT_TYPES", {"case_assigned": replace(spec, version=2)})

    def lift(envelope: dict[str, Any]) -> dict[str, Any]:
        payload = dict(envelope["payload"])
        payload["owner"] = payload.pop("assignee")
        return {**envelope, "payload": payload}

    monkeypatch.setitem(registry._UPCASTERS, ("case_assigned", 1), lift)
    old = document(make_event("case_assigned"))
    old["schema_version"] = 1
    old["payload"] = {"assignee": "agent-7"}
    parsed = parse(encode(old))
    assert isinstance(parsed, CaseAssigned)
    assert (parsed.schema_version, parsed.payload.owner) == (2, "agent-7")


def test_older_version_without_upcaster_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EVENT_TYPES["case_assigned"]
    monkeypatch.setattr(codec, "EVENT_TYPES", {"case_assigned": replace(spec, version=2)})
    result = parse(dump(make_event("case_assigned")))
    assert isinstance(result, Undecodable)
    assert result.reason == "unsupported_version"


def test_a_raising_upcaster_cannot_make_parse_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EVENT_TYPES["case_assigned"]
    monkeypatch.setattr(codec, "EVENT_TYPES", {"case_assigned": replace(spec, version=2)})

    def broken(envelope: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("payload")

    monkeypatch.setitem(registry._UPCASTERS, ("case_assigned", 1), broken)
    result = parse(dump(make_event("case_assigned")))
    assert isinstance(result, Undecodable)
    assert result.reason == "invalid"


@settings(deadline=None, max_examples=500)
@given(st.binary())
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    result = parse(raw)
    assert isinstance(result, Undecodable | Event)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(deadline=None, max_examples=300)
@given(json_values)
def test_parse_never_raises_on_arbitrary_json(value: object) -> None:
    assert isinstance(parse(encode(value)), Undecodable | Event)


@settings(deadline=None, max_examples=300)
@given(
    event_type=st.sampled_from([*ALL_TYPES, "case_teleported"]),
    version=st.one_of(st.integers(-2, 3), st.text(max_size=3), st.none()),
    envelope=st.dictionaries(st.sampled_from(["event_id", "case_id", "actor", "x"]), json_values),
    payload=json_values,
)
def test_parse_never_raises_on_envelope_shaped_json(
    event_type: str, version: object, envelope: dict[str, Any], payload: object
) -> None:
    message = {**envelope, "type": event_type, "schema_version": version, "payload": payload}
    assert isinstance(parse(encode(message)), Undecodable | Event)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(event=any_events, data=st.data())
def test_parse_never_raises_on_corrupted_events(event: Event, data: st.DataObject) -> None:
    raw = bytearray(dump(event))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    assert isinstance(parse(bytes(raw)), Undecodable | Event)


def test_parse_tolerates_non_bytes_without_raising() -> None:
    result = parse(None)  # type: ignore[arg-type]
    assert isinstance(result, Undecodable)


def test_case_opened_parses_to_its_typed_payload() -> None:
    parsed = parse(dump(make_case_opened(priority="P1")))
    assert isinstance(parsed, CaseOpened)
    assert parsed.payload.priority == "P1"
