"""A notice shows the case's current state; every channel renders what the snapshot carries."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from casegold_contracts import EscalationRaised, derived_id, escalation_id
from casegold_contracts.builders import DEFAULT_CASE_ID, make_case_snapshot, make_escalation_raised
from casegold_notifier import render, slack
from casegold_notifier.content import (
    Links,
    digest_document,
    digest_id,
    duration_text,
    lateness_text,
    notice_document,
    notice_id,
)
from casegold_platform.ack_links import AckSigner

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LINKS = Links("http://127.0.0.1:8084", "http://127.0.0.1:8081")


def rich_event(**overrides: Any) -> EscalationRaised:
    snapshot = make_case_snapshot(
        status="in_progress",
        owner="agent-7",
        priority="P2",
        dealer_id="dealer-3",
        sensitive=True,
        late_seconds=3 * 3600 + 600,
        summary="Washer <leaks> & floods",
        recent_events=[
            {
                "event_id": derived_id("test", "e1"),
                "type": "case_opened",
                "occurred_at": T0 - timedelta(hours=5),
                "actor_kind": "ivr",
                "summary": "Opened by IVR",
            },
            {
                "event_id": derived_id("test", "e2"),
                "type": "callback_promised",
                "occurred_at": T0 - timedelta(hours=4),
                "actor_kind": "agent",
            },
        ],
        promises=[{"promise_id": "p-1", "due_at": T0 - timedelta(hours=1), "status": "broken"}],
        prior_escalations=[
            {
                "escalation_id": escalation_id(DEFAULT_CASE_ID, "first_response", 1, "tier_1"),
                "milestone": "first_response",
                "step": "tier_1",
                "fired_at": T0 - timedelta(hours=2),
                "acknowledged": True,
            }
        ],
    )
    fields: dict[str, Any] = {"step": "tier_2", "case": snapshot, "fired_at": T0, **overrides}
    return make_escalation_raised(**fields)


def document(event: EscalationRaised | None = None) -> dict[str, Any]:
    event = event or rich_event()
    notice = notice_id(event.payload.escalation_id, event.payload.repeat, "lead")
    return notice_document(event, notice=notice, recipient="lead", links=LINKS)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "due now"), (20, "20 s late"), (3 * 3600 + 600, "3 h 10 min late"),
     (-45 * 60, "due in 45 min"), (2 * 86_400 + 3 * 3600 + 5, "2 d 3 h late")],
)  # fmt: skip
def test_lateness_reads_naturally(seconds: int, text: str) -> None:
    assert lateness_text(seconds) == text
    assert duration_text(-seconds) == duration_text(seconds)


def test_notice_ids_are_deterministic_per_escalation_repeat_and_recipient() -> None:
    escalation = escalation_id(DEFAULT_CASE_ID, "first_response", 1, "tier_1")
    assert notice_id(escalation, 0, "lead") == notice_id(escalation, 0, "lead")
    assert len({notice_id(escalation, 0, "lead"), notice_id(escalation, 1, "lead"),
                notice_id(escalation, 0, "boss")}) == 3  # fmt: skip
    a, b = UUID(int=1), UUID(int=2)
    assert digest_id("lead", [a, b]) == digest_id("lead", [b, a]) != digest_id("lead", [a])


def test_the_document_carries_the_state_links_and_the_acknowledge_command() -> None:
    event = rich_event()
    doc = document(event)
    assert doc["type"] == "casegold.escalation_notice"
    assert doc["title"] == "Tier 2 escalation: first response 3 h 10 min late (P2 product)"
    assert doc["escalation"]["escalation_id"] == str(event.payload.escalation_id)
    assert doc["escalation"]["fired_at"] == "2025-03-03T09:00:00Z"
    case = doc["case"]
    assert case["url"] == f"http://127.0.0.1:8084/cases/{DEFAULT_CASE_ID}"
    assert (case["status"], case["owner"], case["late_seconds"]) == (
        "in_progress",
        "agent-7",
        3 * 3600 + 600,
    )
    assert [e["type"] for e in case["recent_events"]] == ["case_opened", "callback_promised"]
    assert case["promises"][0]["status"] == "broken"
    assert case["prior_escalations"][0]["acknowledged"] is True
    assert doc["acknowledge"] == {
        "method": "POST",
        "url": f"http://127.0.0.1:8081/v1/cases/{DEFAULT_CASE_ID}/commands",
        "role": "manager",
        "body": {
            "command": "acknowledge_escalation",
            "escalation_id": str(event.payload.escalation_id),
        },
    }
    json.dumps(doc)  # JSON-safe as it is


def test_plain_text_shows_everything_present() -> None:
    text = render.text(document())
    for expected in (
        "Tier 2 escalation: first response 3 h 10 min late",
        "in_progress", "agent-7", "dealer-3", "Sensitive", "reason sla_breach",
        "Last events:", "case_opened by ivr: Opened by IVR", "callback_promised by agent",
        "Promises made:", "p-1 due 2025-03-03T08:00:00Z: broken",
        "Earlier escalations:", "first response tier_1 (acknowledged)",
        f"Case view: http://127.0.0.1:8084/cases/{DEFAULT_CASE_ID}",
        '"command":"acknowledge_escalation"',
    ):  # fmt: skip
        assert expected in text, expected


def test_a_bare_snapshot_renders_without_empty_sections() -> None:
    bare = make_escalation_raised(
        step="warning", case=make_case_snapshot(owner=None, late_seconds=-900)
    )
    text = render.text(document(bare))
    assert "Warning: first response due in 15 min" in text
    assert "nobody (unowned)" in text
    for absent in (
        "Last events",
        "Promises",
        "Earlier escalations",
        "Dealer",
        "Sensitive",
        "Reminder",
    ):
        assert absent not in text
    assert re.search(r"Reminder +#2", render.text(document(make_escalation_raised(repeat=2))))


def test_html_escapes_case_text() -> None:
    html = render.html(document())
    assert "Washer &lt;leaks&gt; &amp; floods" in html and "<leaks>" not in html
    assert f'href="http://127.0.0.1:8084/cases/{DEFAULT_CASE_ID}"' in html
    assert render.subject(document()).startswith("[Casegold] Tier 2 escalation")


def test_slack_payload_has_text_and_blocks_within_limits() -> None:
    payload = slack.payload(document())
    assert f"8084/cases/{DEFAULT_CASE_ID}" in payload["text"]
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    flat = json.dumps(payload)
    assert (
        "Washer &amp;lt;leaks&amp;gt;" not in flat and "Washer &lt;leaks&gt; &amp; floods" in flat
    )
    assert all(len(block.get("fields", [])) <= 10 for block in payload["blocks"])


def test_a_digest_lists_its_notices_in_every_format() -> None:
    notices = [document(rich_event(step=step)) for step in ("warning", "tier_1")]
    digest = digest_document(digest=UUID(int=7), recipient="lead", notices=notices)
    assert digest["title"] == "2 notices held during quiet hours"
    assert render.text(digest).count("Case view:") == 2
    assert render.html(digest).count("Open the case") == 2
    payload = slack.payload(digest)
    assert payload["text"] == digest["title"] and len(payload["blocks"]) <= 50
    many = digest_document(digest=UUID(int=8), recipient="lead", notices=notices * 20)
    assert len(slack.payload(many)["blocks"]) == 50


SIGNER = AckSigner(b"notifier-test-ack-secret", timedelta(hours=72))
SIGNING = Links("http://127.0.0.1:8084", "http://127.0.0.1:8081", SIGNER)


def test_with_a_signer_every_notice_carries_its_recipients_one_click_link() -> None:
    event = rich_event()
    doc = notice_document(event, notice=UUID(int=1), recipient="dept-manager", links=SIGNING)
    link = doc["acknowledge"]["link"]
    prefix = "http://127.0.0.1:8081/ack/"
    assert link.startswith(prefix)
    claim = SIGNER.verify(link.removeprefix(prefix), T0)
    assert claim.escalation_id == event.payload.escalation_id
    assert (claim.case_id, claim.recipient) == (event.case_id, "dept-manager")
    assert claim.expires_at == event.payload.fired_at + timedelta(hours=72)
    again = notice_document(event, notice=UUID(int=1), recipient="dept-manager", links=SIGNING)
    assert again == doc, "every delivery attempt sends the same document"
    other = notice_document(event, notice=UUID(int=2), recipient="pr-legal", links=SIGNING)
    assert SIGNER.verify(other["acknowledge"]["link"].removeprefix(prefix), T0).recipient == (
        "pr-legal"
    )
    assert f"in one click: {link}" in render.text(doc)
    assert f'href="{link}"' in render.html(doc)
    assert f"<{link}|Acknowledge in one click>" in json.dumps(slack.payload(doc))


def test_without_a_signer_there_is_no_link_and_no_mention_of_one() -> None:
    doc = document()
    assert "link" not in doc["acknowledge"]
    assert "one click" not in render.text(doc) and "one click" not in json.dumps(slack.payload(doc))
