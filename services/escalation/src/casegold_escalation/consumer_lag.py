"""`casegold_consumer_lag{topic,partition}`: records on each assigned partition not yet read.

Computed from what the consumer already knows (the end its last fetch reported and its own
position), so a refresh costs no broker round trip. Labels are the assigned partitions only:
a partition handed to another worker loses its series here instead of freezing at a stale
value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.types import TP
from prometheus_client import Gauge

Partition = tuple[str, int]


def lags(ends: Mapping[Partition, int], positions: Mapping[Partition, int]) -> dict[Partition, int]:
    """Per partition whose end is known: end − position (0 when the position is past it)."""
    return {tp: max(0, end - positions.get(tp, 0)) for tp, end in ends.items()}


class LagGauge:
    """Sets the gauge's children to the current lags and removes those no longer assigned."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self.shown: set[Partition] = set()

    def update(self, current: Mapping[Partition, int]) -> None:
        for topic, partition in self.shown - current.keys():
            self.gauge.remove(topic, str(partition))
        for (topic, partition), lag in current.items():
            self.gauge.labels(topic, str(partition)).set(lag)
        self.shown = set(current)


def faust_lags(
    consumer: Any, assigned: set[TP], processed: Mapping[Partition, int]
) -> dict[Partition, int]:
    """Lags of a Faust consumer's assigned partitions: the end of the last fetch minus the next
    offset to process (`processed` where the agent tracks it, else Faust's read position)."""
    ends: dict[Partition, int] = {}
    positions: dict[Partition, int] = {}
    for tp in assigned:
        try:
            end = consumer.highwater(tp)
        except Exception:  # revoked meanwhile: no series for it
            continue
        if end is None:
            continue
        key = (tp.topic, tp.partition)
        ends[key] = int(end)
        if key in processed:
            positions[key] = processed[key]
            continue
        read = consumer._read_offset.get(tp)  # Faust: the last offset handed to the stream
        committed = consumer._committed_offset.get(tp)
        positions[key] = read + 1 if read is not None else int(committed or 0)
    return lags(ends, positions)
