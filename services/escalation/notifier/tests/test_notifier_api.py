"""The HTTP views: liveness, readiness from the caller's check, and the Prometheus text."""

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from casegold_notifier import metrics
from casegold_notifier.api import make_app
from tests.support.brokers import free_port


@pytest.fixture
async def views() -> AsyncIterator[tuple[str, list[bool]]]:
    state = [False]

    async def ready() -> dict[str, bool]:
        return {"kafka": True, "postgres": state[0]}

    runner = web.AppRunner(make_app(ready))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", state
    await runner.cleanup()


async def test_health_readiness_and_metrics(views: tuple[str, list[bool]]) -> None:
    base, state = views
    metrics.NOTIFICATIONS.labels("webhook", "delivered").inc()
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).status_code == 200
        unready = await client.get(f"{base}/readyz")
        assert unready.status_code == 503
        assert unready.json() == {
            "status": "unavailable",
            "checks": {"kafka": True, "postgres": False},
        }
        state[0] = True
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"kafka": True, "postgres": True}}
        response = await client.get(f"{base}/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert 'casegold_notifications_total{channel="webhook",status="delivered"}' in text
    for name in (
        "casegold_notification_delivery_seconds",
        "casegold_notification_dead_lettered_total",
        "casegold_notification_dead_letters",
        "casegold_notifications_in_flight",
        "casegold_notifier_messages_total",
    ):
        assert f"# TYPE {name}" in text, name
