"""JSON encoding of events: `dump` for producers, `parse` (never raises) for consumers."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, cast, overload
from uuid import UUID, uuid4

from pydantic import ValidationError
from pydantic_core import from_json

from . import upcasters  # noqa: F401  (registers the upcasters on import)
from .envelope import Actor, Event, Payload
from .events import AnyEvent, ParsedEvent
from .registry import EVENT_TYPES, UPCASTERS

UndecodableReason = Literal[
    "malformed_json", "not_an_object", "unknown_type", "unsupported_version", "invalid"
]
_DETAIL_MAX = 300

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A message `parse` could not turn into an event: skip it, count it, log it."""

    reason: UndecodableReason
    detail: str
    length: int
    event_type: str | None = None


def dump(event: Event) -> bytes:
    """Encode an event as compact UTF-8 JSON."""
    return event.model_dump_json().encode("utf-8")


def message_key(event: Event) -> bytes:
    """Return the Kafka message key of an event: its case id."""
    return str(event.case_id).encode("ascii")


def parse(data: bytes) -> ParsedEvent | Undecodable:
    """Decode one message into its typed event, or say why not; never raises."""
    try:
        return _parse(data)
    except Exception as error:  # a poison message must never stop a partition
        return Undecodable("invalid", f"unexpected {type(error).__name__}", _length(data))


def _length(data: object) -> int:
    return len(data) if isinstance(data, bytes | bytearray | memoryview | str) else 0


def _parse(data: bytes) -> ParsedEvent | Undecodable:
    length = len(data)
    try:
        # pydantic-core's parser rejects invalid UTF-8, lone surrogates, NaN and deep nesting.
        document = from_json(data, allow_inf_nan=False)
    except ValueError as error:
        return Undecodable("malformed_json", _short(str(error)), length)
    if not isinstance(document, dict):
        return Undecodable("not_an_object", type(document).__name__, length)
    event_type = document.get("type")
    if not isinstance(event_type, str):
        return Undecodable("invalid", "type: missing or not a string", length)
    spec = EVENT_TYPES.get(event_type)
    if spec is None:
        return Undecodable("unknown_type", _short(event_type), length, _short(event_type))
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return Undecodable(
            "invalid", "schema_version: not a positive integer", length, spec.event_type
        )
    if version > spec.version:
        detail = f"version {version} is newer than {spec.version}"
        return Undecodable("unsupported_version", detail, length, spec.event_type)
    while version < spec.version:
        upcaster = UPCASTERS.get((spec.event_type, version))
        if upcaster is None:
            detail = f"no upcaster from version {version}"
            return Undecodable("unsupported_version", detail, length, spec.event_type)
        document = {**upcaster(document), "schema_version": version + 1}
        version += 1
    try:
        event = spec.model.model_validate(document)
    except ValidationError as error:
        return Undecodable("invalid", _errors(error), length, spec.event_type)
    return cast(ParsedEvent, event)


def _errors(error: ValidationError) -> str:
    # Field paths and messages only: input values may hold a customer's phone number.
    parts = [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    return _short("; ".join(parts))


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


@overload
def new_event(
    event_type: type[E],
    case_id: UUID,
    payload: Payload | Mapping[str, Any],
    actor: Actor,
    occurred_at: datetime,
    recorded_at: datetime,
    event_id: UUID | None = None,
) -> E: ...


@overload
def new_event(
    event_type: str,
    case_id: UUID,
    payload: Payload | Mapping[str, Any],
    actor: Actor,
    occurred_at: datetime,
    recorded_at: datetime,
    event_id: UUID | None = None,
) -> AnyEvent: ...


def new_event(
    event_type: type[Event] | str,
    case_id: UUID,
    payload: Payload | Mapping[str, Any],
    actor: Actor,
    occurred_at: datetime,
    recorded_at: datetime,
    event_id: UUID | None = None,
) -> Event:
    """Build a validated event at its type's current version; times are always passed in."""
    model = EVENT_TYPES[event_type].model if isinstance(event_type, str) else event_type
    return model.model_validate(
        {
            "event_id": event_id if event_id is not None else uuid4(),
            "case_id": case_id,
            "schema_version": model.SCHEMA_VERSION,
            "occurred_at": occurred_at,
            "recorded_at": recorded_at,
            "actor": actor,
            "payload": payload,
        }
    )
