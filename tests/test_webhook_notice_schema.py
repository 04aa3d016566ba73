"""The webhook notice as documented: schema, committed example and signature snippet hold.

`python -m tests.test_webhook_notice_schema` rewrites docs/examples/webhook-notice.json from
the real worker processor and content builder; the test fails while the file is stale.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args
from uuid import UUID

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic import BaseModel

from casegold_contracts import (
    ESCALATIONS,
    EscalationRaised,
    Event,
    derived_id,
    escalation_id,
    parse,
)
from casegold_contracts import vocabulary as vocab
from casegold_contracts.builders import make_actor, make_case_opened, make_event
from casegold_contracts.escalation_events import (
    CaseSnapshot,
    EscalationRaisedPayload,
    PriorEscalation,
    PromiseSnapshot,
    TimelineEntry,
)

# The notifier and the worker's processor, in one place: their package paths may change.
from casegold_escalation.processor import CaseProcessor, CaseUpdate, Topics
from casegold_notifier.adapters.channels import WebhookChannel, body_of
from casegold_notifier.content import (
    DIGEST_TYPE,
    NOTICE_TYPE,
    Links,
    digest_document,
    digest_id,
    notice_document,
    notice_id,
)
from casegold_notifier.signing import (
    NOTICE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from casegold_platform.ack_links import AckSigner
from casegold_sla import PolicyRegistry, from_us, load_policy

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "docs" / "schemas" / "webhook-notice.v1.json"
EXAMPLE_FILE = ROOT / "docs" / "examples" / "webhook-notice.json"
NOTICES_DOC = ROOT / "docs" / "notices.md"
POLICY_FILE = ROOT / "deploy" / "policy" / "default.yaml"

ACK_SIGNER = AckSigner(b"docs-example-ack-link-secret", timedelta(hours=72))
LINKS = Links("https://reporting.casegold.example", "https://intake.casegold.example", ACK_SIGNER)
RECIPIENT = "service-desk-hook"
SECRET = "whsec-4f1c9a7e2b8d6035"
T0 = datetime(2025, 6, 10, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, outside special periods
CASE_ID = UUID("3f6c2a9e-8b1d-4c57-9e0a-6d2f4b7c1a85")
Document = dict[str, Any]


def _id(name: str) -> UUID:
    return derived_id("docs-example", name)


def journey() -> list[Event]:
    """A sensitive P2 case: opened, owned, acknowledged, a promise made and not kept."""
    agent = make_actor("agent", "agent-wang")
    manager = make_actor("manager", "manager-zhou")

    def event(kind: str, minutes: int, actor: Any = agent, **payload: Any) -> Event:
        at = T0 + timedelta(minutes=minutes)
        return make_event(kind, case_id=CASE_ID, at=at, actor=actor, event_id=_id(kind), **payload)

    opened = make_case_opened(
        case_id=CASE_ID,
        at=T0,
        event_id=_id("opened"),
        external_ref="ivr-call-20250610-0931-4471",
        priority="P2",
        category="product",
        dealer_id="dealer-sh-017",
        summary="Washing machine floods the kitchen after the second repair",
        description="Second leak in a month; she has written to a journalist about it.",
        sensitive=True,
        sensitive_reasons=("journalist",),
    )
    return [
        opened,
        event("case_assigned", 10, actor=manager, owner="agent-wang"),
        event("case_acknowledged", 25),
        event("callback_promised", 40, promise_id="callback-1", due_at=T0 + timedelta(hours=3)),
        event("note_added", 50, text="A local TV reporter has called the customer"),
        event(
            "escalation_acknowledged",
            60,
            actor=manager,
            escalation_id=escalation_id(CASE_ID, "sensitive", 1, "tier_2"),
        ),
    ]


def escalations() -> list[EscalationRaised]:
    """Every escalation_raised the worker's processor sends for the journey, in order."""
    processor = CaseProcessor(PolicyRegistry(load_policy(POLICY_FILE)), Topics("docs.customers"))
    stored: bytes | None = None
    next_check: int | None = None
    raised: list[EscalationRaised] = []

    def collect(outcome: CaseUpdate) -> None:
        nonlocal stored, next_check
        stored, next_check = outcome.stored, outcome.next_check_us
        for message in outcome.messages:
            if message.topic == ESCALATIONS:
                parsed = parse(message.value)
                assert isinstance(parsed, EscalationRaised)
                raised.append(parsed)

    # Events at their own times; between them, and for three days after, the timers fire.
    for item in [*journey(), None]:
        until = item.occurred_at if item is not None else T0 + timedelta(days=3)
        while next_check is not None and from_us(next_check) <= until:
            collect(processor.on_tick(stored, from_us(next_check)))
        if item is not None:
            collect(processor.on_event(stored, item, item.occurred_at))
    return raised


