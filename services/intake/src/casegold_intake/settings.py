"""Typed settings of the intake service, read from CASEGOLD_INTAKE_* environment variables."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from casegold_contracts import CASE_EVENTS, DEFAULT_CATEGORIES
from casegold_platform.http import ApiKeySettings

# The prefix of intake's own variables (the project's is casegold_platform.settings.ENV_PREFIX).
INTAKE_PREFIX: Final = "CASEGOLD_INTAKE_"

DEV_SALT: Final = "casegold-local-development-salt"


def _split_list(value: Any) -> Any:
    # A comma-separated list reads more naturally in an environment variable than JSON.
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class IntakeSettings(ApiKeySettings):
    """Everything the intake service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=INTAKE_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    body_limit_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
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
        self.require_keys()  # a bad key list stops the start, naming the variable
        if not self.dev_keys and self.customer_key_salt is None:
            raise ValueError(
                "CASEGOLD_INTAKE_CUSTOMER_KEY_SALT is required unless CASEGOLD_INTAKE_DEV_KEYS=true"
            )
        return self

    def salt(self) -> str:
        """The customer_key salt (the documented dev salt in dev mode when none is set)."""
        if self.customer_key_salt is not None:
            return self.customer_key_salt.get_secret_value()
        return DEV_SALT
