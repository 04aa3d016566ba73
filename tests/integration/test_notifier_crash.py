"""Crashes, restarts and company: kill -9 mid-delivery, graceful shutdown, two notifiers at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from casegold_contracts import EscalationRaised
from casegold_contracts.builders import make_escalation_raised
from casegold_notifier.content import notice_id
from casegold_platform.settings import KafkaSettings
from tests.support.notifier import (
    NotifierProcess,
    publish,
    recipients_file,
    skip_history,
)
from tests.support.receivers import WEBHOOK_SECRET as SECRET
from tests.support.receivers import Receiver, wait_for

pytestmark = pytest.mark.integration

Start = Callable[[str], Awaitable[NotifierProcess]]


@pytest.fixture
async def start(
    tmp_path: Path, pg_schema: str, unique: str, kafka_settings: KafkaSettings, receiver: Receiver
) -> AsyncIterator[Start]:
    """Start notifiers of one group on one delivery log: recipients `slow` and `quick`."""
    path = recipients_file(
        tmp_path / "recipients.yaml",
        {
            "team_lead": [
                {"name": name, "webhook": {"url": receiver.url(f"/{name}"), "secret": SECRET}}
                for name in ("slow", "quick")
            ]
        },
    )
    group = f"test-notifier-{unique}"
    await skip_history(kafka_settings, group)
    started: list[NotifierProcess] = []

    async def start_one(name: str) -> NotifierProcess:
        env = {
            "CASEGOLD_NOTIFIER_GROUP_ID": group,
            "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(path),
            "CASEGOLD_PG_DSN": pg_schema,
        }
        process = NotifierProcess(name, env, tmp_path)
        process.start()
        started.append(process)
        await process.wait_ready()
        return process

    try:
        yield start_one
    finally:
        for process in started:
            await process.stop()


def tier_1(case_id: UUID) -> EscalationRaised:
    now = datetime.now(UTC)
    return make_escalation_raised(case_id=case_id, step="tier_1", due_at=now, fired_at=now)


async def log_of(dsn: str, *case_ids: UUID) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        found = await connection.fetch(
            """SELECT d.case_id, d.recipient, d.status, d.attempts, d.notice_id,
                      array_agg(a.outcome ORDER BY a.attempt) AS outcomes,
                      array_agg(a.worker ORDER BY a.attempt) AS workers
               FROM notification_deliveries d
               JOIN notification_attempts a ON a.delivery_id = d.id
               WHERE d.case_id = ANY($1::uuid[]) GROUP BY d.id""",
            list(case_ids),
        )
        return [dict(row) for row in found]
    finally:
        await connection.close()


def delivered(dsn: str, count: int, *case_ids: UUID) -> Callable[[], Awaitable[Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = await log_of(dsn, *case_ids)
        return found if sum(r["status"] == "delivered" for r in found) >= count else None

    return check


async def test_kill_9_mid_delivery_resends_at_most_once_more_and_logs_one_delivery(
    start: Start, receiver: Receiver, kafka_settings: KafkaSettings, pg_schema: str
) -> None:
    receiver.script("/slow", "hold")  # the receiver has the notice but has not answered
    first = await start("n1")
    case_id = uuid4()
    event = tier_1(case_id)
    slow_id = str(notice_id(event.payload.escalation_id, 0, "slow"))
    quick_id = str(notice_id(event.payload.escalation_id, 0, "quick"))
    await publish(kafka_settings, [event])
    await wait_for(lambda: receiver.on("/slow"), 15, "the slow receiver to get the notice")
    await wait_for(delivered(pg_schema, 1, case_id), 15, "the quick delivery")
    first.kill_hard()
    killed_at = time.monotonic()

    await start("n2")
    found = await wait_for(delivered(pg_schema, 2, case_id), 30, "the slow delivery after restart")
    print(f"re-sent {time.monotonic() - killed_at:.1f} s after the kill (claim lease 7 s)")
    by_recipient = {row["recipient"]: row for row in found}
    assert sorted(by_recipient) == ["quick", "slow"]  # one row per (escalation, recipient)
    slow, quick = by_recipient["slow"], by_recipient["quick"]
    assert slow["status"] == quick["status"] == "delivered"
    # The interrupted attempt stays in the audit without an outcome; the second delivered.
    assert slow["outcomes"] == [None, "delivered"] and slow["workers"] == ["n1", "n2"]
    assert quick["outcomes"] == ["delivered"]
    seen = Counter(item.notice_id for item in receiver.received)
    assert seen[slow_id] == 2  # once before the kill, at most once more after it
    assert seen[quick_id] == 1


async def test_sigterm_lets_the_delivery_in_flight_finish(
    start: Start, receiver: Receiver, kafka_settings: KafkaSettings, pg_schema: str
) -> None:
    receiver.script("/slow", "hold")
    process = await start("n1")
    case_id = uuid4()
    await publish(kafka_settings, [tier_1(case_id)])
    await wait_for(lambda: receiver.on("/slow"), 15, "the slow receiver to get the notice")
    process.terminate()
    await asyncio.sleep(1.0)  # the receiver takes its time answering, within the 5 s grace
    receiver.release()
    assert process.process is not None
    code = await asyncio.to_thread(process.process.wait, 15)
    assert code == 0, process.log_tail()
    found = await log_of(pg_schema, case_id)
    assert {(r["recipient"], r["status"]) for r in found} == {
        ("slow", "delivered"),
        ("quick", "delivered"),
    }
    assert len(receiver.on("/slow")) == 1
    assert '"event": "stopped"' in process.log_tail()


async def test_two_notifiers_share_the_work_and_never_send_a_notice_twice(
    start: Start, receiver: Receiver, kafka_settings: KafkaSettings, pg_schema: str
) -> None:
    await asyncio.gather(start("n1"), start("n2"))
    cases = [uuid4() for _ in range(30)]
    await publish(kafka_settings, [tier_1(case_id) for case_id in cases])
    found = await wait_for(delivered(pg_schema, 60, *cases), 30, "60 deliveries")
    assert len(found) == 60 and all(row["outcomes"] == ["delivered"] for row in found)
    ours = {str(row["notice_id"]) for row in found}
    seen = Counter(item.notice_id for item in receiver.received if item.notice_id in ours)
    assert set(seen) == ours and set(seen.values()) == {1}
    workers = Counter(row["workers"][0] for row in found)
    print(f"deliveries per notifier: {dict(workers)}")
