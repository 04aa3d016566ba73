"""A refused command never changes what fires or when (property test over event sequences)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from casegold_contracts import ESCALATIONS, EscalationRaised, Event, parse
from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_escalation.processor import CaseProcessor, CaseUpdate, Topics
from casegold_sla import PolicyRegistry, load_policy, to_us
from tests.support import repo_root

T0 = DEFAULT_TIME
CASE = UUID("00000000-0000-4000-8000-0000000000c3")
HORIZON = T0 + timedelta(seconds=90)
# The timer sends a case's tick this long after it falls due; a command may land in between.
TIMER_LAG = timedelta(milliseconds=400)
PROCESSOR = CaseProcessor(
    PolicyRegistry(load_policy(Path(repo_root(), "deploy", "policy", "fast.yaml"))),
    Topics("customers"),
)
ACCEPTED = ("note_added", "customer_awaited", "case_resumed", "case_acknowledged", "case_assigned")
# Commands refused in every state the accepted ones reach (the test checks each was refused):
# the case exists, it is not closed or resolved, it has no dealer clock, no promise was made.
REFUSED = (
    "case_opened",
    "case_closed",
    "case_reopened",
    "dealer_responded",
    "dealer_solution_agreed",
    "promise_kept",
)


def run(events: list[Event], refusals: list[str] | None = None) -> list[tuple[UUID, str, datetime]]:
    """Feed events in order, with the ticks a timer sends in between; the steps fired, when
    (and the reasons of the refusals, into `refusals`)."""
    record: bytes | None = None
    next_check: int | None = None
    fired: list[tuple[UUID, str, datetime]] = []

    def keep(update: CaseUpdate, at: datetime) -> None:
        nonlocal record, next_check
        if update.rejection is not None and refusals is not None:
            refusals.append(update.rejection.reason)
        record, next_check = update.stored, update.next_check_us
        for message in update.messages:
            event = parse(message.value)
            if message.topic == ESCALATIONS and isinstance(event, EscalationRaised):
                fired.append((event.payload.escalation_id, event.payload.audience, at))

    def ticks_until(limit: datetime) -> None:
        while next_check is not None and record is not None:
            at = datetime.fromtimestamp(next_check / 1e6, T0.tzinfo) + TIMER_LAG
            if at > limit:
                return
            keep(PROCESSOR.on_tick(record, at), at)

    for event in events:
        ticks_until(event.occurred_at)
        keep(PROCESSOR.on_event(record, event, event.occurred_at), event.occurred_at)
    ticks_until(HORIZON)
    return fired


@st.composite
def sequences(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    """(accepted-or-not events, the same with refused commands inserted), both time-ordered."""
    priority = draw(st.sampled_from(["P1", "P2"]))
    base: list[Event] = [make_case_opened(case_id=CASE, at=T0, recorded_at=T0, priority=priority)]
    offsets = sorted(draw(st.lists(st.integers(1, 30_000), max_size=6)))
    for ms in offsets:
        kind = draw(st.sampled_from(ACCEPTED))
        base.append(make_event(kind, case_id=CASE, at=T0 + timedelta(milliseconds=ms)))
    refused_at = sorted(draw(st.lists(st.integers(1, 40_000), min_size=1, max_size=5)))
    with_refused = list(base)
    for ms in refused_at:
        at = T0 + timedelta(milliseconds=ms)
        kind = draw(st.sampled_from(REFUSED))
        if kind == "case_opened":
            with_refused.append(make_case_opened(case_id=CASE, at=at, recorded_at=at))
        else:
            with_refused.append(make_event(kind, case_id=CASE, at=at))
    with_refused.sort(key=lambda e: to_us(e.occurred_at))
    return base, with_refused


@settings(max_examples=150, deadline=None)
@given(sequences())
def test_refused_commands_leave_the_fired_steps_and_their_instants_unchanged(
    pair: tuple[list[Event], list[Event]],
) -> None:
    base, with_refused = pair
    refused: list[str] = []
    refused_before: list[str] = []  # the base may hold refusals too (a resume while not paused)
    assert run(with_refused, refused) == run(base, refused_before)
    inserted = len(with_refused) - len(base)
    assert len(refused) == len(refused_before) + inserted, "every inserted command was refused"


def test_a_refusal_while_a_step_is_due_keeps_the_step_s_instant() -> None:
    # P1 warning at 3 s; a refused opening at 3.2 s lands before the timer's tick at 3.4 s.
    opened = make_case_opened(case_id=CASE, at=T0, recorded_at=T0, priority="P1")
    at = T0 + timedelta(seconds=3.2)
    refused = make_case_opened(case_id=CASE, at=at, recorded_at=at)
    first = PROCESSOR.on_event(None, opened, T0)
    update = PROCESSOR.on_event(first.stored, refused, at)
    assert update.rejection is not None
    assert update.next_check_us == first.next_check_us == to_us(T0 + timedelta(seconds=3))
