"""`/healthz`, `/readyz` and `/metrics` of the notifier (aiohttp, which Faust already brings).

Readiness has the shape every Casegold service answers with:
`{"status": "ok" | "unavailable", "checks": {"kafka": true, "postgres": true, ...}}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from casegold_notifier.metrics import REGISTRY

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]


def make_app(readiness: Readiness) -> web.Application:
    """The HTTP views; `readiness` says, per dependency, whether it is usable now."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = dict(await readiness())
        ready = all(checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(REGISTRY))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
