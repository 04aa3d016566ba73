"""The running stack as the demo sees it: where each part answers, and the calls it makes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

KEYS: Final = {
    "ivr": "dev-ivr-key",
    "agent": "dev-agent-key",
    "manager": "dev-manager-key",
    "revisit_agent": "dev-revisit-key",
    "monitor": "dev-monitor-key",
}
DEMO_POLICY: Final = "deploy/policy/demo.yaml"
# The demo's stories are timed for second-scale targets; an hour-scale policy shows nothing.
MAX_FIRST_RESPONSE_SECONDS: Final = 60.0


class StackNotReady(Exception):
    """A part of the stack the demo needs does not answer."""


class WrongPolicy(Exception):
    """The stack runs a policy whose targets are too long for the demo."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of the parts of the local stack."""

    intake: str = "http://127.0.0.1:8081"
    escalation: str = "http://127.0.0.1:8082"
    followup: str = "http://127.0.0.1:8083"
    reporting: str = "http://127.0.0.1:8084"
    notifier: str = "http://127.0.0.1:8085"
    sink: str = "http://127.0.0.1:8180"
    # Watched, not driven: the summary names them when they answer.
    prometheus: str = "http://127.0.0.1:9090"
    grafana: str = "http://127.0.0.1:3000"

    def of(self, part: str) -> str:
        """The base URL of one part by name."""
        url: str = getattr(self, part)
        return url


PARTS: Final = ("intake", "escalation", "followup", "reporting", "notifier", "sink")


async def check_ready(client: httpx.AsyncClient, endpoints: Endpoints, parts: list[str]) -> None:
    """Raise StackNotReady naming every part whose /readyz does not answer 200."""
    missing = []
    for part in parts:
        url = f"{endpoints.of(part)}/readyz"
        try:
            ok = (await client.get(url, timeout=3)).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            missing.append(f"{part} ({url})")
    if missing:
        raise StackNotReady(
            "not answering: " + ", ".join(missing) + ". Start the stack first: "
            f"CASEGOLD_POLICY_FILE={DEMO_POLICY} make up "
            "(or leave a part out with --skip PART)"
        )


def check_policy(reply: dict[str, Any]) -> None:
    """Raise WrongPolicy unless intake's due times are second-scale (the demo policy)."""
    opened = datetime.fromisoformat(reply["opened_at"])
    first = datetime.fromisoformat(reply["due"]["first_response"])
    seconds = (first - opened).total_seconds()
    if seconds > MAX_FIRST_RESPONSE_SECONDS:
        raise WrongPolicy(
            f"the stack runs policy {reply['policy']!r}: a {reply['priority']} case's first "
            f"response is due in {seconds:,.0f} s, too long to watch. Restart the services "
            f"with the demo policy: make down && CASEGOLD_POLICY_FILE={DEMO_POLICY} make up"
        )


class Api:
    """The HTTP calls of the demo, each with the dev key of the role that makes it."""

    def __init__(self, client: httpx.AsyncClient, endpoints: Endpoints) -> None:
        self.client, self.endpoints = client, endpoints

    async def _post(
        self, url: str, role: str, body: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KEYS[role]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        for _ in range(5):
            response = await self.client.post(url, json=body, headers=headers, timeout=10)
            if response.status_code != 503:
                return response
            # Safe to retry: nothing was written, and the same key replays the same case.
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        return response

    async def open_case(self, endpoint: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        """Open a case (or a mention's case); the intake reply."""
        role = "monitor" if endpoint == "/v1/mentions" else self._opener(body)
        response = await self._post(self.endpoints.intake + endpoint, role, body, key)
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        return reply

    @staticmethod
    def _opener(body: dict[str, Any]) -> str:
        return "ivr" if body.get("channel") == "ivr" else "agent"

    async def command(self, case_id: str, role: str, body: dict[str, Any], key: str) -> int:
        """Send one command; the HTTP status."""
        url = f"{self.endpoints.intake}/v1/cases/{case_id}/commands"
        return (await self._post(url, role, body, key)).status_code

    async def lease(self, agent_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """Lease due revisit calls from the follow-up queue."""
        url = f"{self.endpoints.followup}/v1/callbacks/lease"
        body = {"agent_id": agent_id, "kinds": ["revisit"], "limit": limit}
        response = await self._post(url, "revisit_agent", body)
        response.raise_for_status()
        callbacks: list[dict[str, Any]] = response.json()["callbacks"]
        return callbacks

    async def answer(self, callback: dict[str, Any], outcome: dict[str, Any]) -> int:
        """Record a leased call's outcome; the HTTP status."""
        url = f"{self.endpoints.followup}/v1/callbacks/{callback['callback_id']}/outcome"
        body = {"lease_token": callback["lease_token"], **outcome}
        return (await self._post(url, "revisit_agent", body)).status_code

    async def release(self, callback: dict[str, Any]) -> None:
        """Give back a call that is not the demo's."""
        url = f"{self.endpoints.followup}/v1/callbacks/{callback['callback_id']}/release"
        await self._post(url, "revisit_agent", {"lease_token": callback["lease_token"]})

    async def answers(self, url: str) -> bool:
        """Whether a page answers 200 (to list only the URLs worth opening)."""
        try:
            # Prometheus and Grafana answer their front page with a redirect to the real one.
            reply = await self.client.get(url, timeout=3, follow_redirects=True)
            return reply.status_code == 200
        except httpx.HTTPError:
            return False
