"""Due steps wait for records their partition has not read yet (lag.py)."""

from __future__ import annotations

from casegold_escalation.lag import Progress, split_due, unread_bounds


def test_a_partition_read_to_its_end_holds_nothing() -> None:
    bounds = unread_bounds([0], {0: 11}, {0: Progress(10, 5_000)}, {})
    assert bounds == {}
    assert split_due([(0, b"a", 9_000)], bounds) == ([(0, b"a", 9_000)], [])


def test_unread_records_hold_steps_due_at_or_after_the_last_record_read() -> None:
    bounds = unread_bounds([0], {0: 500}, {0: Progress(10, 5_000)}, {})
    assert bounds == {0: 5_000}
    early, at, late = (0, b"a", 4_999), (0, b"b", 5_000), (0, b"c", 9_000)
    assert split_due([early, at, late], bounds) == ([early], [at, late])


def test_nothing_read_since_assignment_holds_every_due_step_until_caught_up() -> None:
    assert unread_bounds([0, 1, 2], {0: 40, 1: 7, 2: 3}, {}, {0: 12, 1: 7, 2: None}) == {
        0: None,
        2: None,
    }
    assert unread_bounds([3], {}, {}, {}) == {3: None}, "an unknown end is assumed unread"
    due = [(0, b"a", 1), (1, b"b", 1)]
    assert split_due(due, {0: None}) == ([(1, b"b", 1)], [(0, b"a", 1)])
