"""The write path: claim the key, publish, mark it published — one case per key, whatever races.

With an Idempotency-Key (decision 0024, state machine in claims.py):
- the first request claims the key in a committed statement of its own (digest, event, reply,
  a lease) before it publishes; every later request with another body is a 409, forever;
- the same body while the claimant publishes waits (bounded) and replays the reply, or gets a
  409 "in progress" with Retry-After when the claimant takes longer than the wait;
- a claim whose publish failed (lease released) or whose process died (lease ran out) is
  taken over by the next request with the same body, which publishes the *stored* event: the
  same event id, so it can never become a second case;
- the request whose publish Kafka acknowledged answers 201 at once; its publish mark is written
  after the answer (decision 0072), inside the claim's lease, so no retry can take the key over
  before it lands; a request that finds the key published answers 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from pydantic import BaseModel

from casegold_contracts import Event, dump, message_key
from casegold_intake.claims import Action, next_action
from casegold_intake.ports import KeyRecord, KeyStore, Publisher, StoreUnavailable, Unavailable
from casegold_platform.http import Principal

log = structlog.get_logger("casegold_intake")

_FIRST_POLL = 0.005
_LAST_POLL = 0.1


class KeyConflict(Exception):
    """The Idempotency-Key was used before with a different request (409)."""


class KeyInProgress(Exception):
    """A request with this key and body is still being written; retry later (409)."""


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


@dataclass(frozen=True, slots=True)
class _Lease:
    """This request holds the key's claim: attempt number and what it must publish."""

    attempt: int
    event: bytes
    reply: bytes


class Intake:
    """Makes one accepted request durable, exactly once per Idempotency-Key."""

    def __init__(
        self,
        *,
        publisher: Publisher,
        store: KeyStore | None,
        deadline: float = 4.5,
        wait: float = 2.0,
    ) -> None:
        self.publisher = publisher
        self.store = store
        self.deadline = deadline
        self.wait = wait
        # Requests of this process working on a key: the others wait on its event, not the DB.
        self._local: dict[tuple[str, str], asyncio.Event] = {}
        self._pending: set[asyncio.Task[None]] = set()

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
        5 s for its answer whatever combination of slow dependencies it meets.
        """
        value, reply_bytes = dump(event), reply.model_dump_json().encode()
        try:
            async with asyncio.timeout(self.deadline):
                if key is None:
                    await self.publisher.publish(message_key(event), value)
                    return Outcome(created_status, reply_bytes)
                record = KeyRecord(
                    client_id=principal.client,
                    key=key,
                    body_sha256=digest,
                    case_id=event.case_id,
                    event_id=event.event_id,
                    event=value,
                    reply=reply_bytes,
                )
                return await self._keyed(record, message_key(event), created_status, replay_status)
        except TimeoutError:
            raise RequestDeadline(f"no outcome within {self.deadline} s") from None

    async def _keyed(
        self, record: KeyRecord, partition_key: bytes, created: int, replay: int
    ) -> Outcome:
        store = self.store
        if store is None:
            raise KeysUnavailable("no key store configured")
        ident = (record.client_id, record.key)
        mine: asyncio.Event | None = None
        if ident not in self._local:
            mine = self._local[ident] = asyncio.Event()
        try:
            lease = None
            if mine is not None and await store.insert(record):
                lease = _Lease(1, record.event, record.reply)
            else:
                found = await self._settle(store, record, mine)
                if isinstance(found, bytes):
                    return Outcome(replay, found, replayed=True)
                lease = found
            try:
                await self.publisher.publish(partition_key, lease.event)
            except BaseException:
                self._release_later(store, ident, lease.attempt, mine)
                mine = None  # set once the lease is released, so local waiters see the release
                raise
            # The answer is decided: the claim is ours until its lease ends, and the lease
            # outlasts the mark's own bound. Waiters on this key are woken once it is marked.
            self._later(self._mark(store, ident, record.event_id, mine))
            mine = None
            return Outcome(created, lease.reply)
        finally:
            if mine is not None:
                self._done(ident, mine)

    async def _settle(
        self, store: KeyStore, record: KeyRecord, mine: asyncio.Event | None
    ) -> bytes | _Lease:
        """Follow the key's row until this request may publish, or has its reply to replay."""
        ident = (record.client_id, record.key)
        loop = asyncio.get_running_loop()
        until = loop.time() + self.wait
        poll = _FIRST_POLL
        while True:
            local = self._local.get(ident)
            if local is mine:
                local = None
            if local is not None:
                await _wait_for(local, until - loop.time())
            row = await store.find(*ident)
            action = next_action(row, record.body_sha256)
            if action is Action.CONFLICT:
                raise KeyConflict(record.key)
            if action is Action.REPLAY:
                assert row is not None
                return row.reply or record.reply
            if action is Action.CLAIM:  # swept, or a claimant's insert did not commit
                if await store.insert(record):
                    return _Lease(1, record.event, record.reply)
                continue
            if action is Action.TAKE_OVER:
                assert row is not None
                attempt = await store.take_over(*ident, record.body_sha256)
                if attempt is not None:
                    log.info("key taken over", attempt=attempt, event_id=str(record.event_id))
                    return _Lease(attempt, row.event or record.event, row.reply or record.reply)
                continue
            left = until - loop.time()
            if left <= 0:
                raise KeyInProgress(record.key)
            if local is None:
                await asyncio.sleep(min(poll, left))  # the claimant is another process
                poll = min(poll * 2, _LAST_POLL)

    def _later(self, step: Coroutine[Any, Any, None]) -> None:
        # In a task: the answer must not wait for it, nor its cancellation by the deadline
        # stop it. `drain` waits for these at shutdown.
        task = asyncio.get_running_loop().create_task(step)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _release_later(
        self, store: KeyStore, ident: tuple[str, str], attempt: int, mine: asyncio.Event | None
    ) -> None:
        self._later(self._release(store, ident, attempt, mine))

    async def _release(
        self, store: KeyStore, ident: tuple[str, str], attempt: int, mine: asyncio.Event | None
    ) -> None:
        try:
            await store.release(*ident, attempt)
        except Exception as error:  # its lease runs out instead
            log.warning("key lease not released", error=type(error).__name__)
        finally:
            if mine is not None:
                self._done(ident, mine)

    async def _mark(
        self, store: KeyStore, ident: tuple[str, str], event_id: UUID, mine: asyncio.Event | None
    ) -> None:
        try:
            if not await store.mark_published(*ident):
                # Another attempt marked it first: only a mark delayed past the lease does this.
                log.warning("key marked published by another attempt", event_id=str(event_id))
        except Exception as error:
            # Durable in Kafka, only the mark is lost: the lease runs out and a retry
            # re-publishes the same event id, which consumers dedupe.
            log.warning("key not marked published", event_id=str(event_id),
                        error=type(error).__name__)  # fmt: skip
        finally:
            if mine is not None:
                self._done(ident, mine)

    async def drain(self) -> None:
        """Wait for the publish marks and lease releases still being written."""
        while self._pending:
            await asyncio.wait(set(self._pending))

    def _done(self, ident: tuple[str, str], mine: asyncio.Event) -> None:
        if self._local.get(ident) is mine:
            del self._local[ident]
        mine.set()


async def _wait_for(event: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
