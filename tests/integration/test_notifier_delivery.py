"""The notifier as a real process on the real broker and PostgreSQL, delivering to real servers.

A local HTTP receiver (webhook and Slack paths) and aiosmtpd stand in for the recipients; the
test publishes `escalation_raised` itself and reads the delivery log in its own schema.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from casegold_contracts import EscalationRaised, derived_id
from casegold_contracts.builders import make_case_snapshot, make_escalation_raised
from casegold_notifier.content import notice_id
from casegold_platform.settings import KafkaSettings
from tests.support.brokers import free_port
from tests.support.notifier import (
    NotifierProcess,
    publish,
    recipients_file,
    skip_history,
)
from tests.support.receivers import WEBHOOK_SECRET as SECRET
from tests.support.receivers import Receiver, SmtpInbox, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def inbox() -> Iterator[tuple[SmtpInbox, int]]:
    handler, port = SmtpInbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
async def notifier(
    tmp_path: Path,
    pg_schema: str,
    unique: str,
    kafka_settings: KafkaSettings,
    receiver: Receiver,
    inbox: tuple[SmtpInbox, int],
) -> AsyncIterator[NotifierProcess]:
    hook = {"url": receiver.url("/hook"), "secret": SECRET}
    path = recipients_file(
        tmp_path / "recipients.yaml",
        {
            "team_lead": [
                {"name": "lead-hook", "webhook": hook},
                {"name": "lead-slack", "slack": {"url": receiver.url("/slack")}},
                {"name": "lead-mail", "email": {"to": "lead@example.test"}},
            ],
            "department_manager": [
                {"name": "lead-hook", "webhook": hook},
                {"name": "flaky", "webhook": {**hook, "url": receiver.url("/flaky")}},
                {"name": "broken", "webhook": {**hook, "url": receiver.url("/broken")}},
            ],
        },
    )
    group = f"test-notifier-{unique}"
    await skip_history(kafka_settings, group)
    process = NotifierProcess(
        "n1",
        {
            "CASEGOLD_NOTIFIER_GROUP_ID": group,
            "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(path),
            "CASEGOLD_NOTIFIER_SMTP_PORT": str(inbox[1]),
            "CASEGOLD_PG_DSN": pg_schema,
        },
        tmp_path,
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        await process.stop()


def breach(case_id: UUID, step: str = "tier_2", audience: str = "team_lead") -> EscalationRaised:
    now = datetime.now(UTC)
    snapshot = make_case_snapshot(
        status="in_progress",
        owner="agent-7",
        priority="P2",
        late_seconds=3 * 3600 + 600,
        promises=[{"promise_id": "p-1", "due_at": now, "status": "broken"}],
    )
    return make_escalation_raised(
        case_id=case_id,
        step=step,
        audience=audience,
        due_at=now,
        fired_at=now,
        case=snapshot,
        event_id=derived_id("test-escalation", str(case_id), step, audience),
    )


async def rows(dsn: str, case_id: UUID) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        found = await connection.fetch(
            """SELECT d.recipient, d.status, d.attempts, d.notice_id, d.last_error,
                      array_agg(a.outcome ORDER BY a.attempt) AS outcomes
               FROM notification_deliveries d
               LEFT JOIN notification_attempts a ON a.delivery_id = d.id
               WHERE d.case_id = $1 GROUP BY d.id ORDER BY d.recipient""",
            case_id,
        )
        return [dict(row) for row in found]
    finally:
        await connection.close()


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def test_every_channel_delivers_the_case_state_signed_and_once(
    notifier: NotifierProcess,
    receiver: Receiver,
    inbox: tuple[SmtpInbox, int],
    kafka_settings: KafkaSettings,
    pg_schema: str,
) -> None:
    case_id = uuid4()
    event = breach(case_id)
    # A poison message first: it is counted and skipped, the partition goes on.
    await publish(kafka_settings, [b"{not json", event])
    hook_id = str(notice_id(event.payload.escalation_id, 0, "lead-hook"))

    def done() -> bool:
        mine = [m for m in inbox[0].messages if case_id.hex[:8] in str(m[2]["Subject"])]
        return bool(receiver.on("/hook") and receiver.on("/slack") and mine)

    await wait_for(done, 15, "webhook, Slack and e-mail deliveries")
    (hook,) = [r for r in receiver.on("/hook") if r.notice_id == hook_id]
    assert hook.signed is True
    latency = hook.at - event.payload.fired_at.timestamp()
    print(f"fired_at -> webhook received: {latency * 1000:.0f} ms")
    body = hook.json()
    assert body["case"]["status"] == "in_progress" and body["case"]["owner"] == "agent-7"
    assert body["case"]["late"] == "3 h 10 min late"
    assert body["case"]["promises"][0]["status"] == "broken"
    assert body["case"]["url"] == f"http://127.0.0.1:8084/cases/{case_id}"
    assert body["acknowledge"]["url"] == f"http://127.0.0.1:8081/v1/cases/{case_id}/commands"
    assert body["acknowledge"]["body"] == {
        "command": "acknowledge_escalation",
        "escalation_id": str(event.payload.escalation_id),
    }
    slack = receiver.on("/slack")[0].json()
    assert slack["text"].startswith("Tier 2 escalation") and slack["blocks"]
    ((_, to, mail),) = [m for m in inbox[0].messages if case_id.hex[:8] in str(m[2]["Subject"])]
    assert to == ["lead@example.test"] and mail.get_content_type() == "multipart/alternative"

    # The same notice again, and the same step to a second audience sharing lead-hook: nothing
    # new reaches lead-hook; only the department manager's other recipients are added.
    await publish(kafka_settings, [event, breach(case_id, audience="department_manager")])
    await wait_for(lambda: receiver.on("/flaky"), 15, "the department manager's notice")
    log = await wait_for(
        lambda: _settled(rows(pg_schema, case_id), 5), 15, "five settled deliveries"
    )
    assert [(r["recipient"], r["status"]) for r in log if r["recipient"].startswith("lead")] == [
        ("lead-hook", "delivered"),
        ("lead-mail", "delivered"),
        ("lead-slack", "delivered"),
    ]
    assert [r.notice_id for r in receiver.on("/hook")].count(hook_id) == 1
    text = await notifier.metrics()
    assert metric(text, "casegold_notifications_total", channel="webhook", status="delivered") >= 1
    assert metric(text, "casegold_notifications_total", channel="email", status="delivered") == 1
    assert metric(text, "casegold_notifier_messages_total", outcome="malformed_json") == 1
    assert metric(text, "casegold_notification_delivery_seconds_count", channel="slack",
                  mode="immediate") == 1  # fmt: skip
    # The group's only member owns every partition: each has a lag series (0 or more).
    lags = [line for line in text.splitlines() if line.startswith("casegold_consumer_lag{")]
    assert len(lags) == kafka_settings.partitions, lags
    assert all('topic="complaints.escalations"' in line for line in lags)


async def _settled(pending: Any, count: int) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await pending
    settled = [r for r in found if r["status"] in ("delivered", "dead")]
    return found if len(settled) >= count else None


async def test_retries_with_backoff_then_delivers_once_or_dead_letters(
    notifier: NotifierProcess, receiver: Receiver, kafka_settings: KafkaSettings, pg_schema: str
) -> None:
    receiver.script("/flaky", 500, 500, 200)
    receiver.script("/broken", 500, 500, 500, 500)
    case_id = uuid4()
    event = breach(case_id, step="tier_3", audience="department_manager")
    started = time.monotonic()
    await publish(kafka_settings, [event])
    log = await wait_for(lambda: _settled(rows(pg_schema, case_id), 3), 20, "three outcomes")
    print(f"500, 500, 200 delivered after {time.monotonic() - started:.2f} s")
    by_recipient = {r["recipient"]: r for r in log}
    flaky, broken = by_recipient["flaky"], by_recipient["broken"]
    assert (flaky["status"], flaky["attempts"]) == ("delivered", 3)
    assert flaky["outcomes"] == ["failed", "failed", "delivered"]
    flaky_id = str(flaky["notice_id"])
    assert [r.notice_id for r in receiver.on("/flaky")] == [flaky_id] * 3
    assert (broken["status"], broken["attempts"]) == ("dead", 3)
    assert broken["outcomes"] == ["failed", "failed", "dead"]
    assert broken["last_error"] == "HTTP 500 (3 attempts failed)"
    assert len(receiver.on("/broken")) == 3
    text = await notifier.metrics()
    assert metric(text, "casegold_notification_dead_lettered_total", channel="webhook") == 1
    assert metric(text, "casegold_notifications_total", channel="webhook", status="failed") == 4
    await wait_for(
        lambda: _gauge_is_one(notifier), 10, "the dead-letter gauge to show the dead row"
    )
    assert '"event": "delivery_dead"' in notifier.log_tail(200)


async def _gauge_is_one(notifier: NotifierProcess) -> bool:
    return metric(await notifier.metrics(), "casegold_notification_dead_letters") == 1
