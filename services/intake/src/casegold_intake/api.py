"""HTTP routes of the intake service (SPEC §6): thin — decode, call the builders, submit."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from casegold_contracts import CaseOpened
from casegold_intake.cases import (
    InvalidField,
    check_category,
    command_event,
    fingerprint,
    ids_for,
    open_case,
    open_mention_case,
)
from casegold_intake.checks import (
    control_characters,
    field_problem,
    may_hold_control,
    past_due,
    unknown_timezone,
)
from casegold_intake.commands import COMMAND_ROLES, MANAGER_ONLY, Command, PromiseCallback
from casegold_intake.models import (
    CaseAccepted,
    CommandAccepted,
    Problem,
    ValidationProblem,
)
from casegold_intake.openapi import BODIES, write_operation
from casegold_intake.runtime import Runtime
from casegold_intake.submission import KeyInProgress, Outcome
from casegold_platform.http import AuthError, Principal, authorizer

KEY_PATTERN: Final = r"^[\x21-\x7e]{1,200}$"
_KEY_LOC: Final = ("header", "Idempotency-Key")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


WRITE_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: _problem("missing or unknown API key"),
    403: _problem("the key's role may not call this endpoint"),
    409: {
        "model": Problem,
        "description": "the Idempotency-Key was used with a different request (forever), or a "
        "request with this key and body is still in progress (with Retry-After: retry then)",
        "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    },
    413: _problem("the body is larger than the limit (default 64 KiB)"),
    415: _problem("the body is not JSON"),
    422: {"model": ValidationProblem, "description": "invalid fields, each with the reason"},
    503: {
        "model": Problem,
        "description": "Kafka or PostgreSQL could not take the write; nothing was written",
        "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    },
}

# Write routes authorise and read their header and body themselves: each FastAPI dependency
# or parameter costs on every request, and these routes carry all the load.
CASE_WRITERS: Final = authorizer("ivr", "agent")
MENTION_WRITERS: Final = authorizer("ivr", "monitor")
COMMAND_WRITERS: Final = authorizer(*COMMAND_ROLES)

CASE_REPLIES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"model": CaseAccepted, "description": "replay of a known Idempotency-Key"},
    **WRITE_ERRORS,
}

router = APIRouter()


def runtime(request: Request) -> Runtime:
    """The running service's parts."""
    current: Runtime = request.app.state.runtime
    return current


def idempotency_key(request: Request, principal: Principal) -> str | None:
    """The request's Idempotency-Key, checked; required for the ivr role."""
    key = request.headers.get("idempotency-key")
    if key is None:
        if principal.role == "ivr":
            raise InvalidField(
                ("header", "Idempotency-Key"), "required for the ivr role", "missing"
            )
        return None
    if not _KEY.fullmatch(key):
        message = "1 to 200 visible ASCII characters"
        raise InvalidField(_KEY_LOC, message, "string_pattern_mismatch")
    return key


async def parse_body(request: Request, name: str) -> Any:
    """The request's JSON body validated as the named model; 422 naming each bad field."""
    raw = await request.body()
    try:
        body = BODIES[name].validate_json(raw)
    except ValidationError as error:
        problems = [field_problem(e, ("body",)) for e in error.errors(include_url=False)]
        raise RequestValidationError(problems) from None
    if may_hold_control(raw):
        refuse(control_characters(body))
    return body


def refuse(problems: list[dict[str, Any]]) -> None:
    """A 422 listing the problems, if there are any."""
    if problems:
        raise RequestValidationError(problems)


def _json(body: bytes, status: int) -> Response:
    return Response(body, status_code=status, media_type="application/json")


_IN_PROGRESS: Final = (
    b'{"detail": "a request with this Idempotency-Key and body is in progress; '
    b'retry after Retry-After seconds with the same key and body"}'
)


def _in_progress(rt: Runtime) -> Response:
    # Not a 5xx: nothing is down, the first request is still being written (decision 0024).
    rt.metrics.replays.labels("in_progress").inc()
    response = _json(_IN_PROGRESS, 409)
    response.headers["Retry-After"] = "1"
    return response


