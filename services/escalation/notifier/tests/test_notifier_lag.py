"""casegold_consumer_lag of the notifier: end − position per assigned partition only."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from casegold_notifier import metrics
from casegold_notifier.lag import LagReporter


class Consumer:
    """What the reporter reads of an aiokafka consumer."""

    def __init__(
        self, ends: dict[TopicPartition, int | None], positions: dict[TopicPartition, int]
    ):
        self.ends, self.positions = ends, positions

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp]

    async def position(self, tp: TopicPartition) -> int:
        if tp not in self.positions:
            raise RuntimeError("being reset")
        return self.positions[tp]


def lag(partition: int) -> float | None:
    labels = {"topic": "t", "partition": str(partition)}
    return metrics.REGISTRY.get_sample_value("casegold_consumer_lag", labels)


async def test_lag_per_assigned_partition_and_none_for_a_revoked_one() -> None:
    p0, p1, p2 = (TopicPartition("t", p) for p in range(3))
    consumer: Any = Consumer({p0: 10, p1: 7, p2: None}, {p0: 4, p1: 7})
    reporter = LagReporter(consumer, period=60)
    await reporter.maybe_refresh()
    assert (lag(0), lag(1), lag(2)) == (6, 0, None), "no end known yet: no series"
    consumer.ends = {p1: 9}  # p0 moved to another notifier
    await reporter.refresh()
    assert (lag(0), lag(1)) == (None, 2)
    consumer.ends = {p1: 20}
    await reporter.maybe_refresh()  # within the period: nothing asked
    assert lag(1) == 2
