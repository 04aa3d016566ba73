"""A customer's repeat cases are the same whatever order their cases reach the tally in."""

from hypothesis import given
from hypothesis import strategies as st

from casegold_sla import RepeatRule
from casegold_sla.durations import DAY


def detected(rule: RepeatRule, arrivals: list[tuple[str, int]]) -> set[str]:
    """Every case the tally reports as a repeat, feeding the cases in arrival order."""
    known: tuple[tuple[str, int], ...] = ()
    found: set[str] = set()
    for case in arrivals:
        tally = rule.tally(known, case)
        assert tally is not None
        found |= {case_id for (case_id, _), _ in tally.repeats}
        known = tally.kept
    return found


@given(
    cases=st.integers(min_value=2, max_value=4),
    opened=st.lists(st.integers(min_value=0, max_value=60 * DAY), min_size=1, max_size=8),
    data=st.data(),
)
def test_out_of_order_arrival_detects_the_same_repeat_cases(
    cases: int, opened: list[int], data: st.DataObject
) -> None:
    rule = RepeatRule(cases, 30 * DAY)
    in_order = sorted(((f"case-{n}", t) for n, t in enumerate(opened)), key=lambda c: (c[1], c[0]))
    shuffled = data.draw(st.permutations(in_order))
    assert detected(rule, shuffled) == detected(rule, in_order)


def test_a_later_opened_case_arriving_first_is_the_repeat_once_the_earlier_arrives() -> None:
    rule = RepeatRule(cases=2, within=30 * DAY)
    later = rule.tally((), ("later", 5 * DAY))
    assert later is not None and later.repeats == ()
    earlier = rule.tally(later.kept, ("earlier", 1 * DAY))
    assert earlier is not None
    assert earlier.repeats == ((("later", 5 * DAY), (("earlier", 1 * DAY),)),)
    assert earlier.kept == (("earlier", 1 * DAY), ("later", 5 * DAY))
