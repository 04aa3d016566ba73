"""Drives deliveries from the log: claims due rows, sends each in its own bounded task."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from casegold_contracts import EscalationRaised
from casegold_notifier import metrics
from casegold_notifier.adapters.delivery_log import Claim, DeliveryStore
from casegold_notifier.backoff import GiveUp, RetryPolicy, after_failure
from casegold_notifier.content import Links, digest_document, notice_document
from casegold_notifier.ports import Channel, DeliveryError
from casegold_platform.clock import utc_now
from casegold_sla.redact import mask_phones

log = structlog.get_logger("casegold_notifier")


@dataclass(frozen=True, slots=True)
class DispatchLimits:
    """Concurrency, timing and retry settings of the dispatcher."""

    retry: RetryPolicy
    attempt_timeout: float
    claim_lease: float
    max_in_flight: int
    per_recipient: int
    poll_interval: float


class Dispatcher:
    """One loop claims; every claimed delivery runs in its own task with its own timeout."""

    def __init__(
        self,
        store: DeliveryStore,
        channels: Mapping[str, Channel],
        limits: DispatchLimits,
        links: Links,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.channels, self.limits, self.links = store, channels, limits, links
        self.draw = draw
        self.wake = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.per_recipient: Counter[str] = Counter()

    async def run(self, stopping: asyncio.Event) -> None:
        """Claim and start deliveries until `stopping` is set; in-flight ones keep running."""
        next_gauge = 0.0
        while not stopping.is_set():
            delay = self.limits.poll_interval
            try:
                await self.store.seal_digests()
                started = await self._claim_and_start()
                if time.monotonic() >= next_gauge:
                    metrics.DEAD_LETTERS_STORED.set(await self.store.dead_count())
                    next_gauge = time.monotonic() + 5
                if started:
                    continue
                due_in = await self.store.seconds_to_next_due()
                if due_in is not None:
                    delay = min(delay, max(due_in, 0.01))
            except Exception:  # the database may be away; deliveries wait in the log meanwhile
                log.exception("dispatch_failed")
                delay = 1.0
            self.wake.clear()
            wake = asyncio.ensure_future(self.wake.wait())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({wake, stop}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()
            stop.cancel()

    async def _claim_and_start(self) -> int:
        free = self.limits.max_in_flight - len(self.tasks)
        if free <= 0:
            return 0
        busy = [
            name for name, count in self.per_recipient.items() if count >= self.limits.per_recipient
        ]
        claims = await self.store.claim(
            limit=free,
            lease=self.limits.claim_lease,
            busy=busy,
            per_recipient=self.limits.per_recipient,
        )
        for claim in claims:
            self.per_recipient[claim.recipient] += 1
            task = asyncio.create_task(self._deliver(claim), name=f"deliver-{claim.notice_id}")
            self.tasks.add(task)
            task.add_done_callback(self._done(claim))
        metrics.IN_FLIGHT.set(len(self.tasks))
        return len(claims)

    def _done(self, claim: Claim) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.per_recipient[claim.recipient] -= 1
            if self.per_recipient[claim.recipient] <= 0:
                del self.per_recipient[claim.recipient]
            metrics.IN_FLIGHT.set(len(self.tasks))
            self.wake.set()  # a slot is free

        return done

    async def drain(self, grace: float) -> None:
        """Let in-flight deliveries finish within `grace` seconds, then interrupt the rest."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=5)

    async def _deliver(self, claim: Claim) -> None:
        channel = self.channels.get(claim.recipient)
        kind = claim.channel
        try:
            if channel is None:
                error = f"recipient {claim.recipient!r} is not configured any more"
                await self._dead(claim, kind, error)
                return
            if claim.attempt > self.limits.retry.max_attempts:
                # Claims whose notifier died count too: a notice must not loop for ever.
                await self._dead(claim, kind, f"{claim.attempt - 1} attempts were interrupted")
                return
            try:
                document = await self._document(claim)
            except ValidationError as error:
                await self._dead(claim, kind, f"cannot render the stored notice: {error}")
                return
            started = time.monotonic()
            try:
                await asyncio.wait_for(channel.send(document), self.limits.attempt_timeout)
            except DeliveryError as failure:
                await self._failed(
                    claim, kind, str(failure), failure.permanent, failure.retry_after
                )
            except TimeoutError:
                message = f"no answer within {self.limits.attempt_timeout:g} s"
                await self._failed(claim, kind, message, False, None)
            else:
                fired = await self.store.delivered(claim)
                self._observe_delivered(claim, kind, fired)
            finally:
                metrics.ATTEMPT_SECONDS.labels(kind).observe(time.monotonic() - started)
        except asyncio.CancelledError:
            # Shutdown ran out of grace: hand the delivery back rather than wait for the lease.
            await asyncio.shield(self.store.release(claim))
            raise
        except Exception as error:
            # The outcome could not be recorded: the lease lapses and another attempt follows.
            log.error(
                "delivery_failed",
                notice_id=str(claim.notice_id),
                error=mask_phones(f"{type(error).__name__}: {error}"[:500]),
            )

    async def _document(self, claim: Claim) -> dict[str, Any]:
        if claim.kind == "digest":
            members = await self.store.digest_members(claim.notice_id)
            notices = [self._notice(notice_id, notice, claim) for notice_id, notice in members]
            return digest_document(
                digest=claim.notice_id, recipient=claim.recipient, notices=notices
            )
        assert claim.notice is not None
        return self._notice(claim.notice_id, claim.notice, claim)

    def _notice(self, notice_id: Any, notice: dict[str, Any], claim: Claim) -> dict[str, Any]:
        event = EscalationRaised.model_validate(notice)
        return notice_document(event, notice=notice_id, recipient=claim.recipient, links=self.links)

    async def _failed(
        self, claim: Claim, kind: str, error: str, permanent: bool, retry_after: float | None
    ) -> None:
        error = mask_phones(error)  # error texts may quote a notice's values
        outcome = after_failure(
            self.limits.retry,
            claim.attempt,
            permanent=permanent,
            draw=self.draw(),
            retry_after=retry_after,
        )
        if isinstance(outcome, GiveUp):
            await self._dead(claim, kind, f"{error} ({outcome.reason})")
            return
        await self.store.failed(claim, error, outcome.delay)
        metrics.NOTIFICATIONS.labels(kind, "failed").inc()
        log.info(
            "delivery_retry",
            notice_id=str(claim.notice_id),
            recipient=claim.recipient,
            attempt=claim.attempt,
            error=error,
            retry_in=round(outcome.delay, 3),
        )

    async def _dead(self, claim: Claim, kind: str, error: str) -> None:
        error = mask_phones(error)
        await self.store.dead(claim, error)
        metrics.NOTIFICATIONS.labels(kind, "dead").inc()
        metrics.DEAD_LETTERS.labels(kind).inc()
        log.error(
            "delivery_dead",
            notice_id=str(claim.notice_id),
            recipient=claim.recipient,
            channel=kind,
            attempts=claim.attempt,
            error=error,
        )

    def _observe_delivered(self, claim: Claim, kind: str, fired: list[datetime]) -> None:
        now = utc_now()
        mode = "digest" if claim.kind == "digest" else "immediate"
        for fired_at in fired:
            metrics.DELIVERY_LATENCY.labels(kind, mode).observe((now - fired_at).total_seconds())
        metrics.NOTIFICATIONS.labels(kind, "delivered").inc(max(len(fired), 1))
        log.info(
            "delivered",
            notice_id=str(claim.notice_id),
            recipient=claim.recipient,
            channel=kind,
            attempt=claim.attempt,
            notices=len(fired),
        )
