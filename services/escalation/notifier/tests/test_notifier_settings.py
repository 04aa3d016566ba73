"""Start-up configuration: typed settings that name the variable, recipients and their secrets."""

import os
from pathlib import Path

import httpx
import pytest

from casegold_notifier.adapters.channels import EmailChannel, SlackChannel, WebhookChannel
from casegold_notifier.settings import NotifierSettings, load_book, load_settings
from casegold_notifier.wiring import build_channels, smtp_options
from casegold_platform.settings import ConfigError, PolicySettings
from casegold_sla.policy_loader import load_recipients_text

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CASEGOLD_NOTIFIER_", "CASEGOLD_REPORTING", "CASEGOLD_INTAKE_URL")):
            monkeypatch.delenv(name)


def test_defaults_work_on_the_local_stack() -> None:
    settings, links = load_settings()
    assert (settings.group_id, settings.port, settings.recipients_file) == (
        "casegold-notifier",
        8085,
        None,
    )
    assert links.reporting_url == "http://127.0.0.1:8084"
    assert links.intake_url == "http://127.0.0.1:8081"
    assert smtp_options(settings).start_tls is None


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CASEGOLD_NOTIFIER_PORT", "0", "CASEGOLD_NOTIFIER_PORT"),
        ("CASEGOLD_NOTIFIER_MAX_ATTEMPTS", "many", "CASEGOLD_NOTIFIER_MAX_ATTEMPTS"),
        ("CASEGOLD_NOTIFIER_SMTP_STARTTLS", "maybe", "CASEGOLD_NOTIFIER_SMTP_STARTTLS"),
        ("CASEGOLD_REPORTING_URL", "ftp://x", "CASEGOLD_REPORTING_URL"),
        ("CASEGOLD_NOTIFIER_CLAIM_LEASE_SECONDS", "12", "CASEGOLD_NOTIFIER_CLAIM_LEASE_SECONDS"),
        ("CASEGOLD_NOTIFIER_BACKOFF_CAP_SECONDS", "1", "CASEGOLD_NOTIFIER_BACKOFF_CAP_SECONDS"),
        ("CASEGOLD_NOTIFIER_SMTP_USERNAME", "u", "CASEGOLD_NOTIFIER_SMTP_PASSWORD"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_credentials_are_not_sent_in_clear_over_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_USERNAME", "notifier")
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_PASSWORD", "secret")
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_HOST", "mail.example.test")
    with pytest.raises(ConfigError, match="SMTP_STARTTLS=required"):
        load_settings()
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_STARTTLS", "required")
    settings, _ = load_settings()
    assert smtp_options(settings).start_tls is True
    assert smtp_options(settings).password == "secret"
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CASEGOLD_NOTIFIER_SMTP_STARTTLS", "off")
    assert load_settings()[0].smtp_starttls == "off"  # loopback: a local relay


def test_recipients_come_from_the_policy_file_or_the_override(tmp_path: Path) -> None:
    policy = PolicySettings(policy_file=REPO / "deploy" / "policy" / "default.yaml")
    book = load_book(NotifierSettings(), policy)
    assert "team-leads-slack" in {r.name for r in book.all()}
    override = tmp_path / "recipients.yaml"
    override.write_text("recipients:\n  owner:\n    - {name: me, email: {to: me@x.test}}\n")
    book = load_book(NotifierSettings(recipients_file=override), policy)
    assert [r.name for r in book.all()] == ["me"]


async def test_channels_resolve_secrets_from_variables() -> None:
    book = load_recipients_text(
        """recipients:
  team_lead:
    - {name: hook, webhook: {url: "http://127.0.0.1:1/h", secret_env: CASEGOLD_TEST_HOOK_SECRET}}
    - {name: chat, slack: {url_env: CASEGOLD_TEST_SLACK_URL}}
    - {name: mail, email: {to: lead@x.test}}
"""
    )
    settings = NotifierSettings()
    environ = {
        "CASEGOLD_TEST_HOOK_SECRET": "from-the-environment",
        "CASEGOLD_TEST_SLACK_URL": "https://hooks.slack.test/T/B/X",
    }
    async with httpx.AsyncClient() as client:
        channels = build_channels(book, client=client, smtp=smtp_options(settings), environ=environ)
        hook, chat, mail = channels["hook"], channels["chat"], channels["mail"]
        assert isinstance(hook, WebhookChannel) and hook.secret == "from-the-environment"
        assert isinstance(chat, SlackChannel) and chat.url.startswith("https://hooks.slack.test")
        assert isinstance(mail, EmailChannel) and mail.to == ("lead@x.test",)
        with pytest.raises(ConfigError, match=r"CASEGOLD_TEST_SLACK_URL .*not set"):
            partial = {"CASEGOLD_TEST_HOOK_SECRET": "x"}
            build_channels(book, client=client, smtp=smtp_options(settings), environ=partial)
