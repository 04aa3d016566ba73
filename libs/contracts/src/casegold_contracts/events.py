"""Unions of all event types, discriminated by `type`."""

from typing import Annotated, TypeAlias

from pydantic import Field

from .case_events import (
    CallbackPromised,
    CaseAcknowledged,
    CaseAssigned,
    CaseClosed,
    CaseHandedToDealer,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseResumed,
    CommandRejected,
    CustomerAwaited,
    CustomerContacted,
    DealerResponded,
    DealerSolutionAgreed,
    EscalationAcknowledged,
    NoteAdded,
    PrioritySet,
    PromiseKept,
    RepeatComplainantDetected,
    RevisitOutcomeRecorded,
    SolutionAgreed,
)
from .escalation_events import EscalationRaised

CaseEvent: TypeAlias = Annotated[
    CaseOpened
    | CaseAcknowledged
    | CaseAssigned
    | CustomerContacted
    | CallbackPromised
    | PromiseKept
    | SolutionAgreed
    | CustomerAwaited
    | CaseResumed
    | CaseResolved
    | CaseClosed
    | CaseReopened
    | NoteAdded
    | PrioritySet
    | EscalationAcknowledged
    | CaseHandedToDealer
    | DealerResponded
    | DealerSolutionAgreed
    | CommandRejected
    | RepeatComplainantDetected
    | RevisitOutcomeRecorded,
    Field(discriminator="type"),
]

EscalationEvent: TypeAlias = EscalationRaised

# Every event the platform knows; `parse` returns one of these.
AnyEvent: TypeAlias = Annotated[
    CaseEvent | EscalationEvent,
    Field(discriminator="type"),
]
ParsedEvent: TypeAlias = AnyEvent
