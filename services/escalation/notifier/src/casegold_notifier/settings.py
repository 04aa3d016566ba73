"""Settings of the notifier, from CASEGOLD_NOTIFIER_* (and the shared CASEGOLD_*_URL links)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_platform.settings import ENV_PREFIX, ConfigError, LogLevel, PolicySettings, load
from casegold_sla.policy_loader import load_recipients
from casegold_sla.recipients import RecipientBook

# The notifier's own variables; ENV_PREFIX is the project's (CASEGOLD_).
NOTIFIER_PREFIX = ENV_PREFIX + "NOTIFIER_"


def _worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(BaseSettings):
    """How one notifier process runs; several may share the group and the delivery log."""

    model_config = SettingsConfigDict(env_prefix=NOTIFIER_PREFIX, extra="ignore")

    group_id: str = Field("casegold-notifier", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
    # Where a group without committed offsets starts: earliest loses nothing; latest skips the
    # topic's history when a notifier is attached to an old topic for the first time.
    start_from: Literal["earliest", "latest"] = "earliest"
    worker_name: str = Field(default_factory=_worker_name, min_length=1, max_length=100)
    host: str = "127.0.0.1"
    port: int = Field(8085, ge=1, le=65535, description="/healthz, /readyz and /metrics")
    recipients_file: Path | None = Field(
        None, description="replaces the policy file's recipients section when set"
    )
    max_attempts: int = Field(8, ge=1, le=100, description="attempts before a delivery is dead")
    backoff_base_seconds: float = Field(2.0, gt=0, le=3600)
    backoff_cap_seconds: float = Field(600.0, gt=0, le=86_400)
    attempt_timeout_seconds: float = Field(10.0, gt=0, le=300)
    claim_lease_seconds: float = Field(60.0, gt=0, le=3600)
    max_in_flight: int = Field(64, ge=1, le=10_000)
    per_recipient_in_flight: int = Field(4, ge=1, le=1000)
    poll_interval_seconds: float = Field(0.5, gt=0, le=60)
    batch_max_records: int = Field(500, ge=1, le=100_000)
    lag_interval_seconds: float = Field(
        5.0, gt=0, le=300, description="seconds between casegold_consumer_lag refreshes"
    )
    max_notice_age_seconds: float = Field(86_400.0, gt=0, description="older notices: dead")
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=300)
    migrate_on_start: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=1, le=65535)
    smtp_tls: bool = Field(False, description="implicit TLS from the first byte (port 465)")
    smtp_starttls: Literal["required", "opportunistic", "off"] = "opportunistic"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field("Casegold <casegold@localhost>", min_length=3)
    smtp_validate_certs: bool = True
    log_level: LogLevel = "INFO"

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class LinkSettings(BaseSettings):
    """Where the links of a notice point: the case view (reporting) and the command API (intake)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    reporting_url: str = Field("http://127.0.0.1:8084", pattern=r"^https?://[^\s/]+(/\S*)?$")
    intake_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://[^\s/]+(/\S*)?$")

    @field_validator("reporting_url", "intake_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def load_settings() -> tuple[NotifierSettings, LinkSettings]:
    """Read and check both; ConfigError names the variable of any bad or unsafe value."""
    settings = load(NotifierSettings)
    links = load(LinkSettings)
    if settings.claim_lease_seconds < settings.attempt_timeout_seconds + 5:
        # A claim that lapses while its attempt still runs would let a second process send it.
        raise ConfigError(
            f"invalid configuration: {NOTIFIER_PREFIX}CLAIM_LEASE_SECONDS must exceed "
            f"{NOTIFIER_PREFIX}ATTEMPT_TIMEOUT_SECONDS by at least 5 s"
        )
    if settings.backoff_cap_seconds < settings.backoff_base_seconds:
        raise ConfigError(
            f"invalid configuration: {NOTIFIER_PREFIX}BACKOFF_CAP_SECONDS is below "
            f"{NOTIFIER_PREFIX}BACKOFF_BASE_SECONDS"
        )
    if (settings.smtp_username is None) != (settings.smtp_password is None):
        raise ConfigError(
            f"invalid configuration: set both {NOTIFIER_PREFIX}SMTP_USERNAME and "
            f"{NOTIFIER_PREFIX}SMTP_PASSWORD, or neither"
        )
    encrypted = settings.smtp_tls or settings.smtp_starttls == "required"
    if settings.smtp_username and not encrypted and not _loopback(settings.smtp_host):
        # Credentials would cross the network in clear text (or be downgraded by a middle-man).
        raise ConfigError(
            f"invalid configuration: SMTP credentials need {NOTIFIER_PREFIX}SMTP_TLS=true or "
            f"{NOTIFIER_PREFIX}SMTP_STARTTLS=required when {NOTIFIER_PREFIX}SMTP_HOST is not a "
            "loopback address"
        )
    return settings, links


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_book(settings: NotifierSettings, policy: PolicySettings) -> RecipientBook:
    """CASEGOLD_NOTIFIER_RECIPIENTS_FILE when set, else the policy file's recipients section."""
    if settings.recipients_file is not None:
        return load_recipients(settings.recipients_file)
    return policy.load().recipients
