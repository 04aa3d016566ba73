"""The callback queue against the real PostgreSQL and broker: leases, fencing, outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from casegold_contracts import CaseClosed, CaseReopened, Event, RevisitOutcomeRecorded
from casegold_followup.adapters.kafka import KafkaPublisher
from casegold_platform.settings import KafkaSettings
from tests.support.followup import (
    AGENT_KEY,
    Followup,
    ManualClock,
    eventually,
    read_topic,
    resolved_case,
    running_followup,
)

pytestmark = pytest.mark.integration


async def queued(app: Followup, count: int, timeout: float = 60) -> None:
    async def enough() -> bool:
        return sum((await app.due()).values()) >= count

    await eventually(enough, timeout, f"{count} callbacks in the queue")


def of_type(events: list[Event], kind: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_twenty_agents_lease_each_callback_exactly_once(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    cases = [uuid4() for _ in range(1000)]
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-{unique}", clock=clock, pool_max=12
    ) as app:
        await app.publish([e for case in cases for e in resolved_case(case)])
        clock.advance(hours=2)  # past resolution + 10 s (fast policy)
        await queued(app, len(cases))
        leased: list[tuple[str, str]] = []
        answers: list[int] = []

        async def agent(name: str) -> None:
            while True:
                got = await app.lease(name, limit=3)
                if not got:
                    return
                for callback in got:
                    leased.append((callback["callback_id"], name))
                    reply = await app.outcome(callback, outcome="satisfied", score=4)
                    answers.append(reply.status_code)

        await asyncio.gather(*(agent(f"agent-{n}") for n in range(20)))
        ids = Counter(callback_id for callback_id, _ in leased)
        assert len(ids) == len(cases)
        assert max(ids.values()) == 1, "a callback was leased twice"
        assert Counter(answers) == {200: len(cases)}
        assert len({name for _, name in leased}) > 1
        assert await app.due() == {"revisit": 0, "promise": 0}

    def complete(events: list[Event]) -> bool:
        return len(of_type(events, CaseClosed)) >= len(cases)

    events = await read_topic(kafka_settings, f"followup-{unique}", complete, timeout=60)
    recorded = of_type(events, RevisitOutcomeRecorded)
    closed = of_type(events, CaseClosed)
    assert sorted(str(e.payload.callback_id) for e in recorded) == sorted(ids)
    assert Counter(e.case_id for e in closed) == Counter(cases)
    assert {e.payload.outcome for e in closed} == {"satisfied"}


async def test_expired_lease_returns_and_a_stale_token_is_fenced(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    case = uuid4()
    topic = f"followup-{unique}"
    async with running_followup(kafka_settings, pg_schema, topic=topic, clock=clock) as app:
        await app.publish(resolved_case(case))
        clock.advance(hours=2)
        await queued(app, 1)
        [first] = await app.lease("agent-a")
        assert await app.lease("agent-b") == []  # held: nobody else gets it
        clock.advance(seconds=31)  # the fast policy's lease is 30 s

        async def released() -> bool:
            again = await app.lease("agent-b")
            if again:
                held.extend(again)
            return bool(again)

        held: list[dict[str, Any]] = []
        await eventually(released, 10, "the expired lease back in the queue")
        [second] = held
        assert second["callback_id"] == first["callback_id"]
        assert second["lease_token"] != first["lease_token"]
        stale = await app.outcome(first, outcome="satisfied", score=5)
        assert stale.status_code == 409
        stale_release = await app.client.post(
            f"/v1/callbacks/{first['callback_id']}/release",
            json={"lease_token": first["lease_token"]},
            headers={"Authorization": "Bearer dev-revisit-key"},
        )
        assert stale_release.status_code == 409
        ok = await app.outcome(second, outcome="satisfied", score=5)
        assert ok.status_code == 200, ok.text
        replay = await app.outcome(second, outcome="satisfied", score=5)
        assert (replay.status_code, replay.json()) == (200, ok.json())
        different = await app.outcome(second, outcome="unsatisfied", reason="changed my mind")
        assert different.status_code == 409

    events = await read_topic(
        kafka_settings, topic, lambda e: len(of_type(e, CaseClosed)) >= 1, timeout=30
    )
    assert len(of_type(events, RevisitOutcomeRecorded)) == 1
    assert len(of_type(events, CaseClosed)) == 1


async def test_every_outcome_makes_its_case_event(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    satisfied, unsatisfied, wrong, unreachable = (uuid4() for _ in range(4))
    topic = f"followup-{unique}"
    async with running_followup(kafka_settings, pg_schema, topic=topic, clock=clock) as app:
        for case in (satisfied, unsatisfied, wrong, unreachable):
            await app.publish(resolved_case(case))
        clock.advance(hours=2)
        await queued(app, 4)
        by_case = {UUID(c["case_id"]): c for c in await app.lease("agent-a", limit=4)}
        assert set(by_case) == {satisfied, unsatisfied, wrong, unreachable}
        replies = [
            await app.outcome(by_case[satisfied], outcome="satisfied", score=5),
            await app.outcome(by_case[unsatisfied], outcome="unsatisfied", reason="still leaks"),
            await app.outcome(by_case[wrong], outcome="wrong_number"),
        ]
        assert [r.status_code for r in replies] == [200, 200, 200]
        flagged = await app.client.get("/v1/callbacks?flag=wrong_number", headers=AGENT_KEY)
        assert [c["case_id"] for c in flagged.json()["callbacks"]] == [str(wrong)]
        callback = by_case[unreachable]
        for attempt in (1, 2, 3):
            assert callback["attempt"] == attempt
            reply = await app.outcome(callback, outcome="unreachable")
            assert reply.status_code == 200, reply.text
            assert reply.json()["settled"] == ("retry" if attempt < 3 else "done")
            if attempt < 3:
                assert await app.lease("agent-a") == []  # the retry waits its 5 s
                clock.advance(seconds=6)
                await queued(app, 1)
                [callback] = await app.lease("agent-a")

    def complete(events: list[Event]) -> bool:
        return len(of_type(events, CaseClosed)) >= 2 and len(of_type(events, CaseReopened)) >= 1

    events = await read_topic(kafka_settings, topic, complete, timeout=30)
    closed = {e.case_id: e.payload.outcome for e in of_type(events, CaseClosed)}
    assert closed == {satisfied: "satisfied", unreachable: "unreachable"}
    assert [e.case_id for e in of_type(events, CaseReopened)] == [unsatisfied]
    recorded = Counter(
        (e.case_id, e.payload.outcome) for e in of_type(events, RevisitOutcomeRecorded)
    )
    assert recorded == {
        (satisfied, "satisfied"): 1,
        (unsatisfied, "unsatisfied"): 1,
        (wrong, "wrong_number"): 1,
        (unreachable, "unreachable"): 3,
    }


async def test_broker_down_answers_503_and_records_nothing(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    topic = f"followup-{unique}"
    async with running_followup(kafka_settings, pg_schema, topic=topic, clock=clock) as app:
        await app.publish(resolved_case(uuid4()))
        clock.advance(hours=2)
        await queued(app, 1)
        [callback] = await app.lease("agent-a")
        queue = app.parts.queue
        assert queue is not None
        working = queue.publisher
        dead = KafkaSettings(bootstrap="127.0.0.1:9", request_timeout_ms=500)
        queue.publisher = KafkaPublisher(dead, topic, timeout=1.0)
        refused = await app.outcome(callback, outcome="satisfied", score=5)
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        connection = await asyncpg.connect(pg_schema)
        try:
            assert await connection.fetchval("SELECT count(*) FROM followup_outcomes") == 0
            held = await connection.fetchval("SELECT leased_until FROM followup_queue")
            assert held is not None
        finally:
            await connection.close()
        queue.publisher = working
        accepted = await app.outcome(callback, outcome="satisfied", score=5)
        assert accepted.status_code == 200, accepted.text
    events = await read_topic(
        kafka_settings, topic, lambda e: len(of_type(e, CaseClosed)) >= 1, timeout=30
    )
    assert len(of_type(events, CaseClosed)) == 1


async def test_roles_and_bad_input(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-{unique}", clock=clock, background=False
    ) as app:
        lease = {"agent_id": "a", "limit": 1}
        assert (await app.client.post("/v1/callbacks/lease", json=lease)).status_code == 401
        as_agent = await app.client.post("/v1/callbacks/lease", json=lease, headers=AGENT_KEY)
        assert as_agent.status_code == 403
        revisit = {"Authorization": "Bearer dev-revisit-key"}
        assert (await app.client.get("/v1/callbacks", headers=revisit)).status_code == 403
        bad_limit = await app.client.post(
            "/v1/callbacks/lease", json={"agent_id": "a", "limit": 0}, headers=revisit
        )
        assert bad_limit.status_code == 422
        assert [p["loc"] for p in bad_limit.json()["detail"]] == [["body", "limit"]]
        not_json = await app.client.post("/v1/callbacks/lease", content=b"{", headers=revisit)
        assert not_json.status_code == 422
        no_score = await app.client.post(
            f"/v1/callbacks/{uuid4()}/outcome",
            json={"lease_token": str(uuid4()), "outcome": "satisfied"},
            headers=revisit,
        )
        assert no_score.status_code == 422
        unknown = await app.client.post(
            f"/v1/callbacks/{uuid4()}/outcome",
            json={"lease_token": str(uuid4()), "outcome": "satisfied", "score": 5},
            headers=revisit,
        )
        assert unknown.status_code == 404
        assert (await app.client.get("/healthz")).json()["status"] == "ok"
        ready = await app.client.get("/readyz")
        assert ready.json()["checks"] == {"postgres": True, "kafka": True}
