"""The rollups a batch adds: opening facts follow the row, event facts count once, on their day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from casegold_contracts import Event, dump
from casegold_contracts.builders import make_event
from casegold_reporting.projection import Record, decode, fold
from casegold_reporting.report_math import bucket_of
from casegold_reporting.rows import CaseRow
from casegold_sla import PolicySet, load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy/policy/default.yaml"
# 23:30 UTC is 07:30 the next day in Shanghai, the default policy's zone.
T0 = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
CASE = uuid.UUID("00000000-0000-4000-8000-000000000002")


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policy(POLICY)


def records(events: Sequence[Event], first: int = 0) -> list[Record]:
    return [Record("cases", 0, first + n, dump(e)) for n, e in enumerate(events)]


def nonzero(daily: dict[tuple[date, str, str, str], list[int]]) -> dict[tuple[str, ...], int]:
    return {(d.isoformat(), m, k, s): n for (d, m, k, s), (n, _) in daily.items() if n}


def test_a_lifecycle_counts_its_opening_clocks_durations_and_root_cause(
    policies: PolicySet,
) -> None:
    events = [
        make_event(
            "case_opened",
            case_id=CASE,
            at=T0,
            priority="P2",
            category="billing",
            channel="web",
            dealer_id="dealer-9",
        ),
        make_event("case_assigned", case_id=CASE, at=T0 + timedelta(minutes=5), owner="li.na"),
        make_event("case_acknowledged", case_id=CASE, at=T0 + timedelta(hours=1)),
        make_event("case_resolved", case_id=CASE, at=T0 + timedelta(hours=30)),
    ]
    batch = fold(decode(records(events)), {}, policies)
    daily = nonzero(batch.rollups.daily)
    tuesday, wednesday = "2025-03-04", "2025-03-05"
    assert daily[(tuesday, "opened", "", "")] == 1
    assert daily[(tuesday, "opened.category", "billing", "")] == 1
    assert daily[(tuesday, "opened.dealer", "dealer-9", "")] == 1
    assert daily[(tuesday, "clock", "first_response", "met")] == 1
    assert daily[(tuesday, "duration.first_response", str(bucket_of(3600)), "")] == 1
    assert daily[(wednesday, "resolved", "", "")] == 1
    assert daily[(wednesday, "root_cause", "product", "")] == 1
    micros = batch.rollups.daily[
        (date(2025, 3, 5), "duration.resolution", str(bucket_of(30 * 3600)), "")
    ]
    assert micros == [1, 30 * 3600 * 1_000_000]
    assert batch.rollups.agents == {
        "li.na": [1, 0, 1, 1, 0]
    }  # open, sensitive, cases, resolved, reopened
    assert batch.rollups.timezone == "Asia/Shanghai"


def test_a_redelivery_adds_nothing_and_a_change_moves_the_counts(policies: PolicySet) -> None:
    opened = make_event("case_opened", case_id=CASE, at=T0, priority="P3")
    assigned = make_event("case_assigned", case_id=CASE, at=T0 + timedelta(minutes=1), owner="a")
    first = fold(decode(records([opened, assigned])), {}, policies)
    known: dict[uuid.UUID, CaseRow] = {CASE: replace(first.cases[CASE])}
    again = fold(decode(records([opened, assigned])), known, policies)
    assert nonzero(again.rollups.daily) == {} and again.rollups.agent_rows() == []
    later = [
        make_event("priority_set", case_id=CASE, at=T0 + timedelta(hours=1), priority="P1"),
        make_event("case_assigned", case_id=CASE, at=T0 + timedelta(hours=2), owner="b"),
    ]
    moved = fold(decode(records(later, first=2)), known, policies)
    assert nonzero(moved.rollups.daily) == {
        ("2025-03-04", "opened.priority", "P3", ""): -1,
        ("2025-03-04", "opened.priority", "P1", ""): 1,
    }
    assert moved.rollups.agent_rows() == [("a", -1, 0, -1, 0, 0), ("b", 1, 0, 1, 0, 0)]
    assert moved.rollups.daily_rows() == sorted(moved.rollups.daily_rows())
