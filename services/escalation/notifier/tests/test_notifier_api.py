"""The HTTP views: liveness, readiness from the caller's check, the Prometheus text, /docs."""

from collections.abc import AsyncIterator

import httpx
import pytest

from casegold_notifier import metrics
from casegold_notifier.api import make_app


@pytest.fixture
async def views() -> AsyncIterator[tuple[httpx.AsyncClient, list[bool]]]:
    state = [False]

    async def ready() -> dict[str, bool]:
        return {"kafka": True, "postgres": state[0]}

    transport = httpx.ASGITransport(app=make_app(ready))
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        yield client, state


async def test_health_readiness_and_metrics(views: tuple[httpx.AsyncClient, list[bool]]) -> None:
    client, state = views
    metrics.NOTIFICATIONS.labels("webhook", "delivered").inc()
    assert (await client.get("/healthz")).status_code == 200
    unready = await client.get("/readyz")
    assert unready.status_code == 503
    assert unready.json() == {
        "status": "unavailable",
        "checks": {"kafka": True, "postgres": False},
    }
    state[0] = True
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"kafka": True, "postgres": True}}
    response = await client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert 'casegold_notifications_total{channel="webhook",status="delivered"}' in text
    for name in (
        "casegold_notification_delivery_seconds",
        "casegold_notification_dead_lettered_total",
        "casegold_notification_dead_letters",
        "casegold_notifications_in_flight",
        "casegold_notifier_messages_total",
        "casegold_http_requests_total",
    ):
        assert f"# TYPE {name}" in text, name
    assert 'route="/readyz"' in text


async def test_the_docs_are_served_without_a_network(
    views: tuple[httpx.AsyncClient, list[bool]],
) -> None:
    client, _ = views
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/docs-assets/" in page.text
