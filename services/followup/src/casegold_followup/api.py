"""HTTP routes of the callback queue (thin: validate, call the queue use case, shape the reply)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from casegold_followup.adapters import queue_sql
from casegold_followup.adapters.postgres import connection
from casegold_followup.queue import CallbackQueue, OutcomeInput
from casegold_platform.http import Principal, authorizer, role_dependency
from casegold_sla.followup import CallbackKind, Outcome

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])
RevisitAgent = Annotated[Principal, Depends(role_dependency("revisit_agent"))]
Reader = Annotated[Principal, Depends(role_dependency("agent", "manager"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeaseRequest(Strict):
    """Which agent asks, for which kinds, and how many callbacks at most."""

    agent_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@\-]+$")
    kinds: list[CallbackKind] = Field(default=["revisit", "promise"], min_length=1)
    limit: int = Field(1, ge=1, le=200)


class LeasedCallback(BaseModel):
    """A callback now held by the agent until `lease_expires_at`."""

    callback_id: UUID
    case_id: UUID
    kind: CallbackKind
    attempt: int
    priority_rank: int
    due_at: datetime
    overdue: bool
    promise_id: str | None
    team: str | None
    customer: dict[str, Any]
    lease_token: UUID
    lease_expires_at: datetime


class LeaseReply(BaseModel):
    callbacks: list[LeasedCallback]


class OutcomeRequest(Strict):
    """The outcome of a call, under the lease's token."""

    lease_token: UUID
    outcome: Outcome
    score: int | None = Field(None, ge=1, le=5)
    reason: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _details(self) -> OutcomeRequest:
        if self.outcome == "satisfied" and self.score is None:
            raise ValueError("a satisfied outcome needs a score from 1 to 5")
        if self.outcome == "unsatisfied" and self.reason is None:
            raise ValueError("an unsatisfied outcome needs a reason")
        return self


class ReleaseRequest(Strict):
    lease_token: UUID


def _queue(request: Request) -> CallbackQueue:
    queue: CallbackQueue | None = request.app.state.queue
    if queue is None:
        raise HTTPException(503, "starting", headers={"Retry-After": "1"})
    return queue


_lease_authorized = authorizer("revisit_agent")


_LEASE_BODY: Final = TypeAdapter(LeaseRequest)
_LEASE_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LeaseRequest.model_json_schema()}},
    }
}


@router.post(
    "/lease",
    response_model=LeaseReply,
    responses={422: {"description": "an invalid body, each bad field named"}},
    openapi_extra=_LEASE_DOC,
)
async def lease(request: Request) -> Response:
    """Lease the next due callbacks: overdue first, then priority, then due time."""
    # The hottest route takes only the request: it is served through the fast lane (no
    # routing walk, no dependency solving), and checks its key and body itself.
    _lease_authorized(request)
    body = await _lease_body(request)
    queue = _queue(request)
    limit = min(body.limit, request.app.state.max_lease)
    now = queue.clock()
    rows = await queue.lease(body.agent_id, tuple(dict.fromkeys(body.kinds)), limit)
    # Encoded here rather than validated again against the response model: this is the
    # hottest route, and the rows have the documented shape by construction.
    reply = {"callbacks": [_leased(row, now) for row in rows]}
    return Response(orjson.dumps(reply, default=str), media_type="application/json")


@router.post("/{callback_id}/outcome")
async def outcome(
    callback_id: UUID, body: OutcomeRequest, request: Request, _: RevisitAgent
) -> dict[str, Any]:
    """Record the outcome once; a retry with the same token gets the same answer."""
    given = OutcomeInput(body.lease_token, body.outcome, body.score, body.reason)
    return await _queue(request).record(callback_id, given)


@router.post("/{callback_id}/release")
async def release(
    callback_id: UUID, body: ReleaseRequest, request: Request, _: RevisitAgent
) -> dict[str, str]:
    """Give the callback back to the queue before the lease runs out."""
    await _queue(request).release(callback_id, body.lease_token)
    return {"status": "released"}


@router.get("")
async def list_callbacks(
    request: Request,
    _: Reader,
    state: Literal["due", "leased", "scheduled", "done", "flagged", "cancelled"] | None = None,
    kind: CallbackKind | None = None,
    flag: Literal["wrong_number"] | None = None,
    case_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Callbacks by state, kind, flag or case, with the queue's depth and oldest due age."""
    queue = _queue(request)
    async with connection(queue.pool, queue.db_timeout) as conn:
        rows = await queue_sql.listing(
            conn, state=state, kind=kind, flag=flag, case_id=case_id, limit=limit
        )
    metrics = queue.metrics
    return {
        "callbacks": [_listed(row) for row in rows],
        "queue": {
            "due": dict(metrics.due_now),
            "oldest_due_age_seconds": metrics.oldest_age_now,
        },
    }


async def _lease_body(request: Request) -> LeaseRequest:
    """The body, validated from its bytes in one pass; 422 naming each field, as FastAPI's."""
    try:
        body: LeaseRequest = _LEASE_BODY.validate_json(await request.body())
    except ValidationError as error:
        problems = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(problems) from None
    return body


def _leased(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("callback_id", "case_id", "kind", "attempt", "priority_rank")},
        "due_at": row["due_at"],
        "overdue": row["due_at"] <= now,
        "promise_id": row["promise_id"],
        "team": row["team"],
        "customer": orjson.Fragment(row["customer"]),
        "lease_token": row["lease_token"],
        "lease_expires_at": row["leased_until"],
    }


def _listed(row: asyncpg.Record) -> dict[str, Any]:
    item = dict(row)
    item["lease_expires_at"] = item.pop("leased_until")
    return item