def notice(event: EscalationRaised, recipient: str = RECIPIENT) -> Document:
    """The real content builder's document for one recipient."""
    payload = event.payload
    the_id = notice_id(payload.escalation_id, payload.repeat, recipient)
    return notice_document(event, notice=the_id, recipient=recipient, links=LINKS)


def pick(events: list[EscalationRaised], milestone: str, step: str) -> EscalationRaised:
    found = [e for e in events if e.payload.milestone == milestone and e.payload.step == step]
    assert found, (
        f"no {step} of {milestone} among {[(e.payload.milestone, e.payload.step) for e in events]}"
    )
    return found[0]


def example_document() -> Document:
    """The committed example: tier 2 of `solution_agreed`, 12 h past its 2-day target."""
    return notice(pick(escalations(), "solution_agreed", "tier_2"))


def example_text() -> str:
    return json.dumps(example_document(), ensure_ascii=False, indent=2) + "\n"


@pytest.fixture(scope="module")
def raised() -> list[EscalationRaised]:
    return escalations()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(validator: Draft202012Validator, document: Document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_journey_raises_the_steps_the_examples_need(raised: list[EscalationRaised]) -> None:
    steps = [(e.payload.milestone, e.payload.step, e.payload.audience) for e in raised]
    assert steps[:2] == [
        ("sensitive", "tier_2", "department_manager"),
        ("sensitive", "tier_2", "pr_legal"),
    ]
    assert ("promise:callback-1", "tier_1", "team_lead") in steps
    assert ("solution_agreed", "warning", "owner") in steps
    assert ("solution_agreed", "tier_1", "team_lead") in steps
    assert ("solution_agreed", "tier_2", "department_manager") in steps


def test_a_warning_validates(raised: list[EscalationRaised], validator: Any) -> None:
    document = notice(pick(raised, "solution_agreed", "warning"), "agent-desk")
    assert document["case"]["late_seconds"] < 0
    assert problems(validator, document) == []


def test_a_sensitive_tier_2_validates(raised: list[EscalationRaised], validator: Any) -> None:
    document = notice(pick(raised, "sensitive", "tier_2"), "pr-desk")
    assert document["escalation"]["reason"] == "sensitive"
    assert document["case"]["sensitive"] is True
    assert problems(validator, document) == []


def test_every_notice_of_the_journey_validates(
    raised: list[EscalationRaised], validator: Any
) -> None:
    for event in raised:
        assert problems(validator, notice(event)) == [], event.payload.milestone


def test_a_digest_validates(raised: list[EscalationRaised], validator: Any) -> None:
    held = [notice(pick(raised, "solution_agreed", "warning"), "agent-desk")]
    held.append(notice(pick(raised, "promise:callback-1", "tier_1"), "agent-desk"))
    digest = digest_document(
        digest=digest_id("agent-desk", [UUID(n["notice_id"]) for n in held]),
        recipient="agent-desk",
        notices=held,
    )
    assert digest["type"] == DIGEST_TYPE
    assert problems(validator, digest) == []


def test_the_schema_refuses_what_is_not_a_notice(
    raised: list[EscalationRaised], validator: Any
) -> None:
    document = notice(pick(raised, "solution_agreed", "tier_1"))
    broken = json.loads(json.dumps(document))
    del broken["escalation"]["escalation_id"]
    broken["case"]["priority"] = "P9"
    assert len(problems(validator, broken)) == 2
    unknown = {**document, "type": "casegold.something_else"}
    assert problems(validator, unknown) != []
    # Fields added later are allowed: consumers ignore what they do not know.
    assert problems(validator, {**document, "added_later": {"x": 1}}) == []


def test_the_committed_example_is_what_the_builder_makes(validator: Any) -> None:
    committed = EXAMPLE_FILE.read_text(encoding="utf-8")
    assert problems(validator, json.loads(committed)) == []
    assert committed == example_text(), (
        "docs/examples/webhook-notice.json is stale: run "
        "`.venv/bin/python -m tests.test_webhook_notice_schema`"
    )


def _properties(schema: Document, *path: str) -> dict[str, Any]:
    node = schema
    for name in path:
        node = node["$defs"][name] if name in schema.get("$defs", {}) else node["properties"][name]
    props = node["properties"]
    assert isinstance(props, dict)
    return props


def test_the_schema_names_every_field_the_contracts_carry() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    models: dict[str, type[BaseModel]] = {
        "escalation": EscalationRaisedPayload,
        "case": CaseSnapshot,
        "timeline_entry": TimelineEntry,
        "promise": PromiseSnapshot,
        "prior_escalation": PriorEscalation,
    }
    for name, model in models.items():
        carried = set(model.model_fields) - {"case"}  # the snapshot is a section of its own
        assert carried <= set(_properties(schema, name)), name
    for name, props in _walk(schema):
        for field, spec in props.items():
            assert spec.get("description"), f"{name}.{field} has no description"


def _walk(node: Any, name: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield name, node["properties"]
        for key, value in node.items():
            if key != "if":  # the discriminator's test, not a field
                yield from _walk(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, name)


@pytest.mark.parametrize(
    ("definition", "vocabulary"),
    [
        ("step", vocab.Step),
        ("audience", vocab.Audience),
        ("reason", vocab.EscalationReason),
        ("case_status", vocab.CaseStatus),
        ("priority", vocab.Priority),
        ("actor_kind", vocab.ActorKind),
        ("promise_status", vocab.PromiseStatus),
    ],
)
def test_closed_lists_follow_the_contracts(definition: str, vocabulary: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$defs"][definition]["enum"] == list(get_args(vocabulary))


# -- the signature snippet of docs/notices.md ---------------------------------------------------


def doc_snippet() -> Callable[..., bool]:
    """The `verify` function of the doc's code block marked `signature-check`."""
    text = NOTICES_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python signature-check\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, "docs/notices.md needs one ```python signature-check block"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(NOTICES_DOC), "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    return verify  # type: ignore[no-any-return]


async def sent_request(document: Document, clock: Callable[[], float]) -> httpx.Request:
    """What the real webhook channel posts for the document (captured in process)."""
    captured: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as client:
        await WebhookChannel(client, "https://receiver.example/hooks", SECRET, clock).send(document)
    assert len(captured) == 1
    return captured[0]


async def test_the_doc_snippet_verifies_the_real_signature(raised: list[EscalationRaised]) -> None:
    verify = doc_snippet()
    document = notice(pick(raised, "solution_agreed", "tier_1"))
    request = await sent_request(document, time.time)
    body, headers = request.content, request.headers
    assert body == body_of(document)
    assert headers[NOTICE_ID_HEADER] == document["notice_id"]
    assert headers["content-type"] == "application/json"
    stamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert verify(SECRET, stamp, signature, body) is True
    altered = body.replace(b'"tier_1"', b'"tier_3"', 1)
    assert altered != body
    assert verify(SECRET, stamp, signature, altered) is False
    assert verify(SECRET + "x", stamp, signature, body) is False
    assert verify(SECRET, str(int(stamp) + 1), signature, body) is False


async def test_the_doc_snippet_refuses_an_old_timestamp(raised: list[EscalationRaised]) -> None:
    verify = doc_snippet()
    document = notice(pick(raised, "solution_agreed", "tier_1"))
    request = await sent_request(document, lambda: time.time() - 3600)
    headers = request.headers
    assert (
        verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], request.content)
        is False
    )


def test_notice_and_digest_types_are_the_documented_ones() -> None:
    doc = NOTICES_DOC.read_text(encoding="utf-8")
    for name in (NOTICE_TYPE, DIGEST_TYPE, NOTICE_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        assert f"`{name}" in doc, name


def main() -> int:
    """Write the example from the real builder."""
    EXAMPLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    EXAMPLE_FILE.write_text(example_text(), encoding="utf-8")
    print(f"wrote {EXAMPLE_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
