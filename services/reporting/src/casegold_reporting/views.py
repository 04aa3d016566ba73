"""The case view use case (pure): projected rows and an instant to what a person needs to see.

Clocks and upcoming steps come from the SLA core (`clocks`, `plan`) over the case's stored
state, so they are what the worker will do; `now` is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from casegold_reporting.models import (
    Acknowledgement,
    Actor,
    CallbackOut,
    CaseSummary,
    CaseView,
    ClockOut,
    DeliveryOut,
    EscalationOut,
    EventOutcome,
    Flag,
    PlannedOut,
    RevisitOut,
    TimelineOut,
)
from casegold_reporting.rows import CaseRow, EscalationRow, TimelineRow
from casegold_sla import clocks, plan


@dataclass(frozen=True, slots=True)
class Delivery:
    """A row of the notifier's delivery log."""

    escalation_id: UUID
    repeat: int
    recipient: str
    channel: str
    status: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


def summary(row: CaseRow) -> CaseSummary:
    """A case as listed."""
    return CaseSummary(
        case_id=row.case_id,
        status=row.status,
        owner=row.owner,
        priority=row.priority,
        category=row.category,
        channel=row.channel,
        dealer_id=row.dealer_id,
        summary=row.summary,
        sensitive=row.sensitive,
        repeat=row.repeat,
        breached=row.breached,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
    )


def case_view(
    row: CaseRow,
    timeline: list[TimelineRow],
    escalations: list[EscalationRow],
    deliveries: list[Delivery],
    now: datetime,
) -> CaseView:
    """Everything about one case as of `now`."""
    fired = {(e.escalation_id, e.repeat) for e in escalations}
    upcoming = [
        PlannedOut(
            escalation_id=step.escalation_id, milestone=step.milestone, cycle=step.cycle,
            step=step.step, tier=step.tier, reason=step.reason, audience=list(step.audience),
            due_at=step.due_at, repeat=step.repeat,
        )
        for step in plan(row.state, now)
        if (step.escalation_id, step.repeat) not in fired
    ]  # fmt: skip
    return CaseView(
        **summary(row).model_dump(),
        as_of=now,
        product=row.product,
        external_ref=row.external_ref,
        cycle=row.cycle,
        sensitive_detail=Flag(value=row.sensitive, reasons=list(row.sensitive_reasons)),
        repeat_detail=Flag(value=row.repeat, reasons=[str(c) for c in row.prior_case_ids]),
        clocks=clock_views(row, now),
        timeline=[timeline_entry(entry) for entry in timeline],
        escalations=escalation_views(escalations, deliveries, timeline),
        callbacks=callbacks(row, timeline, escalations, now),
        revisits=[
            RevisitOut(
                outcome=e.payload["outcome"],
                score=e.payload.get("score"),
                reason=e.payload.get("reason"),
                attempt=e.payload.get("attempt", 1),
                recorded_at=e.occurred_at,
            )
            for e in timeline
            if e.type == "revisit_outcome_recorded" and e.outcome == "applied"
        ],
        upcoming=upcoming,
    )


def clock_views(row: CaseRow, now: datetime) -> list[ClockOut]:
    """Ended clocks (met or breached), then running ones (running, paused or breached)."""
    views = [
        _clock(c.milestone, c.cycle, "met" if c.met else "breached", c.target, c.elapsed, None,
               c.ended_at)
        for c in row.ended_clocks
        if not c.milestone.startswith("promise:")
    ]  # fmt: skip
    for clock in clocks(row.state, now):
        status = "paused" if clock.paused else "breached" if clock.breached else "running"
        views.append(
            _clock(clock.milestone, clock.cycle, status, clock.target, clock.elapsed, clock.due_at)
        )
    return views


