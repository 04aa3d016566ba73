"""The shipped policy files, policy selection, special periods and ladder resolution."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from casegold_sla import CasePolicy, PolicySet, load_policy_text
from casegold_sla.durations import DAY, HOUR, parse_duration
from casegold_sla.instants import to_us
from casegold_sla.ladder import Ladder, LadderStep, parse_at

MINUTE = 60 * 1_000_000

SPEC_TARGETS = {
    "first_response": {"P1": "1h", "P2": "4h", "P3": "12h", "P4": "24h"},
    "solution_agreed": {"P1": "1d", "P2": "2d", "P3": "5d", "P4": "5d"},
    "resolution": {"P1": "3d", "P2": "7d", "P3": "15d", "P4": "15d"},
}


def case_policy(
    policies: PolicySet, priority: str = "P3", *, when: str = "2025-06-02", **fields: Any
) -> CasePolicy:
    """The frozen policy of a case opened at 04:00 UTC on `when`."""
    opened = to_us(datetime.fromisoformat(f"{when}T04:00:00+00:00"))
    defaults: dict[str, Any] = {
        "category": "product",
        "channel": "ivr",
        "dealer_id": None,
        "sensitive": False,
    }
    return policies.freeze(priority=priority, opened_at=opened, **{**defaults, **fields})


@pytest.mark.parametrize("milestone", sorted(SPEC_TARGETS))
@pytest.mark.parametrize("priority", ["P1", "P2", "P3", "P4"])
def test_default_targets_are_the_spec_defaults(
    default_policy: PolicySet, milestone: str, priority: str
) -> None:
    rule = case_policy(default_policy, priority).rule(milestone, priority)
    assert rule is not None
    assert rule.target == parse_duration(SPEC_TARGETS[milestone][priority])


def test_default_ladder_is_the_spec_ladder(default_policy: PolicySet) -> None:
    rule = case_policy(default_policy, "P2").rule("first_response", "P2")  # 4 h target
    assert rule is not None
    steps = [(s.step, s.tier, s.offset, s.audience, s.reason) for s in rule.steps]
    assert steps == [
        ("warning", 0, 3 * HOUR, ("owner",), "sla_warning"),
        ("tier_1", 1, 4 * HOUR, ("team_lead",), "sla_breach"),
        # breach + 25 % is 1 h, below the 2 h minimum.
        ("tier_2", 2, 6 * HOUR, ("department_manager",), "sla_breach"),
        ("tier_3", 3, 8 * HOUR, ("director",), "sla_breach"),
    ]
    resolution = case_policy(default_policy, "P2").rule("resolution", "P2")  # 7 d target
    assert resolution is not None
    assert resolution.steps[2].offset == 7 * DAY + 7 * DAY // 4


def test_sensitive_cases_tell_pr_legal_at_tier_3(default_policy: PolicySet) -> None:
    rule = case_policy(default_policy, "P3", sensitive=True).rule("resolution", "P3")
    assert rule is not None
    assert rule.steps[-1].audience == ("director", "pr_legal")
    sensitive = case_policy(default_policy, sensitive=True).rule("sensitive", "")
    assert sensitive is not None
    assert [(s.step, s.offset, s.audience) for s in sensitive.steps] == [
        ("tier_2", 0, ("department_manager", "pr_legal"))
    ]


def test_default_dealer_milestones(default_policy: PolicySet) -> None:
    policy = case_policy(default_policy, "P1")
    targets = {
        kind: policy.rule(kind, "P1").target  # type: ignore[union-attr]
        for kind in ("dealer_first_response", "dealer_solution_agreed", "dealer_resolution")
    }
    assert targets == {
        "dealer_first_response": 12 * HOUR,
        "dealer_solution_agreed": 5 * DAY,
        "dealer_resolution": 15 * DAY,
    }
    rule = policy.rule("dealer_first_response", "P1")
    assert rule is not None
    assert {a for step in rule.steps for a in step.audience} == {"dealer_management"}


def test_default_policy_counts_on_24x7_and_ships_the_office_calendar(
    default_policy: PolicySet,
) -> None:
    assert default_policy.default.calendar.always_open
    office = default_policy.calendars["shanghai_office"]
    assert office.timezone == "Asia/Shanghai"
    monday = datetime.fromisoformat("2025-06-09T09:00:00+08:00")
    assert office.between_us(to_us(monday), to_us(monday + timedelta(days=7))) == (5 * 9 + 3) * HOUR


def test_default_sensitive_keywords_repeat_rule_and_follow_up(default_policy: PolicySet) -> None:
    chinese = ("记者", "媒体", "曝光", "律师", "起诉")
    assert default_policy.sensitive_keywords == (
        *chinese, "12315", "3.15", "journalist", "lawyer", "regulator",
    )  # fmt: skip
    assert default_policy.sensitive_reasons("我要找记者曝光", "Lawyer will call") == (
        "记者",
        "曝光",
        "lawyer",
    )
    assert default_policy.sensitive_reasons("正常的投诉") == ()
    assert (default_policy.repeat_rule.cases, default_policy.repeat_rule.within) == (2, 30 * DAY)
    follow_up = default_policy.follow_up
    assert follow_up.revisit_delay == 48 * HOUR
    assert follow_up.contact_window == (9 * 3600, 20 * 3600)
    assert follow_up.callback_lead_time == 15 * MINUTE


def test_repeat_rule_counts_this_case(default_policy: PolicySet) -> None:
    rule = default_policy.repeat_rule
    now = datetime.fromisoformat("2025-06-30T00:00:00+00:00")
    assert rule.is_repeat([now - timedelta(days=29)], now)
    assert not rule.is_repeat([now - timedelta(days=31)], now)
    assert not rule.is_repeat([], now)


@pytest.mark.parametrize(
    ("when", "factor_applies"),
    [
        ("2025-03-07", False),
        ("2025-03-08", True),
        ("2025-03-15", True),
        ("2025-03-22", True),
        ("2025-03-23", False),
        ("2026-03-10", True),
    ],
)
def test_special_period_halves_targets_and_starts_at_tier_1(
    default_policy: PolicySet, when: str, factor_applies: bool
) -> None:
    # 12:00 Shanghai time on that date.
    opened = to_us(datetime.fromisoformat(f"{when}T12:00:00+08:00"))
    policy = default_policy.freeze(
        priority="P2", category="product", channel="ivr", dealer_id=None, sensitive=False,
        opened_at=opened,
    )  # fmt: skip
    rule = policy.rule("first_response", "P2")
    assert rule is not None
    if not factor_applies:
        assert policy.period is None and rule.target == 4 * HOUR
        return
    assert policy.period is not None and policy.period.name == "consumer_rights_day"
    assert rule.target == 2 * HOUR
    # The warning is gone; tier 1 fires where the warning would have (75 % of 2 h).
    assert [(s.step, s.offset, s.reason) for s in rule.steps] == [
        ("tier_1", 90 * MINUTE, "sla_warning"),
        ("tier_2", 2 * HOUR + 2 * HOUR, "sla_breach"),
        ("tier_3", 4 * HOUR, "sla_breach"),
    ]


def test_special_period_uses_the_local_date() -> None:
    text = MINIMAL.replace(
        "special_periods: []",
        "special_periods:\n"
        "  - {name: year_end, yearly: {from: '12-20', to: '01-05'}, target_factor: 0.5}\n"
        "  - {name: launch, dates: {from: 2025-06-01, to: 2025-06-03}, timezone: UTC,"
        " target_factor: 2}",
    )
    policies = load_policy_text(text)
    # 2025-12-19 17:00 UTC is already 12-20 in Shanghai; the range wraps the new year.
    assert policies.special_period_at(to_us(datetime.fromisoformat("2025-12-19T17:00:00+00:00")))
    assert policies.special_period_at(to_us(datetime.fromisoformat("2026-01-05T12:00:00+00:00")))
    assert not policies.special_period_at(
        to_us(datetime.fromisoformat("2026-01-06T12:00:00+00:00"))
    )
    launch = policies.special_period_at(to_us(datetime.fromisoformat("2025-06-03T23:00:00+00:00")))
    assert launch is not None and launch.name == "launch"


def test_first_matching_policy_wins_else_default() -> None:
    text = MINIMAL.replace(
        "policies:\n",
        "policies:\n"
        "  - {name: vip_dealer, match: {dealer: [D1], priority: [P1, P2]}, ladder: standard,"
        " targets: {first_response: 10m, solution_agreed: 1h, resolution: 2h}}\n"
        "  - {name: social, match: {channel: social, sensitive: true}, ladder: standard,"
        " targets: {first_response: 20m, solution_agreed: 1h, resolution: 2h}}\n"
        "  - {name: any_dealer_p1, match: {priority: P1, dealer: [D1, D2]}, ladder: standard,"
        " targets: {first_response: 30m, solution_agreed: 1h, resolution: 2h}}\n",
    )
    policies = load_policy_text(text)

    def chosen(**fields: Any) -> str:
        base: dict[str, Any] = {
            "priority": "P1", "category": "billing", "channel": "ivr", "dealer_id": None,
            "sensitive": False,
        }  # fmt: skip
        return policies.select(**{**base, **fields}).name

    assert chosen(dealer_id="D1") == "vip_dealer"
    assert chosen(dealer_id="D2") == "any_dealer_p1"
    assert chosen(dealer_id="D1", priority="P3") == "standard"
    assert chosen(channel="social", sensitive=True, dealer_id="D1") == "vip_dealer"
    assert chosen(channel="social", sensitive=True) == "social"
    assert chosen(channel="social") == "standard"


def test_fast_policy_has_second_scale_targets(fast_policy: PolicySet) -> None:
    policy = case_policy(fast_policy, "P1")
    rule = policy.rule("first_response", "P1")
    assert rule is not None and rule.target == 4 * 1_000_000
    assert policy.calendar.always_open


def test_frozen_snapshots_are_shared(default_policy: PolicySet) -> None:
    assert case_policy(default_policy, "P1") is case_policy(default_policy, "P4")
    assert case_policy(default_policy) is not case_policy(default_policy, sensitive=True)


@pytest.mark.parametrize(
    ("at", "target", "minimum", "expected"),
    [
        ("75%", 4 * HOUR, None, 3 * HOUR),
        ("30m", 4 * HOUR, None, 30 * MINUTE),
        ("breach", 4 * HOUR, None, 4 * HOUR),
        ("breach + 25%", 4 * HOUR, None, 5 * HOUR),
        ("breach + 25%", 4 * HOUR, 2 * HOUR, 6 * HOUR),
        ("breach + 25%", 12 * HOUR, 2 * HOUR, 15 * HOUR),
        ("breach - 1h", 4 * HOUR, None, 3 * HOUR),
        ("breach - 1h", 30 * MINUTE, None, 0),
        ("breach + 2h", 4 * HOUR, None, 6 * HOUR),
        ("breach + 100%", 4 * HOUR, None, 8 * HOUR),
    ],
)
def test_step_offsets(at: str, target: int, minimum: int | None, expected: int) -> None:
    assert parse_at(at).resolve(target, minimum) == expected


def test_ladder_start_tier_2_moves_tier_2_to_the_warning_point() -> None:
    ladder = Ladder(
        "l",
        (
            LadderStep("warning", parse_at("50%"), ("owner",)),
            LadderStep("tier_1", parse_at("breach"), ("team_lead",)),
            LadderStep("tier_2", parse_at("breach + 50%"), ("department_manager",)),
        ),
    )
    steps = ladder.resolve(4 * HOUR, sensitive=False, start_tier=2)
    assert [(s.step, s.offset) for s in steps] == [("tier_2", 2 * HOUR)]


MINIMAL = """
timezone: Asia/Shanghai
calendars:
  office:
    timezone: Asia/Shanghai
    hours: {mon: ["09:00-18:00"]}
