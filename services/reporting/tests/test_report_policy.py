"""The policy's optional `reports` section: defaults, values, and a clear error for a bad one."""

from __future__ import annotations

import pytest

from casegold_sla import PolicyError, load_policy_text
from tests.support.reporting import OFFICE_POLICY


def test_without_the_section_the_defaults_apply() -> None:
    reports = load_policy_text(OFFICE_POLICY).reports
    assert (reports.timezone, reports.dealer_flag_z, reports.agent_load_factor) == ("UTC", 2.0, 1.5)


def test_the_section_sets_the_zone_and_thresholds() -> None:
    text = (
        OFFICE_POLICY
        + "reports: {timezone: Asia/Shanghai, dealer_flag_z: 3, agent_load_factor: 2}\n"
    )
    reports = load_policy_text(text).reports
    assert (reports.timezone, reports.dealer_flag_z, reports.agent_load_factor) == (
        "Asia/Shanghai", 3.0, 2.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("section", "path", "fragment"),
    [
        ("{dealer_flag_z: 0}", "reports.dealer_flag_z", "greater than 0"),
        ("{dealer_flag_z: many}", "reports.dealer_flag_z", "valid number"),
        ("{agent_load_factor: 1}", "reports.agent_load_factor", "greater than 1"),
        ("{timezone: Mars/Olympus}", "reports.timezone", "Mars/Olympus"),
        ("{dealer_z: 2}", "reports.dealer_z", "unknown key"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(section: str, path: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(OFFICE_POLICY + f"reports: {section}\n", "policy.yaml")
    message = str(raised.value)
    assert path in message and fragment in message and "policy.yaml" in message
