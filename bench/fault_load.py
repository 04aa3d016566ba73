"""Background load of the fault harness: cases posted at a steady rate, every outcome kept.

Every request carries an Idempotency-Key. Its first answer is recorded as ok (2xx), failed (an
answer that says nothing was written: 503, or 409 while the same key is in flight) or
indeterminate (no answer: a timeout or a cut connection). Failed and indeterminate requests are
sent again with the same key until they are answered with a 2xx or the run's retry deadline
passes, so the final outcome of every request is known (SPEC §6: a retry with the key is safe).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

IVR = {"Authorization": "Bearer dev-ivr-key"}
AGENT = {"Authorization": "Bearer dev-agent-key"}
REVISIT = {"Authorization": "Bearer dev-revisit-key"}
# What a case does after it opens, as (seconds after the open was answered, command). On the fast
# policy (P3: first response due at 12 s, warning at 9 s, tier 3 at 24 s; solution agreed due at
# 40 s, warning at 30 s) a handled case never escalates and a neglected one climbs the whole
# first-response ladder, then is handled before any other milestone's first step.
RESOLVE = {
    "command": "resolve",
    "resolution": "Replaced the part and confirmed with the customer",
    "root_cause": {"category": "product", "text": "Part batch out of tolerance"},
}
SCRIPTS: dict[str, tuple[tuple[float, dict[str, Any]], ...]] = {
    "handled": ((1.0, {"command": "acknowledge"}), (2.0, RESOLVE), (3.0, {"command": "close"})),
    "revisited": ((1.0, {"command": "acknowledge"}), (2.0, RESOLVE)),
    "neglected": (
        (26.0, {"command": "acknowledge"}),
        (27.0, RESOLVE),
        (28.0, {"command": "close"}),
    ),
}
MIX = (("handled", 0.7), ("revisited", 0.2), ("neglected", 0.1))


@dataclass
class Request:
    """One logical request and what became of it."""

    kind: str  # open or the command's name
    key: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    ref: str  # the case's external_ref
    first: str = ""  # ok, failed, indeterminate
    final: str = "pending"
    attempts: int = 0
    status: int = 0
    reply: dict[str, Any] = field(default_factory=dict)
    answered_at: float = 0.0
    # Intake's 409 is "the same key is in flight, retry"; follow-up's is a stale lease token.
    retry_statuses: tuple[int, ...] = (503, 409)


@dataclass
class Case:
    """One case of the load: its script and its requests."""

    ref: str
    script: str
    opened: Request
    commands: list[Request] = field(default_factory=list)

    @property
    def case_id(self) -> str | None:
        value = self.opened.reply.get("case_id")
        return str(value) if value else None


@dataclass
class Lease:
    """One callback a revisit agent held, and how its outcome went."""

    callback_id: str
    case_id: str
    agent: str
    token: str
    leased_at: float
    expires_at: float
    outcome: Request | None = None


class Load:
    """Posts cases at `rate` per second for `duration` seconds (or until `stop_opening`) and
    plays each case's script."""

    def __init__(
        self,
        client: aiohttp.ClientSession,
        intake: str,
        followup: str,
        *,
        rate: float,
        duration: float,
        retry_for: float = 120.0,
        timeout: float = 5.0,
        seed: int = 16,
        max_in_flight: int = 200,
    ) -> None:
        self.client, self.intake, self.followup = client, intake, followup
        self.rate, self.duration, self.timeout = rate, duration, timeout
        self.retry_for = retry_for
        self.random = random.Random(seed)
        self.cases: list[Case] = []
        self.leases: list[Lease] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = 0.0
        # Requests in flight at once (the receiver and the driver share this event loop); the
        # rest queue here. The client is aiohttp's: httpx's pool, at 200 requests in flight,
        # spent the loop's time on its own bookkeeping (1.5 s per request while the server
        # answered a probe in 10 ms; BENCHMARKS.md, reliability).
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self.stop_opening = asyncio.Event()  # set: open no more cases (before the duration)

    async def send(self, request: Request) -> Request:
        """Send until a 2xx (or a definite refusal), the same key every time."""
        give_up = time.monotonic() + self.retry_for
        while True:
            request.attempts += 1
            outcome, pause = await self._attempt(request)
            request.first = request.first or outcome
            if outcome == "ok" or outcome == "refused":
                request.final = outcome
                return request
            if time.monotonic() + pause > give_up:
                request.final = outcome
                return request
            await asyncio.sleep(pause)

    async def _attempt(self, request: Request) -> tuple[str, float]:
        async with self.in_flight:
            try:
                # The client's timeout bounds the request; this bounds the whole attempt.
                return await asyncio.wait_for(self._post(request), self.timeout + 1)
            except TimeoutError:
                return "indeterminate", 0.5

    async def _post(self, request: Request) -> tuple[str, float]:
        try:
            async with self.client.post(
                request.url,
                json=request.body,
                headers=request.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as reply:
                status, text = reply.status, await reply.text()
                retry_after = reply.headers.get("Retry-After", "1")
        except (aiohttp.ClientError, TimeoutError):  # the write may or may not have happened
            return "indeterminate", 0.5
        request.status = status
        if 200 <= status < 300:
            request.reply = json.loads(text)
            request.answered_at = time.time()
            return "ok", 0.0
        if status in request.retry_statuses and "different" not in text:
            return "failed", float(retry_after)
        if status >= 500:
            return "indeterminate", 0.5
        return "refused", 0.0

    def _case(self) -> Case:
        ref = f"rel-{uuid.uuid4().hex[:16]}"
        roll, script = self.random.random(), MIX[-1][0]
        for name, share in MIX:
            if roll < share:
                script = name
                break
            roll -= share
        body = {
            "external_ref": ref,
            "channel": "ivr",
            # A phone of its own: two cases of one number would be a repeat complaint (tier 1).
            "customer": {"phone": f"+86135{self.random.randrange(10**8):08d}", "name": "Load"},
            "category": "product",
            "priority": "P3",
            "summary": "Washing machine leaks after repair",
            "description": "Background load of the fault harness.",
        }
        headers = {**IVR, "Idempotency-Key": ref}
        opened = Request("open", ref, f"{self.intake}/v1/cases", body, headers, ref)
        return Case(ref, script, opened)

    async def _play(self, case: Case) -> None:
        await self.send(case.opened)
        if case.case_id is None:
            return
        began = time.monotonic()
        for at, command in SCRIPTS[case.script]:
            await asyncio.sleep(max(0.0, began + at - time.monotonic()))
            key = f"{case.ref}-{command['command']}"
            url = f"{self.intake}/v1/cases/{case.case_id}/commands"
            request = Request(
                command["command"], key, url, command, {**AGENT, "Idempotency-Key": key}, case.ref
            )
            case.commands.append(request)
            await self.send(request)

    async def run(self) -> None:
        """Open cases at the rate for the duration, then wait for every script to finish."""
        self.started = time.monotonic()
        opened = 0
        while (elapsed := time.monotonic() - self.started) < self.duration:
            if self.stop_opening.is_set():
                break
            due = int(elapsed * self.rate) + 1
            while opened < due:
                case = self._case()
                self.cases.append(case)
                task = asyncio.create_task(self._play(case))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                opened += 1
            await asyncio.sleep(0.02)
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    async def revisit_agent(self, name: str, stop: asyncio.Event) -> None:
        """Lease due revisits and answer each satisfied, until `stop` and the queue is empty."""
        mine = {c.case_id for c in self.cases}
        idle_since: float | None = None
        while True:
            try:
                async with self.client.post(
                    f"{self.followup}/v1/callbacks/lease",
                    json={"agent_id": name, "kinds": ["revisit"], "limit": 5},
                    headers=REVISIT,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as reply:
                    text = await reply.text()
                callbacks = json.loads(text)["callbacks"] if reply.status == 200 else []
            except (aiohttp.ClientError, TimeoutError, ValueError):
                callbacks = []
            now = time.time()
            for callback in callbacks:
                lease = Lease(
                    callback["callback_id"],
                    callback["case_id"],
                    name,
                    callback["lease_token"],
                    now,
                    _timestamp(callback.get("lease_expires_at"), now + 30),
                )
                self.leases.append(lease)
                mine |= {c.case_id for c in self.cases}
                url = f"{self.followup}/v1/callbacks/{lease.callback_id}/outcome"
                body = {"lease_token": lease.token, "outcome": "satisfied", "score": 5}
                lease.outcome = Request(
                    "outcome", lease.token, url, body, REVISIT, lease.case_id, retry_statuses=(503,)
                )
                await self.send(lease.outcome)
            if callbacks:
                idle_since = None
            elif stop.is_set():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 6:
                    return
            await asyncio.sleep(0.2 if callbacks else 0.5)

    def figures(self) -> dict[str, Any]:
        """Counts of first and final outcomes of every request."""
        requests = [r for c in self.cases for r in (c.opened, *c.commands)]
        requests += [lease.outcome for lease in self.leases if lease.outcome is not None]
        return {
            "requests": len(requests),
            "cases": len(self.cases),
            "first": dict(Counter(r.first for r in requests)),
            "final": dict(Counter(r.final for r in requests)),
            "retried": sum(r.attempts > 1 for r in requests),
            # What each definite refusal was: the request's kind and the status it got.
            "refusals": dict(
                Counter(f"{r.kind} {r.status}" for r in requests if r.final == "refused")
            ),
            "scripts": dict(Counter(c.script for c in self.cases)),
        }


def _timestamp(text: Any, default: float) -> float:
    if not isinstance(text, str):
        return default
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
