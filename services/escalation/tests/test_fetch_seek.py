"""The batch consumer's fetch loop and Faust's seek to the committed offsets (decision 0145).

The consumer thread is a fake that answers the way aiokafka's does: a fetch returns the records
from the partition's position and moves it, a seek moves it back, and Faust's seek asks for
the committed offsets one partition at a time, seeking each as its answer comes, before Faust
resets its own read and committed offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from casegold_escalation import fetch
from tests.support.waiting import until

TOPIC = "complaints.case-events"
PARTITION = TP(TOPIC, 0)


class FakeThread:
    """One partition as the consumer thread sees it: a log, a position, a committed offset."""

    def __init__(self, committed: int, end: int) -> None:
        self.committed = committed  # at the broker
        self.position = committed
        self.end = end
        self.more = asyncio.Event()
        self.seeking = False
        self.seeks = 0
        self.fetched_while_seeking = 0
        self.answered = asyncio.Event()  # the committed offset was read (the seek goes on)
        self.go_on = asyncio.Event()  # the other partitions' answers came

    def assignment(self) -> set[TP]:
        return {PARTITION}

    def highwater(self, tp: TP) -> int:
        return self.end

    def append(self, count: int) -> None:
        self.end += count
        self.more.set()

    async def getmany(self, active_partitions: Any, timeout: float) -> dict[TP, list[Any]]:
        if self.position >= self.end:
            self.more.clear()
            try:
                await asyncio.wait_for(self.more.wait(), timeout)
            except TimeoutError:
                return {}
            if self.position >= self.end:  # woken to stop
                return {}
        if self.seeking:
            self.fetched_while_seeking += 1
        offsets = range(self.position, min(self.position + 10, self.end))
        self.position = offsets[-1] + 1
        return {PARTITION: [record(offset) for offset in offsets]}

    async def seek_to_committed(self) -> dict[TP, int]:
        self.seeks += 1
        self.seeking = True
        answer = self.committed
        self.position = answer  # aiokafka seeks each partition as its answer comes
        self.more.set()  # and wakes a fetch waiting for records
        self.answered.set()
        await self.go_on.wait()
        self.seeking = False
        return {PARTITION: answer}

    async def commit(self, offsets: dict[TP, int]) -> bool:
        self.committed = offsets[PARTITION]
        return True


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, b"key", b"value", None, 3, 5, ())


class Producer:
    """What Faust's commit asks of the app's producer: nothing is attached or buffered here."""

    async def flush(self) -> None:
        return None

    async def wait_many(self, pending: Any) -> None:
        return None


@asynccontextmanager
async def fetching(
    app: faust.App, consumer: Any, thread: FakeThread, handler: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[None]:
    """The batch consumer's fetch loop running, its records fed to handler, stopped after."""
    feed = fetch.add_feed(app, "cases", [TOPIC])
    feed.start(handler)
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    loop = asyncio.ensure_future(consumer._drain_messages(fetcher))
    try:
        yield
    finally:
        fetcher._stopped.set()
        consumer.resume_flow()
        thread.more.set()
        await asyncio.wait_for(loop, 5)
        await feed.stop()


def consumer_on(thread: FakeThread) -> tuple[faust.App, Any]:
    """An app whose batch consumer reads through thread, its partition assigned, flowing."""
    app = faust.App("fetch-seek-test", broker="kafka://localhost:1", web_enabled=False)
    app.loop = asyncio.get_running_loop()
    fetch.install(app)
    app.finalize()
    app_: Any = app
    app_._producer = Producer()
    app_.topics._acking_topics.add(TOPIC)  # an agent reads it with acks (set when it starts)
    consumer: Any = app.consumer
    consumer._thread = thread
    consumer._set_active_tps({PARTITION})  # assigned and resumed
    app.flow_control.resume()
    consumer.resume_flow()
    return app, consumer


async def test_a_seek_meanwhile_records_are_fetched_leaves_every_handled_offset_committable() -> (
    None
):
    app, consumer = consumer_on(thread := FakeThread(committed=100, end=160))

    handled: list[Any] = []

    async def handler(message: Any) -> None:  # acked later, as the write cache does
        handled.append(message)

    def seen(offset: int) -> bool:
        return any(m.offset == offset for m in handled)

    def ack(offsets: range) -> None:
        for message in handled:
            if message.offset in offsets:
                consumer.ack(message)

    async with fetching(app, consumer, thread, handler):
        await until(lambda: seen(159))
        # Recovery seeks to the committed offsets; the broker answers 100 for this partition
        # while the answers for the others are still to come.
        seek = asyncio.ensure_future(consumer.perform_seek())
        await until(thread.answered.is_set)
        # Meanwhile the worker commits what it has stored (110) and stores the rest.
        ack(range(100, 110))
        assert await consumer.commit()
        assert thread.committed == 110
        ack(range(110, 160))
        # The fetch loop goes on while the seek waits for the other answers (loop turns, not
        # time: with the seek's lock held it takes nothing in, so all 200 go by).
        for _ in range(200):
            if thread.fetched_while_seeking:
                break
            await asyncio.sleep(0)
        thread.go_on.set()
        await seek
        thread.append(40)  # new records keep coming
        await until(lambda: seen(199))
        ack(range(100, 200))  # every record handled, before or after the seek, is stored
        await consumer.commit()
    # Every record was handled and acked: the commit reaches the end of the partition.
    assert thread.committed == 200
    assert thread.fetched_while_seeking == 0


async def test_a_seek_while_the_flow_is_stopped_does_not_wait_for_the_flow_to_resume() -> None:
    # A rebalance stops the flow; recovery seeks to the committed offsets and only then
    # resumes it. A fetch loop that waited for the resume with the seek's lock held would
    # leave the seek waiting for ever.
    thread = FakeThread(committed=100, end=100)
    thread.go_on.set()
    app, consumer = consumer_on(thread)
    handled: list[int] = []

    async def handler(message: Any) -> None:
        handled.append(message.offset)

    async with fetching(app, consumer, thread, handler):
        thread.append(10)
        await until(lambda: handled[-1:] == [109])
        consumer.stop_flow()  # the rebalance
        thread.append(10)  # the fetch loop wakes to the stopped flow, and Faust seeks back
        await until(lambda: thread.seeks == 1)
        for _ in range(20):  # the fetch loop goes round to wait for the flow
            await asyncio.sleep(0)
        await asyncio.wait_for(consumer.perform_seek(), 5)  # recovery's seek
        consumer.resume_flow()
        await until(lambda: handled[-1:] == [119])
    # Sought back to the committed offset: the records are read again from there.
    assert handled[:10] == list(range(100, 110))
    assert handled[10:] == list(range(100, 120))
