"""Registry of event types: model, payload model, current version, topic, upcasters."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, get_args

from .envelope import Event, Payload
from .events import CaseEvent, EscalationEvent
from .topics import CASE_EVENTS, ESCALATIONS

# Turns an envelope dict at version N into one at N + 1 (the codec bumps schema_version).
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What the platform knows about one event type."""

    event_type: str
    model: type[Event]
    payload_model: type[Payload]
    version: int
    topic: str


def _members(union: Any) -> tuple[type[Event], ...]:
    # The unions are Annotated[A | B | ..., Field(...)]: the first argument is the bare union.
    inner = get_args(union)[0] if get_args(union) else union
    return get_args(inner) or (inner,)


def _spec(model: type[Event], topic: str) -> EventSpec:
    event_type = model.model_fields["type"].default
    payload_model = model.model_fields["payload"].annotation
    assert isinstance(event_type, str) and isinstance(payload_model, type)
    assert issubclass(payload_model, Payload)
    return EventSpec(event_type, model, payload_model, model.SCHEMA_VERSION, topic)


EVENT_TYPES: Final[Mapping[str, EventSpec]] = MappingProxyType(
    {
        spec.event_type: spec
        for spec in [
            *(_spec(model, CASE_EVENTS) for model in _members(CaseEvent)),
            *(_spec(model, ESCALATIONS) for model in _members(EscalationEvent)),
        ]
    }
)

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
UPCASTERS: Final[Mapping[tuple[str, int], Upcaster]] = MappingProxyType(_UPCASTERS)


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the function that lifts `event_type` from `from_version` to the next one."""

    def register(upcaster: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
        _UPCASTERS[key] = upcaster
        return upcaster

    return register


def event_types_on(topic: str) -> tuple[str, ...]:
    """Return the event types carried by `topic`."""
    return tuple(spec.event_type for spec in EVENT_TYPES.values() if spec.topic == topic)
