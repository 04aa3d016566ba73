"""The key path's answers while the first request is in flight, failed or vanished (fakes)."""

from __future__ import annotations

import asyncio

from tests.support.intake import IVR, case_body, running_api

CASES = "/v1/cases"
KEYED = {**IVR, "Idempotency-Key": "call-1"}


async def test_a_duplicate_in_flight_waits_and_replays_the_same_case() -> None:
    async with running_api() as api:
        api.publisher.delay = 0.2
        first, second = await asyncio.gather(
            api.client.post(CASES, json=case_body(), headers=KEYED),
            api.client.post(CASES, json=case_body(), headers=KEYED),
        )
        assert sorted((first.status_code, second.status_code)) == [200, 201]
        assert first.json() == second.json()
        assert len(api.publisher.sent) == 1


async def test_the_201_does_not_wait_for_the_publish_mark_and_a_duplicate_waits_for_it() -> None:
    async with running_api() as api:
        api.store.mark_gate = asyncio.Event()
        first = await api.client.post(CASES, json=case_body(), headers=KEYED)
        assert first.status_code == 201, "answered while its mark is still held back"
        [row] = api.store.rows.values()
        assert row.leased and not row.published
        duplicate = asyncio.create_task(api.client.post(CASES, json=case_body(), headers=KEYED))
        api.store.mark_gate.set()
        second = await duplicate
        assert second.status_code == 200 and second.json() == first.json()
        assert len(api.publisher.sent) == 1
        [row] = api.store.rows.values()
        assert row.published and row.attempt == 1


async def test_a_duplicate_waiting_longer_than_the_wait_is_409_in_progress_with_retry_after() -> (
    None
):
    async with running_api(in_flight_wait_seconds=0.05) as api:
        api.publisher.delay = 0.5
        first, second = await asyncio.gather(
            api.client.post(CASES, json=case_body(), headers=KEYED),
            api.client.post(CASES, json=case_body(), headers=KEYED),
        )
        assert (first.status_code, second.status_code) == (201, 409)
        assert second.headers["Retry-After"] == "1"
        assert "in progress" in second.json()["detail"]
        retried = await api.client.post(CASES, json=case_body(), headers=KEYED)
        assert retried.status_code == 200 and retried.json() == first.json()


async def test_another_body_while_the_first_is_in_flight_is_a_conflict_without_retry_after() -> (
    None
):
    async with running_api() as api:
        api.publisher.delay = 0.2
        first, other = await asyncio.gather(
            api.client.post(CASES, json=case_body(), headers=KEYED),
            api.client.post(CASES, json=case_body(summary="Another"), headers=KEYED),
        )
        assert (first.status_code, other.status_code) == (201, 409)
        assert "Retry-After" not in other.headers


async def test_a_claim_whose_process_vanished_is_taken_over_with_the_stored_event() -> None:
    async with running_api(in_flight_wait_seconds=0.05) as api:
        api.publisher.delay = 5.0
        api.app.state.runtime.intake.deadline = 0.1

        async def vanished(client_id: str, key: str, attempt: int) -> None:
            """The process died before it could release its claim."""

        api.store.release = vanished  # type: ignore[method-assign]
        lost = await api.client.post(CASES, json=case_body(), headers=KEYED)
        assert lost.status_code == 503 and not api.publisher.sent
        api.publisher.delay = 0.0
        leased = await api.client.post(CASES, json=case_body(), headers=KEYED)
        assert leased.status_code == 409 and "Retry-After" in leased.headers
        api.store.expire()
        api.app.state.runtime.intake.deadline = 4.5
        retried = await api.client.post(CASES, json=case_body(), headers=KEYED)
        assert retried.status_code == 201
        [(_, value)] = api.publisher.sent
        assert retried.json()["event_id"] in value.decode()
        await api.app.state.runtime.intake.drain()  # the mark is written after the answer
        [row] = api.store.rows.values()
        assert row.attempt == 2 and row.published
