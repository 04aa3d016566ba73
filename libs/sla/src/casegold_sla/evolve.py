"""`evolve(state, event, policies)`: the case state machine of SPEC §3, as a pure fold.

A command that makes no sense in the current state yields a `Rejection` value, never an
exception. A redelivered event (same event_id as one of the last few) changes nothing.
"""

import sys
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final
from uuid import UUID

from casegold_contracts import (
    CallbackPromised,
    CaseAcknowledged,
    CaseAssigned,
    CaseClosed,
    CaseHandedToDealer,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseResumed,
    CustomerAwaited,
    CustomerContacted,
    DealerResponded,
    DealerSolutionAgreed,
    EscalationAcknowledged,
    Event,
    NoteAdded,
    PrioritySet,
    PromiseKept,
    RepeatComplainantDetected,
    RevisitOutcomeRecorded,
    SolutionAgreed,
    escalation_id,
)
from casegold_sla.clock import find_reminder
from casegold_sla.instants import to_us
from casegold_sla.policy import (
    CASE_MILESTONES,
    DEALER_MILESTONES,
    REVISIT,
    PolicySet,
    promise_milestone,
)
from casegold_sla.state import (
    ACKNOWLEDGED,
    ACTIVE,
    AWAITING_CUSTOMER,
    CLOSED,
    IN_PROGRESS,
    OPEN,
    REOPENED,
    RESOLVED,
    SOLUTION_AGREED,
    UNRESOLVED,
    CaseState,
    Rejection,
)
from casegold_sla.transitions import (
    end_milestones,
    is_promise,
    named,
    set_status,
    start_milestone,
)

Result = CaseState | Rejection
_Handler = Callable[[CaseState, Any, int], Rejection | None]

_REMEMBERED_EVENTS: Final = 4
_FINGERPRINT_MASK: Final = (1 << 64) - 1


def evolve(state: CaseState | None, event: Event, policies: PolicySet) -> Result:
    """Apply one case event; `policies` is only read by case_opened, to freeze the policy."""
    if isinstance(event, CaseOpened):
        if state is None:
            return open_case(event, policies)
        if seen(state, event.event_id):
            return state
        return Rejection("case_exists", "case_opened for a case that is already open")
    if state is None:
        return Rejection("unknown_case", f"{event.type} for a case that was never opened")
    if seen(state, event.event_id):
        return state
    handler = _HANDLERS.get(type(event))
    if handler is None:
        # command_rejected and events of other topics do not concern the state machine.
        return state
    draft = state.copy()
    # Per-case order is Kafka's; a slightly earlier clock on another intake must not run
    # the odometer backwards.
    at = max(to_us(event.occurred_at), state.anchor_at)
    rejection = handler(draft, event, at)
    if rejection is not None:
        return rejection
    draft.recent_events = _remember(draft.recent_events, event.event_id)
    return draft


def open_case(event: CaseOpened, policies: PolicySet) -> CaseState:
    """The state of a new case: its policy frozen, its clocks started."""
    payload = event.payload
    at = to_us(event.occurred_at)
    policy = policies.freeze(
        priority=payload.priority,
        category=payload.category,
        channel=payload.channel,
        dealer_id=payload.dealer_id,
        sensitive=payload.sensitive,
        opened_at=at,
    )
    case = CaseState(
        case_id=event.case_id,
        status=OPEN,
        resume_status=None,
        owner=None,
        priority=sys.intern(payload.priority),
        category=sys.intern(payload.category),
        dealer_id=sys.intern(payload.dealer_id) if payload.dealer_id else None,
        sensitive=payload.sensitive,
        repeat=False,
        policy=policy,
        cycle=1,
        dealer_round=0,
        anchor_at=at,
        anchor_offset=0,
        milestones=(),
        recent_events=_remember(0, event.event_id),
    )
    for kind in CASE_MILESTONES:
        start_milestone(case, kind, case.priority, 1, at)
    if payload.sensitive:
        start_milestone(case, "sensitive", "", 1, at)
    return case


def seen(state: CaseState, event_id: UUID) -> bool:
    """Whether the event is one of the last few the case applied."""
    fingerprint = _fingerprint(event_id)
    recent = state.recent_events
    return any(
        (recent >> (64 * slot)) & _FINGERPRINT_MASK == fingerprint
        for slot in range(_REMEMBERED_EVENTS)
    )


def _fingerprint(event_id: UUID) -> int:
    # 64 bits of a random UUID; the top bit set so an empty slot (0) never matches.
    return (event_id.int & _FINGERPRINT_MASK) | (1 << 63)


