"""The notifier's HTTP endpoints: the platform's /healthz, /readyz, /metrics and /docs.

Readiness has the shape every Casegold service answers with:
`{"status": "ok" | "unavailable", "checks": {"kafka": true, "postgres": true, ...}}`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from casegold_notifier.metrics import REGISTRY
from casegold_platform.http import Readiness, install_plumbing, service_app


class _Included(Collector):
    """A collector serving another registry's metrics beside the app's own HTTP metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def make_app(readiness: Readiness) -> FastAPI:
    """The HTTP app; `readiness` says, per dependency, whether it is usable now."""
    app = service_app(
        title="Casegold notifier",
        version="0.1.0",
        description="Delivers escalation notices; these are its operational endpoints.",
    )
    # One registry per app: the HTTP metrics are registered anew for each app built.
    served = CollectorRegistry()
    served.register(_Included(REGISTRY))
    install_plumbing(app, readiness=readiness, registry=served)
    return app


class Server(uvicorn.Server):
    """Serves inside the notifier's event loop; the notifier handles SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(app: FastAPI, host: str, port: int) -> Server:
    """A uvicorn server for the app (access logs come from the platform's middleware)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    return Server(config)
