"""The Slack incoming-webhook payload of a notice document: `text` plus Block Kit `blocks`."""

from __future__ import annotations

from typing import Any

from casegold_notifier.content import DIGEST_TYPE, Document
from casegold_notifier.render import acknowledge_command, facts, history, one_click

# Block Kit limits: 50 blocks a message, 3000 characters a text, 10 fields a section.
MAX_BLOCKS = 50
MAX_TEXT = 2900
MAX_HEADER = 150


def payload(document: Document) -> dict[str, Any]:
    """The JSON body to POST to the incoming webhook."""
    if document["type"] == DIGEST_TYPE:
        blocks = [_header(document["title"])]
        for notice in document["notices"]:
            blocks += [{"type": "divider"}, *_notice_blocks(notice, header=False)]
        text = document["title"]
    else:
        blocks = _notice_blocks(document, header=True)
        text = f"{document['title']} — {document['case']['url']}"
    return {"text": _cut(text, MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def _notice_blocks(document: Document, header: bool) -> list[dict[str, Any]]:
    url = document["case"]["url"]
    blocks: list[dict[str, Any]] = []
    if header:
        blocks.append(_header(document["title"]))
    else:
        blocks.append(_section(f"*{_escape(document['title'])}*"))
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"}
        for label, value in facts(document)
    ]
    for start in range(0, len(fields), 10):
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    for title, items in history(document):
        lines = "\n".join(f"• {_escape(item)}" for item in items)
        blocks.append(_section(f"*{title}*\n{lines}"))
    blocks.append(_section(f"<{url}|Open the case>"))
    link = one_click(document)
    if link is not None:
        blocks.append(_section(f"<{link}|Acknowledge in one click> (opens a confirm page)"))
    blocks.append(
        _section(
            "*Acknowledge* (stops the reminders of this step):\n"
            f"```{_escape(acknowledge_command(document))}```"
        )
    )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Notice {document['notice_id']}"}],
        }
    )
    return blocks


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_TEXT)}}


def _escape(text: str) -> str:
    # Slack's three control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
