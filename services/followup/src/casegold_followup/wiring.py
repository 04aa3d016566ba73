"""The one module that builds the follow-up app and its adapters."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from casegold_followup import api, migrations
from casegold_followup.adapters.kafka import KafkaPublisher, case_events_consumer
from casegold_followup.adapters.postgres import open_pool, ping
from casegold_followup.consumer import CaseEventConsumer
from casegold_followup.metrics import FollowupMetrics
from casegold_followup.ports import Unavailable
from casegold_followup.queue import CallbackQueue, StaleLease, UnknownCallback
from casegold_followup.scheduling import Scheduler
from casegold_followup.settings import FollowupSettings
from casegold_followup.upkeep import Upkeep
from casegold_platform.clock import Clock, utc_now
from casegold_platform.http import KeyRing, install_fast_lane, install_plumbing, service_app
from casegold_platform.kafka_lag import ConsumerLag
from casegold_platform.postgres import redact, wait_for_postgres
from casegold_platform.settings import KafkaSettings
from casegold_sla import PolicySet

log = structlog.get_logger("casegold_followup")

GC_THRESHOLDS: Final = (50_000, 20, 100)

DESCRIPTION = """Revisit calls after resolution and promised callbacks, served as a queue.

Revisit agents lease callbacks (`revisit_agent` key), call, and record the outcome with the
lease's token; outcomes become case events on `complaints.case-events` (acks=all). A 503
carries `Retry-After`: nothing was recorded, retry with the same token."""


@dataclass
class Parts:
    """What the lifespan opened, for tests that drive the service from inside."""

    queue: CallbackQueue | None = None
    upkeep: Upkeep | None = None
    consumer: CaseEventConsumer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def create_app(
    *,
    settings: FollowupSettings,
    policy: PolicySet,
    kafka: KafkaSettings,
    dsn: str,
    clock: Clock = utc_now,
    background: bool = True,
    tune_gc: bool = False,
) -> FastAPI:
    """Build the app; `background=False` leaves the consumer and upkeep to the caller (tests).

    `tune_gc` is for a served process only (not for tests sharing one interpreter).
    """
    metrics = FollowupMetrics()
    parts = Parts()
    publisher = KafkaPublisher(kafka, settings.topic, settings.send_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await wait_for_postgres(dsn, timeout=30)
        if settings.migrate_on_start:
            applied = await migrations.apply(dsn)
            if applied:
                log.info("migrations applied", versions=applied)
        pool = await open_pool(dsn, settings.pool_max)
        lease_pool = await open_pool(dsn, settings.pool_max, flush_commits=False)
        parts.queue = CallbackQueue(
            pool=pool,
            lease_pool=lease_pool,
            publisher=publisher,
            follow_up=policy.follow_up,
            clock=clock,
            metrics=metrics,
            db_timeout=settings.db_timeout_seconds,
        )
        parts.upkeep = Upkeep(pool=pool, settings=settings, metrics=metrics, clock=clock)
        consumer = case_events_consumer(kafka, settings.topic, settings.group_id)
        parts.consumer = CaseEventConsumer(
            consumer=consumer,
            pool=pool,
            scheduler=Scheduler(policy.follow_up),
            metrics=metrics,
            batch=settings.consumer_batch,
        )
        app.state.queue = parts.queue
        await parts.upkeep.recount_once()
        if background:
            await consumer.start()
            parts.tasks = [
                asyncio.create_task(parts.consumer.run()),
                asyncio.create_task(parts.upkeep.run()),
                asyncio.create_task(ConsumerLag(metrics.registry).watch(consumer)),
            ]
        if tune_gc:
            # What start-up made lives as long as the process: keep it out of the collector's
            # scans, and collect the young generation less often (its pauses were the lease's
            # tail, as they were intake's).
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        log.info("follow-up open", postgres=redact(dsn), kafka=kafka.bootstrap)
        try:
            yield
        finally:
            app.state.queue = None
            for task in parts.tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if background:
                await consumer.stop()
            await publisher.close()
            await lease_pool.close()
            await pool.close()
            log.info("follow-up closed")

    app = service_app(
        title="Casegold follow-up", version="1.0.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.queue = None
    app.state.parts = parts
    app.state.max_lease = settings.max_lease

    async def readiness() -> Mapping[str, bool]:
        queue = parts.queue
        postgres = queue is not None and await ping(queue.pool, settings.db_timeout_seconds)
        return {"postgres": postgres, "kafka": await publisher.ready()}

    app.include_router(api.router)
    install_fast_lane(app, ("POST", "/v1/callbacks/lease"))
    _install_error_replies(app, settings, metrics)
    # Last, so its metrics middleware is the outermost (see install_plumbing).
    install_plumbing(
        app,
        readiness=readiness,
        registry=metrics.registry,
        keyring=KeyRing(settings.key_entries()),
        metrics_public=settings.metrics_public,
    )
    return app


def _install_error_replies(
    app: FastAPI, settings: FollowupSettings, metrics: FollowupMetrics
) -> None:
    retry_after = str(settings.retry_after_seconds)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        metrics.unavailable.labels(exc.dependency).inc()
        log.warning("request refused, dependency unavailable", dependency=exc.dependency)
        detail: Any = f"{exc.dependency} unavailable; nothing was recorded, retry later"
        return JSONResponse({"detail": detail}, 503, headers={"Retry-After": retry_after})

    @app.exception_handler(StaleLease)
    async def stale(request: Request, exc: StaleLease) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(UnknownCallback)
    async def unknown(request: Request, exc: UnknownCallback) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)


def app_from_env() -> FastAPI:
    """The app as the environment configures it (the uvicorn factory)."""
    from casegold_platform.logging import configure
    from casegold_platform.settings import PolicySettings, PostgresSettings, load

    settings = load(FollowupSettings)
    configure("followup", settings.log_level)
    return create_app(
        settings=settings,
        policy=load(PolicySettings).load(),
        kafka=load(KafkaSettings),
        dsn=load(PostgresSettings).dsn,
        tune_gc=True,
    )
