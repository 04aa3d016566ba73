"""One-click acknowledgement links: HMAC-signed, expiring tokens naming an escalation and recipient.

The notifier signs one per notice; intake verifies it and acknowledges as that recipient. The
token is `<claims>.<signature>`, both base64url without padding; the claims are compact JSON
(`e` escalation, `c` case, `r` recipient, `x` expiry in Unix seconds). Pure: the caller gives
the time. Decision 0073.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_platform.settings import ENV_PREFIX

# What a token may weigh: enough for two UUIDs, a recipient name and an expiry.
TOKEN_MAX: Final = 600
RECIPIENT_MAX: Final = 200


class AckLinkSettings(BaseSettings):
    """The secret the notifier signs with and intake verifies with: one for both services."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "ACK_LINK_", extra="ignore")

    secret: SecretStr | None = Field(
        None, description="HMAC key of one-click acknowledgement links; unset: no links"
    )
    ttl_hours: float = Field(72.0, gt=0, le=24 * 31, description="how long a link stays valid")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("at least 16 bytes (e.g. `openssl rand -hex 32`)")
        return value

    def signer(self) -> AckSigner | None:
        """The signer, or None when links are off (no secret configured)."""
        if self.secret is None:
            return None
        return AckSigner(self.secret.get_secret_value().encode(), timedelta(hours=self.ttl_hours))


class BadToken(ValueError):
    """A token that is not ours, was altered, or has expired; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a link lets its holder do: acknowledge this escalation as this recipient."""

    escalation_id: UUID
    case_id: UUID
    recipient: str
    expires_at: datetime


class AckSigner:
    """Signs and verifies tokens with one key (HMAC-SHA256)."""

    def __init__(self, key: bytes, ttl: timedelta) -> None:
        if len(key) < 16:
            raise ValueError("the acknowledgement link secret must be at least 16 bytes")
        self._key = key
        self.ttl = ttl

    def sign(self, escalation_id: UUID, case_id: UUID, recipient: str, issued: datetime) -> str:
        """A token valid from `issued` for the signer's ttl."""
        if not recipient or len(recipient) > RECIPIENT_MAX:
            raise ValueError("a recipient name is 1 to 200 characters")
        expires = int((issued + self.ttl).timestamp())
        claims = {"e": str(escalation_id), "c": str(case_id), "r": recipient, "x": expires}
        body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def verify(self, token: str, now: datetime) -> AckClaim:
        """The token's claim; BadToken when it is malformed, forged, altered or expired."""
        # A token is base64url and one dot: anything else (a lone surrogate from a mangled
        # link, say) is refused before it is encoded for the MAC.
        if len(token) > TOKEN_MAX or token.count(".") != 1 or not token.isascii():
            raise BadToken("malformed")
        body, signature = token.split(".")
        try:
            given = _unb64(signature)
        except ValueError:
            raise BadToken("malformed") from None
        if _b64(given) != signature:  # base64 ignores stray trailing bits: one spelling only
            raise BadToken("malformed")
        # Compared before anything in the claims is trusted, in constant time.
        if not hmac.compare_digest(given, self._mac(body)):
            raise BadToken("signature")
        try:
            claims = json.loads(_unb64(body))
            claim = AckClaim(
                escalation_id=UUID(claims["e"]),
                case_id=UUID(claims["c"]),
                recipient=str(claims["r"]),
                expires_at=datetime.fromtimestamp(int(claims["x"]), UTC),
            )
        except (ValueError, KeyError, TypeError):
            raise BadToken("malformed") from None
        if now >= claim.expires_at:
            raise BadToken("expired")
        return claim

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, b"casegold-ack-v1." + body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error
