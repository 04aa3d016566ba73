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
    owner: ShortText


class CustomerContactedPayload(Payload):
    note: NoteText | None = None


class CallbackPromisedPayload(Payload):
    promise_id: ShortText
    due_at: UtcDatetime


class PromiseKeptPayload(Payload):
    promise_id: ShortText


class SolutionAgreedPayload(Payload):
    summary: Summary


class CustomerAwaitedPayload(Payload):
    reason: ReasonText


class CaseResolvedPayload(Payload):
    resolution: NoteText
    root_cause: RootCause


class CaseClosedPayload(Payload):
    # Set when a revisit outcome closed the case; absent when an agent closed it.
    outcome: RevisitOutcome | None = None


class CaseReopenedPayload(Payload):
    reason: ReasonText


class NoteAddedPayload(Payload):
    text: NoteText


class PrioritySetPayload(Payload):
    priority: Priority
    reason: ReasonText


class EscalationAcknowledgedPayload(Payload):
    escalation_id: UUID


class CaseHandedToDealerPayload(Payload):
    dealer_id: ShortText


class CommandRejectedPayload(Payload):
    rejected_event_id: UUID
    rejected_type: ShortText
    # A short code (e.g. invalid_transition) so it can label a metric; prose goes in detail.
    reason: ShortText
    detail: ReasonText | None = None


class RepeatComplainantDetectedPayload(Payload):
    prior_case_ids: tuple[UUID, ...] = Field(max_length=1_000)
    window_days: PositiveInt


class RevisitOutcomeRecordedPayload(Payload):
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
    type: Literal["case_opened"] = "case_opened"
    payload: CaseOpenedPayload


class CaseAcknowledged(Event):
    type: Literal["case_acknowledged"] = "case_acknowledged"
    payload: EmptyPayload = EmptyPayload()


class CaseAssigned(Event):
    type: Literal["case_assigned"] = "case_assigned"
    payload: CaseAssignedPayload


class CustomerContacted(Event):
    type: Literal["customer_contacted"] = "customer_contacted"
    payload: CustomerContactedPayload = CustomerContactedPayload()


class CallbackPromised(Event):
    type: Literal["callback_promised"] = "callback_promised"
    payload: CallbackPromisedPayload


class PromiseKept(Event):
    type: Literal["promise_kept"] = "promise_kept"
    payload: PromiseKeptPayload


class SolutionAgreed(Event):
    type: Literal["solution_agreed"] = "solution_agreed"
    payload: SolutionAgreedPayload


class CustomerAwaited(Event):
    type: Literal["customer_awaited"] = "customer_awaited"
    payload: CustomerAwaitedPayload


class CaseResumed(Event):
    type: Literal["case_resumed"] = "case_resumed"
    payload: EmptyPayload = EmptyPayload()


class CaseResolved(Event):
    type: Literal["case_resolved"] = "case_resolved"
    payload: CaseResolvedPayload


class CaseClosed(Event):
    type: Literal["case_closed"] = "case_closed"
    payload: CaseClosedPayload = CaseClosedPayload()


class CaseReopened(Event):
    type: Literal["case_reopened"] = "case_reopened"
    payload: CaseReopenedPayload


class NoteAdded(Event):
    type: Literal["note_added"] = "note_added"
    payload: NoteAddedPayload


class PrioritySet(Event):
    type: Literal["priority_set"] = "priority_set"
    payload: PrioritySetPayload


class EscalationAcknowledged(Event):
    type: Literal["escalation_acknowledged"] = "escalation_acknowledged"
    payload: EscalationAcknowledgedPayload


class CaseHandedToDealer(Event):
    type: Literal["case_handed_to_dealer"] = "case_handed_to_dealer"
    payload: CaseHandedToDealerPayload


class DealerResponded(Event):
    type: Literal["dealer_responded"] = "dealer_responded"
    payload: EmptyPayload = EmptyPayload()


class DealerSolutionAgreed(Event):
    type: Literal["dealer_solution_agreed"] = "dealer_solution_agreed"
    payload: EmptyPayload = EmptyPayload()


class CommandRejected(Event):
    type: Literal["command_rejected"] = "command_rejected"
    payload: CommandRejectedPayload


class RepeatComplainantDetected(Event):
    type: Literal["repeat_complainant_detected"] = "repeat_complainant_detected"
    payload: RepeatComplainantDetectedPayload


class RevisitOutcomeRecorded(Event):
    type: Literal["revisit_outcome_recorded"] = "revisit_outcome_recorded"
    payload: RevisitOutcomeRecordedPayload
