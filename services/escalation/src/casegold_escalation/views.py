"""The worker's HTTP views on Faust's web server: /healthz, /readyz and /metrics.

Readiness has the shape every Casegold service answers with, `{"status": "ok" |
"unavailable", "checks": {...}}`, plus the worker's partitions and scheduled cases.
"""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import generate_latest

from casegold_escalation import metrics
from casegold_escalation.app import Worker


def install_views(worker: Worker) -> None:
    """Add the operational views to the worker's app."""

    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    class Ready(View):
        async def get(self, request: Request) -> Response:
            checks = worker.checks()
            ready = all(checks.values())
            body = {
                "status": "ok" if ready else "unavailable",
                "checks": checks,
                "partitions": sorted(worker.indexed_partitions),
                "scheduled_cases": len(worker.index),
            }
            return self.json(body, status=200 if ready else 503)

    class Metrics(View):
        async def get(self, request: Request) -> Response:
            text = generate_latest(metrics.REGISTRY)
            return self.bytes(text, content_type="text/plain; version=0.0.4")

    worker.app.page("/healthz")(Health)
    worker.app.page("/readyz")(Ready)
    worker.app.page("/metrics")(Metrics)
