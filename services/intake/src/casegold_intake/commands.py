"""The commands of SPEC §3, each shaped by its event's payload model from the contracts.

One command per request: `{"command": "<name>", ...payload fields}`. Each maps to the event type
of the catalogue (docs/decisions/0001-event-catalogue.md); the state machine decides later.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from casegold_contracts import (
    CaseAssignedPayload,
    CaseHandedToDealerPayload,
    CaseReopenedPayload,
    CaseResolvedPayload,
    CustomerAwaitedPayload,
    CustomerContactedPayload,
    EscalationAcknowledgedPayload,
    NoteAddedPayload,
    PrioritySetPayload,
    PromiseKeptPayload,
    SolutionAgreedPayload,
)
from casegold_contracts.fields import ShortText, UtcDatetime
from casegold_platform.http import Role

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Acknowledge(BaseModel):
    """Acknowledge the case (meets first_response)."""

    model_config = _STRICT
    command: Literal["acknowledge"]


class Assign(CaseAssignedPayload):
    """Give the case an accountable owner."""

    model_config = _STRICT
    command: Literal["assign"]


class ContactCustomer(CustomerContactedPayload):
    """Record that the customer was reached."""

    model_config = _STRICT
    command: Literal["contact_customer"]


class PromiseCallback(BaseModel):
    """Promise to call the customer back by `due_at`; intake names the promise if not given."""

    model_config = _STRICT
    command: Literal["promise_callback"]
    promise_id: ShortText | None = None
    due_at: UtcDatetime


class KeepPromise(PromiseKeptPayload):
    """Record that a promised callback was made."""

    model_config = _STRICT
    command: Literal["keep_promise"]


class AgreeSolution(SolutionAgreedPayload):
    """Record the solution agreed with the customer."""

    model_config = _STRICT
    command: Literal["agree_solution"]


class AwaitCustomer(CustomerAwaitedPayload):
    """Wait on the customer (pauses the clocks)."""

    model_config = _STRICT
    command: Literal["await_customer"]


class Resume(BaseModel):
    """Stop waiting on the customer."""

    model_config = _STRICT
    command: Literal["resume"]


class Resolve(CaseResolvedPayload):
    """Resolve the case; the root cause (5-why) is required."""

    model_config = _STRICT
    command: Literal["resolve"]


class Close(BaseModel):
    """Close the case."""

    model_config = _STRICT
    command: Literal["close"]


class Reopen(CaseReopenedPayload):
    """Reopen a resolved or closed case."""

    model_config = _STRICT
    command: Literal["reopen"]


class AddNote(NoteAddedPayload):
    """Add a note to the timeline."""

    model_config = _STRICT
    command: Literal["add_note"]


class SetPriority(PrioritySetPayload):
    """Change the priority, with a reason."""

    model_config = _STRICT
    command: Literal["set_priority"]


class AcknowledgeEscalation(EscalationAcknowledgedPayload):
    """A manager acknowledges an escalation notice (stops its reminders)."""

    model_config = _STRICT
    command: Literal["acknowledge_escalation"]


class HandToDealer(CaseHandedToDealerPayload):
    """Hand the case to a dealer (starts the dealer clocks)."""

    model_config = _STRICT
    command: Literal["hand_to_dealer"]


class DealerResponded(BaseModel):
    """The dealer responded."""

    model_config = _STRICT
    command: Literal["dealer_responded"]


class DealerAgreedSolution(BaseModel):
    """The dealer agreed a solution."""

    model_config = _STRICT
    command: Literal["dealer_agreed_solution"]


Command: TypeAlias = Annotated[
    Acknowledge
    | Assign
    | ContactCustomer
    | PromiseCallback
    | KeepPromise
    | AgreeSolution
    | AwaitCustomer
    | Resume
    | Resolve
    | Close
    | Reopen
    | AddNote
    | SetPriority
    | AcknowledgeEscalation
    | HandToDealer
    | DealerResponded
    | DealerAgreedSolution,
    Field(discriminator="command"),
]

EVENT_TYPE: Final[dict[str, str]] = {
    "acknowledge": "case_acknowledged",
    "assign": "case_assigned",
    "contact_customer": "customer_contacted",
    "promise_callback": "callback_promised",
    "keep_promise": "promise_kept",
    "agree_solution": "solution_agreed",
    "await_customer": "customer_awaited",
    "resume": "case_resumed",
    "resolve": "case_resolved",
    "close": "case_closed",
    "reopen": "case_reopened",
    "add_note": "note_added",
    "set_priority": "priority_set",
    "acknowledge_escalation": "escalation_acknowledged",
    "hand_to_dealer": "case_handed_to_dealer",
    "dealer_responded": "dealer_responded",
    "dealer_agreed_solution": "dealer_solution_agreed",
}

# Who may send what: SPEC §3 gives escalation acknowledgements to managers only.
COMMAND_ROLES: Final[tuple[Role, ...]] = ("agent", "manager")
MANAGER_ONLY: Final = frozenset({"acknowledge_escalation"})


def payload_of(command: BaseModel, promise_id: str | None = None) -> dict[str, Any]:
    """The event payload of a command: its fields without `command` (and the promise id)."""
    fields = command.model_dump(exclude={"command"}, exclude_none=True)
    if isinstance(command, PromiseCallback):
        fields["promise_id"] = promise_id
    return fields
