"""Typed settings of the intake service, read from CASEGOLD_INTAKE_* environment variables."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from casegold_contracts import CASE_EVENTS, DEFAULT_CATEGORIES

ENV_PREFIX: Final = "CASEGOLD_INTAKE_"

Role = Literal["ivr", "agent", "revisit_agent", "manager", "ops", "monitor"]
ROLES: Final[tuple[Role, ...]] = ("ivr", "agent", "revisit_agent", "manager", "ops", "monitor")

# Documented local development keys (README): usable only with CASEGOLD_INTAKE_DEV_KEYS=true or
# `python -m casegold_intake.dev`. Never valid anywhere that runs without that flag.
DEV_KEYS: Final[dict[str, tuple[str, Role]]] = {
    "dev-ivr-key": ("dev-ivr", "ivr"),
    "dev-agent-key": ("dev-agent", "agent"),
    "dev-manager-key": ("dev-manager", "manager"),
    "dev-revisit-key": ("dev-revisit", "revisit_agent"),
    "dev-ops-key": ("dev-ops", "ops"),
    "dev-monitor-key": ("dev-monitor", "monitor"),
}
DEV_SALT: Final = "casegold-local-development-salt"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyEntry(BaseModel):
    """One configured API key: the client it identifies, its role and the key's SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@\-]+$")
    role: Role
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256_HEX.fullmatch(value):
            # Only digests are configured: the key itself is never stored anywhere.
            raise ValueError("must be the 64 hex digits of the key's SHA-256")
        return value


def dev_key_entries() -> tuple[ApiKeyEntry, ...]:
    """The documented local development keys as configuration entries."""
    return tuple(
        ApiKeyEntry(client=client, role=role, sha256=hashlib.sha256(key.encode()).hexdigest())
        for key, (client, role) in DEV_KEYS.items()
    )


def parse_key_list(text: str, source: str) -> tuple[ApiKeyEntry, ...]:
    """Parse a YAML (or JSON) list of {client, role, sha256}; ValueError names what is wrong."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not valid YAML or JSON ({error.__class__.__name__})") from None
    if not isinstance(document, list):
        raise ValueError(f"{source}: expected a list of {{client, role, sha256}}")
    entries = []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise ValueError(f"{source}[{index}]: expected a mapping with client, role, sha256")
        try:
            entries.append(ApiKeyEntry.model_validate(item))
        except ValueError as error:
            raise ValueError(f"{source}[{index}]: {error}") from None
    return tuple(entries)


def _split_list(value: Any) -> Any:
    # A comma-separated list reads more naturally in an environment variable than JSON.
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class IntakeSettings(BaseSettings):
    """Everything the intake service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    body_limit_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    api_keys: SecretStr | None = Field(None, description="YAML/JSON list of {client, role, sha256}")
    api_keys_file: Path | None = Field(None, description="file holding the same list")
    dev_keys: bool = Field(False, description="also accept the documented local development keys")
    customer_key_salt: SecretStr | None = Field(None, description="salt of customer_key")
    categories: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CATEGORIES
    topic: str = Field(CASE_EVENTS, min_length=1, description="for benchmarks and tests only")
    send_timeout_seconds: float = Field(3.0, gt=0, le=4.5)
    db_timeout_seconds: float = Field(1.5, gt=0, le=10)
    request_deadline_seconds: float = Field(4.5, gt=0, le=4.9, description="whole write path")
    retry_after_seconds: int = Field(2, ge=1, le=300)
    idempotency_retention_hours: float = Field(48.0, ge=24.0, le=24 * 365)
    sweep_interval_seconds: float = Field(600.0, ge=1.0)
    synchronous_key_commit: bool = Field(True, description="wait for the WAL flush of key rows")
    in_flight_wait_seconds: float = Field(
        2.0, ge=0, le=4.0, description="how long a duplicate waits for the request it repeats"
    )
    promise_skew_seconds: float = Field(
        300.0, ge=0, le=3600, description="how far in the past a promise's due_at may be"
    )
    migrate_on_start: bool = True
    metrics_public: bool = Field(True, description="false: /metrics needs an ops or monitor key")
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=300)
    log_level: str = "INFO"

    @field_validator("categories", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("categories")
    @classmethod
    def _non_empty_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one category is needed")
        if any(len(category) > 64 for category in value):
            raise ValueError("a category is at most 64 characters")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _safe_to_start(self) -> IntakeSettings:
        # Refuse to start with nobody able to authenticate, or with a guessable salt.
        if not self.dev_keys:
            if self.api_keys is None and self.api_keys_file is None:
                raise ValueError(
                    "no API keys: set CASEGOLD_INTAKE_API_KEYS or CASEGOLD_INTAKE_API_KEYS_FILE "
                    "(or CASEGOLD_INTAKE_DEV_KEYS=true for the documented local dev keys)"
                )
            if self.customer_key_salt is None:
                raise ValueError(
                    "CASEGOLD_INTAKE_CUSTOMER_KEY_SALT is required "
                    "unless CASEGOLD_INTAKE_DEV_KEYS=true"
                )
        self.key_entries()  # a bad key list stops the start, naming the variable
        return self

    def key_entries(self) -> tuple[ApiKeyEntry, ...]:
        """Configured keys (variable, file) plus the dev keys when enabled; duplicates refused."""
        entries: list[ApiKeyEntry] = []
        if self.api_keys is not None:
            entries += parse_key_list(self.api_keys.get_secret_value(), ENV_PREFIX + "API_KEYS")
        if self.api_keys_file is not None:
            try:
                text = self.api_keys_file.read_text(encoding="utf-8")
            except OSError as error:
                raise ValueError(f"cannot read {self.api_keys_file}: {error.strerror}") from None
            entries += parse_key_list(text, str(self.api_keys_file))
        if self.dev_keys:
            entries += dev_key_entries()
        digests = [entry.sha256 for entry in entries]
        if len(set(digests)) != len(digests):
            raise ValueError("the same key appears twice in the API key list")
        return tuple(entries)

    def salt(self) -> str:
        """The customer_key salt (the documented dev salt in dev mode when none is set)."""
        if self.customer_key_salt is not None:
            return self.customer_key_salt.get_secret_value()
        return DEV_SALT
