"""The optional `recipients` section: who the notifier tells, per audience and step."""

from pathlib import Path

import pytest

from casegold_sla import PolicyError, load_policy, load_policy_text
from casegold_sla.policy_loader import load_recipients, load_recipients_text
from casegold_sla.recipients import EmailTarget, QuietHours, SlackTarget, WebhookTarget

from .conftest import POLICY_DIR
from .test_policy import MINIMAL

SECTION = """recipients:
  owner:
    - name: desk
      webhook: {url: "http://127.0.0.1:9100/hook", secret: 0123456789abcdef}
      quiet_hours: {timezone: Asia/Shanghai, from: "22:00", to: "08:00"}
  team_lead:
    - &lead
      name: lead
      email: {to: lead@example.test}
      quiet_hours: {timezone: Europe/Berlin, from: "21:30", to: "23:00", hold: [warning, tier_1]}
    - slack: {url_env: CASEGOLD_TEST_SLACK_URL}
      steps: tier_1
  department_manager:
    - *lead
"""


def test_files_without_the_section_still_load_with_no_recipients() -> None:
    for name in ("fast.yaml",):
        policies = load_policy(POLICY_DIR / name)
        assert policies.recipients.all() == ()
        assert policies.recipients.for_notice("team_lead", "tier_1") == ()


def test_the_default_file_names_a_recipient_for_every_audience() -> None:
    book = load_policy(POLICY_DIR / "default.yaml").recipients
    for audience in ("owner", "team_lead", "department_manager", "director", "pr_legal"):
        assert book.for_notice(audience, "tier_3") or book.for_notice(audience, "warning")
    assert book.for_notice("dealer_management", "warning") == ()
    assert [r.name for r in book.for_notice("dealer_management", "tier_1")] == ["dealer-management"]


def test_a_policy_file_with_the_section() -> None:
    book = load_policy_text(MINIMAL + SECTION).recipients
    (desk,) = book.for_notice("owner", "warning")
    assert desk.name == "desk" and desk.channel == "webhook"
    assert desk.target == WebhookTarget("http://127.0.0.1:9100/hook", "0123456789abcdef")
    assert desk.quiet_hours == QuietHours("Asia/Shanghai", 22 * 3600, 32 * 3600)
    lead, slack = book.for_notice("team_lead", "tier_1")
    assert lead.target == EmailTarget(("lead@example.test",))
    assert lead.quiet_hours is not None and lead.quiet_hours.hold == frozenset(
        {"warning", "tier_1"}
    )
    assert slack.target == SlackTarget(url_env="CASEGOLD_TEST_SLACK_URL")
    assert slack.name.startswith("slack-") and slack.steps == frozenset({"tier_1"})
    assert [r.name for r in book.for_notice("team_lead", "tier_2")] == ["lead"]
    assert [r.name for r in book.for_notice("department_manager", "tier_2")] == ["lead"]
    assert [r.name for r in book.all()] == ["desk", "lead", slack.name]


def test_a_recipients_file_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "recipients.yaml"
    path.write_text(SECTION, encoding="utf-8")
    assert load_recipients(path) == load_recipients_text(SECTION)
    assert load_recipients_text("recipients: {}").all() == ()
    with pytest.raises(PolicyError, match="timezone: unknown key"):
        load_recipients_text(SECTION + "timezone: UTC\n")


@pytest.mark.parametrize(
    ("entry", "path", "problem"),
    [
        ("{email: {to: nobody}}", "recipients.owner[0].email.to", "bad e-mail address"),
        ("{webhook: {url: ftp://x/y, secret: 0123456789abcdef}}", ".webhook.url", "bad url"),
        ("{webhook: {url: 'http://h/x'}}", "owner[0].webhook", "exactly one of secret"),
        ("{webhook: {url: 'http://h/x', secret: short}}", ".webhook.secret", "at least 16"),
        ("{slack: {url_env: lower}}", ".slack.url_env", "bad variable name"),
        ("{slack: {url: 'http://h/s'}, email: {to: a@b.test}}", "owner[0]", "exactly one"),
        ("{name: 'a b', email: {to: a@b.test}}", "owner[0].name", "bad recipient name"),
        ("{email: {to: a@b.test}, steps: [tier_9]}", "owner[0].steps", "Input should be"),
        (
            "{email: {to: a@b.test}, quiet_hours: {timezone: Mars/Base, from: '2:00', to: '6:00'}}",
            "quiet_hours.timezone",
            "unknown timezone",
        ),
        (
            "{email: {to: a@b.test}, quiet_hours: {timezone: UTC, from: '22:00', to: '22:00'}}",
            "owner[0].quiet_hours",
            "empty interval",
        ),
        (
            "{email: {to: a@b.test}, quiet_hours: {timezone: UTC, from: '1', to: '2'}}",
            "owner[0].quiet_hours",
            "bad quiet hours",
        ),
        (
            "{email: {to: a@b.test}, quiet_hours: {timezone: UTC, from: '22:00', to: '06:00',"
            " hold: [tier_2]}}",
            "quiet_hours.hold",
            "tiers 2 and 3 always go at once",
        ),
    ],
)
def test_bad_entries_name_the_path_and_the_problem(entry: str, path: str, problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(MINIMAL + f"recipients:\n  owner:\n    - {entry}\n", "p.yaml")
    message = str(raised.value)
    assert "p.yaml" in message and path in message and problem in message, message


def test_one_name_means_one_destination() -> None:
    twice = "recipients:\n  owner:\n    - {name: a, email: {to: a@b.test}}\n"
    with pytest.raises(PolicyError, match=r"owner\[1\]: recipient 'a' is listed twice"):
        load_recipients_text(twice + "    - {name: a, email: {to: a@b.test}}\n")
    with pytest.raises(PolicyError, match=r"team_lead\[0\]: .* defined differently at"):
        load_recipients_text(twice + "  team_lead:\n    - {name: a, email: {to: c@d.test}}\n")


def test_unknown_audiences_and_policy_errors_are_reported_together() -> None:
    text = MINIMAL.replace("first_response: 1h", "first_response: 1x")
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text + "recipients:\n  boss: []\n")
    message = str(raised.value)
    assert "bad duration '1x'" in message
    assert "unknown audience 'boss'" in message
