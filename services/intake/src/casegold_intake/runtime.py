"""The running service's parts, and the real adapters (Kafka, PostgreSQL) behind the ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import asyncpg
import structlog

from casegold_intake import migrations
from casegold_intake.idempotency import PostgresKeyStore
from casegold_intake.metrics import IntakeMetrics
from casegold_intake.ports import KeyStore, Publisher, PublishUnavailable
from casegold_intake.publisher import KafkaPublisher
from casegold_intake.settings import IntakeSettings
from casegold_intake.sla_terms import SlaPolicy
from casegold_intake.submission import Intake
from casegold_platform.ack_links import AckSigner
from casegold_platform.clock import Clock
from casegold_platform.http import KeyRing
from casegold_platform.kafka import durable_producer
from casegold_platform.postgres import redact, wait_for_postgres
from casegold_platform.settings import KafkaSettings, PostgresSettings

log = structlog.get_logger("casegold_intake")


@dataclass(frozen=True, slots=True)
class Adapters:
    """What the ports are plugged into for one run of the app."""

    publisher: Publisher
    store: KeyStore | None


# Opened by the app's lifespan, closed at shutdown (after uvicorn stopped accepting requests).
AdapterFactory = Callable[[IntakeMetrics], AbstractAsyncContextManager[Adapters]]


@dataclass(slots=True)
class Runtime:
    """Everything a route needs; `intake` is set once the lifespan opened the adapters."""

    settings: IntakeSettings
    keyring: KeyRing
    policy: SlaPolicy
    metrics: IntakeMetrics
    clock: Clock
    categories: tuple[str, ...]
    salt: str
    intake: Intake
    ack: AckSigner | None = None  # one-click acknowledgement links; None: off

    async def readiness(self) -> dict[str, bool]:
        """Each dependency and whether it answers (for /readyz)."""
        kafka, postgres = await asyncio.gather(self.intake.publisher.ready(), self.store_ready())
        return {"kafka": kafka, "postgres": postgres}

    async def store_ready(self) -> bool:
        """Whether the key store answers (true when the service runs without one)."""
        store = self.intake.store
        return True if store is None else await store.ready()


class _NotStarted:
    """Stands in for the adapters before the lifespan ran: every write is a 503."""

    async def publish(self, key: bytes, value: bytes) -> None:
        raise PublishUnavailable("the service is starting")

    async def ready(self) -> bool:
        return False


NOT_STARTED = _NotStarted()


def real_adapters(
    settings: IntakeSettings,
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    topic: str | None = None,
) -> AdapterFactory:
    """Kafka (acks=all, idempotent) and PostgreSQL adapters, opened by the app's lifespan."""

    @asynccontextmanager
    async def open_adapters(metrics: IntakeMetrics) -> AsyncIterator[Adapters]:
        await wait_for_postgres(postgres.dsn, timeout=30)
        if settings.migrate_on_start:
            applied = await migrations.apply(postgres.dsn)
            if applied:
                log.info("migrations applied", versions=applied)
        pool = await _pool(postgres, postgres.pool_max, _session_settings(settings))
        # Publish marks and lease releases never wait for a WAL flush: their own sessions.
        lazy = await _pool(postgres, 2, {"synchronous_commit": "off"})
        # A claim outlives its request's whole deadline and the publish mark written after the
        # answer, so no retry takes it over from a live request or a pending mark (0072).
        # The mark's bound: a pooled connection, then the statement, each within db_timeout.
        lease = settings.request_deadline_seconds + 2 * settings.db_timeout_seconds + 1.0
        store = PostgresKeyStore(pool, settings.db_timeout_seconds, lease=lease, lazy_pool=lazy)
        publisher = KafkaPublisher(
            # No linger: the idempotent producer has one request in flight per broker anyway,
            # so messages batch up behind it; waiting longer only adds latency and wake-ups.
            lambda: durable_producer(kafka, linger_ms=0),
            topic or settings.topic,
            settings.send_timeout_seconds,
            on_retire=lambda reason: metrics.producer_retired.labels(reason).inc(),
        )
        await publisher.start(timeout=10)
        sweeper = asyncio.create_task(_sweep_forever(store, settings))
        log.info("intake adapters open", postgres=redact(postgres.dsn), kafka=kafka.bootstrap)
        try:
            yield Adapters(publisher=publisher, store=store)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            # Requests have drained (uvicorn stops accepting first): flush, then close.
            await publisher.close(timeout=settings.shutdown_grace_seconds)
            await store.close()
            await lazy.close()
            await pool.close()
            log.info("intake adapters closed")

    return open_adapters


async def _pool(postgres: PostgresSettings, size: int, session: dict[str, str]) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        postgres.dsn,
        min_size=min(postgres.pool_min, size),
        max_size=size,
        reset=_keep_session,
        server_settings=session,
    )
    assert pool is not None
    return pool


def _session_settings(settings: IntakeSettings) -> dict[str, str]:
    # A claim must survive a database crash, or a changed body could claim the key again
    # afterwards (decision 0024); `false` trades that for one WAL flush less per statement.
    return {"synchronous_commit": "on" if settings.synchronous_key_commit else "off"}


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (RESET ALL, UNLISTEN…): a round trip per request.

    Intake sets no session state; asyncpg itself still rolls back an open transaction.
    """


async def _sweep_forever(store: PostgresKeyStore, settings: IntakeSettings) -> None:
    retention = settings.idempotency_retention_hours * 3600
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)
        try:
            deleted = await store.sweep(retention)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("idempotency sweep failed", error=type(error).__name__)
            continue
        if deleted:
            log.info("idempotency keys swept", deleted=deleted)
