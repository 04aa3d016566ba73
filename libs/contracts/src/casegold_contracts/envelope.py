"""The event envelope of SPEC §2, shared by every topic."""

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .fields import ShortText, UtcDatetime
from .vocabulary import ActorKind


class ContractModel(BaseModel):
    """Base of every model on the wire: immutable, unknown fields ignored."""

    # Unknown fields are ignored so an older consumer can read a newer producer's events.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Payload(ContractModel):
    """Base of every event payload."""


class Actor(ContractModel):
    """Who caused the event."""

    kind: ActorKind
    id: ShortText


class Event(ContractModel):
    """Envelope fields common to every event type; subclasses fix `type` and `payload`."""

    # Current version of the event type; an event class raises it on a breaking change.
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID
    case_id: UUID
    type: str
    schema_version: int = Field(default=1, ge=1)
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    actor: Actor
    payload: Payload

    @model_validator(mode="before")
    @classmethod
    def _default_version(cls, data: Any) -> Any:
        # A directly built event is at its class's current version unless told otherwise.
        if isinstance(data, dict) and "schema_version" not in data:
            return {**data, "schema_version": cls.SCHEMA_VERSION}
        return data

    @model_validator(mode="after")
    def _current_version_only(self) -> "Event":
        # Older versions reach a model only through the codec's upcasters.
        if self.schema_version != self.SCHEMA_VERSION:
            raise ValueError(
                f"{self.type} is at schema_version {self.SCHEMA_VERSION}, got {self.schema_version}"
            )
        return self
