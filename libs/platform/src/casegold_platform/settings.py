"""Typed settings shared by every service, read from CASEGOLD_* environment variables."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_sla import PolicySet, load_policy

ENV_PREFIX = "CASEGOLD_"

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


def _log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


# Every service's LOG_LEVEL setting, case-insensitive.
LogLevel = Annotated[str, BeforeValidator(_log_level)]


class KafkaSettings(BaseSettings):
    """Where the broker is and how topics are laid out."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "KAFKA_", extra="ignore")

    bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port...] of the brokers")
    partitions: int = Field(12, ge=1, le=1000, description="partitions of every Casegold topic")
    replication_factor: int = Field(1, ge=1, le=10)
    request_timeout_ms: int = Field(4000, ge=100, le=120_000)

    @field_validator("bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port, got {server!r}")
        return value


class PostgresSettings(BaseSettings):
    """The PostgreSQL server every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "PG_", extra="ignore")

    dsn: str = Field(
        "postgresql://casegold:casegold@127.0.0.1:5432/casegold",
        description="libpq URL of the Casegold database",
    )
    pool_min: int = Field(1, ge=0, le=100)
    pool_max: int = Field(10, ge=1, le=200)

    @field_validator("dsn")
    @classmethod
    def _check_dsn(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value


class PolicySettings(BaseSettings):
    """Where the SLA and escalation policy file is: one variable for every service."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    policy_file: Path = Field(
        Path("deploy/policy/default.yaml"),
        description="the policy YAML (relative paths from the working directory)",
    )

    def load(self) -> PolicySet:
        """Read and check the policy file; PolicyError names the file and each problem."""
        return load_policy(self.policy_file)


def load(settings_type: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build a settings object, turning validation errors into a ConfigError naming the variable."""
    try:
        return settings_type(**overrides)
    except ValidationError as exc:
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = (prefix + field).upper()
            shown = os.environ.get(variable)
            value = f" (value {_masked(variable, shown)!r})" if shown is not None else ""
            problems.append(f"{variable}{value}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


_SECRET_NAMES = ("PASSWORD", "SECRET", "API_KEYS", "SALT", "TOKEN")


def _masked(variable: str, value: str) -> str:
    """A value fit for an error message: no password of a URL, no secret at all."""
    if any(name in variable for name in _SECRET_NAMES):
        return "***"
    return redact(value)


def redact(url: str) -> str:
    """A URL (a DSN) with its password hidden, for logs and errors."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)
