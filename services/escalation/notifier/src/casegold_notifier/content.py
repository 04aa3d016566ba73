"""What a notice says: one JSON-safe document per notice or digest, rendered by each channel."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from casegold_contracts import EscalationRaised, derived_id
from casegold_platform.ack_links import AckSigner

# A notice or digest as one JSON-safe document; every channel renders it its own way.
Document = dict[str, Any]

NOTICE_TYPE: Final = "casegold.escalation_notice"
DIGEST_TYPE: Final = "casegold.escalation_digest"
STEP_TITLES: Final = {
    "warning": "Warning",
    "tier_1": "Tier 1 escalation",
    "tier_2": "Tier 2 escalation",
    "tier_3": "Tier 3 escalation",
}


@dataclass(frozen=True, slots=True)
class Links:
    """Base URLs of the case view (reporting) and of the command API (intake).

    `signer`: when set, every notice carries a one-click acknowledgement link for its
    recipient (decision 0073).
    """

    reporting_url: str
    intake_url: str
    signer: AckSigner | None = None

    def case_view(self, case_id: UUID | str) -> str:
        """The case page in reporting: state, clocks, timeline and escalations."""
        return f"{self.reporting_url}/cases/{case_id}"

    def commands(self, case_id: UUID | str) -> str:
        """Intake's command endpoint of the case."""
        return f"{self.intake_url}/v1/cases/{case_id}/commands"

    def one_click(
        self, escalation_id: UUID, case_id: UUID, recipient: str, issued: datetime
    ) -> str | None:
        """The signed confirm page in intake that acknowledges as `recipient`, or None."""
        if self.signer is None:
            return None
        token = self.signer.sign(escalation_id, case_id, recipient, issued)
        return f"{self.intake_url}/ack/{token}"


def notice_id(escalation_id: UUID, repeat: int, recipient: str) -> UUID:
    """The id of one notice to one recipient: the delivery log's unique key, as a UUID."""
    return derived_id("notification", str(escalation_id), str(repeat), recipient)


def digest_id(recipient: str, members: Iterable[UUID]) -> UUID:
    """The id of a quiet-hours digest: its recipient and the notices it carries."""
    return derived_id("notification_digest", recipient, *sorted(str(m) for m in members))


def duration_text(seconds: int) -> str:
    """`2 d 3 h`, `3 h 10 min`, `45 min`, `20 s`: the two largest units."""
    seconds = abs(seconds)
    units = (("d", 86_400), ("h", 3600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        if seconds >= size or (name == "s" and not parts):
            parts.append(f"{seconds // size} {name}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def lateness_text(late_seconds: int) -> str:
    """How late the milestone is; a warning's is negative: the breach is still ahead."""
    if late_seconds > 0:
        return f"{duration_text(late_seconds)} late"
    if late_seconds < 0:
        return f"due in {duration_text(late_seconds)}"
    return "due now"


def milestone_text(milestone: str) -> str:
    """`first_response` → `first response`; `promise:p-1` → `promise p-1`."""
    return milestone.replace(":", " ", 1).replace("_", " ")


def notice_document(
    event: EscalationRaised, *, notice: UUID, recipient: str, links: Links
) -> dict[str, Any]:
    """The notice as a document: what the webhook posts and what Slack and e-mail render."""
    payload = event.payload
    case = payload.case
    snapshot = case.model_dump(mode="json")
    # Issued at the step's firing, not at sending: every attempt of a notice is the same document.
    link = links.one_click(payload.escalation_id, event.case_id, recipient, payload.fired_at)
    title = (
        f"{STEP_TITLES[payload.step]}: {milestone_text(payload.milestone)} "
        f"{lateness_text(case.late_seconds)} ({case.priority} {case.category})"
    )
    return {
        "type": NOTICE_TYPE,
        "version": 1,
        "notice_id": str(notice),
        "recipient": recipient,
        "title": title,
        "escalation": {
            "escalation_id": str(payload.escalation_id),
            "event_id": str(event.event_id),
            "milestone": payload.milestone,
            "cycle": payload.cycle,
            "step": payload.step,
            "tier": payload.tier,
            "reason": payload.reason,
            "due_at": _time(payload.due_at.isoformat()),
            "fired_at": _time(payload.fired_at.isoformat()),
            "repeat": payload.repeat,
            "audience": payload.audience,
        },
        "case": {
            "case_id": str(event.case_id),
            "url": links.case_view(event.case_id),
            **snapshot,
            "late": lateness_text(case.late_seconds),
        },
        "acknowledge": {
            "method": "POST",
            "url": links.commands(event.case_id),
            "role": "manager",
            "body": {
                "command": "acknowledge_escalation",
                "escalation_id": str(payload.escalation_id),
            },
            **({"link": link} if link else {}),
        },
    }


def digest_document(
    *, digest: UUID, recipient: str, notices: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Notices held through quiet hours, sent as one."""
    count = len(notices)
    return {
        "type": DIGEST_TYPE,
        "version": 1,
        "notice_id": str(digest),
        "recipient": recipient,
        "title": f"{count} notice{'s' if count != 1 else ''} held during quiet hours",
        "notices": list(notices),
    }


def _time(text: str) -> str:
    # RFC 3339 with Z, as the contracts write instants.
    return text.replace("+00:00", "Z")
