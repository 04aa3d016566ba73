"""Plain text, HTML and e-mail subjects of a notice document (pure; Slack in `slack.py`)."""

from __future__ import annotations

import json
from html import escape

from casegold_notifier.content import DIGEST_TYPE, Document, milestone_text

# Notices show the tail of long lists; the case view has everything.
MAX_LISTED = 10


def subject(document: Document) -> str:
    """The e-mail subject."""
    if document["type"] == DIGEST_TYPE:
        return f"[Casegold] {document['title']}"
    case = document["case"]
    return f"[Casegold] {document['title']} — case {case['case_id'][:8]}"


def facts(document: Document) -> list[tuple[str, str]]:
    """The case's state as label/value pairs, only what the snapshot carries."""
    case, escalation = document["case"], document["escalation"]
    rows = [
        ("Case", case["case_id"]),
        ("Summary", case.get("summary") or ""),
        ("Status", case["status"]),
        ("Owner", case.get("owner") or "nobody (unowned)"),
        ("Priority", case["priority"]),
        ("Category", case["category"]),
        ("Dealer", case.get("dealer_id") or ""),
        ("Sensitive", "yes" if case.get("sensitive") else ""),
        (
            "Milestone",
            f"{milestone_text(escalation['milestone'])} (cycle {escalation['cycle']}), "
            f"due {escalation['due_at']}, {case['late']}",
        ),
        (
            "Step",
            f"{escalation['step']} (tier {escalation['tier']}), reason {escalation['reason']}, "
            f"for {escalation['audience']}",
        ),
        ("Reminder", f"#{escalation['repeat']}" if escalation["repeat"] else ""),
    ]
    return [(label, value) for label, value in rows if value]


def history(document: Document) -> list[tuple[str, list[str]]]:
    """The timeline, promises and earlier escalations as titled lists (empty ones left out)."""
    case = document["case"]
    events = [
        f"{e['occurred_at']} {e['type']} by {e['actor_kind']}"
        + (f": {e['summary']}" if e.get("summary") else "")
        for e in case.get("recent_events", [])[-MAX_LISTED:]
    ]
    promises = [
        f"{p['promise_id']} due {p['due_at']}: {p['status']}"
        for p in case.get("promises", [])[-MAX_LISTED:]
    ]
    earlier = [
        f"{e['fired_at']} {milestone_text(e['milestone'])} {e['step']}"
        + (" (acknowledged)" if e.get("acknowledged") else "")
        for e in case.get("prior_escalations", [])[-MAX_LISTED:]
    ]
    sections = [
        ("Last events", events),
        ("Promises made", promises),
        ("Earlier escalations", earlier),
    ]
    return [(title, lines) for title, lines in sections if lines]


def acknowledge_command(document: Document) -> str:
    """A copy-paste command that acknowledges the escalation through intake."""
    ack = document["acknowledge"]
    body = json.dumps(ack["body"], separators=(",", ":"))
    return (
        f"curl -X POST {ack['url']} -H 'Authorization: Bearer <your manager key>' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


def one_click(document: Document) -> str | None:
    """The notice's signed acknowledgement link, when the notifier issues them."""
    link = document["acknowledge"].get("link")
    return str(link) if link else None


def _one_click_lines(document: Document) -> list[str]:
    link = one_click(document)
    return [f"  in one click: {link}", "  or with the API:"] if link else []


def _one_click_button(document: Document) -> str:
    link = one_click(document)
    if link is None:
        return ""
    return (
        f'<p><a href="{escape(link, quote=True)}" style="display:inline-block;padding:.5em 1em;'
        'background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px">'
        "Acknowledge</a> (opens a confirm page) or with the API:</p>"
    )


def text(document: Document) -> str:
    """The plain-text body."""
    if document["type"] == DIGEST_TYPE:
        parts = [document["title"], ""]
        for notice in document["notices"]:
            parts += [_text_notice(notice), "-" * 60]
        return "\n".join(parts) + "\n"
    return _text_notice(document) + "\n"


def _text_notice(document: Document) -> str:
    width = max(len(label) for label, _ in facts(document))
    lines = [document["title"], ""]
    lines += [f"{label.ljust(width)}  {value}" for label, value in facts(document)]
    for title, items in history(document):
        lines += ["", f"{title}:"] + [f"  - {item}" for item in items]
    lines += [
        "",
        f"Case view: {document['case']['url']}",
        "Acknowledge (stops the reminders of this step; higher steps still fire):",
        *_one_click_lines(document),
        f"  {acknowledge_command(document)}",
        "",
        f"Notice {document['notice_id']}",
    ]
    return "\n".join(lines)


def html(document: Document) -> str:
    """The HTML body (inline styles only: mail clients drop style sheets)."""
    if document["type"] == DIGEST_TYPE:
        notices = "<hr>".join(_html_notice(n, level="h2") for n in document["notices"])
        inner = f"<h1>{escape(document['title'])}</h1>{notices}"
    else:
        inner = _html_notice(document, level="h1")
    return f'<!doctype html><html><body style="font-family:sans-serif">{inner}</body></html>'


def _html_notice(document: Document, level: str) -> str:
    rows = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(label)}</th>'
        f"<td>{escape(value)}</td></tr>"
        for label, value in facts(document)
    )
    lists = "".join(
        f"<h3>{escape(title)}</h3><ul>"
        + "".join(f"<li>{escape(item)}</li>" for item in items)
        + "</ul>"
        for title, items in history(document)
    )
    url = escape(document["case"]["url"], quote=True)
    return (
        f"<{level}>{escape(document['title'])}</{level}><table>{rows}</table>{lists}"
        f'<p><a href="{url}">Open the case</a></p>'
        "<p>Acknowledge (stops the reminders of this step; higher steps still fire):</p>"
        f"{_one_click_button(document)}"
        f"<pre>{escape(acknowledge_command(document))}</pre>"
        f'<p style="color:#777">Notice {escape(document["notice_id"])}</p>'
    )