ladders:
  standard:
    steps:
      - {step: warning, at: 75%, audience: owner}
      - {step: tier_1, at: breach, audience: team_lead}
policies:
  - name: standard
    calendar: office
    ladder: standard
    targets: {first_response: 1h, solution_agreed: 1d, resolution: 3d}
default_policy: standard
immediate:
  sensitive: {step: tier_2, audience: [department_manager, pr_legal]}
  repeat_complainant: {step: tier_1, audience: team_lead}
  reopened: {step: tier_1, audience: team_lead}
  broken_promise: {step: tier_1, audience: team_lead}
special_periods: []
repeat_complainant: {cases: 2, within: 30d}
follow_up:
  revisit_delay: 48h
  contact_window: "09:00-20:00"
  callback_lead_time: 15m
  callback_lease: 10m
  unreachable_attempts: 3
  unreachable_retry_interval: 4h
"""


def test_minimal_policy_loads() -> None:
    policies = load_policy_text(MINIMAL, "minimal.yaml")
    assert policies.default.name == "standard"
    assert policies.dealer is None
    assert len(policies.version) == 16


def test_default_priority_rules(default_policy: PolicySet) -> None:
    def priority(**fields: Any) -> str:
        base: dict[str, Any] = {
            "category": "product", "channel": "ivr", "dealer_id": None, "sensitive": False,
        }  # fmt: skip
        return default_policy.default_priority(**{**base, **fields})

    assert priority() == "P3"
    assert priority(sensitive=True) == "P2"
    rules = MINIMAL.replace(
        "special_periods: []",
        "special_periods: []\npriority_rules:\n"
        "  - {match: {category: billing, channel: [phone, web]}, priority: P4}\n"
        "  - {match: {dealer: [D1]}, priority: P1}\ndefault_priority: P2",
    )
    policies = load_policy_text(rules)
    base: dict[str, Any] = {"category": "billing", "channel": "web", "dealer_id": "D1"}
    assert policies.default_priority(**base, sensitive=False) == "P4"
    assert policies.default_priority(**{**base, "channel": "ivr"}, sensitive=False) == "P1"
    assert (
        policies.default_priority(**{**base, "dealer_id": None, "channel": "ivr"}, sensitive=False)
        == "P2"
    )


def test_sensitive_keywords_do_not_match_inside_numbers_or_words(
    default_policy: PolicySet,
) -> None:
    assert default_policy.sensitive_reasons("refund of 13.15 yuan", "order 2023123156") == ()
    assert default_policy.sensitive_reasons("我要打12315投诉", "3.15晚会") == ("12315", "3.15")
