"""The projection fold (pure): a poll's records, and the rows they touch, to the rows to write.

Case events go through the SLA core's `evolve`, the same state machine the worker runs, so a
command is shown applied or refused (and why) as soon as it is read; the worker's own
`command_rejected`, which follows on the same partition, is the final word (decision 0051).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, NamedTuple
from uuid import UUID

from casegold_contracts import (
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CommandRejected,
    EscalationRaised,
    Event,
    ParsedEvent,
    RepeatComplainantDetected,
    RevisitOutcomeRecorded,
    Undecodable,
    parse,
)
from casegold_reporting import rollups
from casegold_reporting.rollups import Days
from casegold_reporting.rows import Batch, CaseRow, EscalationRow, Refusal, TimelineRow
from casegold_sla import CaseState, PolicySet, Rejection, evolve
from casegold_sla.clock import offset_instant
from casegold_sla.clock_ends import EndedClock, ended_clocks
from casegold_sla.instants import from_us, span_us

# Contact details of the customer stay with intake and the escalation worker.
_PRIVATE: Final = frozenset({"customer", "customer_key"})


# Record and Decoded are tuples: one of each is built per event (a frozen dataclass costs 4×).
class Record(NamedTuple):
    """One consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


class Decoded(NamedTuple):
    """A record and the event in it, or why there is none."""

    record: Record
    event: ParsedEvent | None
    problem: str | None = None


def decode(records: Sequence[Record]) -> list[Decoded]:
    """Parse every record; a record that is not an event is kept with the reason."""
    decoded = []
    for record in records:
        if record.value is None:
            decoded.append(Decoded(record, None, "empty"))
            continue
        parsed = parse(record.value)
        if isinstance(parsed, Undecodable):
            decoded.append(Decoded(record, None, parsed.reason))
        else:
            decoded.append(Decoded(record, parsed))
    return decoded


def case_ids(decoded: Sequence[Decoded]) -> set[UUID]:
    """The cases a batch touches."""
    return {item.event.case_id for item in decoded if item.event is not None}


def fold(decoded: Sequence[Decoded], known: Mapping[UUID, CaseRow], policies: PolicySet) -> Batch:
    """The rows to write for a batch; `known` (rows before the batch) is left unchanged."""
    batch = Batch()
    days = Days(policies.reports.timezone)
    batch.rollups.timezone = days.timezone
    for item in decoded:
        record = item.record
        batch.offsets[(record.topic, record.partition)] = record.offset + 1
        event = item.event
        if event is None:
            reason = item.problem or "invalid"
            batch.undecodable[reason] = batch.undecodable.get(reason, 0) + 1
            continue
        if isinstance(event, EscalationRaised):
            batch.escalations.append(_escalation_row(event, record))
            continue
        row = batch.cases.get(event.case_id)
        if row is None and event.case_id in known:
            row = batch.cases[event.case_id] = replace(known[event.case_id])
        _case_event(batch, row, event, record, policies, days)
    for case_id, after in batch.cases.items():
        before = known.get(case_id)
        if before is None:
            batch.new_cases.add(case_id)
        rollups.case_changed(batch.rollups, before, after, days)
    return batch


def next_due(state: CaseState) -> datetime | None:
    """The earliest instant a running clock of the case falls due (None while paused)."""
    dues = [
        offset_instant(state, milestone, milestone.rule.target)
        for milestone in state.milestones
        if not milestone.rule.ephemeral
    ]
    known = [due for due in dues if due is not None]
    return from_us(min(known)) if known else None


def _case_event(
    batch: Batch, row: CaseRow | None, event: Event, record: Record, policies: PolicySet,
    days: Days,
) -> None:  # fmt: skip
    if row is not None and row.partition == record.partition and record.offset <= row.position:
        batch.skipped += 1  # projected before: a redelivery or a replay over existing rows
        return
    if row is not None:
        row.position = record.offset
    if isinstance(event, CommandRejected):
        payload = event.payload
        batch.timeline.append(_timeline_row(event, record, "recorded"))
        batch.refusals.append(
            Refusal(event.case_id, payload.rejected_event_id, payload.reason, payload.detail)
        )
        return
    state = row.state if row is not None else None
    result = evolve(state, event, policies)
    if isinstance(result, Rejection):
        batch.timeline.append(
            _timeline_row(event, record, "refused", result.reason, result.detail, "projection")
        )
        return
    if result is state:
        return  # a redelivered event: the core already applied it
    batch.applied += 1
    batch.timeline.append(_timeline_row(event, record, "applied"))
    if row is None or state is None:
        if not isinstance(event, CaseOpened):
            return
        row = batch.cases[event.case_id] = _opened_row(event, record, result)
        _count(batch, (row.priority, row.status), 1)
        return
    before = (row.priority, row.status)
    _apply(batch, row, event, state, result, days)
    after = (row.priority, row.status)
    if before != after:
        _count(batch, before, -1)
        _count(batch, after, 1)


