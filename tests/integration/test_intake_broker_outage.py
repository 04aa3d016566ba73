"""Broker stopped: a 503 with Retry-After within 5 s, nothing written; restarted: the retry works.

Runs on a scratch broker of its own; the shared broker is never stopped.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from casegold_contracts import Undecodable, parse
from casegold_platform.kafka import TopicSpec, ensure_topics
from tests.integration.test_intake_flow import marked_rows, read_topic
from tests.support.brokers import ScratchBroker
from tests.support.intake import IVR, RealApi, case_body, running_real_api

pytestmark = pytest.mark.integration

TOPIC = "test.intake.outage"


def keyed(key: str) -> dict[str, str]:
    return {**IVR, "Idempotency-Key": key}


async def wait_ready(intake: RealApi, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (await intake.client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "intake not ready again after the broker restart"
        await asyncio.sleep(0.2)


async def test_broker_down_is_a_fast_503_and_the_retry_after_restart_makes_one_case(
    scratch_broker: ScratchBroker, pg_schema: str
) -> None:
    await ensure_topics(scratch_broker.bootstrap, [TopicSpec(TOPIC, partitions=2)])
    async with running_real_api(
        bootstrap=scratch_broker.bootstrap, dsn=pg_schema, topic=TOPIC
    ) as intake:
        before = await intake.client.post("/v1/cases", json=case_body(), headers=keyed("before"))
        assert before.status_code == 201

        await asyncio.to_thread(scratch_broker.stop)
        body = case_body(summary="Posted while the broker was down")
        started = time.monotonic()
        refused = await intake.client.post("/v1/cases", json=body, headers=keyed("outage"))
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert elapsed < 5.0, f"503 took {elapsed:.1f} s"
        assert int(refused.headers["Retry-After"]) >= 1
        # The refused key stays claimed for its body, unpublished (decision 0024).
        rows = sorted(
            (row["key"], row["published_at"] is not None)
            for row in await marked_rows(pg_schema, {"before"})
        )
        assert rows == [("before", True), ("outage", False)]
        assert (await intake.client.get("/readyz")).status_code == 503

        await asyncio.to_thread(scratch_broker.start)
        await wait_ready(intake, timeout=60)
        retried = await intake.client.post("/v1/cases", json=body, headers=keyed("outage"))
        assert retried.status_code == 201, retried.text
        replay = await intake.client.post("/v1/cases", json=body, headers=keyed("outage"))
        assert replay.status_code == 200 and replay.json() == retried.json()

        # Killed hard while idle: the producer left over must not stop intake for good
        # (aiokafka#1017); a retried post succeeds once the broker is back.
        await asyncio.to_thread(scratch_broker.kill_hard)
        await asyncio.to_thread(scratch_broker.start)
        after_body = case_body(summary="Posted after a hard restart")
        deadline = time.monotonic() + 60
        while True:
            after = await intake.client.post("/v1/cases", json=after_body, headers=keyed("after"))
            if after.status_code == 201:
                break
            assert after.status_code == 503 and time.monotonic() < deadline, after.text
            await asyncio.sleep(0.2)

    records = await read_topic(scratch_broker.bootstrap, TOPIC, 3)
    events = [parse(value) for _, value in records]
    assert not any(isinstance(event, Undecodable) for event in events)
    case_ids = sorted(str(e.case_id) for e in events if not isinstance(e, Undecodable))
    expected = [before.json()["case_id"], retried.json()["case_id"], after.json()["case_id"]]
    assert case_ids == sorted(expected), "each case exactly once on the topic"
