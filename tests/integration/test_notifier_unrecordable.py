"""A notice PostgreSQL cannot store (a NUL in its text) is dead-lettered alone; the next flow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from casegold_contracts import EscalationRaised, dump
from casegold_contracts.builders import make_case_snapshot, make_escalation_raised
from casegold_notifier.content import notice_id
from casegold_platform.settings import KafkaSettings
from tests.support.notifier import NotifierProcess, publish, recipients_file, skip_history
from tests.support.receivers import WEBHOOK_SECRET as SECRET
from tests.support.receivers import Receiver, wait_for

pytestmark = pytest.mark.integration


def notice(summary: str) -> EscalationRaised:
    now = datetime.now(UTC)
    return make_escalation_raised(
        case_id=uuid4(),
        step="tier_1",
        due_at=now,
        fired_at=now,
        case=make_case_snapshot(summary=summary),
    )


async def test_a_nul_notice_between_good_ones_is_dead_lettered_alone_and_committed_past(
    tmp_path: Path,
    pg_schema: str,
    unique: str,
    kafka_settings: KafkaSettings,
    receiver: Receiver,
) -> None:
    path = recipients_file(
        tmp_path / "recipients.yaml",
        {
            "team_lead": [
                {"name": "lead", "webhook": {"url": receiver.url("/lead"), "secret": SECRET}}
            ]
        },
    )
    group = f"test-notifier-{unique}"
    await skip_history(kafka_settings, group)
    process = NotifierProcess(
        "n1",
        {
            "CASEGOLD_NOTIFIER_GROUP_ID": group,
            "CASEGOLD_NOTIFIER_RECIPIENTS_FILE": str(path),
            "CASEGOLD_PG_DSN": pg_schema,
        },
        tmp_path,
    )
    before, poisoned, after = notice("before"), notice("MARKER"), notice("after")
    # Built as text: the contract may refuse a NUL, the topic does not.
    nul = dump(poisoned).replace(b"MARKER", b"leaks\\u0000again")
    process.start()
    try:
        await process.wait_ready()
        await publish(kafka_settings, [before, nul, after])
        wanted = {str(notice_id(e.payload.escalation_id, 0, "lead")) for e in (before, after)}
        # Other notices on the shared topic may reach the receiver too; ours must all arrive.
        await wait_for(
            lambda: wanted <= {r.notice_id for r in receiver.on("/lead")}, 30, "both good notices"
        )
        connection = await asyncpg.connect(pg_schema)
        try:
            dead = await connection.fetchrow(
                "SELECT status, last_error FROM notification_deliveries WHERE case_id = $1",
                poisoned.case_id,
            )
        finally:
            await connection.close()
        assert dead is not None and dead["status"] == "dead"
        assert "unrecordable" in dead["last_error"]
        metrics = await process.metrics()
        assert 'casegold_notifier_messages_total{outcome="unrecordable"} 1.0' in metrics
    finally:
        await process.stop()
