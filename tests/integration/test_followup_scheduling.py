"""Scheduling from case events: redeliveries, out-of-order events, promises, poison messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from casegold_contracts.builders import DEFAULT_TIME, make_event
from casegold_platform.settings import KafkaSettings
from tests.support.followup import (
    AGENT_KEY,
    Followup,
    ManualClock,
    eventually,
    resolved_case,
    running_followup,
)

pytestmark = pytest.mark.integration


async def statuses(dsn: str) -> dict[tuple[UUID, str], list[str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT case_id, kind, status FROM followup_callbacks ORDER BY created_at"
        )
    finally:
        await connection.close()
    found: dict[tuple[UUID, str], list[str]] = {}
    for row in rows:
        found.setdefault((row["case_id"], row["kind"]), []).append(row["status"])
    return found


async def applied(app: Followup, count: int) -> None:
    async def done() -> bool:
        metrics = (await app.client.get("/metrics")).text
        for line in metrics.splitlines():
            if line.startswith('casegold_followup_events_total{result="applied"}'):
                return float(line.split()[-1]) >= count
        return False

    await eventually(done, 60, f"{count} events applied")


async def test_redelivered_and_out_of_order_events(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    twice, closed_first, reopened, closed_after = (uuid4() for _ in range(4))
    t = DEFAULT_TIME
    resolve = make_event("case_resolved", case_id=twice, at=t + timedelta(hours=1))
    events: list[Any] = [
        make_event("case_opened", case_id=twice, at=t),
        resolve,
        resolve,  # redelivered: same event_id
        # A close read before the resolve it follows: no revisit may remain.
        make_event("case_opened", case_id=closed_first, at=t),
        make_event("case_closed", case_id=closed_first, at=t + timedelta(hours=2)),
        make_event("case_resolved", case_id=closed_first, at=t + timedelta(hours=1)),
        *resolved_case(reopened),
        make_event("case_reopened", case_id=reopened, at=t + timedelta(hours=3)),
        *resolved_case(closed_after),
        make_event("case_closed", case_id=closed_after, at=t + timedelta(hours=2)),
    ]
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-{unique}", clock=clock
    ) as app:
        await app.publish(events)
        await applied(app, len(events) - 1)
        found = await statuses(pg_schema)
        assert found == {
            (twice, "revisit"): ["scheduled"],
            (reopened, "revisit"): ["cancelled"],
            (closed_after, "revisit"): ["cancelled"],
        }
        clock.advance(hours=2)

        async def one_due() -> bool:
            return (await app.due())["revisit"] == 1

        await eventually(one_due, 10, "the one revisit due")
        [callback] = await app.lease("agent-a", limit=5)
        assert UUID(callback["case_id"]) == twice
        assert callback["customer"]["timezone"] == "Asia/Shanghai"


async def test_promise_is_shown_lead_time_early_and_cancelled_when_kept(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    kept, open_promise, kept_first = (uuid4() for _ in range(3))
    due = DEFAULT_TIME + timedelta(hours=4)
    events = [
        make_event("case_opened", case_id=kept),
        make_event("callback_promised", case_id=kept, promise_id="p1", due_at=due),
        make_event("case_opened", case_id=open_promise, priority="P1"),
        make_event("case_assigned", case_id=open_promise, owner="agent-7"),
        make_event("callback_promised", case_id=open_promise, promise_id="p1", due_at=due),
        # Kept before it was read as promised.
        make_event("promise_kept", case_id=kept_first, promise_id="p9"),
        make_event("callback_promised", case_id=kept_first, promise_id="p9", due_at=due),
    ]
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-{unique}", clock=clock
    ) as app:
        await app.publish(events)
        await applied(app, len(events))
        await app.publish([make_event("promise_kept", case_id=kept, promise_id="p1")])
        await applied(app, len(events) + 1)
        clock.now = due - timedelta(seconds=3)  # the fast policy's lead time is 2 s
        await app.client.get("/healthz")
        assert await app.lease("agent-a", limit=5) == []
        clock.now = due - timedelta(seconds=1)

        async def visible() -> bool:
            return (await app.due())["promise"] == 1

        await eventually(visible, 10, "the promise in the queue")
        [callback] = await app.lease("agent-a", limit=5)
        assert (UUID(callback["case_id"]), callback["kind"]) == (open_promise, "promise")
        assert (callback["team"], callback["priority_rank"], callback["overdue"]) == (
            "agent-7",
            1,
            False,
        )
        reply = await app.outcome(callback, outcome="satisfied", score=5)
        assert reply.json()["events"][-1]["type"] == "promise_kept"


async def test_poison_messages_are_counted_and_skipped(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    case = uuid4()
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-{unique}", clock=clock
    ) as app:
        nul = make_event("case_opened", case_id=case, at=DEFAULT_TIME)
        bad_text = nul.model_dump_json().replace("Li Wei", "Li\\u0000Wei").encode()
        await app.publish(
            [
                (b"x", b"{not json"),
                (b"x", b'{"type": "case_opened", "schema_version": 1}'),
                (str(case).encode(), bad_text),  # valid JSON PostgreSQL refuses (NUL in text)
                *resolved_case(case)[1:],
            ]
        )

        async def poison_counted() -> bool:
            text = (await app.client.get("/metrics")).text
            return "casegold_followup_poison_messages_total" in text and all(
                any(
                    line.startswith(f'casegold_followup_poison_messages_total{{reason="{r}"}} 1')
                    for line in text.splitlines()
                )
                for r in ("malformed_json", "invalid", "refused_by_database")
            )

        await eventually(poison_counted, 30, "three poison messages counted")
        found = await statuses(pg_schema)
        assert found == {(case, "revisit"): ["scheduled"]}
        listing = await app.client.get(f"/v1/callbacks?case_id={case}", headers=AGENT_KEY)
        assert [c["status"] for c in listing.json()["callbacks"]] == ["scheduled"]