@router.post(
    "/v1/cases",
    status_code=201,
    response_model=CaseAccepted,
    responses=CASE_REPLIES,
    summary="Open a case",
    openapi_extra=write_operation("CaseRequest"),
)
async def post_case(
    request: Request,
) -> Response:
    """Open a complaint case; 201 once durable in Kafka, 200 when replaying a known key."""
    return await _open(request, CASE_WRITERS, "case", "CaseRequest", open_case)


@router.post(
    "/v1/mentions",
    status_code=201,
    response_model=CaseAccepted,
    responses=CASE_REPLIES,
    summary="Open a social case from a negative public mention",
    openapi_extra=write_operation("MentionRequest"),
)
async def post_mention(
    request: Request,
) -> Response:
    """Open a `social` case from a mention; sensitive when the policy's keywords match."""
    return await _open(request, MENTION_WRITERS, "mention", "MentionRequest", open_mention_case)


async def _open(
    request: Request,
    writers: Callable[[Request], Principal],
    kind: str,
    model: str,
    build: Callable[..., tuple[CaseOpened, CaseAccepted]],
) -> Response:
    """The path both case-opening routes share: authorise, validate, build, submit."""
    rt = runtime(request)
    now = rt.clock()
    principal = writers(request)
    key = idempotency_key(request, principal)
    body = await parse_body(request, model)
    refuse(unknown_timezone(body.customer.timezone, ("body", "customer", "timezone")))
    check_category(body.category, rt.categories, ("body", "category"))
    digest = fingerprint(kind, body)
    event, reply = build(
        body,
        principal=principal,
        ids=ids_for(principal, key, digest),
        now=now,
        policy=rt.policy,
        salt=rt.salt,
    )
    return await _submit_case(rt, principal, key, digest, event, reply)


async def _submit_case(
    rt: Runtime,
    principal: Principal,
    key: str | None,
    digest: bytes,
    event: CaseOpened,
    reply: CaseAccepted,
) -> Response:
    try:
        outcome = await rt.intake.submit(
            principal=principal,
            key=key,
            digest=digest,
            event=event,
            reply=reply,
            created_status=201,
            replay_status=200,
        )
    except KeyInProgress:
        return _in_progress(rt)
    if outcome.replayed:
        rt.metrics.replays.labels("case").inc()
    else:
        rt.metrics.cases_opened.labels(reply.channel, reply.category, reply.priority).inc()
    return _json(outcome.body, outcome.status)


@router.post(
    "/v1/cases/{case_id}/commands",
    status_code=202,
    response_model=CommandAccepted,
    responses=WRITE_ERRORS,
    summary="Send one command to a case",
    openapi_extra=write_operation("Command"),
)
async def post_command(
    request: Request,
    case_id: UUID,
) -> Response:
    """Append the command's event; 202 once durable in Kafka (the state machine decides later)."""
    rt = runtime(request)
    now = rt.clock()
    principal = COMMAND_WRITERS(request)
    key = idempotency_key(request, principal)
    command: Command = await parse_body(request, "Command")
    if command.command in MANAGER_ONLY and principal.role != "manager":
        raise AuthError(403, f"only a manager may {command.command}")
    if isinstance(command, PromiseCallback):
        skew = timedelta(seconds=rt.settings.promise_skew_seconds)
        refuse(past_due(command.due_at, now, skew, ("body", "due_at")))
    digest = fingerprint("command", command, case_id)
    event, reply = command_event(
        command,
        case_id=case_id,
        principal=principal,
        ids=ids_for(principal, key, digest),
        now=now,
    )
    try:
        outcome: Outcome = await rt.intake.submit(
            principal=principal,
            key=key,
            digest=digest,
            event=event,
            reply=reply,
            created_status=202,
            replay_status=202,
        )
    except KeyInProgress:
        return _in_progress(rt)
    if outcome.replayed:
        rt.metrics.replays.labels("command").inc()
    return _json(outcome.body, outcome.status)
