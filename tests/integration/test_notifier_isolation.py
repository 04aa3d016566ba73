"""A recipient that never answers, or whose port is closed, does not delay anybody else."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from casegold_contracts import EscalationRaised
from casegold_contracts.builders import make_escalation_raised
from casegold_platform.settings import KafkaSettings
from tests.support.brokers import free_port
from tests.support.notifier import (
    NotifierProcess,
    publish,
    recipients_file,
    skip_history,
)
from tests.support.receivers import WEBHOOK_SECRET as SECRET
from tests.support.receivers import Receiver, wait_for

pytestmark = pytest.mark.integration

ATTEMPT_TIMEOUT = 5.0
# Far below the attempt timeout a hanging recipient holds a slot for: a notifier that made the
# others wait behind it could not meet this bound.
BOUND = 1.5


def notice(step: str, audience: str) -> EscalationRaised:
    now = datetime.now(UTC)
    return make_escalation_raised(
        case_id=uuid4(), step=step, audience=audience, due_at=now, fired_at=now
    )


async def test_a_hanging_and_a_closed_recipient_do_not_delay_another(
    tmp_path: Path,
    pg_schema: str,
    unique: str,
    kafka_settings: KafkaSettings,
    receiver: Receiver,
) -> None:
    def hook(name: str, url: str) -> dict[str, object]:
        return {"name": name, "webhook": {"url": url, "secret": SECRET}}

    hang = hook("hang", receiver.url("/hang"))
    closed = hook("closed", f"http://127.0.0.1:{free_port()}/nobody-listens")
    path = recipients_file(
        tmp_path / "recipients.yaml",
        {"director": [hang], "team_lead": [hang, closed, hook("fast", receiver.url("/fast"))]},
    )
    receiver.script("/hang", *["hold"] * 50)
    group = f"test-notifier-{unique}"
    await skip_history(kafka_settings, group)
    process = NotifierProcess(
        "n1",
        {
            "CASEGOLD_NOTIFIER_GROUP_ID": group,
            "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(path),
            "CASEGOLD_PG_DSN": pg_schema,
            "CASEGOLD_NOTIFIER_ATTEMPT_TIMEOUT_SECONDS": str(ATTEMPT_TIMEOUT),
            "CASEGOLD_NOTIFIER_CLAIM_LEASE_SECONDS": "15",
            "CASEGOLD_NOTIFIER_MAX_IN_FLIGHT": "4",
            "CASEGOLD_NOTIFIER_PER_RECIPIENT_IN_FLIGHT": "2",
        },
        tmp_path,
    )
    process.start()
    try:
        await process.wait_ready()
        # Ten notices queue up for the hanging recipient before the one that matters.
        await publish(kafka_settings, [notice("tier_3", "director") for _ in range(10)])
        await wait_for(lambda: len(receiver.on("/hang")) >= 2, 15, "the hanging requests")
        event = notice("tier_1", "team_lead")
        published = await publish(kafka_settings, [event])
        (fast,) = await wait_for(lambda: receiver.on("/fast"), 10, "the fast delivery")
        took = fast.at - published
        print(f"fast recipient served {took * 1000:.0f} ms after publish, beside 10 hanging")
        assert took < BOUND
        # The hanging recipient holds at most its own share of the slots.
        assert len(receiver.on("/hang")) == 2
        connection = await asyncpg.connect(pg_schema)
        try:
            closed_attempts = await wait_for(
                lambda: connection.fetchval(
                    """SELECT attempts FROM notification_deliveries
                       WHERE recipient = 'closed' AND status IN ('failed', 'dead')"""
                ),
                10,
                "the closed port's failed attempt",
            )
        finally:
            await connection.close()
        assert closed_attempts >= 1
    finally:
        receiver.release()
        await process.stop()
