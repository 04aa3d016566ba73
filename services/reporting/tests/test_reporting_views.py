"""The case view use case: clock statuses, callbacks, escalations and the plan, as of `now`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from casegold_contracts import Event, dump, escalation_id
from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_reporting.pages import duration, progress
from casegold_reporting.projection import Record, decode, fold
from casegold_reporting.rows import CaseRow, EscalationRow, TimelineRow
from casegold_reporting.views import Delivery, case_view
from casegold_sla import load_policy

POLICY = load_policy(Path(__file__).resolve().parents[3] / "deploy/policy/default.yaml")
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
CASE = uuid.UUID("00000000-0000-4000-8000-000000000002")


def project(*events: Event) -> tuple[CaseRow, list[TimelineRow], list[EscalationRow]]:
    cases = [e for e in events if e.type != "escalation_raised"]
    steps = [e for e in events if e.type == "escalation_raised"]
    records = [Record("c", 0, n, dump(e)) for n, e in enumerate(cases)]
    records += [Record("e", 0, n, dump(e)) for n, e in enumerate(steps)]
    batch = fold(decode(records), {}, POLICY)
    return batch.cases[CASE], batch.timeline, batch.escalations


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_clock_statuses_as_of_now() -> None:
    row, timeline, _ = project(
        make_event("case_opened", case_id=CASE, at=T0, priority="P1"),  # 1 h / 1 d / 3 d
        make_event("case_acknowledged", case_id=CASE, at=at(2)),  # first response late
    )
    view = case_view(row, timeline, [], [], at(30))
    clocks = {c.milestone: c for c in view.clocks}
    assert clocks["first_response"].status == "breached"
    assert clocks["first_response"].elapsed_seconds == 7200
    assert clocks["first_response"].due_at is None
    assert clocks["solution_agreed"].status == "breached"  # 30 h of a 24 h target
    assert clocks["solution_agreed"].remaining_seconds == -6 * 3600
    assert clocks["resolution"].status == "running"
    assert clocks["resolution"].due_at == at(72)
    paused_row, paused_timeline, _ = project(
        make_event("case_opened", case_id=CASE, at=T0, priority="P1"),
        make_event("customer_awaited", case_id=CASE, at=at(0.5)),
    )
    paused = {c.milestone: c for c in case_view(paused_row, paused_timeline, [], [], at(5)).clocks}
    assert (paused["first_response"].status, paused["first_response"].elapsed_seconds) == (
        "paused", 1800,
    )  # fmt: skip


def test_callbacks_escalations_and_the_plan() -> None:
    breach = escalation_id(CASE, "first_response", 1, "tier_1")
    row, timeline, escalations = project(
        make_event("case_opened", case_id=CASE, at=T0, priority="P3"),
        make_event("callback_promised", case_id=CASE, at=at(1), promise_id="a", due_at=at(2)),
        make_event("callback_promised", case_id=CASE, at=at(1), promise_id="b", due_at=at(3)),
        make_event("promise_kept", case_id=CASE, at=at(1.5), promise_id="a"),
        make_escalation_raised(case_id=CASE, due_at=at(12), step="tier_1"),
        make_escalation_raised(case_id=CASE, due_at=at(12), step="tier_1", audience="director"),
        make_event("escalation_acknowledged", case_id=CASE, at=at(13), escalation_id=breach),
    )
    delivery = Delivery(breach, 0, "lead@example.com", "email", "dead", 5, None, "550 no such user")
    view = case_view(row, timeline, escalations, [delivery], at(13))
    assert [(c.promise_id, c.status) for c in view.callbacks] == [("a", "kept"), ("b", "broken")]
    [step] = view.escalations
    assert step.audiences == ["director", "team_lead"]
    assert step.acknowledged is not None and step.acknowledged.by == "manager-1"
    assert step.deliveries[0].dead_lettered and step.deliveries[0].last_error == "550 no such user"
    planned = {(p.milestone, p.step) for p in view.upcoming}
    assert ("first_response", "tier_1") not in planned  # fired
    assert ("first_response", "tier_2") in planned


def test_page_helpers() -> None:
    assert [duration(s) for s in (40, 720, 4 * 3600 + 300, 2 * 86_400 + 3600, -5400)] == [
        "40s", "12m", "4h 05m", "2d 1h", "-1h 30m",
    ]  # fmt: skip
    row, timeline, _ = project(make_event("case_opened", case_id=CASE, at=T0))
    clocks = case_view(row, timeline, [], [], at(6)).clocks
    assert [progress(c) for c in clocks] == [50, 5, 2]  # 6 h of 12 h, 5 d and 15 d (1.7 %)
