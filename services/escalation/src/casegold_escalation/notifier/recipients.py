"""Where the recipients come from, and one ready channel per recipient (secrets resolved)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from casegold_escalation.notifier.channels import (
    Channel,
    EmailChannel,
    SlackChannel,
    SmtpOptions,
    WebhookChannel,
)
from casegold_escalation.notifier.settings import NotifierSettings
from casegold_platform.settings import ConfigError
from casegold_sla import POLICY_FILE_VARIABLE, load_policy
from casegold_sla.policy_loader import load_recipients
from casegold_sla.recipients import EmailTarget, RecipientBook, SlackTarget, WebhookTarget

DEFAULT_POLICY_FILE = "deploy/policy/default.yaml"


def load_book(
    settings: NotifierSettings, environ: Mapping[str, str] | None = None
) -> RecipientBook:
    """CASEGOLD_NOTIFIER_RECIPIENTS_FILE when set, else the policy file's recipients section."""
    variables = os.environ if environ is None else environ
    if settings.recipients_file is not None:
        return load_recipients(settings.recipients_file)
    return load_policy(Path(variables.get(POLICY_FILE_VARIABLE) or DEFAULT_POLICY_FILE)).recipients


def smtp_options(settings: NotifierSettings) -> SmtpOptions:
    """The SMTP connection of every e-mail recipient."""
    start_tls = {"required": True, "opportunistic": None, "off": False}[settings.smtp_starttls]
    return SmtpOptions(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        use_tls=settings.smtp_tls,
        start_tls=start_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        validate_certs=settings.smtp_validate_certs,
        timeout=settings.attempt_timeout_seconds,
    )


def build_channels(
    book: RecipientBook,
    *,
    client: httpx.AsyncClient,
    smtp: SmtpOptions,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """One channel per recipient name; ConfigError names a secret variable that is not set."""
    variables = os.environ if environ is None else environ
    channels: dict[str, Channel] = {}
    for recipient in book.all():
        target = recipient.target
        if isinstance(target, WebhookTarget):
            secret = target.secret or _variable(variables, target.secret_env, recipient.name)
            channels[recipient.name] = WebhookChannel(client, target.url, secret, time.time)
        elif isinstance(target, SlackTarget):
            url = target.url or _variable(variables, target.url_env, recipient.name)
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{target.url_env} (recipient {recipient.name}): not an http(s) URL"
                )
            channels[recipient.name] = SlackChannel(client, url)
        else:
            assert isinstance(target, EmailTarget)
            channels[recipient.name] = EmailChannel(smtp, target.to)
    return channels


def _variable(variables: Mapping[str, str], name: str | None, recipient: str) -> str:
    value = variables.get(name or "", "")
    if not value:
        raise ConfigError(f"{name} (recipient {recipient}): the variable is not set")
    return value
