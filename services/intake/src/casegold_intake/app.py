"""The FastAPI application: routes, error replies, middleware and the adapters' lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from casegold_intake import ack_page, api, openapi
from casegold_intake.body import JsonBodyMiddleware
from casegold_intake.cases import InvalidField
from casegold_intake.checks import field_problem
from casegold_intake.metrics import IntakeMetrics
from casegold_intake.ports import Unavailable
from casegold_intake.runtime import NOT_STARTED, AdapterFactory, Runtime
from casegold_intake.settings import IntakeSettings
from casegold_intake.sla_terms import SlaPolicy
from casegold_intake.submission import Intake, KeyConflict
from casegold_platform.ack_links import AckLinkSettings, AckSigner
from casegold_platform.clock import Clock, utc_now
from casegold_platform.http import KeyRing, install_fast_lane, install_plumbing, service_app

log = structlog.get_logger("casegold_intake")

GC_THRESHOLDS: Final = (50_000, 20, 100)

DESCRIPTION = """The only write API of Casegold: new cases, commands on cases and public mentions,
appended to Kafka (`complaints.case-events`, acks=all) before any 2xx.

Authenticate with `Authorization: Bearer <API key>`. Retry a 503 after `Retry-After` seconds
with the same `Idempotency-Key`: nothing was written."""


def create_app(
    *,
    settings: IntakeSettings,
    policy: SlaPolicy,
    adapters: AdapterFactory,
    clock: Clock = utc_now,
    tune_gc: bool = False,
    ack: AckSigner | None = None,
) -> FastAPI:
    """Build the app; the adapters open in its lifespan and close after the last request.

    `tune_gc` is for a served process only (not for tests sharing one interpreter).
    """
    metrics = IntakeMetrics()
    runtime = Runtime(
        settings=settings,
        keyring=KeyRing(settings.key_entries()),
        policy=policy,
        metrics=metrics,
        clock=clock,
        categories=settings.categories,
        salt=settings.salt(),
        intake=Intake(publisher=NOT_STARTED, store=None),
        ack=ack,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with adapters(metrics) as opened:
            runtime.intake = Intake(
                publisher=opened.publisher,
                store=opened.store,
                deadline=settings.request_deadline_seconds,
                wait=settings.in_flight_wait_seconds,
            )
            # Everything made at start-up lives as long as the process: keep it out of the
            # garbage collector's scans. And collect the young generation every 50,000
            # allocations rather than 700: its pauses were most of intake's p99 under load;
            # older generations still run (every 1 M and 100 M allocations).
            if tune_gc:
                gc.freeze()
                gc.set_threshold(*GC_THRESHOLDS)
            yield
            # Requests have drained; the marks written after their answers finish first.
            await runtime.intake.drain()
            runtime.intake = Intake(publisher=NOT_STARTED, store=None)

    app = service_app(
        title="Casegold intake", version="1.0.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.runtime = runtime
    openapi.install(app, settings.categories)
    app.include_router(api.router)
    app.include_router(ack_page.router)
    # Inside the body checks and the metrics: they see these requests as before.
    install_fast_lane(app, ("POST", "/v1/cases"), ("POST", "/v1/mentions"))
    app.add_middleware(JsonBodyMiddleware, limit=settings.body_limit_bytes)
    install_plumbing(
        app,
        readiness=runtime.readiness,
        registry=metrics.registry,
        keyring=runtime.keyring,
        metrics_public=settings.metrics_public,
    )
    _install_error_replies(app, settings)
    return app


def _field_problem(error: Any) -> dict[str, Any]:
    # Never echo `input`, not even inside `msg`: it may hold a phone number (checks.py).
    return field_problem(error)


def _install_error_replies(app: FastAPI, settings: IntakeSettings) -> None:
    retry_after = str(settings.retry_after_seconds)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [_field_problem(error) for error in exc.errors()]
        log.debug("request rejected", status=422, fields=[d["loc"] for d in detail])
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(InvalidField)
    async def invalid_field(request: Request, exc: InvalidField) -> JSONResponse:
        detail = [{"loc": list(exc.loc), "msg": exc.message, "type": exc.kind}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(KeyConflict)
    async def key_conflict(request: Request, exc: KeyConflict) -> JSONResponse:
        log.info("idempotency key reused with another request", status=409)
        runtime: Runtime = request.app.state.runtime
        runtime.metrics.replays.labels("conflict").inc()
        return JSONResponse(
            {"detail": "this Idempotency-Key was used with a different request"}, status_code=409
        )

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        log.warning("write refused, dependency unavailable", dependency=exc.reason, error=str(exc))
        runtime: Runtime = request.app.state.runtime
        runtime.metrics.unavailable.labels(exc.reason).inc()
        return JSONResponse(
            {"detail": f"{exc.reason} unavailable; nothing was written, retry with the same key"},
            status_code=503,
            headers={"Retry-After": retry_after},
        )


def app_from_env() -> FastAPI:
    """The app as configured by the environment (the uvicorn factory of every worker)."""
    from casegold_intake.masking import configure_logging
    from casegold_intake.runtime import real_adapters
    from casegold_platform.settings import KafkaSettings, PostgresSettings, load

    settings = load(IntakeSettings)
    configure_logging(settings.log_level)
    return create_app(
        settings=settings,
        policy=SlaPolicy.from_env(),
        adapters=real_adapters(settings, load(KafkaSettings), load(PostgresSettings)),
        tune_gc=True,
        ack=load(AckLinkSettings).signer(),
    )
