"""The notifier put together: channels, delivery log, consumer, dispatcher and HTTP views,
started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx
import structlog
from aiokafka import AIOKafkaConsumer

from casegold_notifier import migrations
from casegold_notifier.adapters.channels import (
    EmailChannel,
    SlackChannel,
    SmtpOptions,
    WebhookChannel,
)
from casegold_notifier.adapters.delivery_log import DeliveryStore
from casegold_notifier.api import make_app, server
from casegold_notifier.backoff import RetryPolicy
from casegold_notifier.consumer import EscalationConsumer
from casegold_notifier.content import Links
from casegold_notifier.dispatcher import Dispatcher, DispatchLimits
from casegold_notifier.ports import Channel
from casegold_notifier.settings import LinkSettings, NotifierSettings
from casegold_platform.ack_links import AckSigner
from casegold_platform.kafka import wait_for_broker
from casegold_platform.postgres import redact, wait_for_postgres
from casegold_platform.settings import ConfigError, KafkaSettings, PostgresSettings
from casegold_sla.recipients import EmailTarget, RecipientBook, SlackTarget, WebhookTarget

log = structlog.get_logger("casegold_notifier")


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the notifier reads at start-up."""

    settings: NotifierSettings
    links: LinkSettings
    kafka: KafkaSettings
    postgres: PostgresSettings
    book: RecipientBook
    ack: AckSigner | None = None  # one-click acknowledgement links; None: off


def limits_of(settings: NotifierSettings) -> DispatchLimits:
    """The dispatcher's limits from the settings."""
    return DispatchLimits(
        retry=RetryPolicy(
            settings.backoff_base_seconds, settings.backoff_cap_seconds, settings.max_attempts
        ),
        attempt_timeout=settings.attempt_timeout_seconds,
        claim_lease=settings.claim_lease_seconds,
        max_in_flight=settings.max_in_flight,
        per_recipient=settings.per_recipient_in_flight,
        poll_interval=settings.poll_interval_seconds,
    )


def smtp_options(settings: NotifierSettings) -> SmtpOptions:
    """The SMTP connection of every e-mail recipient."""
    start_tls = {"required": True, "opportunistic": None, "off": False}[settings.smtp_starttls]
    return SmtpOptions(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        use_tls=settings.smtp_tls,
        start_tls=start_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        validate_certs=settings.smtp_validate_certs,
        timeout=settings.attempt_timeout_seconds,
    )


def build_channels(
    book: RecipientBook,
    *,
    client: httpx.AsyncClient,
    smtp: SmtpOptions,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """One channel per recipient name; ConfigError names a secret variable that is not set."""
    variables = os.environ if environ is None else environ
    channels: dict[str, Channel] = {}
    for recipient in book.all():
        target = recipient.target
        if isinstance(target, WebhookTarget):
            secret = target.secret or _variable(variables, target.secret_env, recipient.name)
            channels[recipient.name] = WebhookChannel(client, target.url, secret, time.time)
        elif isinstance(target, SlackTarget):
            url = target.url or _variable(variables, target.url_env, recipient.name)
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{target.url_env} (recipient {recipient.name}): not an http(s) URL"
                )
            channels[recipient.name] = SlackChannel(client, url)
        else:
            assert isinstance(target, EmailTarget)
            channels[recipient.name] = EmailChannel(smtp, target.to)
    return channels


def _variable(variables: Mapping[str, str], name: str | None, recipient: str) -> str:
    value = variables.get(name or "", "")
    if not value:
        raise ConfigError(f"{name} (recipient {recipient}): the variable is not set")
    return value


async def run(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then shut down within the configured grace."""
    settings = config.settings
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.attempt_timeout_seconds),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=settings.max_in_flight),
    )
    try:
        channels = build_channels(config.book, client=client, smtp=smtp_options(settings))
        dsn = config.postgres.dsn
        await wait_for_postgres(dsn, timeout=60)
        if settings.migrate_on_start:
            await migrations.apply(dsn)
        await wait_for_broker(config.kafka.bootstrap, timeout=60)
        pool = await asyncpg.create_pool(
            dsn, min_size=config.postgres.pool_min, max_size=config.postgres.pool_max
        )
    except BaseException:
        await client.aclose()
        raise
    store = DeliveryStore(pool, settings.worker_name)
    links = Links(config.links.reporting_url, config.links.intake_url, config.ack)
    dispatcher = Dispatcher(store, channels, limits_of(settings), links)
    consumer = EscalationConsumer(
        AIOKafkaConsumer(
            bootstrap_servers=config.kafka.bootstrap,
            group_id=settings.group_id,
            client_id=f"casegold-notifier-{settings.worker_name}",
            enable_auto_commit=False,
            auto_offset_reset=settings.start_from,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        ),
        store,
        config.book,
        timedelta(seconds=settings.max_notice_age_seconds),
        settings.batch_max_records,
        recorded=dispatcher.wake.set,
        lag_interval=settings.lag_interval_seconds,
    )
    stopping = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(stopping), name="consumer")
    dispatching = asyncio.create_task(dispatcher.run(stopping), name="dispatcher")

    async def readiness() -> dict[str, bool]:
        try:
            database = await asyncio.wait_for(store.ping(), 2)
        except Exception:
            database = False
        return {
            "kafka": consumer.started and not consuming.done(),
            "postgres": database,
            "dispatcher": not dispatching.done(),
        }

    http = server(make_app(readiness), settings.host, settings.port)
    serving = asyncio.create_task(http.serve(), name="http")
    log.info(
        "started",
        worker=settings.worker_name,
        group=settings.group_id,
        port=settings.port,
        recipients=len(channels),
        database=redact(dsn),
    )
    if not channels:
        log.warning("no_recipients", hint="notices are counted as unrouted and not sent")
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signalled.set)
    failed: list[asyncio.Task[None]] = []
    try:
        waiter = asyncio.create_task(signalled.wait())
        components = (consuming, dispatching, serving)
        await asyncio.wait({waiter, *components}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        failed = [task for task in components if task.done() and task.exception()]
        for task in failed:
            log.error("component_failed", component=task.get_name(), error=repr(task.exception()))
    finally:
        log.info("stopping", in_flight=len(dispatcher.tasks))
        stopping.set()
        # The consumer records and commits the batch in hand; then in-flight deliveries finish.
        await asyncio.wait({consuming, dispatching}, timeout=settings.shutdown_grace_seconds)
        await dispatcher.drain(settings.shutdown_grace_seconds)
        with contextlib.suppress(Exception):
            await consumer.stop()
        http.should_exit = True
        await asyncio.wait({serving}, timeout=5)
        await client.aclose()
        await pool.close()
        log.info("stopped")
    if failed:
        raise ComponentFailed(", ".join(task.get_name() for task in failed))


class ComponentFailed(Exception):
    """The consumer, the dispatcher or the HTTP server stopped on an error: exit non-zero."""
