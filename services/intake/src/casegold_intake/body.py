"""Request bodies of the write API: JSON only (415), at most `limit` bytes as received (413)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casegold_intake.models import FieldProblem, Problem, ValidationProblem

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON (`application/json`, `application/*+json`)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _problem(send: Send, status: int, detail: str) -> None:
    await _reply(send, status, Problem(detail=detail).model_dump_json().encode())


async def _reply(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        # The rest of the body is not read; the connection can't be reused.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _not_utf8(position: int) -> bytes:
    problem = FieldProblem(loc=["body", position], msg="not valid UTF-8", type="json_invalid")
    return ValidationProblem(detail=[problem]).model_dump_json().encode()


class JsonBodyMiddleware:
    """Streams the body of writes under `prefix`, counting bytes actually received.

    A declared Content-Length above the limit is refused before reading; a smaller or absent
    one is not trusted: the count of received bytes decides. The app then gets the body whole.
    """

    def __init__(self, app: ASGIApp, limit: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not is_json(content_type):
            await _problem(send, 415, "the body must be JSON (Content-Type: application/json)")
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _problem(send, 413, f"the body is larger than {self.limit} bytes")
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nothing to answer, nothing written
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.limit:
                await _problem(send, 413, f"the body is larger than {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            # JSON between systems is UTF-8 (RFC 8259); say where it breaks, as for bad JSON.
            await _reply(send, 422, _not_utf8(error.start))
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as a server would

        await self.app(scope, replay, send)
