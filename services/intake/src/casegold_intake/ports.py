"""The two ports of intake — where events go and where keys are remembered — and their errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from casegold_intake.claims import KeyRow


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


class KeyStore(Protocol):
    """Remembers Idempotency-Keys: one short, committed statement per step (decision 0024)."""

    async def insert(self, record: KeyRecord) -> bool:
        """Claim the key for this request (attempt 1); False when a row already exists."""

    async def find(self, client_id: str, key: str) -> KeyRow | None:
        """The key's row as it is now, or None."""

    async def take_over(self, client_id: str, key: str, digest: bytes) -> int | None:
        """Lease a claim whose lease ended to this request; its attempt number, or None."""

    async def mark_published(self, client_id: str, key: str) -> bool:
        """Record the event as durable; True when this was the first mark (the 201)."""

    async def release(self, client_id: str, key: str, attempt: int) -> None:
        """End attempt `attempt`'s lease early (its publish failed): a retry may take over."""

    async def ready(self) -> bool:
        """Whether the store answers."""


class Publisher(Protocol):
    """Appends events to Kafka with acks=all."""

    async def publish(self, key: bytes, value: bytes) -> None:
        """Return once the broker acknowledged the write; raise PublishUnavailable otherwise."""

    async def ready(self) -> bool:
        """Whether a producer is connected to a broker."""
