"""Every command of SPEC §3 becomes its catalogue event; shapes are checked per command."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from casegold_contracts import Undecodable, parse
from casegold_intake.commands import EVENT_TYPE
from tests.support.intake import AGENT, MANAGER, Api

CASE_ID = uuid4()
ESCALATION_ID = str(uuid4())

VALID: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "assign": {"owner": "agent-7"},
    "contact_customer": {"note": "Reached on the second try"},
    "promise_callback": {"promise_id": "p-1", "due_at": "2025-06-02T18:00:00+08:00"},
    "keep_promise": {"promise_id": "p-1"},
    "agree_solution": {"summary": "Replace the machine"},
    "await_customer": {"reason": "Waiting for the receipt"},
    "resume": {},
    "resolve": {
        "resolution": "Machine replaced",
        "root_cause": {"category": "product", "text": "Seal fitted wrongly"},
    },
    "close": {},
    "reopen": {"reason": "Leaks again"},
    "add_note": {"text": "Prefers calls after 18:00"},
    "set_priority": {"priority": "P1", "reason": "Elderly customer"},
    "acknowledge_escalation": {"escalation_id": ESCALATION_ID},
    "hand_to_dealer": {"dealer_id": "dealer-9"},
    "dealer_responded": {},
    "dealer_agreed_solution": {},
}


def test_every_command_of_the_spec_has_a_case() -> None:
    assert set(VALID) == set(EVENT_TYPE)


@pytest.mark.parametrize("name", sorted(VALID))
async def test_each_command_appends_its_event(api: Api, name: str) -> None:
    headers = MANAGER if name == "acknowledge_escalation" else AGENT
    response = await api.client.post(
        f"/v1/cases/{CASE_ID}/commands", json={"command": name, **VALID[name]}, headers=headers
    )
    assert response.status_code == 202, response.text
    reply = response.json()
    [(key, value)] = api.publisher.sent
    event = parse(value)
    assert not isinstance(event, Undecodable)
    assert key == str(CASE_ID).encode() and event.case_id == CASE_ID
    assert event.type == EVENT_TYPE[name] == reply["event_type"]
    assert str(event.event_id) == reply["event_id"]
    assert event.actor.kind == headers["Authorization"].split("-")[1]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"command": "assign"}, ["body", "assign", "owner"]),
        ({"command": "resolve", "resolution": "x"}, ["body", "resolve", "root_cause"]),
        ({"command": "set_priority", "priority": "P7", "reason": "x"},
         ["body", "set_priority", "priority"]),
        ({"command": "promise_callback", "due_at": "soon"}, ["body", "promise_callback", "due_at"]),
        ({"command": "acknowledge", "extra": 1}, ["body", "acknowledge", "extra"]),
        ({"command": "teleport"}, ["body"]),
        ({}, ["body"]),
    ],
)  # fmt: skip
async def test_bad_commands_name_the_field(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    response = await api.client.post(f"/v1/cases/{CASE_ID}/commands", json=body, headers=AGENT)
    assert response.status_code == 422
    assert [problem["loc"] for problem in response.json()["detail"]] == [loc]
    assert not api.publisher.sent


async def test_a_promise_without_an_id_gets_one_from_intake(api: Api) -> None:
    response = await api.client.post(
        f"/v1/cases/{CASE_ID}/commands",
        json={"command": "promise_callback", "due_at": "2025-06-02T18:00:00Z"},
        headers=AGENT,
    )
    promise_id = response.json()["promise_id"]
    event = parse(api.publisher.sent[0][1])
    assert not isinstance(event, Undecodable)
    assert promise_id and event.payload.promise_id == promise_id  # type: ignore[union-attr]


async def test_only_managers_acknowledge_escalations(api: Api) -> None:
    body = {"command": "acknowledge_escalation", "escalation_id": ESCALATION_ID}
    response = await api.client.post(f"/v1/cases/{CASE_ID}/commands", json=body, headers=AGENT)
    assert response.status_code == 403
    assert not api.publisher.sent


async def test_keyed_commands_are_idempotent(api: Api) -> None:
    path, body = f"/v1/cases/{CASE_ID}/commands", {"command": "add_note", "text": "hello"}
    headers = {**AGENT, "Idempotency-Key": "note-1"}
    first = await api.client.post(path, json=body, headers=headers)
    second = await api.client.post(path, json=body, headers=headers)
    other_case = await api.client.post(f"/v1/cases/{uuid4()}/commands", json=body, headers=headers)
    assert (first.status_code, second.status_code, other_case.status_code) == (202, 202, 409)
    assert first.json() == second.json()
    assert len(api.publisher.sent) == 1
