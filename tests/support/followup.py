"""The follow-up service in-process (real PostgreSQL, real broker), for integration tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager

from casegold_contracts import Event, dump, message_key, parse
from casegold_contracts.builders import DEFAULT_TIME, make_event
from casegold_followup.settings import FollowupSettings
from casegold_followup.wiring import Parts, create_app
from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_sla import PolicySet, load_policy
from tests.support import repo_root

FAST_POLICY = os.path.join(repo_root(), "deploy", "policy", "fast.yaml")
REVISIT_KEY = {"Authorization": "Bearer dev-revisit-key"}
AGENT_KEY = {"Authorization": "Bearer dev-agent-key"}


class ManualClock:
    """A clock the test moves."""

    def __init__(self, start: datetime = DEFAULT_TIME) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Followup:
    """A running app: its HTTP client, its inside parts, and the topic it reads and writes."""

    client: httpx.AsyncClient
    parts: Parts
    topic: str
    kafka: KafkaSettings

    async def publish(self, events: Iterable[Event | tuple[bytes, bytes]]) -> None:
        """Append the records, acks=all; in order per key (the idempotent producer keeps it).

        Sent together, not one acknowledged round trip after another: 2,000 events one at a
        time took 10 s on a quiet machine and minutes on a loaded one.
        """
        records = [e if isinstance(e, tuple) else (message_key(e), dump(e)) for e in events]
        producer = durable_producer(self.kafka)
        await producer.start()
        try:
            sent = [await producer.send(self.topic, value, key=key) for key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def lease(self, agent: str, limit: int = 1, **extra: Any) -> list[dict[str, Any]]:
        reply = await self.client.post(
            "/v1/callbacks/lease",
            json={"agent_id": agent, "limit": limit, **extra},
            headers=REVISIT_KEY,
        )
        assert reply.status_code == 200, reply.text
        callbacks: list[dict[str, Any]] = reply.json()["callbacks"]
        return callbacks

    async def outcome(self, callback: dict[str, Any], **body: Any) -> httpx.Response:
        body.setdefault("lease_token", callback["lease_token"])
        return await self.client.post(
            f"/v1/callbacks/{callback['callback_id']}/outcome", json=body, headers=REVISIT_KEY
        )

    async def due(self) -> dict[str, int]:
        reply = await self.client.get("/v1/callbacks", headers=AGENT_KEY)
        assert reply.status_code == 200, reply.text
        due: dict[str, int] = reply.json()["queue"]["due"]
        return due


@asynccontextmanager
async def running_followup(
    kafka: KafkaSettings,
    dsn: str,
    *,
    topic: str,
    clock: Callable[[], datetime],
    background: bool = True,
    policy: PolicySet | None = None,
    **settings: Any,
) -> AsyncIterator[Followup]:
    """The app with its lifespan open, reading `topic` from its start with a fresh group."""
    await ensure_topics(kafka.bootstrap, [TopicSpec(topic, kafka.partitions)])
    settings.setdefault("group_id", f"followup-{uuid4().hex[:8]}")
    config = FollowupSettings(
        dev_keys=True,
        topic=topic,
        promote_interval_seconds=0.05,
        expire_interval_seconds=0.05,
        **settings,
    )
    app = create_app(
        settings=config,
        policy=policy or load_policy(FAST_POLICY),
        kafka=kafka,
        dsn=dsn,
        clock=clock,
        background=background,
    )
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://followup") as client:
            yield Followup(client, app.state.parts, topic, kafka)


def resolved_case(case_id: UUID, at: datetime = DEFAULT_TIME, **opened: Any) -> list[Event]:
    """case_opened then case_resolved an hour later."""
    return [
        make_event("case_opened", case_id=case_id, at=at, **opened),
        make_event("case_resolved", case_id=case_id, at=at + timedelta(hours=1)),
    ]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll `check` until true; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def read_topic(
    kafka: KafkaSettings, topic: str, done: Callable[[list[Event]], bool], timeout: float
) -> list[Event]:
    """Every decodable event of a topic from its start, read until done(events) or timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    events: list[Event] = []
    try:
        deadline = time.monotonic() + timeout
        drained = False
        # Until done, then on until a poll finds nothing more (so extra events are seen too).
        while not (done(events) and drained) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            drained = not batch
            for messages in batch.values():
                for message in messages:
                    parsed = parse(message.value or b"")
                    if isinstance(parsed, Event):
                        events.append(parsed)
        return events
    finally:
        await consumer.stop()
