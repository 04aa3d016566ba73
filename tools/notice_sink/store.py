"""What the sink keeps: one JSON line per notice received, whatever the channel."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

FILE_NAME: Final = "notices.jsonl"
NOTICE_ID_HEADER: Final = "x-casegold-notice-id"
# Every notice links to its case page; the id is read back from that link.
_CASE_LINK = re.compile(r"/cases/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


@dataclass(frozen=True, slots=True)
class Notice:
    """One received notice: where it came in and what it says."""

    received_at: float
    channel: str  # webhook | slack | email
    recipient: str  # the webhook path's name, the Slack path's name, or the e-mail's To
    notice_id: str | None
    case_id: str | None
    title: str
    verified: bool | None = None  # the webhook's signature; None where none is expected
    step: str | None = None
    reason: str | None = None


def _case_in(text: str) -> str | None:
    found = _CASE_LINK.search(text)
    return found.group(1) if found else None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def webhook_notice(
    name: str, headers: Mapping[str, str], body: bytes, verified: bool, at: float
) -> Notice:
    """A signed JSON webhook (casegold_notifier's notice or digest document)."""
    document = _json(body)
    document = document if isinstance(document, dict) else {}
    escalation = document.get("escalation") or {}
    case = document.get("case") or {}
    return Notice(
        received_at=at,
        channel="webhook",
        recipient=name,
        notice_id=headers.get(NOTICE_ID_HEADER) or document.get("notice_id"),
        case_id=case.get("case_id") or _case_in(body.decode("utf-8", "replace")),
        title=str(document.get("title") or "(not a Casegold document)"),
        verified=verified,
        step=escalation.get("step"),
        reason=escalation.get("reason"),
    )


def slack_notice(name: str, headers: Mapping[str, str], body: bytes, at: float) -> Notice:
    """A Slack incoming-webhook payload (`text` and `blocks`)."""
    payload = _json(body)
    text = str(payload.get("text", "")) if isinstance(payload, dict) else ""
    return Notice(
        received_at=at,
        channel="slack",
        recipient=name,
        notice_id=headers.get(NOTICE_ID_HEADER),
        case_id=_case_in(body.decode("utf-8", "replace")),
        title=text.split(" — ")[0] or "(no text)",
    )


def email_notice(message: EmailMessage, at: float) -> Notice:
    """An e-mail as the SMTP server received it."""
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else ""
    return Notice(
        received_at=at,
        channel="email",
        recipient=str(message.get("To", "")),
        notice_id=message.get(NOTICE_ID_HEADER),
        case_id=_case_in(str(text)),
        title=str(message.get("Subject", "(no subject)")),
    )


class NoticeStore:
    """Appends notices to `<dir>/notices.jsonl` and reads them back."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def append(self, notice: Notice) -> None:
        """Keep one notice (a whole line per write, so a crash never leaves half a record)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(notice), ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)

    def read(self) -> list[Notice]:
        """Every notice kept so far, oldest first; an unreadable line is skipped."""
        if not self.path.exists():
            return []
        notices = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                notices.append(Notice(**json.loads(line)))
            except (ValueError, TypeError):
                continue
        return notices
