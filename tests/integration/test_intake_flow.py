"""Intake on the real broker and PostgreSQL: envelope on the topic, replays, one case per key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from casegold_contracts import CaseOpened, Undecodable, parse
from casegold_intake import migrations
from casegold_intake.idempotency import PostgresKeyStore
from casegold_platform.ack_links import AckSigner
from casegold_platform.clock import utc_now
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from tests.support.intake import AGENT, IVR, RealApi, case_body, running_real_api

pytestmark = pytest.mark.integration

ENVELOPE = {
    "event_id",
    "case_id",
    "type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "actor",
    "payload",
}


async def read_topic(
    bootstrap: str, topic: str, at_least: int, timeout: float = 20.0
) -> list[tuple[bytes | None, bytes]]:
    """Every record of the topic, once at least `at_least` are there (fails at the deadline)."""
    # No group: a subscribed consumer assigns itself every partition and reads from the start.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        records: list[tuple[bytes | None, bytes]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend((m.key, m.value) for ms in batch.values() for m in ms if m.value)
            if consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
                on_topic = sum(ends.values())
                if on_topic >= at_least and len(records) >= on_topic:
                    return records
            assert time.monotonic() < deadline, f"read {len(records)} of {at_least} records"
    finally:
        await consumer.stop()


async def key_rows(dsn: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(
            await connection.fetch("SELECT key, case_id, published_at FROM idempotency_keys")
        )
    finally:
        await connection.close()


async def marked_rows(dsn: str, keys: set[str], timeout: float = 10.0) -> list[asyncpg.Record]:
    """The key rows once those keys carry their publish mark: it is written after the answer
    (decision 0072) and waits up to 20 ms for company (0111); failing at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await key_rows(dsn)
        if all(r["published_at"] is not None for r in rows if r["key"] in keys):
            return rows
        assert time.monotonic() < deadline, f"no publish mark on {sorted(keys)}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def topic(kafka_settings: KafkaSettings, unique: str) -> str:
    name = f"test.intake.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(name, partitions=3)])
    return name


@pytest.fixture
async def intake(
    kafka_settings: KafkaSettings, pg_schema: str, topic: str
) -> AsyncIterator[RealApi]:
    async with running_real_api(
        bootstrap=kafka_settings.bootstrap, dsn=pg_schema, topic=topic
    ) as running:
        yield running


def keyed(key: str) -> dict[str, str]:
    return {**IVR, "Idempotency-Key": key}


async def test_a_case_lands_on_the_topic_keyed_by_case_id_with_the_envelope(
    intake: RealApi, kafka_settings: KafkaSettings, topic: str, pg_schema: str
) -> None:
    response = await intake.client.post("/v1/cases", json=case_body(), headers=keyed("call-1"))
    assert response.status_code == 201, response.text
    reply = response.json()
    [(key, value)] = await read_topic(kafka_settings.bootstrap, topic, 1)
    document: dict[str, Any] = json.loads(value)
    assert set(document) == ENVELOPE
    assert key == reply["case_id"].encode() == document["case_id"].encode()
    assert document["type"] == "case_opened" and document["schema_version"] == 1
    assert document["recorded_at"].endswith("Z") and document["actor"]["kind"] == "ivr"
    event = parse(value)
    assert isinstance(event, CaseOpened) and str(event.event_id) == reply["event_id"]
    [row] = await marked_rows(pg_schema, {"call-1"})
    assert str(row["case_id"]) == reply["case_id"] and row["published_at"] is not None


async def test_replay_is_200_with_the_same_case_and_another_body_is_409(
    intake: RealApi, kafka_settings: KafkaSettings, topic: str
) -> None:
    first = await intake.client.post("/v1/cases", json=case_body(), headers=keyed("call-2"))
    replay = await intake.client.post("/v1/cases", json=case_body(), headers=keyed("call-2"))
    other = await intake.client.post(
        "/v1/cases", json=case_body(summary="Something else"), headers=keyed("call-2")
    )
    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 409)
    assert replay.json() == first.json()
    # A marker case proves the topic was read past anything the replay could have added.
    marker = await intake.client.post("/v1/cases", json=case_body(), headers=AGENT)
    records = await read_topic(kafka_settings.bootstrap, topic, 2)
    assert sorted(key for key, _ in records if key) == sorted(
        [first.json()["case_id"].encode(), marker.json()["case_id"].encode()]
    )


