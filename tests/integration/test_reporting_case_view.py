"""The case view of a crafted case, its clocks counted by hand on office hours with a pause."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_platform.postgres import migrate_installed
from casegold_platform.settings import KafkaSettings
from tests.support.reporting import (
    AGENT,
    FixedClock,
    config,
    eventually,
    make_topics,
    office_policy,
    publish,
    running,
)

pytestmark = pytest.mark.integration
HOUR = 3600.0


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2025 (the 3rd is a Monday)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def clock_of(view: dict[str, Any], milestone: str) -> dict[str, Any]:
    clocks: list[dict[str, Any]] = [c for c in view["clocks"] if c["milestone"] == milestone]
    [clock] = clocks
    return clock


async def test_case_view_with_clocks_a_pause_a_refusal_and_a_delivery(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_settings, unique)
    await migrate_installed(pg_schema)  # the notifier's delivery log beside the projections
    case_id = uuid.uuid4()
    closed = make_event("case_closed", case_id=case_id, at=utc(3, 11, 30))
    first = [
        make_event("case_opened", case_id=case_id, at=utc(3, 10), summary="Leaking machine"),
        make_event("case_assigned", case_id=case_id, at=utc(3, 10, 5), owner="agent-7"),
        make_event("case_acknowledged", case_id=case_id, at=utc(3, 11)),
        closed,  # not allowed while acknowledged: refused by the state machine
        make_event(
            "command_rejected", case_id=case_id, at=utc(3, 11, 30),
            rejected_event_id=closed.event_id, rejected_type="case_closed",
            reason="invalid_transition", detail="case_closed is not allowed while acknowledged",
        ),
        make_event("customer_awaited", case_id=case_id, at=utc(3, 13)),
    ]  # fmt: skip
    await publish(kafka_settings, topics.case_events, first)
    clock = FixedClock(utc(3, 15))
    settings = config(kafka_settings, pg_schema, topics, office_policy(tmp_path))
    async with running(settings, clock) as client:

        async def refused_by_worker() -> dict[str, Any] | None:
            reply = await client.get(f"/v1/cases/{case_id}/events/{closed.event_id}", headers=AGENT)
            body: dict[str, Any] = reply.json()
            return body if reply.status_code == 200 and body["refused_by"] == "worker" else None

        outcome = await eventually(refused_by_worker, what="the worker's refusal")
        assert (outcome["outcome"], outcome["reason"]) == ("refused", "invalid_transition")

        paused = (await client.get(f"/v1/cases/{case_id}", headers=AGENT)).json()
        assert (paused["status"], paused["owner"], paused["priority"]) == (
            "awaiting_customer", "agent-7", "P3",
        )  # fmt: skip
        first_response = clock_of(paused, "first_response")
        assert first_response["status"] == "met"
        assert (first_response["elapsed_seconds"], first_response["remaining_seconds"]) == (
            1 * HOUR, 3 * HOUR,
        )  # fmt: skip
        solution = clock_of(paused, "solution_agreed")
        # Mon 10:00-13:00 counted; the pause since 13:00 stops it.
        assert (solution["status"], solution["elapsed_seconds"], solution["due_at"]) == (
            "paused", 3 * HOUR, None,
        )  # fmt: skip
        [refused] = [e for e in paused["timeline"] if e["event_id"] == str(closed.event_id)]
        assert refused["outcome"] == "refused"
        assert refused["detail"] == "case_closed is not allowed while acknowledged"

        warning = make_escalation_raised(
            case_id=case_id, milestone="solution_agreed", step="warning",
            due_at=utc(5, 11), fired_at=utc(5, 11, 0), audience="owner",
        )  # fmt: skip
        await publish(
            kafka_settings,
            topics.case_events,
            [make_event("case_resumed", case_id=case_id, at=utc(4, 10))],
        )
        await publish(kafka_settings, topics.escalations, [warning])
        await _delivered(pg_schema, case_id, warning.payload.escalation_id)
        clock.now = utc(5, 12)

        async def with_escalation() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get(f"/v1/cases/{case_id}", headers=AGENT)).json()
            return body if body["escalations"] and body["status"] == "acknowledged" else None

        view = await eventually(with_escalation, what="the resumed case and its escalation")
        # 3 h on Monday, Tuesday 10:00-17:00 (7 h), Wednesday 09:00-12:00 (3 h): 13 h.
        solution = clock_of(view, "solution_agreed")
        assert (solution["status"], solution["elapsed_seconds"]) == ("running", 13 * HOUR)
        assert solution["remaining_seconds"] == 3 * HOUR
        assert solution["due_at"] == "2025-03-05T15:00:00Z"
        resolution = clock_of(view, "resolution")
        # 27 h left: Wed 5 h, Thu 8 h, Fri 8 h, then Monday 09:00 + 6 h.
        assert (resolution["remaining_seconds"], resolution["due_at"]) == (
            27 * HOUR, "2025-03-10T15:00:00Z",
        )  # fmt: skip
        [escalation] = view["escalations"]
        assert (escalation["step"], escalation["audiences"]) == ("warning", ["owner"])
        assert [(d["recipient"], d["status"]) for d in escalation["deliveries"]] == [
            ("agent-7@example.com", "delivered")
        ]
        upcoming = [(s["milestone"], s["step"], s["due_at"]) for s in view["upcoming"]]
        assert upcoming[0] == ("solution_agreed", "tier_1", "2025-03-05T15:00:00Z")
        assert ("solution_agreed", "warning", "2025-03-05T11:00:00Z") not in upcoming  # fired
        # The resolution warning at 75 % of 40 h = 30 h: 17 h after Wed 12:00 is Fri 13:00.
        assert ("resolution", "warning", "2025-03-07T13:00:00Z") in upcoming

        await _lists_and_auth(client, case_id)


async def _delivered(dsn: str, case_id: uuid.UUID, step: uuid.UUID) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """INSERT INTO notification_deliveries (notice_id, escalation_id, recipient, channel,
                   case_id, fired_at, status, attempts, next_attempt_at, delivered_at)
               VALUES ($1, $2, 'agent-7@example.com', 'email', $3, $4, 'delivered', 1, $4, $4)""",
            uuid.uuid4(), step, case_id, utc(5, 11),
        )  # fmt: skip
    finally:
        await connection.close()


async def _lists_and_auth(client: httpx.AsyncClient, case_id: uuid.UUID) -> None:
    mine = (await client.get("/v1/cases", params={"owner": "agent-7"}, headers=AGENT)).json()
    assert [item["case_id"] for item in mine["items"]] == [str(case_id)]
    none = (await client.get("/v1/cases", params={"status": "open"}, headers=AGENT)).json()
    assert none["items"] == []
    assert (await client.get(f"/v1/cases/{case_id}")).status_code == 401
    revisit = {"Authorization": "Bearer dev-revisit-key"}
    assert (await client.get(f"/v1/cases/{case_id}", headers=revisit)).status_code == 403
    browser = await client.get(f"/v1/cases/{case_id}", headers={"Accept": "text/html"})
    assert (browser.status_code, browser.headers["location"]) == (303, f"/cases/{case_id}")
    unknown = await client.get(f"/v1/cases/{uuid.uuid4()}", headers=AGENT)
    assert unknown.status_code == 404
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text  # Swagger UI served from here
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/events/{event_id}"} <= set(
        paths
    )
