"""Quiet hours on the real delivery log: held warnings go as one digest when the period ends.

The dispatcher runs in the test's event loop against PostgreSQL and a local receiver; time is
an argument of the planning, so "the period has ended" needs no waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import httpx
import pytest

from casegold_contracts.builders import make_case_snapshot, make_escalation_raised
from casegold_notifier import migrations
from casegold_notifier.adapters.channels import SmtpOptions
from casegold_notifier.adapters.delivery_log import DeliveryStore
from casegold_notifier.backoff import RetryPolicy
from casegold_notifier.content import Links
from casegold_notifier.deliveries import PlannedDelivery, deliveries_for
from casegold_notifier.dispatcher import Dispatcher, DispatchLimits
from casegold_notifier.wiring import build_channels
from casegold_sla.policy_loader import load_recipients_text
from tests.support.receivers import WEBHOOK_SECRET as SECRET
from tests.support.receivers import Receiver, wait_for

pytestmark = pytest.mark.integration

WEEK = timedelta(days=7)


@pytest.fixture
async def store(pg_schema: str) -> AsyncIterator[DeliveryStore]:
    await migrations.apply(pg_schema)
    pool = await asyncpg.create_pool(pg_schema, min_size=1, max_size=4)
    yield DeliveryStore(pool, "in-test")
    await pool.close()


async def test_held_warnings_go_as_one_digest_and_tier_2_never_waits(
    store: DeliveryStore, receiver: Receiver, pg_schema: str
) -> None:
    book = load_recipients_text(
        f"""recipients:
  owner:
    - name: night-owl
      webhook: {{url: "{receiver.url("/owl")}", secret: {SECRET}}}
      quiet_hours: {{timezone: UTC, from: "00:00", to: "24:00"}}
  department_manager:
    - name: night-owl
      webhook: {{url: "{receiver.url("/owl")}", secret: {SECRET}}}
      quiet_hours: {{timezone: UTC, from: "00:00", to: "24:00"}}
"""
    )
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)

    def warning(at: datetime, late: int) -> list[PlannedDelivery]:
        snapshot = make_case_snapshot(late_seconds=late)
        event = make_escalation_raised(
            case_id=uuid4(), step="warning", fired_at=at, due_at=at, case=snapshot
        )
        return list(deliveries_for(event, book, at, WEEK))

    # Two warnings read yesterday: held until yesterday's quiet period ended (today 00:00, past).
    # One read now: held until tonight. A tier 2 read now goes at once.
    ended = warning(yesterday, -600) + warning(yesterday + timedelta(minutes=5), -300)
    waiting = warning(now, -60)
    later = now + timedelta(seconds=1)
    tier_2 = make_escalation_raised(case_id=uuid4(), step="tier_2", fired_at=later, due_at=later)
    urgent = deliveries_for(tier_2, book, now, WEEK)
    assert [row.status for row in (*ended, *waiting, *urgent)] == [
        "held",
        "held",
        "held",
        "pending",
    ]
    await store.record([*ended, *waiting, *urgent])

    async with httpx.AsyncClient(timeout=2) as client:
        channels = build_channels(book, client=client, smtp=SmtpOptions("127.0.0.1", 1, "x@y"))
        limits = DispatchLimits(RetryPolicy(0.2, 0.5, 3), 2.0, 7.0, 8, 4, 0.1)
        dispatcher = Dispatcher(store, channels, limits, Links("http://r", "http://i"))
        stopping = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stopping))
        try:
            await wait_for(lambda: len(receiver.on("/owl")) >= 2, 10, "the tier 2 and the digest")
            await asyncio.sleep(0.5)  # nothing more is due: the third warning must stay held
        finally:
            stopping.set()
            await running
            await dispatcher.drain(2)

    documents = {item.json()["type"]: item for item in receiver.on("/owl")}
    assert sorted(documents) == ["casegold.escalation_digest", "casegold.escalation_notice"]
    digest = documents["casegold.escalation_digest"]
    assert digest.signed is True
    body = digest.json()
    assert body["title"] == "2 notices held during quiet hours"
    assert [n["case"]["late"] for n in body["notices"]] == ["due in 10 min", "due in 5 min"]
    connection = await asyncpg.connect(pg_schema)
    try:
        statuses = await connection.fetch(
            """SELECT kind, step, status, digest_id IS NOT NULL AS in_digest
               FROM notification_deliveries ORDER BY kind, fired_at"""
        )
    finally:
        await connection.close()
    assert [tuple(row) for row in statuses] == [
        ("digest", None, "delivered", False),
        ("notice", "warning", "delivered", True),
        ("notice", "warning", "delivered", True),
        ("notice", "warning", "held", False),
        ("notice", "tier_2", "delivered", False),
    ]
