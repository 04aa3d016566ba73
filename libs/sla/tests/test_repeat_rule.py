"""The repeat-complainant window: a customer's cases counted once each, within the window."""

from hypothesis import given
from hypothesis import strategies as st

from casegold_sla import RepeatRule, from_us
from casegold_sla.durations import DAY

RULE = RepeatRule(cases=2, within=30 * DAY)


def test_a_second_case_within_the_window_repeats_and_a_replay_counts_nothing() -> None:
    first = RULE.tally([], ("case-1", 0))
    assert first is not None
    assert (first.prior, first.repeat, first.kept) == ((), False, (("case-1", 0),))
    second = RULE.tally(first.kept, ("case-2", DAY))
    assert second is not None and second.repeat
    assert second.prior == (("case-1", 0),)
    assert second.kept == (("case-1", 0), ("case-2", DAY))
    # Redelivered: counted already.
    assert RULE.tally(second.kept, ("case-2", DAY)) is None


def test_a_case_outside_the_window_does_not_repeat_and_old_ones_are_forgotten() -> None:
    late = RULE.tally([("case-1", 0)], ("case-2", 31 * DAY))
    assert late is not None and not late.repeat
    # Kept two windows back, for cases that reach the tally late from another partition.
    assert late.prior == () and late.kept == (("case-1", 0), ("case-2", 31 * DAY))
    later = RULE.tally(late.kept, ("case-3", 61 * DAY))
    assert later is not None and later.kept == (("case-2", 31 * DAY), ("case-3", 61 * DAY))


def test_what_is_kept_is_bounded() -> None:
    known = [(f"case-{n}", n) for n in range(40)]
    tally = RULE.tally(known, ("new", 41))
    assert tally is not None and len(tally.kept) == 16 and tally.kept[-1] == ("new", 41)


def test_the_window_in_days_is_at_least_one() -> None:
    assert RULE.window_days == 30
    assert RepeatRule(cases=2, within=DAY // 2).window_days == 1


@given(
    cases=st.integers(min_value=1, max_value=5),
    within=st.integers(min_value=1, max_value=60 * DAY),
    opened=st.lists(st.integers(min_value=0, max_value=90 * DAY), max_size=12),
    now=st.integers(min_value=0, max_value=90 * DAY),
)
def test_the_tally_agrees_with_is_repeat(
    cases: int, within: int, opened: list[int], now: int
) -> None:
    rule = RepeatRule(cases, within)
    known = [(f"case-{n}", t) for n, t in enumerate(opened)]
    tally = rule.tally(known, ("new", now))
    assert tally is not None
    assert all(0 <= now - t <= within for _, t in tally.prior)
    expected = rule.is_repeat([from_us(t) for t in opened], from_us(now))
    assert tally.repeat == expected
