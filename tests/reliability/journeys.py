"""What a journey does through the running stack, and how it looks: reporting's case view, the
services' metrics and the notices the receiver got. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.fault_stack import Stack
from tests.support.receivers import Receiver
from tools.demo.stack import KEYS

View = dict[str, Any]


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def customer() -> dict[str, str]:
    """A customer with a number of their own (a second case of one number is a repeat complaint,
    tier 1 at once)."""
    return {"phone": f"+86136{uuid.uuid4().int % 10**8:08d}", "name": "Li Wei"}


def resolve_body(text: str = "Replaced the seal and tested a full wash") -> dict[str, Any]:
    return {
        "command": "resolve",
        "resolution": text,
        "root_cause": {"category": "product", "text": "Seal batch out of tolerance"},
    }


class Journey:
    """One case's way through the stack, as the IVR, agents and revisit agents see it."""

    def __init__(self, stack: Stack, receiver: Receiver, client: httpx.AsyncClient) -> None:
        self.stack, self.receiver, self.client = stack, receiver, client
        self.case_id = ""

    def _headers(self, role: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {KEYS[role]}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    async def open(self, body: dict[str, Any], endpoint: str = "/v1/cases") -> dict[str, Any]:
        """Post the case as the IVR (or a mention as the monitor); intake's reply."""
        role = "monitor" if endpoint == "/v1/mentions" else "ivr"
        reply = await self.client.post(
            self.stack.url("intake") + endpoint,
            json=body,
            headers=self._headers(role, str(uuid.uuid4())),
            timeout=10,
        )
        assert reply.status_code == 201, reply.text
        accepted: dict[str, Any] = reply.json()
        self.case_id = accepted["case_id"]
        return accepted

    async def do(self, command: dict[str, Any], role: str = "agent") -> str:
        """Send one command; the event id intake made durable."""
        reply = await self.client.post(
            f"{self.stack.url('intake')}/v1/cases/{self.case_id}/commands",
            json=command,
            headers=self._headers(role, str(uuid.uuid4())),
            timeout=10,
        )
        assert reply.status_code == 202, f"{command['command']}: {reply.status_code} {reply.text}"
        event_id: str = reply.json()["event_id"]
        return event_id

    async def promise(self, seconds: float, promise_id: str = "p-1") -> None:
        due = datetime.now(UTC) + timedelta(seconds=seconds)
        body = {"command": "promise_callback", "promise_id": promise_id, "due_at": due.isoformat()}
        await self.do(body)

    async def view(self) -> View | None:
        """Reporting's GET /v1/cases/{id} (None while the case is not projected yet)."""
        reply = await self.client.get(
            f"{self.stack.url('reporting')}/v1/cases/{self.case_id}",
            headers=self._headers("agent"),
            timeout=10,
        )
        if reply.status_code == 404:
            return None
        assert reply.status_code == 200, reply.text
        found: View = reply.json()
        return found

    async def until(self, check: Callable[[View], bool], what: str, timeout: float = 60) -> View:
        """Poll the case view until `check` holds; fail with the last view at the deadline."""
        deadline = time.monotonic() + timeout
        last: View | None = None
        while True:
            last = await self.view()
            if last is not None and check(last):
                return last
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"case {self.case_id}: timed out after {timeout} s waiting for {what}; "
                    f"last view: {summary(last)}\n{self.stack.log_tails(15)}"
                )
            await asyncio.sleep(0.2)

    async def lease_revisit(self, timeout: float = 60) -> dict[str, Any]:
        """Lease this case's revisit call once it is due (giving back any other case's)."""
        url = self.stack.url("followup") + "/v1/callbacks"
        headers = self._headers("revisit_agent")
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.client.post(
                f"{url}/lease",
                json={"agent_id": "revisit-1", "kinds": ["revisit"], "limit": 20},
                headers=headers,
                timeout=10,
            )
            assert reply.status_code == 200, reply.text
            mine: dict[str, Any] | None = None
            for callback in reply.json()["callbacks"]:
                if callback["case_id"] == self.case_id and mine is None:
                    mine = callback
                    continue
                release = {"lease_token": callback["lease_token"]}
                await self.client.post(
                    f"{url}/{callback['callback_id']}/release", json=release, headers=headers
                )
            if mine is not None:
                return mine
            assert time.monotonic() < deadline, f"no revisit of {self.case_id} in {timeout} s"
            await asyncio.sleep(0.3)

    async def answer(self, callback: dict[str, Any], **outcome: Any) -> list[str]:
        """Record the leased call's outcome; the types of the case events it made."""
        reply = await self.client.post(
            f"{self.stack.url('followup')}/v1/callbacks/{callback['callback_id']}/outcome",
            json={"lease_token": callback["lease_token"], **outcome},
            headers=self._headers("revisit_agent"),
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        return [event["type"] for event in reply.json()["events"]]

    def notices(self) -> list[dict[str, Any]]:
        """Distinct notices about this case the receiver got (a resend counts once)."""
        seen: dict[str, dict[str, Any]] = {}
        for item in self.receiver.received:
            body = item.json()
            if body["case"]["case_id"] == self.case_id:
                assert item.signed, f"unsigned notice at {item.path}"
                seen.setdefault(body["notice_id"], {**body, "path": item.path})
        return list(seen.values())

    async def wait_notices(
        self, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not check(self.notices()):
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}; notices: {[notice_key(n) for n in self.notices()]}"
            )
            await asyncio.sleep(0.2)
        return self.notices()

    async def metrics(self, part: str) -> str:
        return await self.stack[part].metrics()


def steps(view: View) -> set[tuple[str, int, str, str]]:
    """The fired steps of a case view: (milestone, cycle, step, reason)."""
    return {(e["milestone"], e["cycle"], e["step"], e["reason"]) for e in view["escalations"]}


def delivered_to(view: View) -> set[tuple[str, str]]:
    """(step, recipient) of every delivery the case view shows as delivered."""
    return {
        (e["step"], d["recipient"])
        for e in view["escalations"]
        for d in e["deliveries"]
        if d["status"] == "delivered"
    }


def notice_key(notice: dict[str, Any]) -> tuple[str, str, str]:
    escalation = notice["escalation"]
    return (escalation["milestone"], escalation["step"], str(notice["path"]).strip("/"))


def summary(view: View | None) -> str:
    if view is None:
        return "not projected"
    return (
        f"status={view['status']} cycle={view['cycle']} steps={sorted(steps(view))} "
        f"timeline={[t['type'] + ':' + t['outcome'] for t in view['timeline']]} "
        f"revisits={[r['outcome'] for r in view['revisits']]}"
    )
