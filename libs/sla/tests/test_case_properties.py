"""Properties of the case clock across DST zones with split and overnight shifts and holidays:
pauses shift deadlines by exactly the paused business time, deciding twice sends nothing new,
every step fires once, nothing fires before `next_check_at`, and plan agrees with decide."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from casegold_sla import (
    CaseState,
    PolicySet,
    Rejection,
    business_between,
    clocks,
    decide,
    due_times,
    evolve,
    load_policy_text,
    plan,
)

from .conftest import DST_CHANGES, event, fold, uuid_of

CALENDARS_YAML = """
calendars:
  24x7: {always_open: true}
  berlin:
    timezone: Europe/Berlin
    hours:
      mon: ["08:00-12:00", "13:00-17:00"]
      tue: ["08:00-12:00", "13:00-17:00"]
      wed: ["08:00-12:00", "13:00-17:00"]
      thu: ["08:00-12:00", "13:00-17:00"]
      fri: ["08:00-12:00", "13:00-17:00"]
      sat: ["18:00-23:00"]
      sun: ["01:00-03:30", "22:00-06:00"]
    holidays: [2025-03-31, 2025-10-03]
  new_york:
    timezone: America/New_York
    hours:
      mon: ["09:00-17:00"]
      tue: ["09:00-17:00"]
      wed: ["09:00-17:00"]
      thu: ["09:00-17:00"]
      fri: ["09:00-17:00", "22:00-06:00"]
      sat: ["10:00-14:00"]
      sun: ["01:00-03:00"]
    holidays: [2025-03-10, 2025-11-27]
  shanghai:
    timezone: Asia/Shanghai
    hours:
      mon: ["09:00-12:00", "13:30-18:00"]
      tue: ["09:00-12:00", "13:30-18:00"]
      wed: ["09:00-12:00", "13:30-18:00"]
      thu: ["09:00-12:00", "13:30-18:00"]
      fri: ["09:00-12:00", "13:30-18:00"]
      sat: ["09:00-12:00"]
    holidays: [2025-10-01, 2025-10-02, 2025-10-03]
    working_days: {2025-09-28: mon}
"""

POLICY_YAML = """
timezone: Asia/Shanghai
ladders:
  standard:
    steps:
      - {step: warning, at: 75%, audience: owner}
      - {step: tier_1, at: breach, audience: team_lead, repeat_every: 3h}
      - {step: tier_2, at: breach + 25%, min: 2h, audience: department_manager}
      - {step: tier_3, at: breach + 100%, audience: director, when_sensitive: pr_legal}
policies:
  - name: standard
    calendar: CALENDAR
    ladder: standard
    targets:
      first_response: {P1: 1h, P2: 2h, P3: 3h, P4: 4h}
      solution_agreed: 8h
      resolution: 20h
      revisit: 10h
default_policy: standard
dealer_milestones:
  ladder: standard
  targets: {dealer_first_response: 2h, dealer_solution_agreed: 6h, dealer_resolution: 12h}
immediate:
  sensitive: {step: tier_2, audience: [department_manager, pr_legal]}
  repeat_complainant: {step: tier_1, audience: team_lead}
  reopened: {step: tier_1, audience: team_lead}
  broken_promise: {step: tier_1, audience: team_lead}
special_periods:
  - {name: spring, dates: {from: 2025-03-28, to: 2025-03-31}, target_factor: 0.5,
     ladder_start_tier: 1}
repeat_complainant: {cases: 2, within: 30d}
follow_up:
  revisit_delay: 48h
  contact_window: "09:00-20:00"
  callback_lead_time: 15m
  callback_lease: 10m
  unreachable_attempts: 3
  unreachable_retry_interval: 4h
