"""Sends the worker's records through Faust's producer (the `Sender` port)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, cast

import faust
import structlog

from casegold_escalation import metrics
from casegold_escalation.processor import Message

log = structlog.get_logger("casegold.escalation")


class FaustSender:
    """Sends through the app's producer; waits for the acknowledgement of notices, or of all."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def __call__(self, messages: Sequence[Message], wait_all: bool = False) -> None:
        """Send in order; records other than notices are flushed before the offset commit."""
        if not messages:
            return
        producer = self.app.producer
        acks: list[Awaitable[Any]] = []
        for m in messages:
            future = await producer.send(m.topic, m.key, m.value, None, None, None)
            if wait_all or m.notice_id is not None:
                acks.append(future)
            else:
                cast(asyncio.Future[Any], future).add_done_callback(_report_failed_send)
        if acks:
            await asyncio.gather(*acks)

    async def pipelined(self, messages: Sequence[Message]) -> Awaitable[Any] | None:
        """Send in order without waiting; what completes once the notices among them are
        acknowledged (None when there are none: the rest is flushed before the commit)."""
        producer = self.app.producer
        acks: list[Awaitable[Any]] = []
        for m in messages:
            future = await producer.send(m.topic, m.key, m.value, None, None, None)
            if m.notice_id is not None:
                acks.append(future)
            else:
                cast(asyncio.Future[Any], future).add_done_callback(_report_failed_send)
        return asyncio.gather(*acks) if acks else None


def _report_failed_send(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        metrics.FAILURES.labels("send").inc()
        log.error("send failed", error=repr(future.exception()))
