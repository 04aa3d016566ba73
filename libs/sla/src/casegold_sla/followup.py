"""Follow-up rules (SPEC §4): when a callback is owed, when it is shown, what an outcome does."""

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from casegold_sla.instants import from_us, to_us
from casegold_sla.policy import PRIORITIES, FollowUpSettings

CallbackKind = Literal["revisit", "promise"]
Outcome = Literal["satisfied", "unsatisfied", "unreachable", "wrong_number"]
# What an outcome asks of the case, in the order the events are appended.
Effect = Literal["record_outcome", "close_case", "reopen_case", "keep_promise", "add_note"]
# Where the callback goes: finished, kept aside for a data fix, or back to the schedule.
Settled = Literal["done", "flagged", "retry"]

CALLBACK_KINDS: Final[tuple[CallbackKind, ...]] = ("revisit", "promise")
REACHED: Final = frozenset({"satisfied", "unsatisfied"})


@dataclass(frozen=True, slots=True)
class Slot:
    """When a callback is owed (`due_at`) and when it enters the queue (`visible_at`)."""

    due_at: datetime
    visible_at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeDecision:
    """The case events an outcome makes, and what becomes of the callback."""

    effects: tuple[Effect, ...]
    settled: Settled
    retry: Slot | None = None
    # Set when the case is closed: the outcome it was closed with.
    close_outcome: Outcome | None = None


def revisit_slot(settings: FollowUpSettings, resolved_at: datetime, timezone: str | None) -> Slot:
    """A revisit: resolution + delay, moved into the customer's contact window."""
    due = settings.revisit_at(resolved_at, timezone)
    return Slot(due, due)


def promise_slot(settings: FollowUpSettings, due_at: datetime) -> Slot:
    """A promised callback: owed at the promised instant, shown `callback_lead_time` before."""
    # The customer was told this instant: it is not moved into a window.
    return Slot(due_at, from_us(to_us(due_at) - settings.callback_lead_time))


def retry_slot(settings: FollowUpSettings, attempted_at: datetime, timezone: str | None) -> Slot:
    """The next attempt after an unreachable call: the interval later, inside the window."""
    later = from_us(to_us(attempted_at) + settings.unreachable_retry_interval)
    due = settings.contact_time(later, timezone)
    return Slot(due, due)


def decide_outcome(
    settings: FollowUpSettings,
    *,
    kind: CallbackKind,
    outcome: Outcome,
    attempt: int,
    at: datetime,
    timezone: str | None,
) -> OutcomeDecision:
    """What recording `outcome` for attempt `attempt` of a callback does (SPEC §4)."""
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    last_attempt = attempt >= settings.unreachable_attempts
    if kind == "revisit":
        return _revisit(settings, outcome, last_attempt, at, timezone)
    return _promise(settings, outcome, last_attempt, at, timezone)


def _revisit(
    settings: FollowUpSettings,
    outcome: Outcome,
    last_attempt: bool,
    at: datetime,
    timezone: str | None,
) -> OutcomeDecision:
    if outcome == "satisfied":
        return OutcomeDecision(("record_outcome", "close_case"), "done", close_outcome=outcome)
    if outcome == "unsatisfied":
        # Reopening is what escalates (SPEC §3): the core's `reopened` milestone.
        return OutcomeDecision(("record_outcome", "reopen_case"), "done")
    if outcome == "wrong_number":
        # The case stays resolved: nobody can be asked until the number is fixed.
        return OutcomeDecision(("record_outcome",), "flagged")
    if last_attempt:
        return OutcomeDecision(("record_outcome", "close_case"), "done", close_outcome=outcome)
    return OutcomeDecision(("record_outcome",), "retry", retry_slot(settings, at, timezone))


def _promise(
    settings: FollowUpSettings,
    outcome: Outcome,
    last_attempt: bool,
    at: datetime,
    timezone: str | None,
) -> OutcomeDecision:
    # A promised callback is made while the case is still open: reaching the customer keeps
    # the promise; the customer's verdict on the solution belongs to the revisit.
    if outcome in REACHED:
        return OutcomeDecision(("add_note", "keep_promise"), "done")
    if outcome == "wrong_number":
        return OutcomeDecision(("add_note",), "flagged")
    if last_attempt:
        # The promise stays open: the escalation ladder decides whether it is broken.
        return OutcomeDecision(("add_note",), "done")
    return OutcomeDecision(("add_note",), "retry", retry_slot(settings, at, timezone))


def revisit_wanted(resolved_at: datetime, ended_at: datetime | None) -> bool:
    """Whether a resolution still owes a revisit, given the last close or reopen seen."""
    # Events of one case may be read out of order (a close before its resolve): comparing
    # their instants, not their arrival, makes the result the same in any order.
    return ended_at is None or to_us(resolved_at) > to_us(ended_at)


def priority_rank(priority: str | None) -> int:
    """The queue rank of a case priority: P1 first; unknown priorities last."""
    return PRIORITIES.index(priority) + 1 if priority in PRIORITIES else len(PRIORITIES) + 1
