"""The agents' records handed over a fetch at a time (decision 0140).

Faust delivers each record on its own: the fetch loop awaits a per-record callback raced
against the flow-control event, the conductor routes the record to a channel queue, the stream
takes it out again, wraps it in an event and runs its sensors. On this machine that costs
100-175 µs per record before any of the worker's code runs, most of the 200 µs per event the
worker's throughput target leaves for everything (a Faust agent doing nothing drains about
6,000 records/s; the same agent fed a fetch at a time, 80,000/s: bench/faust_floor.py).

`BatchConsumer` is Faust's aiokafka consumer with one change: the records of the topics that
have a `Feed` skip that path. Each fetch's records of those topics are tracked as unacked,
exactly as a stream would track them, and put on the feed as one list. The feed's task hands
them to the agent's handler one by one, in fetch order, so a partition's records are applied
in order. Everything else stays Faust's: the group and its co-partitioned assignment, the
tables' recovery and standbys, the fetch of every other topic, and the commit of contiguous
acked offsets. The handler acks through `Consumer.ack`, once the record's effects are stored.

A rebalance suspends the flow: the fetch loop gives up a batch it could not hand over, and the
feed drops every record taken while the flow is suspended or fetched in an older consumer
generation. Records dropped so are not acked; the consumer seeks back to the committed offsets
and reads them again. No list of them is kept alive past that point, so Faust's wait for
unacked records (a weak set) is not held up by records nobody will process, and a batch still
queued is taken and dropped at once.

A seek and the taking in of a fetch never interleave (decision 0145). Faust's seek to the
committed offsets asks the broker for each partition's committed offset in turn, seeking each
partition as its answer comes (about a second for the worker's partitions after a cold
recovery), and only then resets its read offsets and committed offsets. A fetch taken in
meanwhile carried the sought partitions' records again from the committed offset: they were
dropped as already read, and the read offset then fell back under what had been read. With the
committed offset set back under what this worker had itself committed, Faust's commit counted
offsets as acked twice and crept forward a few offsets per commit: a partition stayed
thousands of records behind while its agent had finished them all. So the fetch loop holds a
lock from the fetch to the last record taken in, and a seek waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from time import monotonic
from typing import Any

import structlog
from faust.transport.drivers import aiokafka as aiokafka_driver

from casegold_escalation import metrics

log = structlog.get_logger("casegold.escalation")

# Fetches waiting for the agent at once (each at most broker_max_poll_records records).
FEED_DEPTH = 2
# The feed lets the loop run (timers, flushes, views) at least every this many records.
YIELD_EVERY = 100

Handler = Callable[[Any], Awaitable[None]]


class Feed:
    """One agent's records from the batch consumer, handed to its handler in fetch order."""

    def __init__(self, app: Any, name: str, topics: Iterable[str]) -> None:
        self.app, self.name = app, name
        self.topics = frozenset(topics)
        self.fed = metrics.FED.labels(name)
        self.waited = metrics.WAITED.labels(name, "records")
        # A plain queue: Faust's flow-control queues are cleared on every resume of the flow,
        # rebalance or not (table recovery resumes it more than once), without waking a put
        # blocked on the full queue, which then waits forever while the feed waits on an empty
        # one; and the records cleared, never acked, would hold the commit back. Records of an
        # older generation are dropped as they are taken instead (`_run`).
        self.queue: asyncio.Queue[list[Any]] = asyncio.Queue(maxsize=FEED_DEPTH)
        self.task: asyncio.Task[None] | None = None

    def backed_up(self) -> bool:
        """Whether fetched records wait for the agent (it is the bottleneck, not the fetch)."""
        return not self.queue.empty()

    async def put(self, batch: list[Any]) -> None:
        await self.queue.put(batch)
        self.fed.observe(len(batch))

    def start(self, handler: Handler) -> None:
        """Hand every record fed from now on to handler (started by the agent it feeds)."""
        if self.task is None:
            self.task = asyncio.ensure_future(self._run(handler))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _run(self, handler: Handler) -> None:
        app, flow = self.app, self.app.flow_control
        sleep = asyncio.sleep
        # Faust's consumer thread warns about partitions whose stream took nothing for a while.
        inbound = app.monitor.stream_inbound_time
        try:
            queue, waited = self.queue, self.waited
            while True:
                if queue.empty():
                    began = monotonic()
                    batch: list[Any] | None = await queue.get()
                    waited.inc(monotonic() - began)
                else:
                    batch = queue.get_nowait()
                for done, message in enumerate(batch or (), 1):
                    if not flow.is_active() or message.generation_id != app.consumer_generation_id:
                        break  # fetched before a rebalance: read again from the committed offset
                    inbound[message.tp] = monotonic()
                    await handler(message)
                    if not done % YIELD_EVERY:
                        await sleep(0)
                # Nothing may keep the dropped records alive (see the module's docstring).
                batch = message = None
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the handler's own guard lets only its shell's bugs out
            log.critical("feed handler failed", agent=self.name, error=repr(error))
            await app.crash(error)
            raise


class BatchConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, with the aiokafka consumer's fetch wait of the transport."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust fixes the broker's wait for records at 1.5 s; an idle partition's end is only
        # as fresh as its last response, and due steps wait on it (lag.py, decision 0143).
        consumer._fetch_max_wait_ms = transport.fetch_wait_ms
        return consumer


class BatchConsumer(aiokafka_driver.Consumer):
    """Faust's consumer, with the records of the topics that have a feed put on it per fetch."""

    feeds: dict[str, Feed]
    # Held by the fetch loop from a fetch to its last record taken in; a seek waits for it.
    _handover: asyncio.Lock | None = None
    _handing_over: asyncio.Task[Any] | None = None

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def end_taken_in(self, tp: Any) -> int | None:
        """When (epoch ms) the response that gave the partition's `highwater` was taken in."""
        stamp: int | None = self._thread._ensure_consumer().last_poll_timestamp(tp)
        return stamp

    def _handover_lock(self) -> asyncio.Lock:
        if self._handover is None:
            self._handover = asyncio.Lock()
        return self._handover

    @asynccontextmanager
    async def _between_fetches(self) -> AsyncIterator[None]:
        if asyncio.current_task() is self._handing_over:
            # Faust seeks from inside the fetch when the flow is stopped: nothing is taken in.
            yield
            return
        async with self._handover_lock():
            yield

    async def perform_seek(self) -> None:
        """Seek every partition to its committed offset, with no fetch taken in meanwhile."""
        async with self._between_fetches():
            await super().perform_seek()

    async def seek_wait(self, partitions: Any) -> None:
        """Seek partitions (and set their read offsets); a fed topic's with no fetch taken in
        meanwhile (the stall watch's). Recovery's seeks of the changelogs do not wait."""
        feeds = getattr(self, "feeds", {})
        if not any(tp.topic in feeds for tp in partitions):
            await super().seek_wait(partitions)
            return
        async with self._between_fetches():
            await super().seek_wait(partitions)

    def add_feed(self, feed: Feed) -> None:
        if not hasattr(self, "feeds"):
            self.feeds = {}
        for topic in feed.topics:
            self.feeds[topic] = feed

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - needs a broker
        # Faust's loop (transport/consumer.py), with the fed topics' records batched.
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        handover = self._handover_lock()
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                batches: dict[Feed, list[Any]] = {}
                # getmany can return at once again and again: let the loop run between.
                await asyncio.sleep(0)
                if self.should_stop:
                    continue
                if not self.flow_active:
                    # Waited for outside the lock: recovery seeks before it resumes the flow.
                    await self.wait(self.can_resume_flow)  # type: ignore[arg-type]
                    continue
                async with handover:  # no seek between the fetch and its read offsets
                    if not self.flow_active:
                        continue  # stopped while a seek held the lock
                    self._handing_over = asyncio.current_task()
                    try:
                        await self._take_in(self.getmany(timeout=1.0), batches)
                    finally:
                        self._handing_over = None
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
                for feed, batch in batches.items():
                    # A rebalance suspends the flow: the batch is dropped, read again later.
                    await self.wait_first(feed.put(batch), self.suspend_flow.wait())
                batches = batch = None  # type: ignore[assignment]
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _take_in(self, records: AsyncIterator[Any], batches: dict[Feed, list[Any]]) -> None:
        """Track one fetch's records: the fed topics' into batches, the others to Faust."""
        feeds = getattr(self, "feeds", {})
        callback = self.callback
        read_offset = self._read_offset
        unacked = self._unacked_messages
        acks_enabled_for = self.app.topics.acks_enabled_for
        async for tp, message in records:
            last = read_offset[tp]
            offset = message.offset
            if last is not None and offset < last:
                continue  # read before a seek back (Faust drops these too)
            topic = message.topic
            if last and offset - last > 1 and acks_enabled_for(topic):
                # Offsets with no record (transaction markers, compaction): the commit must
                # not wait for them to be acked.
                await self._add_gap(tp, last + 1, offset)
            feed = feeds.get(topic)
            if feed is None:
                await self.wait_first(callback(message), self.suspend_flow.wait())
            else:
                message.tracked = True
                unacked.add(message)
                batch = batches.get(feed)
                if batch is None:
                    batch = batches[feed] = []
                batch.append(message)
            read_offset[tp] = offset


class BatchTransport(aiokafka_driver.Transport):
    """Faust's aiokafka transport, with the batch consumer."""

    Consumer = BatchConsumer
    # How long the broker may hold a fetch with no new record (aiokafka's fetch_max_wait_ms).
    fetch_wait_ms = 1500


def install(app: Any, fetch_wait_ms: int = 1500) -> None:
    """Give app the batch consumer (before anything has asked for its consumer)."""
    transport = BatchTransport(app.conf.broker_consumer, app)
    transport.fetch_wait_ms = fetch_wait_ms
    app.transport = transport


def add_feed(app: Any, name: str, topics: Iterable[str]) -> Feed:
    """A feed of topics' records on app's batch consumer, for the agent called name."""
    feed = Feed(app, name, topics)
    app.consumer.add_feed(feed)
    return feed
