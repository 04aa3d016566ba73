"""The scheduling use case: case events in, callbacks scheduled or cancelled (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from casegold_contracts import (
    CallbackPromised,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CommandRejected,
    Event,
    PrioritySet,
    PromiseKept,
    derived_id,
)
from casegold_sla.followup import (
    CallbackKind,
    Slot,
    priority_rank,
    promise_slot,
    revisit_slot,
    revisit_wanted,
)
from casegold_sla.policy import FollowUpSettings


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """What follow-up keeps of a case to schedule its calls."""

    priority: str | None
    owner: str | None
    timezone: str | None
    resolved_at: datetime | None
    resolve_event_id: UUID | None
    ended_at: datetime | None
    ended_event_id: UUID | None


@dataclass(frozen=True, slots=True)
class NewCallback:
    """A callback to schedule."""

    callback_id: UUID
    case_id: UUID
    kind: CallbackKind
    slot: Slot
    priority_rank: int
    team: str | None
    origin_at: datetime
    source_event_id: UUID
    promise_id: str | None = None


class ScheduleWrites(Protocol):
    """The writes of one consumer transaction; cancellations return the kinds left the queue."""

    async def case(self, case_id: UUID) -> CaseInfo | None: ...

    async def update_case(self, case_id: UUID, **fields: object) -> None: ...

    async def add(self, callback: NewCallback) -> None: ...

    async def cancel_revisits(self, case_id: UUID, up_to: datetime) -> list[str]: ...

    async def cancel(self, callback: NewCallback) -> list[str]: ...

    async def cancel_from(self, case_id: UUID, source_event_id: UUID) -> list[str]: ...


def revisit_id(resolve_event_id: UUID) -> UUID:
    """The revisit a resolution owes: one per resolve event, whatever its redeliveries."""
    return derived_id("followup-revisit", str(resolve_event_id))


def promise_callback_id(case_id: UUID, promise_id: str) -> UUID:
    """The callback of one promise of a case."""
    return derived_id("followup-promise", str(case_id), promise_id)


class Scheduler:
    """Applies one case event to the schedule; the transaction and dedupe belong to the caller."""

    def __init__(self, settings: FollowUpSettings) -> None:
        self.settings = settings

    async def apply(self, writes: ScheduleWrites, event: Event) -> list[str]:
        """Apply `event`; returns the kinds of queued callbacks it removed from the queue."""
        case_id = event.case_id
        match event:
            case CaseOpened(payload=p):
                customer = p.customer.model_dump(mode="json", exclude_none=True)
                await writes.update_case(
                    case_id, priority=p.priority, timezone=p.customer.timezone, customer=customer
                )
            case CaseAssigned(payload=p):
                await writes.update_case(case_id, owner=p.owner)
            case PrioritySet(payload=p):
                await writes.update_case(case_id, priority=p.priority)
            case CaseResolved():
                await writes.update_case(
                    case_id, resolved_at=event.occurred_at, resolve_event_id=event.event_id
                )
                info = await writes.case(case_id)
                if info is not None and revisit_wanted(event.occurred_at, info.ended_at):
                    await writes.add(
                        self._revisit(info, case_id, event.event_id, event.occurred_at)
                    )
            case CaseClosed() | CaseReopened():
                await writes.update_case(
                    case_id, ended_at=event.occurred_at, ended_event_id=event.event_id
                )
                return await writes.cancel_revisits(case_id, event.occurred_at)
            case CallbackPromised(payload=p):
                info = await writes.case(case_id)
                await writes.add(self._promise(info, event, p.promise_id, p.due_at))
            case PromiseKept(payload=p):
                return await writes.cancel(self._promise(None, event, p.promise_id, None))
            case CommandRejected(payload=p):
                return await self._rejected(writes, case_id, p.rejected_type, p.rejected_event_id)
        return []

    async def _rejected(
        self, writes: ScheduleWrites, case_id: UUID, rejected_type: str, rejected: UUID
    ) -> list[str]:
        # The state machine is the authority: what it refused must not leave a call behind,
        # nor take one away.
        if rejected_type in ("case_resolved", "callback_promised"):
            return await writes.cancel_from(case_id, rejected)
        info = await writes.case(case_id)
        ends = ("case_closed", "case_reopened")
        if rejected_type in ends and info is not None and info.ended_event_id == rejected:
            await writes.update_case(case_id, ended_at=None, ended_event_id=None)
            if info.resolved_at is not None and info.resolve_event_id is not None:
                revisit = self._revisit(info, case_id, info.resolve_event_id, info.resolved_at)
                await writes.add(revisit)
        return []

    def _revisit(
        self, info: CaseInfo, case_id: UUID, resolve_event_id: UUID, resolved_at: datetime
    ) -> NewCallback:
        return NewCallback(
            callback_id=revisit_id(resolve_event_id),
            case_id=case_id,
            kind="revisit",
            slot=revisit_slot(self.settings, resolved_at, info.timezone),
            priority_rank=priority_rank(info.priority),
            team=info.owner,
            origin_at=resolved_at,
            source_event_id=resolve_event_id,
        )

    def _promise(
        self, info: CaseInfo | None, event: Event, promise_id: str, due_at: datetime | None
    ) -> NewCallback:
        due = due_at or event.occurred_at
        return NewCallback(
            callback_id=promise_callback_id(event.case_id, promise_id),
            case_id=event.case_id,
            kind="promise",
            slot=promise_slot(self.settings, due),
            priority_rank=priority_rank(info.priority if info else None),
            team=info.owner if info else None,
            origin_at=event.occurred_at,
            source_event_id=event.event_id,
            promise_id=promise_id,
        )
