"""A closed case is forgotten a retention after the last event applied while it was closed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from casegold_sla import PolicySet, to_us
from casegold_sla.retention import closed_since, expired, forget_at, next_look

from .conftest import at, event, fold

DAY = 86_400_000_000
RETENTION = 30 * DAY
maybe = st.none() | st.integers(min_value=0, max_value=10**17)


def test_the_retention_counts_from_the_last_event_while_closed(
    default_policy: PolicySet,
) -> None:
    resolved = fold(
        default_policy,
        event("case_opened", priority="P1"),
        event("case_acknowledged", at(0.1)),
        event("case_resolved", at(1)),
    )
    closed = fold(default_policy, event("case_closed", at(2)), state=resolved)
    assert closed_since(resolved, None, to_us(at(1))) is None
    assert closed_since(closed, None, to_us(at(2))) == to_us(at(2))
    # A revisit outcome recorded after the close moves the start; a replay never moves it back.
    assert closed_since(closed, to_us(at(2)), to_us(at(5))) == to_us(at(5))
    assert closed_since(closed, to_us(at(5)), to_us(at(2))) == to_us(at(5))
    reopened = fold(default_policy, event("case_reopened", at(3)), state=closed)
    assert closed_since(reopened, to_us(at(2)), to_us(at(3))) is None

    closed_us = to_us(at(2))
    assert forget_at(closed, closed_us, RETENTION) == closed_us + RETENTION
    assert not expired(closed, closed_us, RETENTION, closed_us + RETENTION - 1)
    assert expired(closed, closed_us, RETENTION, closed_us + RETENTION)
    # Never while it is not closed, nor without a known closing instant.
    assert not expired(reopened, closed_us, RETENTION, closed_us + 99 * DAY)
    assert not expired(resolved, closed_us, RETENTION, closed_us + 99 * DAY)
    assert forget_at(closed, None, RETENTION) is None


@given(maybe, maybe)
def test_next_look_is_the_earlier_known_instant(due: int | None, forget: int | None) -> None:
    known = [x for x in (due, forget) if x is not None]
    assert next_look(due, forget) == (min(known) if known else None)
