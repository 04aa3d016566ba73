"""Settings of the notice sink, from CASEGOLD_SINK_* (and the stack's CASEGOLD_VAR_DIR)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_platform.settings import ENV_PREFIX, load

SINK_PREFIX: Final = ENV_PREFIX + "SINK_"
# The documented development secret of the dev policies' webhook recipients.
DEV_WEBHOOK_SECRET: Final = "dev-only-webhook-secret-change-me"


def _default_dir() -> Path:
    return Path(os.environ.get("CASEGOLD_VAR_DIR", "var")) / "notices"


class SinkSettings(BaseSettings):
    """Where the sink listens and where it keeps what it received."""

    model_config = SettingsConfigDict(env_prefix=SINK_PREFIX, extra="ignore")

    host: str = Field("127.0.0.1", description="loopback only: this is a development tool")
    http_port: int = Field(8180, ge=0, le=65535, description="webhooks, Slack posts, the page")
    smtp_port: int = Field(8025, ge=0, le=65535)
    dir: Path = Field(default_factory=_default_dir, description="notices.jsonl goes here")
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    signature_tolerance_seconds: float = Field(300.0, gt=0)


def load_settings() -> SinkSettings:
    """Read and check the settings; ConfigError names a bad variable."""
    return load(SinkSettings)
