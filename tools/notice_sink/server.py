"""The sink's two listeners: HTTP (signed webhooks, Slack posts, the page) and SMTP."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from casegold_notifier.signing import verify
from tools.notice_sink.listing import html_page
from tools.notice_sink.settings import SinkSettings
from tools.notice_sink.store import NoticeStore, email_notice, slack_notice, webhook_notice


def http_app(store: NoticeStore, secret: str, tolerance: float) -> Starlette:
    """The HTTP side: POST /hooks/{name}, POST /slack/{name}, GET /, /notices, /healthz."""

    async def hook(request: Request) -> Response:
        body = await request.body()
        now = time.time()
        verified = verify(secret, request.headers, body, now, tolerance)
        name = request.path_params["name"]
        store.append(webhook_notice(name, request.headers, body, verified, now))
        if not verified:
            # Refused, as a real receiver would; kept anyway so the page shows the attempt.
            return JSONResponse({"detail": "bad or stale signature"}, status_code=401)
        return JSONResponse({"status": "received"})

    async def slack(request: Request) -> Response:
        body = await request.body()
        store.append(slack_notice(request.path_params["name"], request.headers, body, time.time()))
        return Response("ok", media_type="text/plain")

    async def page(_: Request) -> Response:
        return HTMLResponse(html_page(store.read()))

    async def notices(_: Request) -> Response:
        return JSONResponse([asdict(n) for n in store.read()])

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/hooks/{name:path}", hook, methods=["POST"]),
            Route("/slack/{name:path}", slack, methods=["POST"]),
            Route("/", page),
            Route("/notices", notices),
            Route("/healthz", healthz),
            Route("/readyz", healthz),
        ]
    )


class MailHandler:
    """aiosmtpd handler: every message accepted is parsed and kept."""

    def __init__(self, store: NoticeStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.store.append(email_notice(message, time.time()))
        return "250 Message accepted for delivery"


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class RunningSink:
    """A started sink: its bound ports, and how to stop it."""

    http_port: int
    smtp_port: int
    http: uvicorn.Server
    smtp: asyncio.AbstractServer
    task: asyncio.Task[Any]

    async def stop(self) -> None:
        """Stop both listeners."""
        self.http.should_exit = True
        await self.wait()

    async def wait(self) -> None:
        """Serve until the HTTP side stops (SIGTERM or SIGINT, or `stop`), then close SMTP."""
        await self.task
        self.smtp.close()
        await self.smtp.wait_closed()


async def start(settings: SinkSettings) -> RunningSink:
    """Bind both ports (0 picks a free one) and start serving."""
    store = NoticeStore(settings.dir)
    secret = settings.webhook_secret.get_secret_value()
    app = http_app(store, secret, settings.signature_tolerance_seconds)
    http_sock = _bound(settings.host, settings.http_port)
    smtp_sock = _bound(settings.host, settings.smtp_port)
    handler = MailHandler(store)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(handler, hostname="casegold-sink", ident="Casegold notice sink"),
        sock=smtp_sock,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[http_sock]))
    while not server.started:
        if task.done():
            await task  # raises the start-up error
            raise RuntimeError("the HTTP listener stopped during start-up")
        await asyncio.sleep(0.02)
    return RunningSink(http_sock.getsockname()[1], smtp_sock.getsockname()[1], server, smtp, task)
