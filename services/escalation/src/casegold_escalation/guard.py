"""How an agent tells a bad record from a failing dependency.

A record that cannot be decoded or that the rules cannot apply is poison: counted, logged and
skipped, so its partition goes on. Anything else (the broker not acknowledging a send, the
policies topic or the resend guard unreadable) says nothing about the record: it is retried in
place with back-off, the offset not advanced and nothing stored; if the dependency stays away
longer than the retry budget the worker crashes, and the group gives its partitions to a worker
that can process them (or to this one once restarted).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from casegold_escalation import metrics
from casegold_escalation.app import Worker
from casegold_sla.redact import mask_phones

log = structlog.get_logger("casegold.escalation")

# What decoding a record or applying it raises for the record's own content (pydantic's
# ValidationError and the core's StateFormatError are ValueErrors).
POISON: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError)
FIRST_DELAY = 0.1
MAX_DELAY = 5.0


class Backoff:
    """The retries of one failing dependency: doubling waits, then the worker crashed (and the
    error raised) once the next wait would pass the retry budget."""

    def __init__(
        self,
        worker: Any,
        stage: str,
        retrying: str = "retrying message",
        giving_up: str = "dependency failing past the retry budget",
    ) -> None:
        self.worker, self.stage = worker, stage
        self.retrying, self.giving_up = retrying, giving_up
        self.delay = FIRST_DELAY
        self.deadline = time.monotonic() + worker.settings.retry_budget

    async def failed(self, error: Exception, **where: object) -> None:
        """Count the failure and wait before the next try (or crash: see the class)."""
        metrics.RETRIES.labels(self.stage).inc()
        if time.monotonic() + self.delay > self.deadline:
            log.critical(self.giving_up, stage=self.stage, error=_masked(error), **where)
            await self.worker.app.crash(error)
            raise error
        log.warning(self.retrying, stage=self.stage, error=_masked(error), **where)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_DELAY)


async def guarded(
    worker: Worker, stage: str, step: Callable[[], Awaitable[None]], **where: object
) -> None:
    """Run step until it succeeds or proves the record poison; crash past the retry budget."""
    backoff = Backoff(worker, stage)
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except POISON as error:
            metrics.FAILURES.labels(stage).inc()
            worker.outcome(stage, ok=False)
            # No traceback: validation errors quote the record's values (phone numbers).
            log.error("poison message skipped", stage=stage, error=_masked(error), **where)
            return
        except Exception as error:
            worker.outcome(stage, ok=False)
            await backoff.failed(error, **where)
        else:
            worker.outcome(stage, ok=True)
            return


def _masked(error: BaseException) -> str:
    """The error's type and text, phone numbers masked, bounded."""
    return mask_phones(f"{type(error).__name__}: {error}"[:2000])
