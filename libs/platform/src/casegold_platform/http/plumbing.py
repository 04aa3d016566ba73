"""One way for every HTTP service to serve /healthz, /readyz, /metrics and offline /docs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from casegold_platform.http.auth import AuthError, KeyRing, authenticate
from casegold_platform.http.metrics import HttpMetrics, HttpMetricsMiddleware, exposition

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]
NO_TELEMETRY: Final[TelemetryConfig] = {"tracing": False, "metrics": False, "logs": False}


class Health(BaseModel):
    """Liveness and readiness: `ok`, or `unavailable` with the dependency that is not."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(
        default_factory=dict, description="each dependency and whether it answers"
    )


def service_app(
    *,
    title: str,
    version: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """A FastAPI app whose /docs loads Swagger UI from the package's own files (no CDN)."""
    app: FastAPI = FastAPIOffline(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        redoc_url=None,
        static_url="/docs-assets",
        # Metrics are Prometheus's (install_plumbing). FastAPI's own OpenTelemetry layer,
        # on by default, looks the global providers up on every request even when none is
        # configured: a measurable share of a small request's CPU, for nothing.
        telemetry=NO_TELEMETRY,
    )
    return app


def install_plumbing(
    app: FastAPI,
    *,
    readiness: Readiness,
    registry: CollectorRegistry,
    keyring: KeyRing | None = None,
    metrics_public: bool = True,
) -> HttpMetrics:
    """Add the operational endpoints, HTTP metrics, access logs and JSON error bodies.

    Call it after the service's own routes and middleware, so that the metrics middleware is
    the outermost one and counts requests refused by the others (413, 415) too.
    """
    if keyring is not None:
        app.state.keyring = keyring
    http = HttpMetrics(registry)
    app.include_router(_operations_router(readiness, registry, metrics_public))
    app.add_middleware(HttpMetricsMiddleware, metrics=http, routes=app.router.routes)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    return http


def _operations_router(
    readiness: Readiness, registry: CollectorRegistry, metrics_public: bool
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> Health:
        """The process answers."""
        return Health(status="ok")

    @router.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "a dependency is unreachable"}},
        summary="Readiness: every dependency answers",
    )
    async def readyz(response: Response) -> Health:
        """Ready when every dependency answers; 503 names the one that does not."""
        checks = dict(await readiness())
        if all(checks.values()):
            return Health(status="ok", checks=checks)
        response.status_code = 503
        return Health(status="unavailable", checks=checks)

    async def guard(request: Request) -> None:
        if metrics_public:
            return
        if authenticate(request).role not in ("ops", "monitor"):
            raise AuthError(403, "metrics are for the ops role")

    problem: dict[str, Any] = {"content": {"application/json": {}}}
    metrics_responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"},
        401: {**problem, "description": "metrics are restricted and the key is missing"},
        403: {**problem, "description": "metrics are restricted to the ops role"},
    }

    @router.get(
        "/metrics",
        response_class=Response,
        responses=metrics_responses,
        dependencies=[Depends(guard)],
        summary="Prometheus metrics",
    )
    async def metrics() -> Response:
        """Prometheus text exposition."""
        body, content_type = exposition(registry)
        return Response(body, media_type=content_type)

    return router
