"""Refusals beyond the shape: control characters, unknown zones, past promises, no echoes."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegold_intake.checks import forbidden_control, may_hold_control
from tests.support.intake import AGENT, IVR, Api, case_body, mention_body

CASES = "/v1/cases"
PHONE = "13800138000"
CASE_ID = "7b0c8f1e-9d1a-4c55-9a57-8a4f1f9f2a11"


def assert_no_echo(response: Any, *values: str) -> None:
    assert response.status_code == 422, response.text
    for value in values:
        assert value not in response.text


async def test_an_unknown_command_is_a_422_that_does_not_echo_its_name(api: Api) -> None:
    response = await api.client.post(
        f"{CASES}/{CASE_ID}/commands", json={"command": f"call-{PHONE}"}, headers=AGENT
    )
    assert_no_echo(response, PHONE)
    assert "unknown command" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        {"command": "promise_callback", "due_at": f"{PHONE}x"},
        {"command": "set_priority", "priority": f"P{PHONE}", "reason": "x"},
        {"command": "assign", "owner": {"phone": PHONE}},
    ],
)
async def test_no_422_echoes_a_submitted_value(api: Api, body: dict[str, Any]) -> None:
    response = await api.client.post(f"{CASES}/{CASE_ID}/commands", json=body, headers=AGENT)
    assert_no_echo(response, PHONE)


async def test_a_bad_case_id_in_the_path_is_not_echoed(api: Api) -> None:
    response = await api.client.post(
        f"{CASES}/{PHONE}/commands", json={"command": "acknowledge"}, headers=AGENT
    )
    assert_no_echo(response, PHONE)


async def test_an_unknown_time_zone_is_a_422_naming_the_field(api: Api) -> None:
    customer = {"phone": PHONE, "timezone": "Mars/Olympus_Mons"}
    response = await api.client.post(CASES, json=case_body(customer=customer), headers=AGENT)
    assert_no_echo(response, "Olympus")
    assert response.json()["detail"][0]["loc"] == ["body", "customer", "timezone"]
    known = {"phone": PHONE, "timezone": "Europe/Berlin"}
    assert (await api.client.post(CASES, json=case_body(customer=known), headers=AGENT)).is_success
    assert not [v for _, v in api.publisher.sent if b"Olympus" in v]


@pytest.mark.parametrize(
    ("field", "text"),
    [("summary", "Leak\u0000"), ("description", "a\u0007b"), ("summary", "a\rb"),
     ("description", "a\u0085b")],
)  # fmt: skip
async def test_control_characters_in_a_text_field_are_a_422_naming_it(
    api: Api, field: str, text: str
) -> None:
    response = await api.client.post(CASES, json=case_body(**{field: text}), headers=AGENT)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", field],
            "msg": "control characters other than tab and newline are not allowed",
            "type": "string",
        }
    ]
    assert not api.publisher.sent


async def test_control_characters_in_notes_and_mentions_are_refused_too(api: Api) -> None:
    note = await api.client.post(
        f"{CASES}/{CASE_ID}/commands",
        json={"command": "add_note", "text": "x\u0000"},
        headers=AGENT,
    )
    mention = await api.client.post(
        "/v1/mentions",
        json=mention_body(text="bad\u001b[31m"),
        headers={**IVR, "Idempotency-Key": "m"},
    )
    assert [p["loc"] for p in note.json()["detail"]] == [["body", "text"]]
    assert [p["loc"] for p in mention.json()["detail"]] == [["body", "text"]]
    tabs = case_body(description="line one\n\tline two")
    assert (await api.client.post(CASES, json=tabs, headers=AGENT)).status_code == 201


@pytest.mark.parametrize(
    ("due_at", "status"),
    [("2025-06-02T08:54:00Z", 422), ("2025-06-02T08:56:00Z", 202), ("2025-06-02T10:00:00Z", 202)],
)
async def test_a_promise_due_in_the_past_beyond_five_minutes_is_a_422(
    api: Api, due_at: str, status: int
) -> None:
    # The app's clock says 2025-06-02T09:00:00Z (testing.FIXED_NOW).
    response = await api.client.post(
        f"{CASES}/{CASE_ID}/commands",
        json={"command": "promise_callback", "due_at": due_at},
        headers=AGENT,
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["detail"][0]["loc"] == ["body", "due_at"]


def test_forbidden_controls_are_exactly_unicode_cc_less_tab_and_newline() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        expected = unicodedata.category(char) == "Cc" and char not in "\t\n"
        assert forbidden_control(f"a{char}b") is expected, hex(code)


@given(st.text(), st.sampled_from(["json-ascii", "json-utf8", "orjson"]))
def test_the_raw_body_precheck_never_misses_a_control_character(text: str, encoding: str) -> None:
    body = {"summary": text, "customer": {"name": text[::-1]}}
    if encoding == "orjson":
        raw = orjson.dumps(body)
    else:
        ascii_only = encoding == "json-ascii"
        raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if forbidden_control(text):
        assert may_hold_control(raw)


def test_the_raw_body_precheck_passes_ordinary_bodies() -> None:
    plain = json.dumps(case_body(description="line one\n\tline two, 记者")).encode()
    assert not may_hold_control(plain)
    assert not may_hold_control(json.dumps(case_body(), ensure_ascii=False).encode())
    assert may_hold_control(json.dumps(case_body(summary="caf\u00e9")).encode())  # false alarm
