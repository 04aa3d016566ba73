"""Serving a service's app with uvicorn, the same way everywhere."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(
    app: Any, *, host: str, port: int, grace_seconds: float, workers: int = 1, factory: bool = False
) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests within `grace_seconds`.

    `app` is the app, or an "module:function" import string (with `factory=True` when it names
    a function that builds the app, as several workers need). Logs are the service's own
    (structlog): uvicorn's logging config and access log are off, access logs come from the
    HTTP plumbing.
    """
    uvicorn.run(
        app,
        factory=factory,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # No service reads the client's address; uvicorn's X-Forwarded-* rewriting is one more
        # ASGI layer on every request for nothing.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(grace_seconds) or None,
    )
