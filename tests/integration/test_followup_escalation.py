"""An unsatisfied revisit reopens the case, and the escalation worker escalates it to tier 1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from casegold_contracts import CASE_EVENTS, EscalationRaised
from casegold_contracts.builders import make_case_opened, make_event
from casegold_platform.clock import utc_now
from casegold_platform.settings import KafkaSettings
from tests.support.escalation import (
    EscalationProcess,
    EscalationReader,
    logs_on_failure,
    skip_history,
)
from tests.support.followup import eventually, running_followup
from tests.support.processes import skip_history as skip_group_history

pytestmark = pytest.mark.integration


@pytest.fixture
async def worker(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> AsyncIterator[EscalationProcess]:
    process = EscalationProcess(f"test-followup-escalation-{unique}", "w1", tmp_path)
    await skip_history(kafka_settings, process.app_id)
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


async def test_unsatisfied_revisit_reopens_and_escalates_to_tier_1(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, worker: EscalationProcess
) -> None:
    case = uuid4()
    group = f"test-followup-{unique}"
    await skip_group_history(kafka_settings, group, CASE_EVENTS)
    now = datetime.now(UTC)
    async with (
        running_followup(
            kafka_settings, pg_schema, topic=CASE_EVENTS, clock=utc_now, group_id=group
        ) as app,
        EscalationReader(kafka_settings) as reader,
    ):
        await app.publish(
            [
                make_case_opened(case_id=case, at=now, recorded_at=now, priority="P3"),
                make_event("case_resolved", case_id=case, at=now + timedelta(milliseconds=5)),
            ]
        )
        held: list[dict[str, Any]] = []

        async def revisit_due() -> bool:
            held.extend(await app.lease("revisit-1"))
            return bool(held)

        await eventually(revisit_due, 60, "the revisit (resolution + 10 s) in the queue")
        [callback] = held
        assert callback["case_id"] == str(case)
        reply = await app.outcome(callback, outcome="unsatisfied", reason="the leak came back")
        assert reply.status_code == 200, reply.text
        assert [e["type"] for e in reply.json()["events"]] == [
            "revisit_outcome_recorded",
            "case_reopened",
        ]

        def reopened(events: list[EscalationRaised]) -> bool:
            return any(e.payload.reason == "reopened" for e in events)

        with logs_on_failure(worker):
            raised = await reader.read_until(reopened, timeout=60, cases={case})
        [step] = [e for e in raised if e.payload.reason == "reopened"]
        assert (step.payload.step, step.payload.tier, step.payload.cycle) == ("tier_1", 1, 2)
