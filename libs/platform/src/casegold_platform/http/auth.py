"""Bearer API keys: stored as SHA-256 digests, compared in constant time, mapped to a role."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml
from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

Role = Literal["ivr", "agent", "revisit_agent", "manager", "ops", "monitor"]
ROLES: Final[tuple[Role, ...]] = ("ivr", "agent", "revisit_agent", "manager", "ops", "monitor")

# Documented local development keys (README): accepted only where a service's DEV_KEYS setting
# is true (`make up` sets it). Never valid anywhere that runs without that flag.
DEV_KEYS: Final[dict[str, tuple[str, Role]]] = {
    "dev-ivr-key": ("dev-ivr", "ivr"),
    "dev-agent-key": ("dev-agent", "agent"),
    "dev-manager-key": ("dev-manager", "manager"),
    "dev-revisit-key": ("dev-revisit", "revisit_agent"),
    "dev-ops-key": ("dev-ops", "ops"),
    "dev-monitor-key": ("dev-monitor", "monitor"),
}
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


class ApiKeySettings(BaseSettings):
    """The key settings every HTTP service shares, under the service's own prefix."""

    api_keys: SecretStr | None = Field(None, description="YAML/JSON list of {client, role, sha256}")
    api_keys_file: Path | None = Field(None, description="file holding the same list")
    dev_keys: bool = Field(False, description="also accept the documented local development keys")

    def key_entries(self) -> tuple[ApiKeyEntry, ...]:
        """Configured keys (variable, file) plus the dev keys when enabled; duplicates refused."""
        prefix = str(self.model_config.get("env_prefix", ""))
        entries: list[ApiKeyEntry] = []
        if self.api_keys is not None:
            entries += parse_key_list(self.api_keys.get_secret_value(), prefix + "API_KEYS")
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

    def require_keys(self) -> None:
        """Refuse to start with nobody able to authenticate, or with a bad key list."""
        prefix = str(self.model_config.get("env_prefix", ""))
        if not self.dev_keys and self.api_keys is None and self.api_keys_file is None:
            raise ValueError(
                f"no API keys: set {prefix}API_KEYS or {prefix}API_KEYS_FILE "
                f"(or {prefix}DEV_KEYS=true for the documented local dev keys)"
            )
        self.key_entries()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the client named in the key list and its role."""

    client: str
    role: Role


class KeyRing:
    """The configured keys; `identify` never tells, by its timing, which key nearly matched."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._keys = tuple(
            (bytes.fromhex(entry.sha256), Principal(entry.client, entry.role)) for entry in entries
        )

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, presented: str) -> Principal | None:
        """The principal of a presented key, or None."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        # Every stored digest is compared, with no early exit, so timing says nothing.
        for stored, principal in self._keys:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


class AuthError(HTTPException):
    """401 or 403 with the bearer challenge."""

    def __init__(self, status_code: int, detail: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(status_code=status_code, detail=detail, headers=headers)


# Declared in each service's OpenAPI document; parsed here without FastAPI's security
# classes, which add a dependency level to every request.
BEARER_SCHEME: Final = {"type": "http", "scheme": "bearer", "description": "an API key"}


def authenticate(request: Request) -> Principal:
    """The caller's principal; 401 when the key is missing or unknown."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthError(401, "missing bearer API key")
    keyring: KeyRing = request.app.state.keyring
    principal = keyring.identify(presented.strip())
    if principal is None:
        raise AuthError(401, "unknown API key")
    return principal


def authorizer(*roles: Role) -> Callable[[Request], Principal]:
    """A check admitting only the given roles: 401 without a known key, 403 for other roles."""

    def authorize(request: Request) -> Principal:
        principal = authenticate(request)
        if principal.role not in roles:
            raise AuthError(403, f"role {principal.role} may not call this endpoint")
        return principal

    return authorize


def role_dependency(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """`authorizer` as a FastAPI dependency: async, so FastAPI never sends it to a thread."""
    authorize = authorizer(*roles)

    async def dependency(request: Request) -> Principal:
        return authorize(request)

    return dependency
