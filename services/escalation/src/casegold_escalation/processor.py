"""What the worker does with one case event or tick: the core's rules plus the messages to send.

No Faust and no clock here: the agent passes the stored bytes, the decoded event and `now`, and
gets back the bytes to store, the next instant to look again and the messages to send first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from pydantic_core import from_json, to_json

from casegold_contracts import (
    CASE_EVENTS,
    ESCALATIONS,
    Actor,
    CaseOpened,
    CaseSnapshot,
    CommandRejected,
    CommandRejectedPayload,
    EscalationRaised,
    EscalationRaisedPayload,
    Event,
    Payload,
    RepeatComplainantDetected,
    RepeatComplainantDetectedPayload,
    derived_id,
    dump,
    message_key,
    new_event,
)
from casegold_escalation.context import CaseContext
from casegold_escalation.records import CustomerCase, decode_case, encode_case, next_check_of
from casegold_sla import (
    CaseState,
    Decision,
    Escalation,
    PolicyRegistry,
    Rejection,
    RepeatRule,
    decide,
    evolve,
    to_us,
)
from casegold_sla.breaches import next_unmarked_breach, unmarked_breaches
from casegold_sla.redact import mask_phones
from casegold_sla.retention import closed_since, expired, forget_at, next_look

# How long a closed case is kept for a reopen (CASEGOLD_ESCALATION_CLOSED_RETENTION_DAYS).
RETENTION = timedelta(days=30)
SYSTEM = Actor(kind="system", id="escalation")
# Events the worker itself appends; it never answers them with a rejection (no loops).
_OWN_EVENTS = (CommandRejected, RepeatComplainantDetected)


@dataclass(frozen=True, slots=True)
class Message:
    """A record to send before the new state is stored.

    Notices (notice_id set) are awaited until the broker acknowledges them, so a stored step was
    always sent. Other records are flushed by Faust before it commits the source offset, like
    the table's own changelog records: a crash before that flush redelivers the source event.
    """

    topic: str
    key: bytes
    value: bytes
    # Set on escalation notices: the id a restarted worker looks for to not send one twice.
    notice_id: UUID | None = None
    # Set on escalation notices: the step it tells of (counted once one of its notices is sent).
    escalation_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Where the processor's records go (the contract's topics unless a worker runs on its own)."""

    customers: str
    case_events: str = CASE_EVENTS
    escalations: str = ESCALATIONS


@dataclass(slots=True)
class CaseUpdate:
    """The result of one event or tick for one case."""

    stored: bytes | None
    next_check_us: int | None
    messages: list[Message] = field(default_factory=list)
    escalations: tuple[Escalation, ...] = ()
    rejection: Rejection | None = None
    opened: bool = False
    closed: bool = False
    priority: str | None = None
    # Past its retention: delete the record (a changelog tombstone) and its index entry.
    forgotten: bool = False
    # Milestones whose clock reached its target with no ladder step there (special periods).
    breaches: tuple[str, ...] = ()


