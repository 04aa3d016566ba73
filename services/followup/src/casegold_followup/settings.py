"""Typed settings of the follow-up service, read from CASEGOLD_FOLLOWUP_* environment variables."""

from __future__ import annotations

from typing import Final

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from casegold_contracts import CASE_EVENTS
from casegold_platform.http import ApiKeySettings

ENV_PREFIX: Final = "CASEGOLD_FOLLOWUP_"


class FollowupSettings(ApiKeySettings):
    """Everything the follow-up service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8083, ge=1, le=65535)
    topic: str = Field(CASE_EVENTS, min_length=1, description="case events: read and written")
    group_id: str = Field("casegold-followup", min_length=1)
    consumer_batch: int = Field(500, ge=1, le=10_000, description="events per transaction")
    max_lease: int = Field(20, ge=1, le=200, description="callbacks per lease request")
    promote_interval_seconds: float = Field(0.5, gt=0, le=60)
    promote_batch: int = Field(5000, ge=1, le=100_000)
    expire_interval_seconds: float = Field(1.0, gt=0, le=60)
    reconcile_interval_seconds: float = Field(30.0, gt=0, le=3600, description="gauge re-count")
    seen_retention_days: float = Field(14.0, ge=1, le=365, description="event_id dedupe window")
    db_timeout_seconds: float = Field(2.0, gt=0, le=30)
    send_timeout_seconds: float = Field(3.0, gt=0, le=30)
    retry_after_seconds: int = Field(2, ge=1, le=300)
    pool_max: int = Field(10, ge=2, le=200)
    migrate_on_start: bool = True
    metrics_public: bool = Field(True, description="false: /metrics needs an ops or monitor key")
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=300)
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _someone_can_call(self) -> FollowupSettings:
        self.require_keys()  # a bad key list stops the start, naming the variable
        return self
