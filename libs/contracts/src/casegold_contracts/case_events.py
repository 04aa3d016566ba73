"""Payloads and events of the `complaints.case-events` topic."""

from typing import Literal
from uuid import UUID

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from .envelope import ContractModel, Event, Payload
from .fields import (
    Category,
    CustomerKey,
    Description,
    Locale,
    NoteText,
    Phone,
    ReasonText,
    ShortText,
    Summary,
    Timezone,
    Url,
    UtcDatetime,
)
from .vocabulary import Channel, Priority, RevisitOutcome


class Customer(ContractModel):
    """The complainant as given at intake; `phone` is stored normalised."""

    id: ShortText | None = None
    phone: Phone
    name: ShortText | None = None
    # Shape only: whether the zone exists is the consumer's call (tz data differs by host).
    timezone: Timezone | None = None
    locale: Locale | None = None


class Mention(ContractModel):
    """A negative public mention that opened the case."""

    source_url: Url
    text: Description
    keywords: tuple[ShortText, ...] = Field(default=(), max_length=50)
    reach: NonNegativeInt = 0


class RootCause(ContractModel):
    """The 5-why result recorded on resolution."""

    category: Category
    text: NoteText


class CaseOpenedPayload(Payload):
    """A new case as accepted by intake."""

    external_ref: ShortText | None = None
    channel: Channel
    customer: Customer
    customer_key: CustomerKey
    category: Category
    priority: Priority
    dealer_id: ShortText | None = None
    product: ShortText | None = None
    summary: Summary
    description: Description
    complaint_occurred_at: UtcDatetime | None = None
    sensitive: bool = False
    sensitive_reasons: tuple[ShortText, ...] = Field(default=(), max_length=50)
    mention: Mention | None = None


class EmptyPayload(Payload):
    """A payload with no fields."""


class CaseAssignedPayload(Payload):
    """The case's new accountable owner."""

    owner: ShortText


class CustomerContactedPayload(Payload):
    """The owner reached the customer."""

    note: NoteText | None = None


class CallbackPromisedPayload(Payload):
    """The owner promised to call the customer back by `due_at`."""

    promise_id: ShortText
    due_at: UtcDatetime


class PromiseKeptPayload(Payload):
    """A promised callback was made."""

    promise_id: ShortText


class SolutionAgreedPayload(Payload):
    """The solution agreed with the customer."""

    summary: Summary


class CustomerAwaitedPayload(Payload):
    """Why the case waits on the customer (pauses the clocks)."""

    reason: ReasonText


class CaseResolvedPayload(Payload):
    """How the case was resolved and why it happened (5-why)."""

    resolution: NoteText
    root_cause: RootCause


class CaseClosedPayload(Payload):
    """The case was closed."""

    # Set when a revisit outcome closed the case; absent when an agent closed it.
    outcome: RevisitOutcome | None = None


class CaseReopenedPayload(Payload):
    """Why the case was reopened."""

    reason: ReasonText


class NoteAddedPayload(Payload):
    """A free-text note on the case timeline."""

    text: NoteText


class PrioritySetPayload(Payload):
    """The case's new priority and why."""

    priority: Priority
    reason: ReasonText


class EscalationAcknowledgedPayload(Payload):
    """A manager acknowledged an escalation notice."""

    escalation_id: UUID


class CaseHandedToDealerPayload(Payload):
    """The dealer now handling the case."""

    dealer_id: ShortText


class CommandRejectedPayload(Payload):
    """The state machine rejected an event."""

    rejected_event_id: UUID
    rejected_type: ShortText
    # A short code (e.g. invalid_transition) so it can label a metric; prose goes in detail.
    reason: ShortText
    detail: ReasonText | None = None


class RepeatComplainantDetectedPayload(Payload):
    """The customer opened other cases within the window."""

    prior_case_ids: tuple[UUID, ...] = Field(max_length=1_000)
    window_days: PositiveInt


class RevisitOutcomeRecordedPayload(Payload):
    """The result of a revisit call."""

    callback_id: UUID
    outcome: RevisitOutcome
    score: int | None = Field(default=None, ge=1, le=5)
    reason: ReasonText | None = None
    attempt: PositiveInt = 1

    @model_validator(mode="after")
    def _outcome_details(self) -> "RevisitOutcomeRecordedPayload":
        if self.outcome == "satisfied" and self.score is None:
            raise ValueError("a satisfied outcome needs a score from 1 to 5")
        if self.outcome == "unsatisfied" and self.reason is None:
            raise ValueError("an unsatisfied outcome needs a reason")
        return self


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