def _apply(
    batch: Batch, row: CaseRow, event: Event, state: CaseState, result: CaseState, days: Days
) -> None:
    # Most events (notes, assignments) leave the milestones as they were: nothing ended.
    same = result.milestones is state.milestones or result.milestones == state.milestones
    ended = () if same else ended_clocks(state, result, event.occurred_at)
    if not same or result.status != state.status or result.anchor_at != state.anchor_at:
        row.next_due_at = next_due(result)
    row.state = result
    row.status, row.owner, row.priority = result.status, result.owner, result.priority
    row.dealer_id, row.repeat, row.cycle = result.dealer_id, result.repeat, result.cycle
    row.updated_at = event.occurred_at
    if ended:
        row.ended_clocks = (*row.ended_clocks, *ended)
        row.breached = row.breached or any(not clock.met for clock in ended)
        for clock in ended:
            rollups.clock_ended(batch.rollups, row, clock, days)
            _measure(batch, row, clock, result, days)
    at, facts = event.occurred_at, batch.rollups
    if isinstance(event, CaseResolved):
        row.root_cause_category = event.payload.root_cause.category
        rollups.fact(facts, at, days, "resolved")
        rollups.fact(facts, at, days, "root_cause", row.root_cause_category)
    elif isinstance(event, CaseClosed):
        row.closed_at = event.occurred_at
    elif isinstance(event, CaseReopened):
        row.reopen_count += 1
        row.closed_at = None
        rollups.fact(facts, at, days, "reopened")
    elif isinstance(event, RevisitOutcomeRecorded):
        row.revisit_outcome, row.revisit_score = event.payload.outcome, event.payload.score
        score = "" if row.revisit_score is None else str(row.revisit_score)
        rollups.fact(facts, at, days, "revisit", row.revisit_outcome, score)
    elif isinstance(event, RepeatComplainantDetected):
        row.prior_case_ids = tuple(event.payload.prior_case_ids)


def _measure(batch: Batch, row: CaseRow, clock: EndedClock, result: CaseState, days: Days) -> None:
    seconds = clock.elapsed.total_seconds()
    if clock.milestone == "first_response" and row.first_response_at is None:
        row.first_response_at, row.first_response_seconds = clock.ended_at, seconds
        batch.first_responses.append(seconds)
    elif clock.milestone == "resolution" and result.status == "resolved":
        row.resolved_at, row.resolution_seconds = clock.ended_at, seconds
        batch.resolutions.append(seconds)
    else:
        return
    rollups.measured(batch.rollups, clock.milestone, span_us(clock.elapsed), clock.ended_at, days)


def _opened_row(event: CaseOpened, record: Record, state: CaseState) -> CaseRow:
    payload = event.payload
    return CaseRow(
        case_id=event.case_id,
        partition=record.partition,
        position=record.offset,
        opened_at=event.occurred_at,
        updated_at=event.occurred_at,
        status=state.status,
        owner=state.owner,
        priority=state.priority,
        category=payload.category,
        channel=payload.channel,
        dealer_id=payload.dealer_id,
        product=payload.product,
        external_ref=payload.external_ref,
        summary=payload.summary,
        sensitive=payload.sensitive,
        sensitive_reasons=tuple(payload.sensitive_reasons),
        repeat=state.repeat,
        prior_case_ids=(),
        cycle=state.cycle,
        reopen_count=0,
        state=state,
        next_due_at=next_due(state),
    )


def _count(batch: Batch, key: tuple[str, str], change: int) -> None:
    batch.counts[key] = batch.counts.get(key, 0) + change


def _timeline_row(
    event: Event,
    record: Record,
    outcome: str,
    reason: str | None = None,
    detail: str | None = None,
    refused_by: str | None = None,
) -> TimelineRow:
    payload: dict[str, Any] = event.payload.model_dump(mode="json", exclude=set(_PRIVATE))
    return TimelineRow(
        case_id=event.case_id,
        event_id=event.event_id,
        partition=record.partition,
        position=record.offset,
        type=event.type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor_kind=event.actor.kind,
        actor_id=event.actor.id,
        payload=payload,
        outcome=outcome,
        reason=reason,
        detail=detail,
        refused_by=refused_by,
    )


def _escalation_row(event: EscalationRaised, record: Record) -> EscalationRow:
    payload = event.payload
    return EscalationRow(
        escalation_id=payload.escalation_id,
        repeat=payload.repeat,
        audience=payload.audience,
        case_id=event.case_id,
        event_id=event.event_id,
        partition=record.partition,
        position=record.offset,
        milestone=payload.milestone,
        cycle=payload.cycle,
        step=payload.step,
        tier=payload.tier,
        reason=payload.reason,
        due_at=payload.due_at,
        fired_at=payload.fired_at,
        late_seconds=payload.case.late_seconds,
    )
