"""The HTTP contract of SPEC §6, with fakes at the ports."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from casegold_contracts import CaseOpened, Undecodable, parse
from casegold_intake.testing import (
    AGENT,
    IVR,
    MANAGER,
    MONITOR,
    OPS,
    SMALL_POLICY,
    Api,
    case_body,
    mention_body,
    running_api,
    small_policy,
)

CASES = "/v1/cases"


def keyed(key: str, headers: dict[str, str] = IVR) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def published(api: Api) -> list[Any]:
    events = [parse(value) for _, value in api.publisher.sent]
    assert not any(isinstance(event, Undecodable) for event in events)
    return events


async def test_a_new_case_is_published_keyed_by_case_id_and_answered_with_due_times(
    api: Api,
) -> None:
    response = await api.client.post(CASES, json=case_body(), headers=keyed("call-1"))
    assert response.status_code == 201
    reply = response.json()
    [(key, _)] = api.publisher.sent
    [event] = published(api)
    assert isinstance(event, CaseOpened)
    assert key == reply["case_id"].encode() == str(event.case_id).encode()
    assert reply["event_id"] == str(event.event_id)
    assert event.actor.kind == "ivr" and event.actor.id == "dev-ivr"
    assert event.payload.customer.phone == "+8613800138000"
    assert event.payload.priority == "P3" and not event.payload.sensitive
    assert reply["due"] == {
        "first_response": "2025-06-02T21:00:00Z",
        "solution_agreed": "2025-06-07T09:00:00Z",
        "resolution": "2025-06-17T09:00:00Z",
    }


async def test_same_key_same_body_replays_the_same_case_and_publishes_once(api: Api) -> None:
    first = await api.client.post(CASES, json=case_body(), headers=keyed("call-1"))
    # The same request in another spelling: key order, phone formatting.
    again = dict(reversed(case_body(customer={"phone": "+8613800138000", "name": "Li Wei",
                                              "timezone": "Asia/Shanghai"}).items()))  # fmt: skip
    second = await api.client.post(CASES, json=again, headers=keyed("call-1"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(api.publisher.sent) == 1


async def test_same_key_different_body_is_a_conflict_and_writes_nothing(api: Api) -> None:
    await api.client.post(CASES, json=case_body(), headers=keyed("call-1"))
    response = await api.client.post(
        CASES, json=case_body(summary="Another thing"), headers=keyed("call-1")
    )
    assert response.status_code == 409
    assert len(api.publisher.sent) == 1


async def test_keys_belong_to_their_client(api: Api) -> None:
    await api.client.post(CASES, json=case_body(), headers=keyed("k", IVR))
    response = await api.client.post(CASES, json=case_body(), headers=keyed("k", AGENT))
    assert response.status_code == 201
    assert len({event.case_id for event in published(api)}) == 2


async def test_fifty_concurrent_posts_with_one_key_make_one_case(api: Api) -> None:
    api.publisher.delay = 0.01
    responses = await asyncio.gather(
        *(api.client.post(CASES, json=case_body(), headers=keyed("burst")) for _ in range(50))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 49 + [201]
    assert len({response.json()["case_id"] for response in responses}) == 1
    assert len(api.publisher.sent) == 1


async def test_ivr_must_send_an_idempotency_key(api: Api) -> None:
    response = await api.client.post(CASES, json=case_body(), headers=IVR)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert not api.publisher.sent


async def test_agents_may_post_without_a_key(api: Api) -> None:
    first = await api.client.post(CASES, json=case_body(), headers=AGENT)
    second = await api.client.post(CASES, json=case_body(), headers=AGENT)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["case_id"] != second.json()["case_id"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"channel": "pigeon"}, ["body", "channel"]),
        ({"customer": {"phone": "12"}}, ["body", "customer", "phone"]),
        ({"category": "weather"}, ["body", "category"]),
        ({"summary": ""}, ["body", "summary"]),
        ({"priority": "P9"}, ["body", "priority"]),
        ({"occurred_at": "2025-06-01T10:00:00"}, ["body", "occurred_at"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
async def test_invalid_fields_are_named_and_nothing_is_written(
    api: Api, change: dict[str, Any], loc: list[str]
) -> None:
    response = await api.client.post(CASES, json=case_body(**change), headers=keyed("bad"))
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [problem["loc"] for problem in problems] == [loc]
    assert all(problem["msg"] for problem in problems)
    assert "input" not in problems[0]
    assert not api.publisher.sent and not api.store.rows


async def test_malformed_json_is_a_422(api: Api) -> None:
    response = await api.client.post(
        CASES, content=b'{"channel": ', headers={**AGENT, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_non_json_is_a_415(api: Api) -> None:
    response = await api.client.post(
        CASES, content=b"channel=ivr", headers={**AGENT, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    missing = await api.client.post(CASES, content=b"{}", headers=AGENT)
    assert missing.status_code == 415
    assert not api.publisher.sent
    metrics = (await api.client.get("/metrics")).text
    series = 'casegold_http_requests_total{method="POST",route="/v1/cases",status="415"} 2.0'
    assert series in metrics


async def test_a_body_over_the_limit_is_a_413_also_without_content_length(api: Api) -> None:
    big = json.dumps(case_body(description="x" * 70_000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    headers = {**AGENT, "Content-Type": "application/json"}
    declared = await api.client.post(CASES, content=big, headers=headers)
    streamed = await api.client.post(CASES, content=chunks(), headers=headers)
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert not api.publisher.sent


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
        ({"Authorization": "Basic ZGV2OmRldg=="}, 401),
        (MANAGER, 403),
        (MONITOR, 403),
        (OPS, 403),
    ],
)
async def test_unknown_keys_and_wrong_roles_are_refused(
    api: Api, headers: dict[str, str], status: int
) -> None:
    response = await api.client.post(CASES, json=case_body(), headers=headers)
    assert response.status_code == status
    assert not api.publisher.sent


async def test_kafka_down_is_a_503_and_the_retry_publishes_the_same_event_once(api: Api) -> None:
    api.publisher.down = True
    refused = await api.client.post(CASES, json=case_body(), headers=keyed("call-9"))
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    [row] = api.store.rows.values()
    assert not row.published  # claimed for this body, lease released
    api.publisher.down = False
    other = await api.client.post(CASES, json=case_body(summary="Other"), headers=keyed("call-9"))
    assert other.status_code == 409, "another body never claims a key its first body failed on"
    retried = await api.client.post(CASES, json=case_body(), headers=keyed("call-9"))
    replay = await api.client.post(CASES, json=case_body(), headers=keyed("call-9"))
    assert (retried.status_code, replay.status_code) == (201, 200)
    [event] = published(api)
    assert str(event.event_id) == retried.json()["event_id"] == replay.json()["event_id"]


async def test_database_down_is_a_503_and_nothing_is_published(api: Api) -> None:
    api.store.down = True
    response = await api.client.post(CASES, json=case_body(), headers=keyed("call-10"))
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert not api.publisher.sent


async def test_sensitive_keywords_make_a_sensitive_p2_case(api: Api) -> None:
    body = case_body(description="The customer says a journalist will hear about it")
    response = await api.client.post(CASES, json=body, headers=AGENT)
    reply = response.json()
    assert reply["sensitive"] and reply["sensitive_reasons"] == ["journalist"]
    assert reply["priority"] == "P2"
    [event] = published(api)
    assert event.payload.sensitive_reasons == ("journalist",)


async def test_a_configured_priority_rule_sets_the_priority_of_a_posted_case() -> None:
    rules = "priority_rules:\n  - {match: {category: billing}, priority: P1}\n"
    text = SMALL_POLICY.replace("priority_rules:\n", rules, 1)
    async with running_api(policy=small_policy(text)) as configured:
        billing = await configured.client.post(
            CASES, json=case_body(category="billing"), headers=AGENT
        )
        product = await configured.client.post(CASES, json=case_body(), headers=AGENT)
    assert (billing.json()["priority"], product.json()["priority"]) == ("P1", "P3")
    assert billing.json()["due"]["first_response"] == "2025-06-02T10:00:00Z"  # P1's 1 h
    [event, _] = published(configured)
    assert event.payload.priority == "P1"


async def test_a_given_priority_wins_over_the_default(api: Api) -> None:
    response = await api.client.post(CASES, json=case_body(priority="P1"), headers=AGENT)
    assert response.json()["priority"] == "P1"
    assert response.json()["due"]["first_response"] == "2025-06-02T10:00:00Z"


async def test_a_mention_becomes_a_social_case_sensitive_when_keywords_match(api: Api) -> None:
    calm = await api.client.post("/v1/mentions", json=mention_body(), headers=MONITOR)
    hot = await api.client.post(
        "/v1/mentions",
        json=mention_body(text="已经联系了媒体和律师"),
        headers=keyed("mention-1"),
    )
    assert (calm.status_code, hot.status_code) == (201, 201)
    assert calm.json()["channel"] == "social" and not calm.json()["sensitive"]
    assert hot.json()["sensitive_reasons"] == ["媒体", "律师"]
    events = published(api)
    assert events[1].payload.mention.source_url == "https://weibo.example/post/1"
    assert events[0].payload.summary == "Three weeks and still no fix"


async def test_metrics_count_cases_and_requests_without_ids_or_phones(api: Api) -> None:
    created = await api.client.post(CASES, json=case_body(), headers=AGENT)
    case_id = created.json()["case_id"]
    await api.client.post(
        f"{CASES}/{case_id}/commands", json={"command": "acknowledge"}, headers=AGENT
    )
    text = (await api.client.get("/metrics")).text
    assert 'casegold_cases_opened_total{category="product",channel="ivr",priority="P3"} 1.0' in text
    assert 'route="/v1/cases/{case_id}/commands",status="202"' in text
    assert case_id not in text and "13800138000" not in text and "dev-" not in text


async def test_health_readiness_and_openapi(api: Api) -> None:
    assert (await api.client.get("/healthz")).json()["status"] == "ok"
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": True, "postgres": True}
    api.publisher.down = True
    assert (await api.client.get("/readyz")).status_code == 503
    schema = (await api.client.get("/openapi.json")).json()
    assert {"/v1/cases", "/v1/cases/{case_id}/commands", "/v1/mentions"} <= set(schema["paths"])
    assert (await api.client.get("/docs")).status_code == 200


async def test_case_ids_in_a_command_path_must_be_uuids(api: Api) -> None:
    response = await api.client.post(
        f"{CASES}/not-a-uuid/commands", json={"command": "acknowledge"}, headers=AGENT
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "case_id"]


async def test_replies_carry_uuid_strings(api: Api) -> None:
    response = await api.client.post(CASES, json=case_body(), headers=AGENT)
    UUID(response.json()["case_id"])
    assert response.headers["content-type"] == "application/json"


async def test_slow_dependencies_together_are_cut_at_the_request_deadline() -> None:
    async with running_api(request_deadline_seconds=0.2) as slow:
        slow.publisher.delay = 2.0
        started = time.monotonic()
        response = await slow.client.post(CASES, json=case_body(), headers=keyed("slow"))
        assert response.status_code == 503 and "Retry-After" in response.headers
        assert time.monotonic() - started < 1.0
        assert not slow.publisher.sent
        assert [row.published for row in slow.store.rows.values()] == [False]
