"""A worker on a freshly formatted broker: every topic it needs exists before its agents start."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from casegold_contracts.builders import make_case_opened
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.wiring import prepare
from casegold_platform.settings import KafkaSettings
from casegold_sla import load_policy_text
from tests.support.brokers import ScratchBroker
from tests.support.escalation import (
    FAST_POLICY,
    EscalationProcess,
    EscalationReader,
    logs_on_failure,
    publish,
)

pytestmark = pytest.mark.integration


async def partitions_of(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    finally:
        await admin.close()


async def test_prepare_creates_changelogs_and_internal_topics_before_the_agents_start(
    scratch_broker: ScratchBroker,
) -> None:
    kafka = KafkaSettings(bootstrap=scratch_broker.bootstrap)
    settings = EscalationSettings(app_id="casegold-escalation")
    text = Path(FAST_POLICY).read_text(encoding="utf-8")
    store = PolicyStore(kafka, settings.policies_topic, load_policy_text(text, FAST_POLICY), text)
    await prepare(settings, kafka, store)
    n = kafka.partitions
    expected = {
        "complaints.case-events": n,
        "complaints.escalations": n,
        "casegold-escalation.ticks": n,
        "casegold-escalation.customers": n,
        "casegold-escalation.policies": 1,
        # Faust's changelogs: with as many partitions as their source, or PartitionsMismatch.
        "casegold-escalation-cases-changelog": n,
        "casegold-escalation-customer-cases-changelog": n,
    }
    assert await partitions_of(kafka.bootstrap, list(expected)) == expected


async def test_repeat_complainant_detected_on_a_freshly_formatted_broker(
    scratch_broker: ScratchBroker, tmp_path: Path
) -> None:
    kafka = KafkaSettings(bootstrap=scratch_broker.bootstrap)
    worker = EscalationProcess("casegold-escalation", "w1", tmp_path)
    worker.start({"CASEGOLD_KAFKA_BOOTSTRAP": scratch_broker.bootstrap})
    try:
        worker.wait_ready()
        phone = f"+86137{random.randrange(10**8):08d}"
        first, second = uuid4(), uuid4()
        at = datetime.now(UTC)
        with logs_on_failure(worker):
            async with EscalationReader(kafka) as reader:
                await publish(
                    kafka,
                    [
                        # The second one opened 1 ms later: it is the repeat.
                        make_case_opened(case_id=c, at=t, recorded_at=t, customer={"phone": phone})
                        for c, t in ((first, at), (second, at + timedelta(milliseconds=1)))
                    ],
                )
                seen = await reader.read_until(
                    lambda events: any(e.payload.milestone == "repeat_complainant" for e in events),
                    timeout=60,
                    cases={first, second},
                )
            repeats = [e.case_id for e in seen if e.payload.milestone == "repeat_complainant"]
            assert repeats == [second]
            metrics = worker.metrics()
            assert 'casegold_escalation_failures_total{stage="customers"}' not in metrics
    finally:
        worker.stop()
