"""One-click acknowledgement from a notice: a confirm page, then `acknowledge_escalation`.

A manager reading an e-mail or Slack notice has no API key; the notice carries a signed,
expiring link naming the escalation and the recipient (casegold_platform.ack_links). `GET`
shows what the click will do (mail scanners that follow links change nothing); `POST`
appends the command as that recipient, under an Idempotency-Key of its own, so a second
click replays the first. A forged, altered or expired token is refused and nothing is
written. Decision 0073.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from casegold_intake.cases import command_event, fingerprint, ids_for
from casegold_intake.commands import AcknowledgeEscalation
from casegold_intake.ports import Unavailable
from casegold_intake.runtime import Runtime
from casegold_intake.submission import KeyInProgress
from casegold_platform.ack_links import AckClaim, BadToken
from casegold_platform.http import Principal

router = APIRouter(include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
# The token is in the URL: no referrer may carry it elsewhere, no cache keep the page.
_HEADERS: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_REFUSED: Final = {
    "expired": (410, "This link has expired. Acknowledge from the case page or the API."),
    "signature": (403, "This link is not valid: it was altered or not issued by Casegold."),
    "malformed": (403, "This link is not valid: it was altered or cut short."),
}


def _page(status: int, **values: Any) -> HTMLResponse:
    body = _templates.get_template("ack.html").render(**values)
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _verified(request: Request, token: str) -> AckClaim | HTMLResponse:
    rt: Runtime = request.app.state.runtime
    if rt.ack is None:
        message = "One-click acknowledgement is not configured on this server."
        return _page(404, page="off", title="Link not available", message=message, refused=True)
    try:
        return rt.ack.verify(token, rt.clock())
    except BadToken as error:
        status, message = _REFUSED[error.reason]
        return _page(status, page="refused", title="Link refused", message=message, refused=True)


@router.get("/ack/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> HTMLResponse:
    """What the click will do, and a button that does it."""
    claim = _verified(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    return _page(200, page="confirm", title="Acknowledge this escalation?", claim=claim,
                 confirm=True)  # fmt: skip


@router.post("/ack/{token}", response_class=HTMLResponse)
async def acknowledge(request: Request, token: str) -> HTMLResponse:
    """Append `acknowledge_escalation` as the link's recipient; a repeat click writes nothing."""
    claim = _verified(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    rt: Runtime = request.app.state.runtime
    principal = Principal(client=claim.recipient, role="manager")
    command = AcknowledgeEscalation(
        command="acknowledge_escalation", escalation_id=claim.escalation_id
    )
    key = f"ack-link:{claim.escalation_id}"
    digest = fingerprint("command", command, claim.case_id)
    event, reply = command_event(
        command,
        case_id=claim.case_id,
        principal=principal,
        ids=ids_for(principal, key, digest),
        now=rt.clock(),
    )
    try:
        outcome = await rt.intake.submit(
            principal=principal, key=key, digest=digest, event=event, reply=reply,
            created_status=202, replay_status=200,
        )  # fmt: skip
    except KeyInProgress:
        message = "Your acknowledgement is being recorded; reload this page in a moment."
        return _page(409, page="progress", title="In progress", message=message, claim=claim)
    except Unavailable:
        message = "Casegold cannot record it right now; nothing was written. Try again shortly."
        return _page(503, page="unavailable", title="Try again", message=message, claim=claim,
                     confirm=True, refused=True)  # fmt: skip
    if outcome.replayed:
        rt.metrics.replays.labels("command").inc()
        message = "You had already acknowledged this escalation; nothing more was written."
        return _page(200, page="repeat", title="Already acknowledged", message=message,
                     claim=claim)  # fmt: skip
    message = f"Recorded as {claim.recipient}. The case timeline shows your acknowledgement."
    return _page(200, page="done", title="Acknowledged", message=message, claim=claim)
