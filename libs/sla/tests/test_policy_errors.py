"""A bad policy file fails with one PolicyError naming the file, the path inside it and why."""

from pathlib import Path

import pytest

from casegold_sla import PolicyError, load_policy, load_policy_text

from .test_policy import MINIMAL

THIRD_POLICY = """  - name: second
    match: {priority: P1}
    ladder: standard
    targets: {first_response: 1h, solution_agreed: 1d, resolution: 3d}
  - name: third
    match: {priority: P2}
    ladder: standard
    targets: {first_response: 90x, solution_agreed: 1d, resolution: 3d}
default_policy"""


@pytest.mark.parametrize(
    ("old", "new", "path", "problem"),
    [
        (
            "first_response: 1h",
            "first_response: 1x",
            "policies[0].targets.first_response",
            "bad duration '1x'",
        ),
        (
            "default_policy",
            THIRD_POLICY,
            "policies[2].targets.first_response",
            "bad duration '90x'",
        ),
        (
            "first_response: 1h",
            "first_response: {P1: 1h, P2: 2h, P3: 3h, P4: 4y}",
            "policies[0].targets.first_response",
            "P4: bad duration '4y'",
        ),
        (
            "first_response: 1h",
            "first_response: {P1: 1h, P2: 2h}",
            "policies[0].targets.first_response",
            "missing target for P3, P4",
        ),
        (
            "first_response: 1h",
            "first_response: 60",
            "policies[0].targets.first_response",
            "one duration or a duration per priority",
        ),
        (
            "calendar: office",
            "calendar: office2",
            "policies[0].calendar",
            "unknown calendar 'office2'",
        ),
        ("ladder: standard", "ladder: fancy", "policies[0].ladder", "unknown ladder 'fancy'"),
        ("ladder: standard", "ladderr: standard", "policies[0].ladderr", "unknown key"),
        (
            'hours: {mon: ["09:00-18:00"]}',
            'hours: {mon: ["09:00-18:00"], fri2: ["09:00-10:00"]}',
            "calendars.office.hours",
            "unknown weekday 'fri2'",
        ),
        (
            'hours: {mon: ["09:00-18:00"]}',
            'hours: {mon: ["09:00-12:00", "11:00-13:00"]}',
            "calendars.office.hours",
            "overlapping opening hours on mon",
        ),
        (
            'hours: {mon: ["09:00-18:00"]}',
            'hours: {sun: ["22:00-06:00"], mon: ["05:00-18:00"]}',
            "calendars.office.hours",
            "overnight hours of sun overlap mon",
        ),
        (
            'hours: {mon: ["09:00-18:00"]}',
            'hours: {mon: ["9-18"]}',
            "calendars.office.hours.mon[0]",
            "bad opening hours '9-18'",
        ),
        (
            "    timezone: Asia/Shanghai\n    hours",
            "    timezone: Asia/Shangai\n    hours",
            "calendars.office.timezone",
            "unknown timezone 'Asia/Shangai'",
        ),
        (
            "timezone: Asia/Shanghai\ncal",
            "timezone: Mars/Base\ncal",
            "timezone",
            "unknown timezone",
        ),
        ("default_policy: standard\n", "", "default_policy", "missing required key"),
        (
            "default_policy: standard",
            "default_policy: nope",
            "default_policy",
            "no policy named 'nope'",
        ),
        ("at: 75%", "at: soon", "ladders.standard.steps[0].at", "bad step time 'soon'"),
        (
            "- {step: tier_1, at: breach",
            "- {step: warning, at: breach",
            "ladders.standard.steps",
            "step warning appears twice",
        ),
        ("audience: owner", "audience: ceo", "ladders.standard.steps[0].audience[0]", "'owner'"),
        (
            "special_periods: []",
            "sensitive_keywords: [记者, 3.15]\nspecial_periods: []",
            "sensitive_keywords[1]",
            "keyword 3.15 must be quoted",
        ),
        (
            "special_periods: []",
            "special_periods: [{name: x, yearly: {from: '03-08', to: '03-22'},"
            " dates: {from: 2025-01-01, to: 2025-01-02}, target_factor: 0.5}]",
            "special_periods[0]",
            "exactly one of yearly or dates",
        ),
        (
            "special_periods: []",
            "special_periods: [{name: x, yearly: {from: '02-30', to: '03-22'},"
            " target_factor: 0.5}]",
            "special_periods[0].yearly.from",
            "bad month-day '02-30'",
        ),
        (
            "revisit_delay: 48h",
            "revisit_delay: 48h\n  holidays_from: nowhere",
            "follow_up.holidays_from",
            "unknown calendar 'nowhere'",
        ),
        (
            "special_periods: []",
            "special_periods: []\npriority_rules: [{match: {priority: P1}, priority: P2}]",
            "priority_rules[0].match",
            "cannot match on priority",
        ),
        (
            "first_response: 1h",
            "first_response: 0s",
            "policies[0].targets.first_response",
            "must be longer than 0s",
        ),
        (
            "first_response: 1h",
            "first_response: {P1: 0m, P2: 2h, P3: 3h, P4: 4h}",
            "policies[0].targets.first_response",
            "P1: 0m must be longer than 0s",
        ),
        (
            "- {step: tier_1, at: breach, audience: team_lead}",
            "- {step: tier_1, at: breach, audience: team_lead, repeat_every: 0s}",
            "ladders.standard.steps[1].repeat_every",
            "must be longer than 0s",
        ),
        (
            "callback_lease: 10m",
            "callback_lease: 0s",
            "follow_up.callback_lease",
            "must be longer than 0s",
        ),
        (
            "repeat_complainant: {cases: 2, within: 30d}",
            "repeat_complainant: {cases: 2, within: 0d}",
            "repeat_complainant.within",
            "must be longer than 0s",
        ),
        (
            "repeat_complainant: {cases: 2, within: 30d}",
            "repeat_complainant: {cases: 1, within: 30d}",
            "repeat_complainant.cases",
            "greater than or equal to 2",
        ),
    ],
)
def test_error_names_file_path_and_problem(old: str, new: str, path: str, problem: str) -> None:
    assert old in MINIMAL
    with pytest.raises(PolicyError) as caught:
        load_policy_text(MINIMAL.replace(old, new, 1), "deploy/policy/custom.yaml")
    message = str(caught.value)
    assert "deploy/policy/custom.yaml" in message
    assert f"{path}: " in message, message
    assert problem in message, message
    assert any(p.path == path for p in caught.value.problems)


def test_yaml_syntax_error_names_the_line() -> None:
    broken = MINIMAL.replace("ladders:\n", "ladders:\n  standard: [\n", 1)
    with pytest.raises(PolicyError, match=r"YAML syntax error at line \d+, column \d+"):
        load_policy_text(broken, "broken.yaml")


def test_duplicate_keys_are_refused() -> None:
    doubled = MINIMAL.replace(
        "default_policy: standard", "default_policy: standard\ndefault_policy: x"
    )
    with pytest.raises(PolicyError, match=r"duplicate key 'default_policy' \(line \d+\)"):
        load_policy_text(doubled, "doubled.yaml")


def test_several_problems_are_all_listed() -> None:
    text = MINIMAL.replace("first_response: 1h", "first_response: 1x").replace(
        "resolution: 3d", "resolution: 3q"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "two.yaml")
    assert [p.path for p in caught.value.problems] == [
        "policies[0].targets.first_response",
        "policies[0].targets.resolution",
    ]


def test_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match="must be a YAML mapping"):
        load_policy_text("- a\n- b\n", "list.yaml")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match=f"invalid policy file {missing}"):
        load_policy(missing)
