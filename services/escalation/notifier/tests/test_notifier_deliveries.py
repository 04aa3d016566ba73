"""One delivery per recipient of the audience and step; quiet hours hold; stale notices die."""

from datetime import UTC, datetime, timedelta

from casegold_contracts.builders import make_escalation_raised
from casegold_notifier.content import notice_id
from casegold_notifier.deliveries import deliveries_for
from casegold_sla.policy_loader import load_recipients_text

NIGHT_IN_SHANGHAI = datetime(2025, 3, 3, 16, 0, tzinfo=UTC)  # 00:00 local
DAY = timedelta(days=1)
BOOK = load_recipients_text(
    """recipients:
  owner:
    - {name: desk, webhook: {url: "http://127.0.0.1:1/d", secret: 0123456789abcdef}}
  team_lead:
    - &lead
      name: lead
      email: {to: lead@example.test}
      quiet_hours: {timezone: Asia/Shanghai, from: "22:00", to: "08:00", hold: [warning, tier_1]}
    - {name: oncall, slack: {url: "http://127.0.0.1:1/s"}, steps: [tier_2, tier_3]}
  department_manager:
    - *lead
"""
)


def test_each_recipient_of_the_audience_and_step_gets_one_row() -> None:
    event = make_escalation_raised(step="tier_2", audience="team_lead", fired_at=NIGHT_IN_SHANGHAI)
    rows = deliveries_for(event, BOOK, NIGHT_IN_SHANGHAI, DAY)
    assert [(r.recipient, r.channel, r.status) for r in rows] == [
        ("lead", "email", "pending"),  # tier 2 is never held
        ("oncall", "slack", "pending"),
    ]
    assert rows[0].notice_id == notice_id(event.payload.escalation_id, 0, "lead")
    assert rows[0].next_attempt_at == NIGHT_IN_SHANGHAI and rows[0].event_id == event.event_id


def test_quiet_hours_hold_until_the_period_ends() -> None:
    event = make_escalation_raised(step="tier_1", fired_at=NIGHT_IN_SHANGHAI)
    (row,) = deliveries_for(event, BOOK, NIGHT_IN_SHANGHAI, DAY)
    assert (row.recipient, row.status) == ("lead", "held")
    assert row.next_attempt_at == datetime(2025, 3, 4, 0, 0, tzinfo=UTC)  # 08:00 local


def test_one_step_to_two_audiences_reaches_a_shared_recipient_under_one_key() -> None:
    lead = make_escalation_raised(step="tier_3", audience="team_lead", fired_at=NIGHT_IN_SHANGHAI)
    manager = make_escalation_raised(
        step="tier_3", audience="department_manager", fired_at=NIGHT_IN_SHANGHAI
    )
    keys = {
        r.notice_id
        for event in (lead, manager)
        for r in deliveries_for(event, BOOK, NIGHT_IN_SHANGHAI, DAY)
        if r.recipient == "lead"
    }
    assert len(keys) == 1


def test_nobody_configured_means_no_rows_and_stale_notices_are_dead() -> None:
    assert (
        deliveries_for(
            make_escalation_raised(step="tier_1", audience="director"), BOOK, NIGHT_IN_SHANGHAI, DAY
        )
        == []
    )
    old = make_escalation_raised(step="warning", fired_at=NIGHT_IN_SHANGHAI - 2 * DAY)
    (row,) = deliveries_for(old, BOOK, NIGHT_IN_SHANGHAI, DAY)
    assert (row.recipient, row.status, row.last_error) == ("desk", "dead", "stale: fired 2 d ago")
