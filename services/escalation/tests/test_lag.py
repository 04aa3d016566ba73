"""Due steps wait for records their partition has not read yet (lag.py)."""

from __future__ import annotations

from casegold_escalation.due_index import DueIndex
from casegold_escalation.lag import Progress, unread_bounds

RETRY = 5_000_000


def test_a_partition_read_to_an_end_built_after_the_due_instant_holds_nothing_due() -> None:
    bounds = unread_bounds([0], {0: 11}, {0: Progress(10, 5_000)}, {}, {0: 9_001})
    assert bounds == {0: 9_001}
    index = DueIndex()
    index.schedule(0, b"a", 9_000)
    assert index.pop_due(9_000, 10, RETRY, bounds) == [(0, b"a", 9_000)]


def test_unread_records_hold_steps_due_at_or_after_the_last_record_read() -> None:
    bounds = unread_bounds([0], {0: 500}, {0: Progress(10, 5_000)}, {}, {})
    assert bounds == {0: 5_000}
    index = DueIndex()
    for key, due in ((b"a", 4_999), (b"b", 5_000), (b"c", 9_000)):
        index.schedule(0, key, due)
    assert index.held(9_000, bounds) == 2
    assert index.pop_due(9_000, 10, RETRY, bounds) == [(0, b"a", 4_999)]
    # The held steps stay where they were: due at their own instants, not re-queued.
    assert index.held(9_000, bounds) == 2
    assert (index.due_of(b"b"), index.due_of(b"c")) == (5_000, 9_000)
    assert index.pop_due(9_000, 10, RETRY, {}) == [(0, b"b", 5_000), (0, b"c", 9_000)]


def test_nothing_read_since_assignment_holds_every_due_step_until_caught_up() -> None:
    ends = {0: 40, 1: 7, 2: 3}
    assert unread_bounds([0, 1, 2], ends, {}, {0: 12, 1: 7, 2: None}, {1: 8}) == {
        0: None,
        1: 8,
        2: None,
    }
    assert unread_bounds([3], {}, {}, {}, {3: 8}) == {3: None}, "an unknown end is unread"
    index = DueIndex()
    index.schedule(0, b"a", 1)
    index.schedule(1, b"b", 1)
    assert index.pop_due(5, 10, RETRY, {0: None}) == [(1, b"b", 1)]
    assert index.held(5, {0: None}) == 1


def test_a_partition_with_ticks_not_yet_applied_sends_no_more_until_they_are() -> None:
    from types import SimpleNamespace
    from typing import Any

    from faust.types import TP

    from casegold_escalation.timers import ticks_queued

    class Consumer:
        def __init__(self) -> None:
            self._committed_offset = {TP("w.ticks", 2): 30}

        def highwater(self, tp: Any) -> int | None:
            ends = {0: 10, 1: 10, 2: 30, 3: None, 5: 20}
            if tp.partition not in ends:
                raise KeyError(tp)  # not assigned
            return ends[tp.partition]

    worker: Any = SimpleNamespace(
        settings=SimpleNamespace(ticks_topic="w.ticks"),
        app=SimpleNamespace(consumer=Consumer()),
        tick_progress={0: 9, 1: 4},
    )
    # 0: read to its end; 1: five ticks queued; 2: nothing read, committed at the end;
    # 3: end unknown; 4: not assigned; 5: nothing read since a restart and no committed offset
    # known — its ticks may all be applied, so holding it would stall it for good.
    assert ticks_queued(worker, {0, 1, 2, 3, 4, 5}) == {1}
    index = DueIndex()
    index.schedule(1, b"a", 5)
    assert index.pop_due(10, 10, RETRY, {1: None}) == []
    assert index.held(10, {1: None}) == 1


def test_a_partition_read_to_an_end_fetched_long_ago_holds_steps_due_since() -> None:
    # The end offset comes from the partition's last fetch response: a record appended after
    # that response was built is unread, though the partition looks read to its end. Only
    # steps due before a response known to be built after them may be judged on it.
    from casegold_escalation.lag import EndTimes

    times = EndTimes()
    assert times.built_after(0, 1_000) is None, "one response seen: when it was built unknown"
    assert times.built_after(0, 1_000) is None, "the same response again"
    # The next response's request went out only after the previous one was taken in.
    assert times.built_after(0, 1_400) == 1_000_000
    assert times.built_after(0, 1_400) == 1_000_000
    assert times.built_after(0, 2_000) == 1_400_000
    assert times.built_after(0, None) is None, "not fetched (not assigned): unknown"
    assert times.built_after(1, 2_000) is None, "each partition on its own"
    times.forget([0])
    assert times.built_after(0, 2_500) is None

    read_to_end = {0: 11}
    done = {0: Progress(10, 5_000)}
    # Built after 7 ms: steps due from then on wait, those due before it go.
    bounds = unread_bounds([0], read_to_end, done, {}, {0: 7_000})
    assert bounds == {0: 7_000}
    index = DueIndex()
    for key, due in ((b"a", 6_999), (b"b", 7_000), (b"c", 9_000)):
        index.schedule(0, key, due)
    assert index.pop_due(9_000, 10, RETRY, bounds) == [(0, b"a", 6_999)]
    assert index.held(9_000, bounds) == 2
    # Not known when the end was built: only what precedes the last record read may go.
    assert unread_bounds([0], read_to_end, done, {}, {}) == {0: 5_000}
    assert unread_bounds([0], {0: 7}, {}, {0: 7}, {}) == {0: None}
    assert unread_bounds([0], {0: 7}, {}, {0: 7}, {0: 8_000}) == {0: 8_000}
    # A built instant older than the last record read bounds nothing more than that record.
    assert unread_bounds([0], read_to_end, done, {}, {0: 4_000}) == {0: 5_000}
    # Records below the end still unread: the built instant says nothing about them.
    assert unread_bounds([0], {0: 500}, done, {}, {0: 7_000}) == {0: 5_000}
