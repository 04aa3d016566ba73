"""Which deliveries an `escalation_raised` makes: one per recipient, now or after quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from casegold_contracts import EscalationRaised, dump
from casegold_notifier.content import duration_text, notice_id
from casegold_sla.recipients import RecipientBook

Status = Literal["pending", "held", "dead"]


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """A row of the delivery log, as first written."""

    notice_id: UUID
    escalation_id: UUID
    repeat: int
    recipient: str
    channel: str
    case_id: UUID
    event_id: UUID
    audience: str
    step: str
    tier: int
    fired_at: datetime
    notice: str
    status: Status
    next_attempt_at: datetime
    last_error: str | None = None


def deliveries_for(
    event: EscalationRaised, book: RecipientBook, now: datetime, max_age: timedelta
) -> list[PlannedDelivery]:
    """The deliveries of one notice at `now`; empty when nobody is configured for it."""
    payload = event.payload
    notice = dump(event).decode("utf-8")
    age = now - payload.fired_at
    planned = []
    for recipient in book.for_notice(payload.audience, payload.step):
        status: Status = "pending"
        not_before, error = now, None
        if age > max_age:
            # A notice about a step long past (the notifier was down, or a topic was replayed)
            # would mislead more than inform: it is dead-lettered, visible, not sent.
            status = "dead"
            error = f"stale: fired {duration_text(int(age.total_seconds()))} ago"
        elif (end := recipient.held_until(payload.step, now)) is not None:
            status, not_before = "held", end
        planned.append(
            PlannedDelivery(
                notice_id=notice_id(payload.escalation_id, payload.repeat, recipient.name),
                escalation_id=payload.escalation_id,
                repeat=payload.repeat,
                recipient=recipient.name,
                channel=recipient.channel,
                case_id=event.case_id,
                event_id=event.event_id,
                audience=payload.audience,
                step=payload.step,
                tier=payload.tier,
                fired_at=payload.fired_at,
                notice=notice,
                status=status,
                next_attempt_at=not_before,
                last_error=error,
            )
        )
    return planned
