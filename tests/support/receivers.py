"""Notifier test helpers: a local webhook receiver and an SMTP inbox that record what arrived."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web

from casegold_notifier.signing import NOTICE_ID_HEADER, verify
from tests.support.brokers import free_port

# The webhook secret the integration tests' recipients share (the `receiver` fixture's).
WEBHOOK_SECRET = "integration-secret-0123456789"


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool | None

    @property
    def notice_id(self) -> str:
        """The X-Casegold-Notice-Id header."""
        return self.headers.get(NOTICE_ID_HEADER, "")

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


# A response is a status, or "hold" to keep the request open until `release()`.
Response = int | str


@dataclass
class Receiver:
    """An HTTP server on a free port; each path answers from its script, then 200."""

    secret: str | None = None
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Response]] = field(default_factory=dict)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        """The full URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *responses: Response) -> None:
        """Answer the next requests to `path` with these statuses (or holds), in order."""
        self.scripts[path] = list(responses)

    def release(self) -> None:
        """Let held requests answer 200."""
        self.released.set()

    def on(self, path: str) -> list[Received]:
        """What arrived at `path`."""
        return [item for item in self.received if item.path == path]

    async def start(self) -> Receiver:
        """Listen."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        """Stop listening (held requests are cut)."""
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        signed = None if self.secret is None else verify(self.secret, headers, body, time.time())
        self.received.append(Received(time.time(), request.path, headers, body, signed))
        script = self.scripts.get(request.path)
        response: Response = script.pop(0) if script else 200
        if response == "hold":
            await self.released.wait()
            response = 200
        return web.Response(status=int(response), text="ok")


async def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll until `condition()` is truthy and return it; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


class SmtpInbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for a message's data."""
        message = message_from_bytes(envelope.original_content or envelope.content)
        self.messages.append((time.time(), list(envelope.rcpt_tos), message))
        return "250 OK"
