"""The one module that builds the reporting app and its adapters from the settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Final

import asyncpg
import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from casegold_platform.clock import Clock, utc_now
from casegold_platform.http import KeyRing, install_plumbing, service_app
from casegold_platform.postgres import redact, wait_for_postgres
from casegold_platform.settings import KafkaSettings, PolicySettings, PostgresSettings
from casegold_reporting.adapters import schema
from casegold_reporting.adapters.queries import CaseQueries
from casegold_reporting.adapters.report_queries import ReportQueries
from casegold_reporting.api import case_routes
from casegold_reporting.metrics import ReportingMetrics, reporting_metrics
from casegold_reporting.pages import page_routes
from casegold_reporting.projector import Projector, ProjectorConfig
from casegold_reporting.report_api import report_routes
from casegold_reporting.report_service import Reports
from casegold_reporting.settings import ReportingSettings

_log = structlog.get_logger("casegold.reporting")

# The projector allocates a few hundred objects per event and keeps 200,000 case states: at
# the default (700, 10, 10) the cyclic collector took about a third of its CPU (decision 0120).
GC_THRESHOLDS: Final = (100_000, 20, 100)


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting the service reads."""

    reporting: ReportingSettings
    kafka: KafkaSettings
    postgres: PostgresSettings
    policy: PolicySettings


def build_app(config: Config, clock: Clock = utc_now, *, tune_gc: bool = False) -> FastAPI:
    """The reporting app: case views, pages, plumbing; the projector runs in its lifespan.

    `tune_gc` is for a served process only (not for tests sharing one interpreter).
    """
    settings = config.reporting
    policies = config.policy.load()
    policy_text = config.policy.policy_file.read_text(encoding="utf-8")
    registry = CollectorRegistry()
    metrics = reporting_metrics(registry)
    queries = CaseQueries(policies)
    report_queries = ReportQueries()
    projector = Projector(
        ProjectorConfig(
            dsn=config.postgres.dsn,
            bootstrap=config.kafka.bootstrap,
            topics=(settings.case_events_topic, settings.escalations_topic),
            max_records=settings.poll_max_records,
            timeout_ms=settings.poll_timeout_ms,
            cache_cases=settings.state_cache_cases,
            standby_retry_seconds=settings.standby_retry_seconds,
            shard=settings.projector_shard,
            shards=settings.projector_shards,
        ),
        policies,
        policy_text,
        metrics,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn = config.postgres.dsn
        await wait_for_postgres(dsn, timeout=30)
        if settings.migrate_on_start:
            applied = await schema.migrate(dsn)
            _log.info("migrations_applied", versions=applied, database=redact(dsn))
        pool = await asyncpg.create_pool(
            dsn, min_size=config.postgres.pool_min, max_size=config.postgres.pool_max
        )
        queries.pool = report_queries.pool = pool
        if tune_gc:
            # What start-up made lives as long as the process: keep it out of every scan.
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_refresh_counts(queries, metrics, settings, stop))]
        if settings.project:
            tasks.append(asyncio.create_task(projector.run(stop)))
        try:
            yield
        finally:
            stop.set()
            _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await pool.close()

    async def readiness() -> Mapping[str, bool]:
        postgres = False
        if queries.pool is not None:
            with contextlib.suppress(Exception):
                postgres = await queries.pool.fetchval("SELECT 1", timeout=1) == 1
        return {"postgres": postgres, "kafka": projector.connected or not settings.project}

    app = service_app(
        title="Casegold reporting",
        version="0.1.0",
        description="Case views, the case page and business metrics over the projections.",
        lifespan=lifespan,
    )
    app.state.projector = projector
    install_plumbing(
        app,
        readiness=readiness,
        registry=registry,
        keyring=KeyRing(settings.key_entries()),
        metrics_public=settings.metrics_public,
    )
    app.include_router(case_routes(queries, clock, settings.page_size))
    app.include_router(page_routes(app, queries, clock, settings.pages_public))
    for router in report_routes(
        Reports(report_queries, policies.reports), clock, settings.pages_public
    ):
        app.include_router(router)
    return app


async def _refresh_counts(
    queries: CaseQueries, metrics: ReportingMetrics, settings: ReportingSettings,
    stop: asyncio.Event,
) -> None:  # fmt: skip
    # The counts table is a handful of rows the projector keeps; no scrape ever scans cases.
    while not stop.is_set():
        try:
            metrics.set_open_cases(await queries.case_counts())
        except Exception as error:  # a database hiccup must not end the refresher
            _log.warning("case_counts_unavailable", error=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.metrics_refresh_seconds)
