"""The two ports of intake — where events go and where keys are remembered — and their errors."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


class Unavailable(Exception):
    """A dependency could not take the write in time; the client should retry (503)."""

    reason: str = "unavailable"


class PublishUnavailable(Unavailable):
    """Kafka did not acknowledge the event in time."""

    reason = "kafka"


class StoreUnavailable(Unavailable):
    """PostgreSQL did not answer in time."""

    reason = "postgres"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What intake remembers about an Idempotency-Key: the request's digest and its outcome."""

    client_id: str
    key: str
    body_sha256: bytes
    case_id: UUID
    event_id: UUID
    event: bytes
    reply: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """What the key store found for a key, while the key is held for this request.

    `fresh`: this request made the row. Otherwise `conflict` (another body used the key),
    or the earlier outcome: `published` (replay the reply), or not (re-publish `event`).
    """

    fresh: bool
    conflict: bool
    published: bool
    event: bytes
    reply: bytes


class HeldKey(Protocol):
    """A claimed key; the claim ends (commits) when its context exits without error."""

    claim: Claim

    async def mark_published(self) -> None:
        """Record that the event is durable in Kafka."""


class KeyStore(Protocol):
    """Remembers Idempotency-Keys; holds one key per request for its whole duration."""

    def hold(self, record: KeyRecord) -> AbstractAsyncContextManager[HeldKey]:
        """Insert the record or lock the existing one; roll back if the body raises."""

    async def ready(self) -> bool:
        """Whether the store answers."""


class Publisher(Protocol):
    """Appends events to Kafka with acks=all."""

    async def publish(self, key: bytes, value: bytes) -> None:
        """Return once the broker acknowledged the write; raise PublishUnavailable otherwise."""

    async def ready(self) -> bool:
        """Whether a producer is connected to a broker."""