def _remember(recent: int, event_id: UUID) -> int:
    window = (1 << (64 * _REMEMBERED_EVENTS)) - 1
    return ((recent << 64) | _fingerprint(event_id)) & window


def _refuse(case: CaseState, event: Event, reason: str = "invalid_transition") -> Rejection:
    return Rejection(reason, f"{event.type} is not allowed while the case is {case.status}")


def _acknowledge(case: CaseState, event: CaseAcknowledged, at: int) -> Rejection | None:
    if case.status != OPEN:
        return _refuse(case, event)
    end_milestones(case, at, named("first_response"))
    set_status(case, ACKNOWLEDGED, at)
    return None


def _contact(case: CaseState, event: CustomerContacted, at: int) -> Rejection | None:
    if case.status not in ACTIVE:
        return _refuse(case, event)
    # Talking to the customer is the first response, and keeps every promise made before.
    end_milestones(case, at, lambda m: m.name == "first_response" or is_promise(m))
    if case.status in (OPEN, ACKNOWLEDGED, REOPENED):
        set_status(case, IN_PROGRESS, at)
    return None


def _agree(case: CaseState, event: SolutionAgreed, at: int) -> Rejection | None:
    if case.status not in (ACKNOWLEDGED, IN_PROGRESS, REOPENED):
        return _refuse(case, event)
    end_milestones(case, at, named("first_response", "solution_agreed"))
    set_status(case, SOLUTION_AGREED, at)
    return None


def _await(case: CaseState, event: CustomerAwaited, at: int) -> Rejection | None:
    if case.status not in ACTIVE:
        return _refuse(case, event)
    set_status(case, AWAITING_CUSTOMER, at)
    return None


def _resume(case: CaseState, event: CaseResumed, at: int) -> Rejection | None:
    if case.status != AWAITING_CUSTOMER or case.resume_status is None:
        return _refuse(case, event)
    set_status(case, case.resume_status, at)
    return None


def _resolve(case: CaseState, event: CaseResolved, at: int) -> Rejection | None:
    if case.status not in UNRESOLVED:
        return _refuse(case, event)
    root_cause = event.payload.root_cause
    if not (root_cause.category.strip() and root_cause.text.strip()):
        return Rejection("root_cause_required", "resolving a case needs its root cause")
    # Resolution ends every clock of the contact centre and the dealer, and every promise.
    ending = (*CASE_MILESTONES, *DEALER_MILESTONES)
    end_milestones(case, at, lambda m: m.name in ending or is_promise(m))
    set_status(case, RESOLVED, at)
    start_milestone(case, REVISIT, case.priority, case.cycle, at)
    return None


def _close(case: CaseState, event: CaseClosed, at: int) -> Rejection | None:
    if case.status != RESOLVED:
        return _refuse(case, event)
    end_milestones(case, at, named(REVISIT))
    set_status(case, CLOSED, at)
    return None


def _reopen(case: CaseState, event: CaseReopened, at: int) -> Rejection | None:
    if case.status not in (RESOLVED, CLOSED):
        return _refuse(case, event)
    end_milestones(case, at, named(REVISIT))
    set_status(case, REOPENED, at)
    case.cycle += 1
    start_milestone(case, "resolution", case.priority, case.cycle, at)
    start_milestone(case, "reopened", "", case.cycle, at)
    return None


def _assign(case: CaseState, event: CaseAssigned, at: int) -> Rejection | None:
    if case.status == CLOSED:
        return _refuse(case, event)
    case.owner = sys.intern(event.payload.owner)
    return None


def _set_priority(case: CaseState, event: PrioritySet, at: int) -> Rejection | None:
    if case.status == CLOSED:
        return _refuse(case, event)
    # Running clocks keep their targets; clocks started from now on use the new priority.
    case.priority = sys.intern(event.payload.priority)
    return None


def _promise(case: CaseState, event: CallbackPromised, at: int) -> Rejection | None:
    if case.status not in UNRESOLVED:
        return _refuse(case, event)
    # A promise is a wall-clock instant: pauses do not move it, and one due in the past
    # is broken at once.
    promise_id = event.payload.promise_id
    if not printable(promise_id):
        return _invalid_promise_id(promise_id)
    name = promise_milestone(promise_id)
    running = case.milestone(name)
    if running is not None and running.cursor < len(running.rule.steps):
        # Moving an open promise's due time is not a new promise (decision 0032).
        return Rejection(
            "promise_open",
            f"promise {promise_id!r} is still open: keep it first, or promise under a new id",
        )
    if running is not None:  # broken: its escalations fired; the new promise replaces it
        case.milestones = tuple(m for m in case.milestones if m is not running)
        reminders = tuple(
            r for r in case.reminders or () if (r.milestone, r.cycle) != (name, running.cycle)
        )
        case.reminders = reminders or None
    cycles = dict(case.promise_cycles or ())
    cycle = cycles.get(promise_id, 0) + 1
    cycles[promise_id] = cycle
    case.promise_cycles = tuple(cycles.items())
    start_milestone(case, "promise", promise_id, cycle, at, origin=to_us(event.payload.due_at))
    return None