async def test_fifty_concurrent_posts_with_one_key_make_exactly_one_case(
    intake: RealApi, kafka_settings: KafkaSettings, topic: str, pg_schema: str
) -> None:
    responses = await asyncio.gather(
        *(
            intake.client.post("/v1/cases", json=case_body(), headers=keyed("burst"))
            for _ in range(50)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 49 + [201], statuses
    case_ids = {response.json()["case_id"] for response in responses}
    assert len(case_ids) == 1
    marker = await intake.client.post("/v1/cases", json=case_body(), headers=AGENT)
    records = await read_topic(kafka_settings.bootstrap, topic, 2)
    events = [parse(value) for _, value in records]
    assert not any(isinstance(event, Undecodable) for event in events)
    assert sorted(str(e.case_id) for e in events if not isinstance(e, Undecodable)) == sorted(
        [*case_ids, marker.json()["case_id"]]
    )
    rows = await key_rows(pg_schema)
    assert [(row["key"], str(row["case_id"])) for row in rows] == [("burst", case_ids.pop())]


async def test_readiness_and_commands_on_the_real_stack(
    intake: RealApi, kafka_settings: KafkaSettings, topic: str
) -> None:
    ready = await intake.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": True, "postgres": True}
    case = await intake.client.post("/v1/cases", json=case_body(), headers=AGENT)
    case_id = case.json()["case_id"]
    command = await intake.client.post(
        f"/v1/cases/{case_id}/commands",
        json={"command": "assign", "owner": "agent-7"},
        headers=AGENT,
    )
    assert command.status_code == 202
    records = await read_topic(kafka_settings.bootstrap, topic, 2)
    assert [key for key, _ in records] == [case_id.encode()] * 2
    assert [json.loads(value)["type"] for _, value in records] == ["case_opened", "case_assigned"]


async def test_keys_older_than_the_retention_are_swept(pg_schema: str) -> None:
    await migrations.apply(pg_schema)
    pool = await asyncpg.create_pool(pg_schema, min_size=1, max_size=2)
    assert pool is not None
    try:
        for key, age in (("old", 49), ("recent", 1)):
            await pool.execute(
                """INSERT INTO idempotency_keys
                   (client_id, key, body_sha256, case_id, event_id, published_at, created_at)
                   VALUES ('c', $1, '\\x00', gen_random_uuid(), gen_random_uuid(), now(),
                           now() - make_interval(hours => $2))""",
                key,
                age,
            )
        assert await PostgresKeyStore(pool, timeout=5).sweep(48 * 3600) == 1
        assert [row["key"] for row in await pool.fetch("SELECT key FROM idempotency_keys")] == [
            "recent"
        ]
    finally:
        await pool.close()


async def test_a_one_click_acknowledgement_lands_once_as_its_recipient(
    kafka_settings: KafkaSettings, pg_schema: str, topic: str
) -> None:
    signer = AckSigner(b"integration-ack-link-secret", timedelta(hours=72))
    escalation, case = uuid4(), uuid4()
    token = signer.sign(escalation, case, "dept-manager", utc_now())
    async with running_real_api(
        bootstrap=kafka_settings.bootstrap, dsn=pg_schema, topic=topic, ack=signer
    ) as running:
        first = await running.client.post(f"/ack/{token}")
        second = await running.client.post(f"/ack/{token}")
    assert first.status_code == 200 and 'id="done"' in first.text
    assert second.status_code == 200 and 'id="repeat"' in second.text
    [(key, value)] = await read_topic(kafka_settings.bootstrap, topic, at_least=1)
    event = json.loads(value)
    assert key == str(case).encode() and event["type"] == "escalation_acknowledged"
    assert event["actor"] == {"kind": "manager", "id": "dept-manager"}
    assert event["payload"] == {"escalation_id": str(escalation)}
    [row] = await key_rows(pg_schema)
    assert row["published_at"] is not None, "the mark landed before the app stopped"
