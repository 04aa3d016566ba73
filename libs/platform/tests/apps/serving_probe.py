"""Tiny ASGI apps for the serving tests, imported by uvicorn in each worker process."""

from __future__ import annotations

import os
from typing import Any


async def pid_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with the pid of the worker that served it."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose start-up fails, as one does when its database is unreachable."""
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def broken_factory() -> Any:
    """An app factory that raises, as one does on a configuration it cannot use."""
    raise RuntimeError("the configuration names no database")
