"""Bearer API keys: stored as SHA-256 digests, compared in constant time, mapped to a role."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from fastapi import HTTPException, Request

from casegold_intake.settings import ApiKeyEntry, Role


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


# Declared in the OpenAPI document (see openapi.py); parsed here without FastAPI's security
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
