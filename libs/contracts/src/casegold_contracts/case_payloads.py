"""Payload models of the `complaints.case-events` topic."""

from uuid import UUID

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from .envelope import ContractModel, Payload
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
