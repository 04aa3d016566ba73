"""The due index hands out each due case once, the latest schedule wins, revoked cases go."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from casegold_escalation.due_index import DueIndex

RETRY = 5_000_000


def test_pops_in_due_order_only_what_is_due() -> None:
    index = DueIndex()
    index.schedule(0, b"c", 30)
    index.schedule(1, b"a", 10)
    index.schedule(0, b"b", 20)
    assert index.pop_due(now=20, limit=10, retry_after=RETRY) == [(1, b"a", 10), (0, b"b", 20)]
    assert index.next_due() == 30


def test_rescheduling_replaces_the_old_instant() -> None:
    index = DueIndex()
    index.schedule(0, b"a", 10)
    index.schedule(0, b"a", 50)
    assert index.pop_due(now=40, limit=10, retry_after=RETRY) == []
    assert index.pop_due(now=50, limit=10, retry_after=RETRY) == [(0, b"a", 50)]


def test_clearing_removes_the_case() -> None:
    index = DueIndex()
    index.schedule(0, b"a", 10)
    index.schedule(0, b"a", None)
    assert len(index) == 0
    assert index.pop_due(now=100, limit=10, retry_after=RETRY) == []


def test_a_taken_case_comes_back_after_retry_unless_rescheduled() -> None:
    index = DueIndex()
    index.schedule(0, b"a", 10)
    assert index.pop_due(now=10, limit=10, retry_after=RETRY) == [(0, b"a", 10)]
    assert index.pop_due(now=10 + RETRY - 1, limit=10, retry_after=RETRY) == []
    assert index.pop_due(now=10 + RETRY, limit=10, retry_after=RETRY) == [(0, b"a", 10 + RETRY)]
    index.schedule(0, b"a", None)
    assert index.pop_due(now=10 * RETRY, limit=10, retry_after=RETRY) == []


def test_limit_bounds_one_batch() -> None:
    index = DueIndex()
    for i in range(10):
        index.schedule(0, f"c{i}".encode(), i)
    assert len(index.pop_due(now=100, limit=4, retry_after=RETRY)) == 4
    assert len(index.pop_due(now=100, limit=100, retry_after=RETRY)) == 6


def test_dropping_partitions_forgets_their_cases() -> None:
    index = DueIndex()
    index.schedule(0, b"a", 10)
    index.schedule(1, b"b", 10)
    index.schedule(2, b"c", 10)
    assert index.drop_partitions([0, 2]) == 2
    assert index.pop_due(now=10, limit=10, retry_after=RETRY) == [(1, b"b", 10)]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from([b"a", b"b", b"c", b"d", b"e"]),
            st.none() | st.integers(0, 1000),
        ),
        max_size=60,
    ),
    st.integers(0, 1000),
)
def test_pop_returns_exactly_the_latest_due_schedules(
    operations: list[tuple[int, bytes, int | None]], now: int
) -> None:
    index = DueIndex()
    latest: dict[bytes, tuple[int, int] | None] = {}
    for partition, key, due in operations:
        index.schedule(partition, key, due)
        latest[key] = None if due is None else (due, partition)
    expected = sorted((v[0], v[1], k) for k, v in latest.items() if v is not None and v[0] <= now)
    taken = index.pop_due(now=now, limit=1000, retry_after=RETRY)
    assert [(due, partition, key) for partition, key, due in taken] == expected


def test_ticked_counts_cases_due_and_not_yet_applied() -> None:
    # casegold_escalation_timers_pending reads this, not the number of ticks ever sent.
    index = DueIndex()
    for key, due in ((b"a", 10), (b"b", 20), (b"c", 10**9)):
        index.schedule(0, key, due)
    index.pop_due(now=50, limit=10, retry_after=RETRY)
    assert index.ticked == 2
    index.pop_due(now=50 + RETRY, limit=10, retry_after=RETRY)  # the same two, sent again
    assert index.ticked == 2
    index.schedule(0, b"a", 500)  # the agent applied a's tick
    index.schedule(0, b"b", None)  # b closed
    assert index.ticked == 0
    index.pop_due(now=10**10, limit=10, retry_after=RETRY)
    index.drop_partitions([0])
    assert index.ticked == 0


@example(schedules=[(0, 0, 1), (0, 0, 0), (0, 0, 1)], bounds={0: None}, now=1)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 100)),
        max_size=60,
    ),
    st.dictionaries(st.integers(0, 3), st.none() | st.integers(0, 100), max_size=4),
    st.integers(0, 100),
)
def test_bounds_take_exactly_the_due_steps_before_them_and_count_the_rest_held(
    schedules: list[tuple[int, int, int]], bounds: dict[int, int | None], now: int
) -> None:
    index = DueIndex()
    latest: dict[bytes, tuple[int, int]] = {}
    for partition, case, due in schedules:
        key = f"{partition}-{case}".encode()  # a case lives on one partition
        index.schedule(partition, key, due)
        latest[key] = (partition, due)
    due_now = {k: v for k, v in latest.items() if v[1] <= now}

    def waits(partition: int, due: int) -> bool:
        if partition not in bounds:
            return False
        bound = bounds[partition]
        return bound is None or due >= bound

    expected_held = {k for k, (p, d) in due_now.items() if waits(p, d)}
    assert index.held(now, bounds) == len(expected_held)
    taken = index.pop_due(now, 1000, RETRY, bounds)
    assert {k for _, k, _ in taken} == set(due_now) - expected_held
    assert [d for _, _, d in taken] == sorted(d for _, _, d in taken), "earliest first"
    assert index.held(now, bounds) == len(expected_held), "held steps stay due where they were"
