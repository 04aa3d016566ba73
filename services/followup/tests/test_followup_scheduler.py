"""The scheduling use case with an in-memory fake of its writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from casegold_contracts.builders import DEFAULT_TIME, make_event
from casegold_followup.scheduling import (
    CaseInfo,
    NewCallback,
    Scheduler,
    promise_callback_id,
    revisit_id,
)
from casegold_sla import load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "default.yaml"


class FakeWrites:
    """Cases and callbacks in dicts; statuses as the SQL adapter keeps them."""

    def __init__(self) -> None:
        self.cases: dict[UUID, CaseInfo] = {}
        self.callbacks: dict[UUID, tuple[NewCallback, str]] = {}

    async def case(self, case_id: UUID) -> CaseInfo | None:
        return self.cases.get(case_id)

    async def update_case(self, case_id: UUID, **fields: object) -> None:
        base = self.cases.get(case_id) or CaseInfo(None, None, None, None, None, None, None)
        known = {k: v for k, v in fields.items() if k != "customer"}
        self.cases[case_id] = replace(base, **known)  # type: ignore[arg-type]

    async def add(self, callback: NewCallback) -> None:
        existing = self.callbacks.get(callback.callback_id)
        if existing is None or (existing[1] == "cancelled" and callback.kind == "revisit"):
            self.callbacks[callback.callback_id] = (callback, "scheduled")

    async def cancel_revisits(self, case_id: UUID, up_to: datetime) -> list[str]:
        for key, (callback, status) in list(self.callbacks.items()):
            mine = callback.case_id == case_id and callback.kind == "revisit"
            if mine and status == "scheduled" and callback.origin_at <= up_to:
                self.callbacks[key] = (callback, "cancelled")
        return []

    async def cancel(self, callback: NewCallback) -> list[str]:
        existing = self.callbacks.get(callback.callback_id)
        if existing is None or existing[1] == "scheduled":
            self.callbacks[callback.callback_id] = (callback, "cancelled")
        return []

    async def cancel_from(self, case_id: UUID, source_event_id: UUID) -> list[str]:
        for key, (callback, status) in list(self.callbacks.items()):
            if callback.source_event_id == source_event_id and status == "scheduled":
                self.callbacks[key] = (callback, "cancelled")
        return []

    def status(self, callback_id: UUID) -> str | None:
        found = self.callbacks.get(callback_id)
        return None if found is None else found[1]


@pytest.fixture
def scheduler() -> Scheduler:
    return Scheduler(load_policy(POLICY).follow_up)


async def test_resolve_schedules_a_revisit_in_the_customers_window(scheduler: Scheduler) -> None:
    writes, case = FakeWrites(), uuid4()
    opened = make_event(
        "case_opened",
        case_id=case,
        customer={"phone": "+12125550100", "timezone": "America/New_York"},
    )
    resolve = make_event("case_resolved", case_id=case, at=DEFAULT_TIME + timedelta(hours=1))
    await scheduler.apply(writes, opened)
    await scheduler.apply(writes, resolve)
    callback, status = writes.callbacks[revisit_id(resolve.event_id)]
    assert status == "scheduled"
    # Resolved Monday 10:00 UTC; +48 h is Wednesday 05:00 New York: moved to 09:00 EST.
    assert callback.slot.due_at == datetime.fromisoformat("2025-03-05T14:00:00+00:00")
    assert callback.priority_rank == 3


async def test_a_refused_close_brings_the_revisit_back(scheduler: Scheduler) -> None:
    writes, case = FakeWrites(), uuid4()
    resolve = make_event("case_resolved", case_id=case, at=DEFAULT_TIME)
    close = make_event("case_closed", case_id=case, at=DEFAULT_TIME + timedelta(minutes=1))
    for event in (make_event("case_opened", case_id=case), resolve, close):
        await scheduler.apply(writes, event)
    assert writes.status(revisit_id(resolve.event_id)) == "cancelled"
    refused = make_event(
        "command_rejected",
        case_id=case,
        rejected_event_id=close.event_id,
        rejected_type="case_closed",
    )
    await scheduler.apply(writes, refused)
    assert writes.status(revisit_id(resolve.event_id)) == "scheduled"


async def test_a_refused_resolve_leaves_no_revisit(scheduler: Scheduler) -> None:
    writes, case = FakeWrites(), uuid4()
    resolve = make_event("case_resolved", case_id=case, at=DEFAULT_TIME)
    await scheduler.apply(writes, resolve)
    refused = make_event(
        "command_rejected",
        case_id=case,
        rejected_event_id=resolve.event_id,
        rejected_type="case_resolved",
    )
    await scheduler.apply(writes, refused)
    assert writes.status(revisit_id(resolve.event_id)) == "cancelled"


async def test_promise_kept_before_promised_stays_cancelled(scheduler: Scheduler) -> None:
    writes, case = FakeWrites(), uuid4()
    due = DEFAULT_TIME + timedelta(hours=3)
    await scheduler.apply(writes, make_event("promise_kept", case_id=case, promise_id="p"))
    await scheduler.apply(
        writes, make_event("callback_promised", case_id=case, promise_id="p", due_at=due)
    )
    assert writes.status(promise_callback_id(case, "p")) == "cancelled"


async def test_other_events_change_nothing(scheduler: Scheduler) -> None:
    writes = FakeWrites()
    assert await scheduler.apply(writes, make_event("note_added")) == []
    assert writes.callbacks == {} and writes.cases == {}
