"""The shared operational endpoints: health and readiness shape, metrics, offline docs, keys."""

from __future__ import annotations

import hashlib
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends
from prometheus_client import CollectorRegistry

from casegold_platform.http import (
    ApiKeyEntry,
    KeyRing,
    Principal,
    install_plumbing,
    role_dependency,
    service_app,
)

KEY = "secret-ops-key"
OPS_ONLY = role_dependency("ops")
OPS = ApiKeyEntry(client="ops-1", role="ops", sha256=hashlib.sha256(KEY.encode()).hexdigest())


def _app(checks: dict[str, bool], *, metrics_public: bool = True) -> httpx.AsyncClient:
    app = service_app(title="probe", version="1", description="a probe service")
    router = APIRouter()

    @router.get("/v1/items/{item_id}")
    async def item(item_id: int, who: Annotated[Principal, Depends(OPS_ONLY)]) -> dict[str, str]:
        return {"client": who.client}

    app.include_router(router)

    async def readiness() -> dict[str, bool]:
        return checks

    install_plumbing(
        app,
        readiness=readiness,
        registry=CollectorRegistry(),
        keyring=KeyRing([OPS]),
        metrics_public=metrics_public,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


async def test_readiness_names_each_dependency() -> None:
    async with _app({"kafka": True, "postgres": False}) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"kafka": True, "postgres": False},
    }


async def test_ready_when_every_dependency_answers() -> None:
    async with _app({"postgres": True}) as client:
        response = await client.get("/readyz")
    assert (response.status_code, response.json()["status"]) == (200, "ok")


async def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    async with _app({}) as client:
        assert (await client.get("/v1/items/7")).status_code == 401
        ok = await client.get("/v1/items/8", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.json() == {"client": "ops-1"}
        metrics = (await client.get("/metrics")).text
    assert 'route="/v1/items/{item_id}",status="401"} 1.0' in metrics
    assert 'route="/v1/items/{item_id}",status="200"} 1.0' in metrics
    assert "/v1/items/7" not in metrics


@pytest.mark.parametrize(("header", "status"), [(None, 401), (f"Bearer {KEY}", 200)])
async def test_restricted_metrics_need_an_ops_key(header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header else {}
    async with _app({}, metrics_public=False) as client:
        assert (await client.get("/metrics", headers=headers)).status_code == status


async def test_docs_load_swagger_ui_from_the_service_itself() -> None:
    async with _app({}) as client:
        page = (await client.get("/docs")).text
        assert "cdn" not in page.lower()
        assert "/docs-assets/swagger-ui-bundle.js" in page
        script = await client.get("/docs-assets/swagger-ui-bundle.js")
        css = await client.get("/docs-assets/swagger-ui.css")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert css.status_code == 200
