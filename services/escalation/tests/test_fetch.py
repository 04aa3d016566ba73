"""The feed between the batch consumer and an agent (fetch.py): order, rebalances, crashes."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import faust
import pytest
from faust.types import Message

from casegold_escalation import metrics
from casegold_escalation.fetch import YIELD_EVERY, Feed
from tests.support.waiting import until


@pytest.fixture
async def app() -> AsyncIterator[faust.App]:
    app = faust.App("fetch-test", broker="kafka://localhost:1", web_enabled=False)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    yield app


def record(app: faust.App, offset: int) -> Message:
    return Message(
        "complaints.case-events",
        0,
        offset,
        0.0,
        0,
        None,
        b"key",
        b"value",
        b"",
        generation_id=app.consumer_generation_id,
    )


async def test_a_feed_hands_its_records_over_in_order_and_lets_the_loop_run(
    app: faust.App,
) -> None:
    turns = 0

    async def elsewhere() -> None:  # the timers and the flusher, say
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    seen: list[tuple[int, int]] = []

    async def handler(message: Any) -> None:  # never awaits anything
        seen.append((message.offset, turns))

    feed = Feed(app, "cases", ["complaints.case-events"])
    other = asyncio.ensure_future(elsewhere())
    feed.start(handler)
    try:
        count = 3 * YIELD_EVERY
        await feed.put([record(app, offset) for offset in range(count)])
        await until(lambda: len(seen) == count)
    finally:
        await feed.stop()
        other.cancel()
    assert [offset for offset, _ in seen] == list(range(count))
    # Other tasks ran while the one fetch was handed over, not only after it.
    assert seen[YIELD_EVERY][1] > seen[0][1]
    assert seen[-1][1] > seen[YIELD_EVERY][1]


async def test_records_fetched_before_a_rebalance_are_dropped_and_not_kept_alive(
    app: faust.App,
) -> None:
    seen: list[int] = []

    async def handler(message: Any) -> None:
        seen.append(message.offset)
        app.consumer_generation_id += 1  # a rebalance came while the first one was applied

    feed = Feed(app, "cases", ["complaints.case-events"])
    feed.start(handler)
    try:
        batch = [record(app, offset) for offset in range(3)]
        unread = weakref.ref(batch[2])
        await feed.put(batch)
        del batch
        await until(lambda: seen == [0])
        # The feed waits for the next fetch; nothing of the dropped one is still alive, so
        # Faust's wait for unacked records (a weak set) is not held up by it.
        await until(lambda: gc.collect() >= 0 and unread() is None)
        assert seen == [0]
        # The next fetch, of the new generation, is handed over.
        await feed.put([record(app, 1)])
        await until(lambda: seen == [0, 1])
    finally:
        await feed.stop()


async def test_nothing_is_handed_over_while_the_flow_is_suspended(app: faust.App) -> None:
    seen: list[int] = []

    async def handler(message: Any) -> None:
        seen.append(message.offset)

    feed = Feed(app, "cases", ["complaints.case-events"])
    feed.start(handler)
    try:
        await feed.put([record(app, 0)])
        await until(lambda: seen == [0])
        app.flow_control.suspend()  # a revocation began
        feed.queue.put_nowait([record(app, 1), record(app, 2)])  # fetched just before it
        await until(lambda: feed.queue.empty())
        app.flow_control.clear()
        app.flow_control.resume()
        await feed.put([record(app, 1)])  # read again from the committed offset
        await until(lambda: seen == [0, 1])
    finally:
        await feed.stop()


async def test_a_handler_that_fails_outside_its_guard_crashes_the_worker(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashes: list[BaseException] = []

    async def crash(error: BaseException) -> None:
        crashes.append(error)

    monkeypatch.setattr(app, "crash", crash)

    async def handler(message: Any) -> None:
        raise AttributeError("a bug in the shell")

    feed = Feed(app, "cases", ["complaints.case-events"])
    feed.start(handler)
    try:
        await feed.put([record(app, 0)])
        await until(lambda: bool(crashes))
        assert isinstance(crashes[0], AttributeError)
        assert feed.task is not None and feed.task.done()
    finally:
        await feed.stop()


async def test_a_resume_of_the_flow_while_the_feed_is_full_loses_and_blocks_nothing(
    app: faust.App,
) -> None:
    # Table recovery resumes the flow more than once within one assignment; a feed whose queue
    # a resume emptied left the fetch loop blocked on a put and the records never acked.
    seen: list[int] = []
    first = asyncio.Event()

    async def handler(message: Any) -> None:
        if not seen:
            await first.wait()  # the agent is busy on the first fetch
        seen.append(message.offset)

    feed = Feed(app, "cases", ["complaints.case-events"])
    feed.start(handler)
    try:
        await feed.put([record(app, 0)])
        await until(lambda: feed.queue.empty())  # taken: the handler waits on it
        await feed.put([record(app, 1)])
        await feed.put([record(app, 2)])  # the queue is full now
        blocked = asyncio.ensure_future(feed.put([record(app, 3)]))
        await asyncio.sleep(0)
        assert not blocked.done()
        app.flow_control.resume()  # what recovery does again, the same generation
        first.set()
        await until(lambda: seen == [0, 1, 2, 3])
        assert blocked.done()
    finally:
        await feed.stop()


async def test_the_worker_s_consumer_waits_for_records_no_longer_than_its_setting() -> None:
    # Faust fixes aiokafka's fetch wait at 1.5 s; an idle partition's end is then up to that
    # old, and due steps wait for a response built after them (lag.py).
    from casegold_escalation.fetch import install

    app = faust.App("fetch-wait-test", broker="kafka://localhost:1", web_enabled=False)
    app.loop = asyncio.get_running_loop()
    install(app, fetch_wait_ms=80)
    app.finalize()
    consumer: Any = app.consumer
    aiokafka_consumer = consumer._thread._create_worker_consumer(app.transport)
    assert aiokafka_consumer._fetch_max_wait_ms == 80


async def test_a_feed_counts_how_long_its_agent_waited_for_records(app: faust.App) -> None:
    def waited() -> float:
        value = metrics.REGISTRY.get_sample_value(
            "casegold_escalation_agent_waits_seconds_total", {"agent": "cases", "on": "records"}
        )
        return value or 0.0

    seen: list[int] = []

    async def handler(message: Any) -> None:
        seen.append(message.offset)

    feed = Feed(app, "cases", ["complaints.case-events"])
    before = waited()
    feed.start(handler)
    try:
        await asyncio.sleep(0.05)  # the agent waits for its first fetch meanwhile
        await feed.put([record(app, 0)])
        await until(lambda: seen == [0])
    finally:
        await feed.stop()
    # Counted once the records came: an operator sees an agent short of records, not busy.
    assert waited() - before >= 0.04
