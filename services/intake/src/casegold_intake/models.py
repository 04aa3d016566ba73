"""HTTP request and reply bodies; field types come from the shared contracts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from casegold_contracts import Channel, Customer, Mention, Priority
from casegold_contracts.fields import (
    Category,
    Description,
    ShortText,
    Summary,
    UtcDatetime,
)


class RequestBody(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is a 422, not a loss."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseRequest(RequestBody):
    """A new complaint (SPEC §3 fields set at intake)."""

    external_ref: ShortText | None = Field(None, description="the IVR call id")
    channel: Channel
    customer: Customer
    category: Category = Field(description="one of the configured categories")
    priority: Priority | None = Field(None, description="default from the rules when absent")
    dealer_id: ShortText | None = None
    product: ShortText | None = None
    summary: Summary
    description: Description = ""
    occurred_at: UtcDatetime | None = Field(None, description="when the complaint happened")


class MentionRequest(Mention):
    """A negative public mention to open a `social` case from (seed 000)."""

    model_config = ConfigDict(extra="forbid")

    # The case contract needs a reachable customer; the monitor supplies who posted it.
    customer: Customer
    summary: Summary | None = Field(None, description="defaults to the start of the text")
    category: Category = "other"
    priority: Priority | None = None
    dealer_id: ShortText | None = None
    product: ShortText | None = None
    external_ref: ShortText | None = None
    occurred_at: UtcDatetime | None = Field(None, description="when the mention was posted")

    def mention(self) -> Mention:
        """The mention part of the request, as the contract's model."""
        return Mention(
            source_url=self.source_url, text=self.text, keywords=self.keywords, reach=self.reach
        )


class CaseAccepted(BaseModel):
    """A case durable in Kafka, with the SLA due times of its milestones."""

    case_id: UUID
    event_id: UUID
    status: Literal["open"] = "open"
    opened_at: datetime
    channel: Channel
    category: str
    priority: Priority
    sensitive: bool
    sensitive_reasons: list[str]
    policy: str = Field(description="the SLA policy the case runs under")
    due: dict[str, datetime] = Field(description="milestone → due time (RFC 3339, UTC)")


class CommandAccepted(BaseModel):
    """A command appended to the case's events (the escalation service may still reject it)."""

    case_id: UUID
    event_id: UUID
    command: str
    event_type: str
    promise_id: str | None = Field(None, description="set for promise_callback")


class Problem(BaseModel):
    """An error reply."""

    detail: str


class FieldProblem(BaseModel):
    """One invalid field: where (`loc`) and why."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A 422 reply: every invalid field, never the submitted values."""

    detail: list[FieldProblem]