def printable(text: str) -> bool:
    """Whether text has no control, format or line-separator characters (ids end up in
    e-mail headers and log lines, where a line break forges a header or a line)."""
    return not any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in text)


def _invalid_promise_id(promise_id: str) -> Rejection:
    return Rejection("invalid_promise_id", f"promise id {promise_id!r} has control characters")


def _keep_promise(case: CaseState, event: PromiseKept, at: int) -> Rejection | None:
    if not printable(event.payload.promise_id):
        return _invalid_promise_id(event.payload.promise_id)
    name = promise_milestone(event.payload.promise_id)
    if case.milestone(name) is None:
        return Rejection("unknown_promise", f"no open promise {event.payload.promise_id!r}")
    end_milestones(case, at, named(name))
    return None


def _acknowledge_escalation(
    case: CaseState, event: EscalationAcknowledged, at: int
) -> Rejection | None:
    # Stops the reminders of that one step and never cancels other steps; an id of a step
    # without reminders (or of another case) changes nothing.
    wanted = event.payload.escalation_id
    for milestone in case.milestones:
        for index in range(milestone.cursor):
            step = milestone.rule.steps[index]
            if step.repeat_every is None:
                continue
            if escalation_id(case.case_id, milestone.name, milestone.cycle, step.step) == wanted:
                record = find_reminder(case, milestone, index)
                others = tuple(r for r in case.reminders or () if r != record)
                case.reminders = (*others, replace(record, acknowledged=True))
    return None


def _hand_to_dealer(case: CaseState, event: CaseHandedToDealer, at: int) -> Rejection | None:
    if case.status not in UNRESOLVED:
        return _refuse(case, event)
    if any(m.name in DEALER_MILESTONES for m in case.milestones):
        return Rejection("dealer_clock_running", "the case is already with a dealer")
    case.dealer_id = sys.intern(event.payload.dealer_id)
    # Each hand-off is a new round of the dealer's clocks, so its escalation ids are new.
    case.dealer_round += 1
    for kind in DEALER_MILESTONES:
        start_milestone(case, kind, case.priority, case.dealer_round, at)
    return None


def _dealer_responded(case: CaseState, event: DealerResponded, at: int) -> Rejection | None:
    if case.milestone("dealer_first_response") is None:
        return Rejection("no_dealer_clock", "no dealer reply is awaited")
    end_milestones(case, at, named("dealer_first_response"))
    return None


def _dealer_agreed(case: CaseState, event: DealerSolutionAgreed, at: int) -> Rejection | None:
    if case.milestone("dealer_solution_agreed") is None:
        return Rejection("no_dealer_clock", "no dealer solution is awaited")
    end_milestones(case, at, named("dealer_first_response", "dealer_solution_agreed"))
    return None


def _repeat_complainant(
    case: CaseState, event: RepeatComplainantDetected, at: int
) -> Rejection | None:
    if not case.repeat:
        case.repeat = True
        start_milestone(case, "repeat_complainant", "", 1, at)
    return None


def _revisit_outcome(case: CaseState, event: RevisitOutcomeRecorded, at: int) -> Rejection | None:
    # Any outcome, even an unreachable attempt, shows the revisit took place.
    end_milestones(case, at, named(REVISIT))
    return None


def _note(case: CaseState, event: NoteAdded, at: int) -> Rejection | None:
    return None


_HANDLERS: Final[dict[type[Event], _Handler]] = {
    CaseAcknowledged: _acknowledge,
    CustomerContacted: _contact,
    SolutionAgreed: _agree,
    CustomerAwaited: _await,
    CaseResumed: _resume,
    CaseResolved: _resolve,
    CaseClosed: _close,
    CaseReopened: _reopen,
    CaseAssigned: _assign,
    PrioritySet: _set_priority,
    CallbackPromised: _promise,
    PromiseKept: _keep_promise,
    EscalationAcknowledged: _acknowledge_escalation,
    CaseHandedToDealer: _hand_to_dealer,
    DealerResponded: _dealer_responded,
    DealerSolutionAgreed: _dealer_agreed,
    RepeatComplainantDetected: _repeat_complainant,
    RevisitOutcomeRecorded: _revisit_outcome,
    NoteAdded: _note,
}