def _clock(
    milestone: str,
    cycle: int,
    status: str,
    target: timedelta,
    elapsed: timedelta,
    due_at: datetime | None,
    ended_at: datetime | None = None,
) -> ClockOut:
    return ClockOut.model_validate(
        {
            "milestone": milestone,
            "cycle": cycle,
            "status": status,
            "target_seconds": target.total_seconds(),
            "elapsed_seconds": elapsed.total_seconds(),
            "remaining_seconds": (target - elapsed).total_seconds(),
            "due_at": due_at,
            "ended_at": ended_at,
        }
    )


def timeline_entry(entry: TimelineRow) -> TimelineOut:
    """One timeline row as shown."""
    return TimelineOut.model_validate(
        {
            "event_id": entry.event_id,
            "type": entry.type,
            "occurred_at": entry.occurred_at,
            "recorded_at": entry.recorded_at,
            "actor": Actor(kind=entry.actor_kind, id=entry.actor_id),
            "outcome": entry.outcome,
            "reason": entry.reason,
            "detail": entry.detail,
            "refused_by": entry.refused_by,
            "payload": entry.payload,
        }
    )


def event_outcome(entry: TimelineRow) -> EventOutcome:
    """What became of one event."""
    return EventOutcome.model_validate(
        {
            "event_id": entry.event_id,
            "case_id": entry.case_id,
            "type": entry.type,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "detail": entry.detail,
            "refused_by": entry.refused_by,
            "occurred_at": entry.occurred_at,
        }
    )


def escalation_views(
    escalations: list[EscalationRow], deliveries: list[Delivery], timeline: list[TimelineRow]
) -> list[EscalationOut]:
    """Fired steps in firing order, each with its audiences, deliveries and acknowledgement."""
    acknowledged = {
        str(e.payload["escalation_id"]): Acknowledgement(by=e.actor_id, at=e.occurred_at)
        for e in timeline
        if e.type == "escalation_acknowledged" and e.outcome == "applied"
    }
    steps: dict[tuple[UUID, int], list[EscalationRow]] = {}
    for row in sorted(escalations, key=lambda e: (e.fired_at, e.tier, e.audience)):
        steps.setdefault((row.escalation_id, row.repeat), []).append(row)
    views = []
    for (escalation, repeat), rows in steps.items():
        first = rows[0]
        told = [
            DeliveryOut(
                recipient=d.recipient, channel=d.channel, status=d.status, attempts=d.attempts,
                delivered_at=d.delivered_at, last_error=d.last_error,
                dead_lettered=d.status == "dead",
            )
            for d in deliveries
            if d.escalation_id == escalation and d.repeat == repeat
        ]  # fmt: skip
        views.append(
            EscalationOut(
                escalation_id=escalation, milestone=first.milestone, cycle=first.cycle,
                step=first.step, tier=first.tier, reason=first.reason, repeat=repeat,
                due_at=first.due_at, fired_at=first.fired_at, late_seconds=first.late_seconds,
                audiences=[r.audience for r in rows], deliveries=told,
                acknowledged=acknowledged.get(str(escalation)),
            )
        )  # fmt: skip
    return views


def callbacks(
    row: CaseRow, timeline: list[TimelineRow], escalations: list[EscalationRow], now: datetime
) -> list[CallbackOut]:
    """Promised callbacks: kept, broken (late, or its broken-promise step fired), or pending."""
    ended = {c.milestone: c for c in row.ended_clocks if c.milestone.startswith("promise:")}
    broken = {e.milestone for e in escalations if e.reason == "broken_promise"}
    views = []
    for entry in timeline:
        if entry.type != "callback_promised" or entry.outcome != "applied":
            continue
        promise_id = str(entry.payload["promise_id"])
        due_at = datetime.fromisoformat(str(entry.payload["due_at"]).replace("Z", "+00:00"))
        name = f"promise:{promise_id}"
        clock = ended.get(name)
        if clock is not None:
            status = "kept" if clock.met else "broken"
        else:
            status = "broken" if name in broken or now > due_at else "pending"
        views.append(CallbackOut(promise_id=promise_id, due_at=due_at, status=status))
    return views
