"""Deterministic ids and the customer key."""

from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casegold_contracts import STEPS, customer_key, derived_id, escalation_id

CASE = UUID("00000000-0000-4000-8000-00000000ca5e")

step_args = st.tuples(
    st.uuids(), st.text(min_size=1), st.integers(0, 10**6), st.sampled_from(STEPS)
)


def test_escalation_id_is_pinned() -> None:
    # Pinned: changing the namespace or the name format would re-notify every open step.
    assert escalation_id(CASE, "first_response", 1, "tier_1") == UUID(
        "e1834574-d9de-560d-b939-efeeeb2ed793"
    )


@settings(deadline=None)
@given(step_args)
def test_escalation_id_is_deterministic(args: tuple[UUID, str, int, str]) -> None:
    assert escalation_id(*args) == escalation_id(*args)
    assert escalation_id(*args).version == 5


@settings(deadline=None)
@given(step_args, step_args)
def test_escalation_id_differs_when_any_input_differs(
    first: tuple[UUID, str, int, str], second: tuple[UUID, str, int, str]
) -> None:
    if first != second:
        assert escalation_id(*first) != escalation_id(*second)


def test_escalation_id_distinct_across_each_input() -> None:
    base = escalation_id(CASE, "resolution", 1, "warning")
    variants = {
        escalation_id(UUID(int=CASE.int + 1), "resolution", 1, "warning"),
        escalation_id(CASE, "first_response", 1, "warning"),
        escalation_id(CASE, "resolution", 2, "warning"),
        escalation_id(CASE, "resolution", 1, "tier_1"),
        # A milestone holding "/" cannot impersonate another cycle.
        escalation_id(CASE, "resolution/1", 1, "warning"),
    }
    assert base not in variants and len(variants) == 5


@pytest.mark.parametrize(("cycle", "step"), [(-1, "warning"), (1, "tier_4")])
def test_escalation_id_refuses_bad_inputs(cycle: int, step: str) -> None:
    with pytest.raises(ValueError):
        escalation_id(CASE, "resolution", cycle, step)


def test_customer_key_ignores_formatting_but_not_salt() -> None:
    key = customer_key("+86 138-0013-8000", "pepper")
    assert key == customer_key("+8613800138000", "pepper")
    assert key != customer_key("+8613800138000", "salt")
    assert key != customer_key("8613800138000", "pepper")
    assert len(key) == 64 and int(key, 16) >= 0


def test_customer_key_refuses_a_non_phone() -> None:
    with pytest.raises(ValueError):
        customer_key("unknown", "pepper")


def test_derived_id_separates_parts() -> None:
    assert derived_id("k", "ab", "c") != derived_id("k", "a", "bc")
    assert derived_id("k", "a") == derived_id("k", "a")
    assert derived_id("k", "a") != derived_id("j", "a")
