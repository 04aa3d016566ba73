"""The publisher bounds every send and replaces a producer that failed or died."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber

from casegold_intake.ports import PublishUnavailable
from casegold_intake.publisher import RESTART_BACKOFF, KafkaPublisher


class FakeAccumulator:
    def __init__(self) -> None:
        self.pending: list[asyncio.Future[Any]] = []

    def fail_all(self, error: Exception) -> None:
        for future in self.pending:
            if not future.done():
                future.set_exception(error)


class FakeSender:
    def __init__(self) -> None:
        self.sender_task: asyncio.Task[None] | None = None


class FakeProducer:
    """Enough of AIOKafkaProducer: `mode` says how sends end (ack, hang, fatal)."""

    def __init__(self, broker: dict[str, Any]) -> None:
        self.broker = broker
        self._sender = FakeSender()
        self._message_accumulator = FakeAccumulator()
        self.stopped = False

    async def start(self) -> None:
        if not self.broker["up"]:
            raise KafkaConnectionError("connection refused")
        self._sender.sender_task = asyncio.create_task(asyncio.sleep(3600))

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._message_accumulator.pending.append(future)
        mode = self.broker["mode"]
        if mode == "ack":
            future.set_result(None)
            self.broker["log"].append(value)
        elif mode == "fatal":
            future.set_exception(OutOfOrderSequenceNumber())
        return future

    async def stop(self) -> None:
        self.stopped = True
        if self._sender.sender_task is not None:
            self._sender.sender_task.cancel()


@pytest.fixture
def broker() -> dict[str, Any]:
    return {"up": True, "mode": "ack", "log": [], "made": []}


def publisher(broker: dict[str, Any], timeout: float = 0.2) -> KafkaPublisher:
    def factory() -> Any:
        producer = FakeProducer(broker)
        broker["made"].append(producer)
        return producer

    return KafkaPublisher(factory, "topic", timeout)


async def test_an_acknowledged_send_returns(broker: dict[str, Any]) -> None:
    kafka = publisher(broker)
    await kafka.publish(b"k", b"v")
    await kafka.publish(b"k", b"w")
    assert broker["log"] == [b"v", b"w"] and len(broker["made"]) == 1
    await kafka.close()


async def test_a_hanging_send_times_out_and_its_message_is_dropped(broker: dict[str, Any]) -> None:
    kafka = publisher(broker)
    broker["mode"] = "hang"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PublishUnavailable):
        await kafka.publish(b"k", b"lost")
    assert loop.time() - started < 1.0
    first = broker["made"][0]
    await asyncio.sleep(0.01)
    assert first.stopped
    broker["mode"] = "ack"
    await kafka.publish(b"k", b"kept")
    assert broker["log"] == [b"kept"] and len(broker["made"]) == 2
    await kafka.close()


async def test_a_fatal_sequence_error_replaces_the_producer(broker: dict[str, Any]) -> None:
    kafka = publisher(broker)
    broker["mode"] = "fatal"
    with pytest.raises(PublishUnavailable, match="OutOfOrderSequenceNumber"):
        await kafka.publish(b"k", b"v")
    broker["mode"] = "ack"
    await kafka.publish(b"k", b"v")
    assert len(broker["made"]) == 2
    await kafka.close()


async def test_a_dead_sender_is_noticed_before_sending(broker: dict[str, Any]) -> None:
    kafka = publisher(broker)
    await kafka.publish(b"k", b"v")
    task = broker["made"][0]._sender.sender_task
    task.cancel()
    await asyncio.sleep(0)
    await kafka.publish(b"k", b"w")
    assert len(broker["made"]) == 2 and broker["log"] == [b"v", b"w"]
    await kafka.close()


async def test_a_down_broker_fails_fast_then_reconnects(broker: dict[str, Any]) -> None:
    broker["up"] = False
    kafka = publisher(broker)
    assert not await kafka.start(timeout=0.5)
    with pytest.raises(PublishUnavailable):
        await kafka.publish(b"k", b"v")  # within the back-off: no new attempt
    assert len(broker["made"]) == 1
    assert not await kafka.ready()
    broker["up"] = True
    await asyncio.sleep(RESTART_BACKOFF)
    await kafka.publish(b"k", b"v")
    assert broker["log"] == [b"v"]
    await kafka.close()
    with pytest.raises(PublishUnavailable):
        await kafka.publish(b"k", b"after close")
