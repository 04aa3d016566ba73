"""Due steps wait for records their partition has not read yet (lag.py)."""

from __future__ import annotations

from casegold_escalation.due_index import DueIndex
from casegold_escalation.lag import Progress, unread_bounds

RETRY = 5_000_000


def test_a_partition_read_to_its_end_holds_nothing() -> None:
    bounds = unread_bounds([0], {0: 11}, {0: Progress(10, 5_000)}, {})
    assert bounds == {}
    index = DueIndex()
    index.schedule(0, b"a", 9_000)
    assert index.pop_due(9_000, 10, RETRY, bounds) == [(0, b"a", 9_000)]


def test_unread_records_hold_steps_due_at_or_after_the_last_record_read() -> None:
    bounds = unread_bounds([0], {0: 500}, {0: Progress(10, 5_000)}, {})
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
    assert unread_bounds([0, 1, 2], {0: 40, 1: 7, 2: 3}, {}, {0: 12, 1: 7, 2: None}) == {
        0: None,
        2: None,
    }
    assert unread_bounds([3], {}, {}, {}) == {3: None}, "an unknown end is assumed unread"
    index = DueIndex()
    index.schedule(0, b"a", 1)
    index.schedule(1, b"b", 1)
    assert index.pop_due(5, 10, RETRY, {0: None}) == [(1, b"b", 1)]
    assert index.held(5, {0: None}) == 1
