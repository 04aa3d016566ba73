"""One-click acknowledgement: a signed link's confirm page, one command per click, refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from casegold_platform.ack_links import AckSigner
from tests.support.intake import FIXED_NOW, running_api

SIGNER = AckSigner(b"test-ack-secret-of-some-length", timedelta(hours=72))
ESCALATION = UUID("5f1f0c0e-3a7d-4d0e-9a55-0c2b7d9e1a01")
CASE = UUID("7b0c8f1e-9d1a-4c55-9a57-8a4f1f9f2a11")


def link(recipient: str = "dept-manager", issued: timedelta = timedelta(hours=-1)) -> str:
    return "/ack/" + SIGNER.sign(ESCALATION, CASE, recipient, FIXED_NOW + issued)


async def test_opening_the_link_shows_what_it_will_do_and_writes_nothing() -> None:
    async with running_api(ack=SIGNER) as api:
        page = await api.client.get(link("区域经理 <east>"))
        assert page.status_code == 200
        assert 'id="confirm"' in page.text and str(ESCALATION) in page.text
        assert "区域经理 &lt;east&gt;" in page.text, "the recipient is shown, escaped"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert api.publisher.sent == []


async def test_confirming_acknowledges_as_the_recipient_and_a_second_click_is_a_no_op() -> None:
    async with running_api(ack=SIGNER) as api:
        done = await api.client.post(link())
        assert done.status_code == 200 and 'id="done"' in done.text
        [(key, value)] = api.publisher.sent
        event = json.loads(value)
        assert key == str(CASE).encode()
        assert event["type"] == "escalation_acknowledged"
        assert event["case_id"] == str(CASE)
        assert event["payload"] == {"escalation_id": str(ESCALATION)}
        assert event["actor"] == {"kind": "manager", "id": "dept-manager"}
        # A later reminder carries a link issued later: the same acknowledgement.
        again = await api.client.post(link(issued=timedelta(minutes=-5)))
        assert again.status_code == 200 and 'id="repeat"' in again.text
        assert len(api.publisher.sent) == 1


async def test_each_recipient_acknowledges_in_their_own_name() -> None:
    async with running_api(ack=SIGNER) as api:
        await api.client.post(link("dept-manager"))
        await api.client.post(link("pr-legal"))
        actors = [json.loads(value)["actor"]["id"] for _, value in api.publisher.sent]
        assert actors == ["dept-manager", "pr-legal"]


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param(lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), 403, id="altered"),
        pytest.param(
            lambda t: AckSigner(b"someone-elses-secret-key", timedelta(hours=1)).sign(
                ESCALATION, CASE, "dept-manager", FIXED_NOW
            ),
            403,
            id="forged",
        ),
        pytest.param(lambda t: "not-a-token", 403, id="garbage"),
    ],
)
async def test_a_forged_or_altered_link_is_refused_and_writes_nothing(
    token: Callable[[str], str], status: int
) -> None:
    make = token
    good = link().removeprefix("/ack/")
    async with running_api(ack=SIGNER) as api:
        for method in ("GET", "POST"):
            page = await api.client.request(method, f"/ack/{make(good)}")
            assert page.status_code == status and 'id="refused"' in page.text
            assert "confirm" not in page.text
        assert api.publisher.sent == []
        assert api.store.rows == {}


async def test_an_expired_link_is_a_410_and_writes_nothing() -> None:
    async with running_api(ack=SIGNER) as api:
        page = await api.client.post(link(issued=timedelta(hours=-72)))
        assert page.status_code == 410 and "expired" in page.text
        assert api.publisher.sent == []


async def test_without_a_secret_links_are_off() -> None:
    async with running_api() as api:
        page = await api.client.post(link())
        assert page.status_code == 404 and "not configured" in page.text
        assert api.publisher.sent == []


async def test_a_broker_outage_is_a_retry_page_and_the_next_click_records_it() -> None:
    async with running_api(ack=SIGNER) as api:
        api.publisher.down = True
        failed = await api.client.post(link())
        assert failed.status_code == 503 and 'id="confirm"' in failed.text
        api.publisher.down = False
        await api.app.state.runtime.intake.drain()  # the failed attempt's lease is released
        done = await api.client.post(link())
        assert done.status_code == 200 and 'id="done"' in done.text
        assert len(api.publisher.sent) == 1
