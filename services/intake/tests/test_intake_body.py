"""The body limit counts bytes received; a small Content-Length is not trusted."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send

from casegold_intake.body import JsonBodyMiddleware, is_json


class Recorder:
    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        message = await receive()
        self.body = message["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def run(content_length: int | None, chunks: list[bytes]) -> tuple[int, Recorder]:
    app = Recorder()
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/v1/cases",
                             "headers": headers}  # fmt: skip
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await JsonBodyMiddleware(app, limit=100)(scope, receive, send)
    return sent[0]["status"], app


async def test_a_lying_content_length_does_not_get_past_the_limit() -> None:
    status, app = await run(10, [b"x" * 60, b"x" * 60])
    assert status == 413 and not app.called


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    status, app = await run(None, [b"{", b'"a": 1}'])
    assert status == 200 and app.body == b'{"a": 1}'


async def test_a_declared_oversize_is_refused_before_reading() -> None:
    status, app = await run(10_000, [b"{}"])
    assert status == 413 and not app.called


def test_json_media_types() -> None:
    assert is_json("application/json")
    assert is_json("Application/JSON; charset=utf-8")
    assert is_json("application/problem+json")
    assert not is_json("text/json") and not is_json("") and not is_json("application/jsonx")


async def test_a_body_that_is_not_utf8_is_a_422_naming_the_position() -> None:
    status, app = await run(None, [b'{"a": "\xff"}'])
    assert status == 422 and not app.called