"""

CALENDAR_NAMES = ("berlin", "new_york", "shanghai", "24x7")


@cache
def policy(calendar: str) -> PolicySet:
    """The property-test policy counting on one calendar."""
    text = CALENDARS_YAML + POLICY_YAML.replace("CALENDAR", calendar)
    return load_policy_text(text, f"properties-{calendar}.yaml")


MINUTE = timedelta(minutes=1)
starts = st.builds(
    lambda base, minutes: base + minutes * MINUTE,
    st.sampled_from(DST_CHANGES),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
)
gaps = st.integers(0, 36 * 60).map(lambda minutes: minutes * MINUTE)
calendars = st.sampled_from(CALENDAR_NAMES)
slow = settings(max_examples=300, deadline=None)


def breach_of(state: CaseState, now: datetime, milestone: str) -> datetime | None:
    """The instant a milestone breaches (its target is reached), if known."""
    return next((c.due_at for c in clocks(state, now) if c.milestone == milestone), None)


@slow
@given(calendars, starts, gaps, gaps, st.sampled_from(["P1", "P2", "P3", "P4"]))
def test_a_pause_shifts_every_running_deadline_by_the_paused_business_time(
    calendar: str, opened: datetime, before: timedelta, pause: timedelta, priority: str
) -> None:
    policies = policy(calendar)
    clock = policies.default.calendar
    state = fold(policies, event("case_opened", opened, priority=priority))
    paused_at, resumed_at = opened + before, opened + before + pause
    due_before = {m: breach_of(state, opened, m) for m in ("first_response", "resolution")}
    resumed = fold(
        policies,
        event("customer_awaited", paused_at),
        event("case_resumed", resumed_at),
        state=state,
    )
    paused_business = business_between(clock, paused_at, resumed_at)
    for milestone, before_due in due_before.items():
        assert before_due is not None
        after_due = breach_of(resumed, resumed_at, milestone)
        if before_due <= paused_at:
            continue  # breached before the pause: already settled
        assert after_due is not None
        assert business_between(clock, before_due, after_due) == paused_business
        target = state.milestone(milestone).rule.target  # type: ignore[union-attr]
        assert (
            business_between(clock, opened, after_due)
            == timedelta(microseconds=target) + paused_business
        )


# One step of a random case history: an event kind, or "decide", after a gap.
ACTIONS = (
    "decide", "decide", "decide", "case_acknowledged", "customer_contacted", "callback_promised",
    "promise_kept", "solution_agreed", "customer_awaited", "case_resumed", "case_resolved",
    "case_closed", "case_reopened", "case_handed_to_dealer", "dealer_responded",
    "dealer_solution_agreed", "repeat_complainant_detected", "escalation_acknowledged",
    "priority_set", "revisit_outcome_recorded",
)  # fmt: skip
histories = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(0, 12 * 60), st.integers(-120, 600)),
    min_size=1,
    max_size=25,
)


def payload_for(kind: str, when: datetime, extra: int, history: dict[str, Any]) -> dict[str, Any]:
    """Payload fields for a random event (promise ids and escalation ids from the history)."""
    if kind == "callback_promised":
        history["promises"] += 1
        return {"promise_id": f"p{history['promises']}", "due_at": when + extra * MINUTE}
    if kind == "promise_kept":
        return {"promise_id": f"p{max(1, history['promises'])}"}
    if kind == "escalation_acknowledged" and history["fired"]:
        return {"escalation_id": history["fired"][extra % len(history["fired"])]}
    return {}


@slow
@given(calendars, starts, st.booleans(), histories)
def test_deciding_is_idempotent_and_every_step_fires_once(
    calendar: str, opened: datetime, sensitive: bool, actions: list[tuple[str, int, int]]
) -> None:
    policies = policy(calendar)
    state = fold(policies, event("case_opened", opened, sensitive=sensitive, event_id=uuid_of(0)))
    now = opened
    sent: set[tuple[object, int]] = set()
    history: dict[str, Any] = {"promises": 0, "fired": []}
    for number, (kind, gap, extra) in enumerate(actions, start=1):
        now += gap * MINUTE
        if kind != "decide":
            fields = payload_for(kind, now, extra, history)
            result = evolve(state, event(kind, now, event_id=uuid_of(number), **fields), policies)
            state = state if isinstance(result, Rejection) else result
            continue
        decision = decide(state, now)
        for escalation in decision.escalations:
            assert escalation.due_at <= now
            key = (escalation.escalation_id, escalation.repeat)
            assert key not in sent, f"{escalation} sent twice"
            sent.add(key)
            history["fired"].append(escalation.escalation_id)
        assert decide(decision.state, now).escalations == ()
        state = decision.state
        next_check = decision.next_check_at
        if next_check is not None:
            assert next_check > now
            quiet = now + (next_check - now) / 2
            assert decide(state, quiet).escalations == ()


def walk(
    policies: Any, state: Any, opened: datetime, actions: list[tuple[str, int, int]]
) -> Iterator[tuple[Any, datetime]]:
    """Apply a generated history to the state: (state, instant) after each action."""
    now = opened
    history: dict[str, Any] = {"promises": 0, "fired": []}
    for number, (kind, gap, extra) in enumerate(actions, start=1):
        now += gap * MINUTE
        if kind == "decide":
            state = decide(state, now).state
        else:
            fields = payload_for(kind, now, extra, history)
            result = evolve(state, event(kind, now, event_id=uuid_of(number), **fields), policies)
            state = state if isinstance(result, Rejection) else result
        yield state, now


@slow
@given(calendars, starts, histories)
def test_plan_agrees_with_decide(
    calendar: str, opened: datetime, actions: list[tuple[str, int, int]]
) -> None:
    policies = policy(calendar)
    first = fold(policies, event("case_opened", opened, event_id=uuid_of(0)))
    state, now = first, opened
    for state, now in walk(policies, first, opened, actions):  # noqa: B007 (the last one counts)
        pass
    upcoming = [p for p in plan(state, now) if p.due_at is not None]
    emitted: dict[tuple[object, int], datetime] = {}
    for planned in upcoming:
        assert planned.due_at is not None
        decision = decide(state, max(planned.due_at, now))
        emitted |= {(e.escalation_id, e.repeat): e.due_at for e in decision.escalations}
        assert emitted[(planned.escalation_id, planned.repeat)] == planned.due_at
        state = decision.state


@slow
@given(calendars, starts, histories)
def test_due_times_are_the_due_instants_of_the_clocks(
    calendar: str, opened: datetime, actions: list[tuple[str, int, int]]
) -> None:
    policies = policy(calendar)
    first = fold(policies, event("case_opened", opened, sensitive=True, event_id=uuid_of(0)))
    for state, now in walk(policies, first, opened, actions):
        views = clocks(state, now)
        assert due_times(state) == {v.milestone: v.due_at for v in views if v.due_at is not None}
