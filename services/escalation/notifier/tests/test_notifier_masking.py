"""Phone numbers in error texts are masked wherever the notifier logs or stores them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from aiokafka import ConsumerRecord
from structlog.testing import capture_logs

from casegold_contracts import dump
from casegold_contracts.builders import make_escalation_raised
from casegold_notifier.adapters.delivery_log import Claim
from casegold_notifier.backoff import RetryPolicy
from casegold_notifier.consumer import EscalationConsumer
from casegold_notifier.content import Document, Links
from casegold_notifier.deliveries import PlannedDelivery
from casegold_notifier.dispatcher import Dispatcher, DispatchLimits
from casegold_notifier.ports import DeliveryError

PHONE = "+8613912345678"
MASKED = "+*********5678"


class Store:
    """The delivery log's outcome calls, kept."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    async def failed(self, claim: Claim, error: str, delay: float) -> None:
        self.errors.append(("failed", error))

    async def dead(self, claim: Claim, error: str) -> None:
        self.errors.append(("dead", error))


class Refusing:
    """A receiver whose refusal quotes the notice back (an SMTP server echoing the text)."""

    kind = "webhook"

    async def send(self, document: Document) -> None:
        raise DeliveryError(f"550 rejected: customer {PHONE} is on a block list")


def dispatcher(store: Store) -> Dispatcher:
    limits = DispatchLimits(RetryPolicy(1.0, 10.0, 3), 5.0, 30.0, 10, 2, 0.1)
    channels: Any = {"ops": Refusing()}
    return Dispatcher(store, channels, limits, Links(None, None), draw=lambda: 0.5)  # type: ignore[arg-type]


def claim(notice: dict[str, Any], attempt: int = 1) -> Claim:
    return Claim(
        1, uuid4(), "notice", "ops", "webhook", attempt, datetime.now(UTC), notice, uuid4()
    )


def assert_masked(texts: list[str]) -> None:
    assert texts and all(PHONE not in t for t in texts), texts
    assert any(MASKED in t for t in texts), texts


async def test_a_refusal_quoting_a_phone_is_masked_in_last_error_and_the_log() -> None:
    store = Store()
    notice = json.loads(dump(make_escalation_raised()))
    with capture_logs() as logs:
        await dispatcher(store)._deliver(claim(notice))
    assert [kind for kind, _ in store.errors] == ["failed"]
    assert_masked([error for _, error in store.errors])
    assert_masked([str(entry.get("error")) for entry in logs if entry.get("error")])


async def test_a_stored_notice_that_cannot_render_is_dead_with_its_values_masked() -> None:
    store = Store()
    notice = json.loads(dump(make_escalation_raised()))
    notice["payload"]["tier"] = f"tier of {PHONE}"  # pydantic quotes the input value
    with capture_logs() as logs:
        await dispatcher(store)._deliver(claim(notice))
    assert [kind for kind, _ in store.errors] == ["dead"]
    assert_masked([error for _, error in store.errors])
    assert_masked([str(entry.get("error")) for entry in logs if entry.get("error")])


def test_a_skipped_message_logs_its_reason_with_phones_masked() -> None:
    consumer = EscalationConsumer(
        None,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        max_age=None,  # type: ignore[arg-type]
        max_records=10,
        recorded=lambda: None,
    )
    # An unknown type is quoted in the detail, whatever a producer put there.
    bad = {"type": f"call {PHONE}", "schema_version": 1}
    record: Any = ConsumerRecord(
        "complaints.escalations", 0, 7, 0, 0, b"k", json.dumps(bad).encode(), None, 1, 1, []
    )
    with capture_logs() as logs:
        assert consumer.deliveries_of(record) == []
    [skipped] = [entry for entry in logs if entry["event"] == "message_skipped"]
    assert_masked([str(skipped["detail"])])


class RefusingStore:
    """A delivery log whose database refuses a value of the batch, quoting it."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.recorded: list[PlannedDelivery] = []

    async def record(self, planned: list[PlannedDelivery]) -> set[UUID]:
        if self.failures:
            raise self.failures.pop(0)
        self.recorded.extend(planned)
        return {row.notice_id for row in planned}


def planned_row() -> PlannedDelivery:
    now = datetime.now(UTC)
    return PlannedDelivery(
        uuid4(),
        uuid4(),
        0,
        "ops",
        "webhook",
        uuid4(),
        uuid4(),
        "team_lead",
        "tier_1",
        1,
        now,
        dump(make_escalation_raised()).decode(),
        "pending",
        now,
    )


async def test_an_unrecordable_notice_is_dead_lettered_with_the_database_error_masked() -> None:
    refusal = asyncpg.DataError(f'invalid input syntax for type json: "{PHONE}\\u0000"')
    store = RefusingStore([refusal, refusal])
    consumer = EscalationConsumer(None, store, None, timedelta(hours=1), 10, lambda: None)  # type: ignore[arg-type]
    with capture_logs() as logs:
        assert await consumer._record([planned_row()], asyncio.Event())
    [dead] = store.recorded
    assert dead.status == "dead" and dead.last_error is not None
    assert_masked([dead.last_error])
    assert_masked([e["error"] for e in logs if e["event"] == "notice_unrecordable"])


async def test_a_failed_batch_write_is_logged_with_the_database_error_masked() -> None:
    store = RefusingStore([ConnectionError(f"row for {PHONE} lost with the connection")])
    consumer = EscalationConsumer(None, store, None, timedelta(hours=1), 10, lambda: None)  # type: ignore[arg-type]
    with capture_logs() as logs:
        assert await consumer._record([planned_row()], asyncio.Event())
    assert_masked([e["error"] for e in logs if e["event"] == "record_failed"])
