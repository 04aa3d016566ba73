"""The write path: remember the key, publish, confirm — so retries never lose or double a case.

With an Idempotency-Key, a PostgreSQL transaction holds the key's row until the event is
durable: insert it (or lock the existing row), publish to Kafka, then commit (decision 0021).
A row is never committed before its event is durable, so `published_at` comes with the insert.
- A concurrent request with the same key waits on the row lock, then replays the reply.
- Kafka down: the row is not committed, so the table holds nothing and a retry starts afresh.
- A crash after publishing but before commit loses the row; the retry re-makes the same
  event (ids derive from client, key and body), so consumers dedupe it by `event_id`.
- A committed row with `published_at` NULL (never written by this code, but possible from a
  manual fix) is re-published from the stored event bytes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from pydantic import BaseModel

from casegold_contracts import Event, dump, message_key
from casegold_intake.ports import KeyRecord, KeyStore, Publisher, StoreUnavailable, Unavailable
from casegold_platform.http import Principal

log = structlog.get_logger("casegold_intake")


class KeyConflict(Exception):
    """The Idempotency-Key was used before with a different request (409)."""


class RequestDeadline(Unavailable):
    """The dependencies together took longer than the request's deadline."""

    reason = "deadline"


class KeysUnavailable(StoreUnavailable):
    """Keyed requests need the key store, and none is configured."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to answer: the status and the JSON reply bytes."""

    status: int
    body: bytes
    replayed: bool = False


class Intake:
    """Makes one accepted request durable, exactly once per Idempotency-Key."""

    def __init__(
        self, *, publisher: Publisher, store: KeyStore | None, deadline: float = 4.5
    ) -> None:
        self.publisher = publisher
        self.store = store
        self.deadline = deadline

    async def submit(
        self,
        *,
        principal: Principal,
        key: str | None,
        digest: bytes,
        event: Event,
        reply: BaseModel,
        created_status: int,
        replay_status: int,
    ) -> Outcome:
        """Publish the event (once per key) and return the reply to send, within the deadline.

        Each step has its own bound; the deadline caps their sum, so a client waits less than
        5 s for its 503 whatever combination of slow dependencies it meets.
        """
        statuses = (created_status, replay_status)
        try:
            async with asyncio.timeout(self.deadline):
                return await self._submit(principal, key, digest, event, reply, statuses)
        except TimeoutError:
            raise RequestDeadline(f"no outcome within {self.deadline} s") from None

    async def _submit(
        self,
        principal: Principal,
        key: str | None,
        digest: bytes,
        event: Event,
        reply: BaseModel,
        statuses: tuple[int, int],
    ) -> Outcome:
        created_status, replay_status = statuses
        value, reply_bytes = dump(event), reply.model_dump_json().encode()
        if key is None:
            await self.publisher.publish(message_key(event), value)
            return Outcome(created_status, reply_bytes)
        if self.store is None:
            raise KeysUnavailable("no key store configured")
        record = KeyRecord(
            client_id=principal.client,
            key=key,
            body_sha256=digest,
            case_id=event.case_id,
            event_id=event.event_id,
            event=value,
            reply=reply_bytes,
        )
        published = False
        try:
            async with self.store.hold(record) as held:
                claim = held.claim
                if claim.conflict:
                    raise KeyConflict(key)
                if claim.published:
                    return Outcome(replay_status, claim.reply, replayed=True)
                await self.publisher.publish(message_key(event), claim.event)
                published = True
                await held.mark_published()
                status = created_status if claim.fresh else replay_status
                return Outcome(status, claim.reply, replayed=not claim.fresh)
        except StoreUnavailable:
            if not published:
                raise
            # Durable in Kafka, only the key was not remembered: a retry re-makes the same
            # event id, which consumers dedupe. The client's write did happen, so say so.
            log.warning("key not remembered after publishing", event_id=str(event.event_id))
            return Outcome(created_status, reply_bytes)