class CaseProcessor:
    """Applies events and ticks to stored case records through the SLA core."""

    def __init__(
        self, registry: PolicyRegistry, topics: Topics, retention: timedelta = RETENTION
    ) -> None:
        self.registry = registry
        self.topics = topics
        self.retention_us = int(retention / timedelta(microseconds=1))

    def on_event(
        self, stored: bytes | None, event: Event, now: datetime, offset: int | None = None
    ) -> CaseUpdate:
        """Apply a case event read at `offset` of the case's partition, then fire what is due at
        now (immediate escalations among them)."""
        state, context = (None, CaseContext()) if stored is None else self._load(stored)
        if isinstance(event, _OWN_EVENTS) and state is None:
            return CaseUpdate(stored, None)
        if stored is not None and context.already_applied(offset):
            # Redelivered after a crash: nothing changes; a case_opened forwards its customer
            # again, as the first forward may have died with the crash.
            update = CaseUpdate(stored, next_check_of(stored))
            update.messages.extend(self._forward(event))
            return update
        # A clock met by this event may have breached before it, with no step to tell.
        before = () if state is None else unmarked_breaches(state, to_us(event.occurred_at))
        result = evolve(state, event, self.registry.current)
        if isinstance(result, Rejection):
            # A refusal changes nothing: the stored record and its next check stay as they
            # were, so what is due fires on its own tick, at the instant it always would have.
            update = CaseUpdate(stored, None if stored is None else next_check_of(stored))
            update.rejection = result
            if not isinstance(event, _OWN_EVENTS):
                update.messages.append(_rejection(event, result, now, self.topics.case_events))
            return update
        if result is not state:  # the same object back means a redelivered event
            context.record_event(event)
        context.closed_us = closed_since(result, context.closed_us, to_us(event.occurred_at))
        if offset is not None:
            context.applied_offset = max(context.applied_offset, offset)
        update = self._decide(result, context, now, before)
        update.opened = state is None
        # A redelivered case_opened (`result is state`) forwards again: the forward of the first
        # delivery may have been lost with the crash that caused the redelivery, and the
        # customers agent counts a case once however often it hears of it.
        if update.opened or result is state:
            update.messages.extend(self._forward(event))
        return update

    def _forward(self, event: Event) -> list[Message]:
        """The record that tells the customers agent of an opened case (none for other events)."""
        if not isinstance(event, CaseOpened) or not event.payload.customer_key:
            return []
        customer = CustomerCase(event.payload.customer_key, event.case_id, to_us(event.occurred_at))
        return [Message(self.topics.customers, customer.customer_key.encode(), customer.encode())]

    def on_tick(
        self, stored: bytes | None, now: datetime, until: datetime | None = None
    ) -> CaseUpdate:
        """Fire what is due at now (or only up to `until`, when records accepted after it are
        still unread) for a stored case; a tick for an unknown case does nothing."""
        if stored is None:
            return CaseUpdate(None, None)
        state, context = self._load(stored)
        if expired(state, context.closed_us, self.retention_us, to_us(now)):
            return self._forget(state, context)
        return self._decide(state, context, now, decided_at=until)

    def _forget(self, state: CaseState, context: CaseContext) -> CaseUpdate:
        """Delete a case past its retention, and tell its customer's partition to drop it."""
        update = CaseUpdate(None, None, forgotten=True, closed=True, priority=state.priority)
        if context.customer_key:
            gone = CustomerCase(context.customer_key, state.case_id, 0, forget=True)
            update.messages.append(
                Message(self.topics.customers, gone.customer_key.encode(), gone.encode())
            )
        return update

    def _load(self, stored: bytes) -> tuple[CaseState, CaseContext]:
        return decode_case(stored, self.registry)

    def _decide(
        self,
        state: CaseState,
        context: CaseContext,
        now: datetime,
        breached: tuple[tuple[str, int], ...] = (),
        decided_at: datetime | None = None,
    ) -> CaseUpdate:
        # What fires is decided at `decided_at` (never later than now); it is sent stamped now.
        at = now if decided_at is None else min(now, decided_at)
        decision = decide(state, at)
        now_us = to_us(at)
        breaches = context.new_breaches((*breached, *unmarked_breaches(decision.state, now_us)))
        # Notices show the history before this decision; then the fired steps join it.
        messages = _escalation_messages(decision, context, now, self.topics.escalations)
        context.record_escalations(decision.escalations, now.isoformat())
        forget = forget_at(decision.state, context.closed_us, self.retention_us)
        next_check = next_look(decision.next_check_us, forget)
        next_check = next_look(next_check, next_unmarked_breach(decision.state, now_us))
        return CaseUpdate(
            encode_case(decision.state, context, next_check),
            next_check,
            messages=messages,
            escalations=decision.escalations,
            closed=decision.state.status == "closed",
            priority=decision.state.priority,
            breaches=breaches,
        )


def _system_message(
    topic: str,
    event_type: type[Event],
    event_id: UUID,
    case_id: UUID,
    payload: Payload,
    now: datetime,
    escalation_id: UUID | None = None,
) -> Message:
    """An event the worker itself appends, with a deterministic id, as a message to send
    (a notice when it tells of an escalation)."""
    event = new_event(event_type, case_id, payload, SYSTEM, now, now, event_id)
    notice_id = event.event_id if escalation_id else None
    return Message(topic, message_key(event), dump(event), notice_id, escalation_id)


