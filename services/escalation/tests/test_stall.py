"""Partitions whose unread records never reach the agent are sought back (stall.py)."""

from __future__ import annotations

from faust.types import TP

from casegold_escalation.stall import StallWatch

TICKS, EVENTS = TP("w.ticks", 9), TP("w.case-events", 9)


def test_a_partition_behind_with_nothing_delivered_is_sought_back_after_the_stall_time() -> None:
    watch = StallWatch(stall_after=2.0)
    # The kill -9 case: committed 1, end 2, Faust sought to 1 and never delivered offset 1.
    assert watch.stalled(100.0, {TICKS: 1}, {TICKS: 1}, {TICKS: 2}) == []
    assert watch.stalled(101.9, {TICKS: 1}, {TICKS: 1}, {TICKS: 2}) == []
    assert watch.stalled(102.0, {TICKS: 1}, {TICKS: 1}, {TICKS: 2}) == [(TICKS, 1)]
    # The seek gets its own stall time before it is judged again.
    assert watch.stalled(103.0, {TICKS: 1}, {TICKS: 1}, {TICKS: 2}) == []
    assert watch.stalled(104.0, {TICKS: 1}, {TICKS: None}, {TICKS: 2}) == [(TICKS, 1)]


def test_progress_resets_the_clock_and_a_partition_read_to_its_end_is_forgotten() -> None:
    watch = StallWatch(stall_after=2.0)
    assert watch.stalled(0.0, {EVENTS: 5}, {}, {EVENTS: 9}) == []
    assert watch.stalled(1.5, {EVENTS: 6}, {}, {EVENTS: 9}) == []  # the agent moved on
    assert watch.stalled(3.0, {EVENTS: 6}, {}, {EVENTS: 9}) == []
    assert watch.stalled(3.5, {EVENTS: 6}, {}, {EVENTS: 9}) == [(EVENTS, 6)]
    assert watch.stalled(4.0, {EVENTS: 9}, {}, {EVENTS: 9}) == []
    assert watch.behind == {}


def test_records_delivered_past_the_first_unfinished_one_are_slow_not_lost() -> None:
    watch = StallWatch(stall_after=1.0)
    for now in (0.0, 5.0, 50.0):
        assert watch.stalled(now, {EVENTS: 10}, {EVENTS: 400}, {EVENTS: 900}) == []


def test_unknown_positions_and_ends_are_never_sought() -> None:
    watch = StallWatch(stall_after=1.0)
    for now in (0.0, 10.0):
        assert watch.stalled(now, {EVENTS: None, TICKS: 3}, {}, {EVENTS: 5, TICKS: None}) == []
    assert watch.behind == {}
