"""Events of the `complaints.case-events` topic, one class per catalogue type."""

from typing import Literal

from .case_payloads import (
    CallbackPromisedPayload,
    CaseAssignedPayload,
    CaseClosedPayload,
    CaseHandedToDealerPayload,
    CaseOpenedPayload,
    CaseReopenedPayload,
    CaseResolvedPayload,
    CommandRejectedPayload,
    CustomerAwaitedPayload,
    CustomerContactedPayload,
    EmptyPayload,
    EscalationAcknowledgedPayload,
    NoteAddedPayload,
    PrioritySetPayload,
    PromiseKeptPayload,
    RepeatComplainantDetectedPayload,
    RevisitOutcomeRecordedPayload,
    SolutionAgreedPayload,
)
from .envelope import Event


class CaseOpened(Event):
    """A case was opened."""

    type: Literal["case_opened"] = "case_opened"
    payload: CaseOpenedPayload


class CaseAcknowledged(Event):
    """The owner acknowledged the case."""

    type: Literal["case_acknowledged"] = "case_acknowledged"
    payload: EmptyPayload = EmptyPayload()


class CaseAssigned(Event):
    """The case was assigned to an owner."""

    type: Literal["case_assigned"] = "case_assigned"
    payload: CaseAssignedPayload


class CustomerContacted(Event):
    """The owner contacted the customer."""

    type: Literal["customer_contacted"] = "customer_contacted"
    payload: CustomerContactedPayload = CustomerContactedPayload()


class CallbackPromised(Event):
    """A callback was promised to the customer."""

    type: Literal["callback_promised"] = "callback_promised"
    payload: CallbackPromisedPayload


class PromiseKept(Event):
    """A promised callback was kept."""

    type: Literal["promise_kept"] = "promise_kept"
    payload: PromiseKeptPayload


class SolutionAgreed(Event):
    """A solution was agreed with the customer."""

    type: Literal["solution_agreed"] = "solution_agreed"
    payload: SolutionAgreedPayload


class CustomerAwaited(Event):
    """The case started waiting on the customer."""

    type: Literal["customer_awaited"] = "customer_awaited"
    payload: CustomerAwaitedPayload


class CaseResumed(Event):
    """The case stopped waiting on the customer."""

    type: Literal["case_resumed"] = "case_resumed"
    payload: EmptyPayload = EmptyPayload()


class CaseResolved(Event):
    """The case was resolved."""

    type: Literal["case_resolved"] = "case_resolved"
    payload: CaseResolvedPayload


class CaseClosed(Event):
    """The case was closed."""

    type: Literal["case_closed"] = "case_closed"
    payload: CaseClosedPayload = CaseClosedPayload()


class CaseReopened(Event):
    """The case was reopened."""

    type: Literal["case_reopened"] = "case_reopened"
    payload: CaseReopenedPayload


class NoteAdded(Event):
    """A note was added to the case."""

    type: Literal["note_added"] = "note_added"
    payload: NoteAddedPayload


class PrioritySet(Event):
    """The case's priority was changed."""

    type: Literal["priority_set"] = "priority_set"
    payload: PrioritySetPayload


class EscalationAcknowledged(Event):
    """A manager acknowledged an escalation."""

    type: Literal["escalation_acknowledged"] = "escalation_acknowledged"
    payload: EscalationAcknowledgedPayload


class CaseHandedToDealer(Event):
    """The case was handed to a dealer."""

    type: Literal["case_handed_to_dealer"] = "case_handed_to_dealer"
    payload: CaseHandedToDealerPayload


class DealerResponded(Event):
    """The dealer responded."""

    type: Literal["dealer_responded"] = "dealer_responded"
    payload: EmptyPayload = EmptyPayload()


class DealerSolutionAgreed(Event):
    """The dealer agreed a solution."""

    type: Literal["dealer_solution_agreed"] = "dealer_solution_agreed"
    payload: EmptyPayload = EmptyPayload()


class CommandRejected(Event):
    """The escalation service rejected an event."""

    type: Literal["command_rejected"] = "command_rejected"
    payload: CommandRejectedPayload


class RepeatComplainantDetected(Event):
    """The case's customer is a repeat complainant."""

    type: Literal["repeat_complainant_detected"] = "repeat_complainant_detected"
    payload: RepeatComplainantDetectedPayload


class RevisitOutcomeRecorded(Event):
    """A revisit outcome was recorded."""

    type: Literal["revisit_outcome_recorded"] = "revisit_outcome_recorded"
    payload: RevisitOutcomeRecordedPayload