def _escalation_messages(
    decision: Decision, context: CaseContext, now: datetime, topic: str
) -> list[Message]:
    state = decision.state
    messages: list[Message] = []
    if not decision.escalations:
        return messages
    timeline, promises = context.timeline(), context.promise_snapshots()
    prior = context.prior_escalations()
    summary = context.summary
    for escalation in decision.escalations:
        snapshot = CaseSnapshot(
            status=state.status,
            owner=state.owner,
            priority=state.priority,
            category=state.category,
            dealer_id=state.dealer_id,
            sensitive=state.sensitive,
            late_seconds=int(escalation.late.total_seconds()),
            summary=summary,
            recent_events=timeline,
            promises=promises,
            prior_escalations=prior,
        )
        for audience in escalation.audience:
            payload = EscalationRaisedPayload(
                escalation_id=escalation.escalation_id,
                milestone=escalation.milestone,
                cycle=escalation.cycle,
                step=escalation.step,
                tier=escalation.tier,
                reason=escalation.reason,
                due_at=escalation.due_at,
                fired_at=now,
                repeat=escalation.repeat,
                audience=audience,
                case=snapshot,
            )
            notice = derived_id(
                "escalation_raised", str(escalation.escalation_id), audience, str(escalation.repeat)
            )
            messages.append(
                _system_message(
                    topic,
                    EscalationRaised,
                    notice,
                    escalation.case_id,
                    payload,
                    now,
                    escalation.escalation_id,
                )
            )
    return messages


def _rejection(event: Event, rejection: Rejection, now: datetime, topic: str) -> Message:
    payload = CommandRejectedPayload(
        rejected_event_id=event.event_id,
        rejected_type=event.type,
        reason=rejection.reason,
        detail=mask_phones(rejection.detail[:1000]) if rejection.detail else None,
    )
    event_id = derived_id("command_rejected", str(event.event_id))
    return _system_message(topic, CommandRejected, event_id, event.case_id, payload, now)


def count_customer_case(
    stored: bytes | None,
    case: CustomerCase,
    rule: RepeatRule,
    now: datetime,
    topic: str = CASE_EVENTS,
) -> tuple[bytes | None, list[Message]]:
    """Count a case of a customer: (the customer's new record or None for a replay, and the
    repeat_complainant_detected of each case that now repeats, to send first).

    The record keeps, per customer, [case id, opened µs] of recent cases (JSON).
    """
    known = [(str(c), int(t)) for c, t in from_json(stored)] if stored else []
    tally = rule.tally(known, (str(case.case_id), case.opened_us))
    if tally is None:
        return None, []  # a replay: this case was counted already
    messages = []
    for (case_id, opened_us), prior in tally.repeats:
        # The case counted, or a later-opened one that reached this partition first.
        repeating = CustomerCase(case.customer_key, UUID(case_id), opened_us)
        earlier = [CustomerCase(case.customer_key, UUID(c), t) for c, t in prior]
        messages.append(repeat_detected(repeating, earlier, rule.window_days, now, topic))
    return to_json(list(tally.kept)), messages


def forget_customer_case(stored: bytes | None, case: CustomerCase) -> tuple[bytes | None, bool]:
    """Drop a forgotten case from its customer's record: (the new record, or None to leave it
    as it is; and whether the record is now empty and must be deleted)."""
    if stored is None:
        return None, False
    known = [(str(c), int(t)) for c, t in from_json(stored)]
    kept = [entry for entry in known if entry[0] != str(case.case_id)]
    if len(kept) == len(known):
        return None, False  # a replay, or a case the tally had already let go
    return (None, True) if not kept else (to_json(kept), False)


def repeat_detected(
    case: CustomerCase,
    prior: list[CustomerCase],
    window_days: int,
    now: datetime,
    topic: str = CASE_EVENTS,
) -> Message:
    """The event that tells a case's partition its customer is a repeat complainant."""
    payload = RepeatComplainantDetectedPayload(
        prior_case_ids=tuple(p.case_id for p in prior), window_days=window_days
    )
    event_id = derived_id("repeat_complainant_detected", str(case.case_id))
    return _system_message(topic, RepeatComplainantDetected, event_id, case.case_id, payload, now)
