"""Deterministic identifiers and the customer key.

An escalation step's id is
    uuid5(CASEGOLD_NAMESPACE, f"escalation/{case_id}/{milestone}/{cycle}/{step}")
with the case id in canonical lower-case hex form, so any service can recompute it.
"""

import hashlib
from typing import Final
from uuid import UUID, uuid5

from .fields import normalise_phone
from .vocabulary import STEPS

# Fixed for ever: every escalation id and derived id ever issued depends on it.
# It is uuid5(NAMESPACE_URL, "https://casegold.dev/ids"), written out so it can't drift.
CASEGOLD_NAMESPACE: Final = UUID("5ca532cd-a6eb-5366-a23f-930b1c7f6832")


def escalation_id(case_id: UUID, milestone: str, cycle: int, step: str) -> UUID:
    """Return the deterministic id of one ladder step of a case (see the module docstring)."""
    # Unambiguous although a milestone may hold "/": cycle and step, read from the right,
    # never do.
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    if cycle < 0:
        raise ValueError("cycle must not be negative")
    if not milestone:
        raise ValueError("milestone must not be empty")
    return uuid5(CASEGOLD_NAMESPACE, f"escalation/{case_id}/{milestone}/{cycle}/{step}")


def derived_id(kind: str, *parts: str) -> UUID:
    """Return a deterministic UUIDv5 for a system-made record, e.g. a rejection of an event."""
    # Parts are length-prefixed so ("ab", "c") and ("a", "bc") never collide.
    name = "/".join([kind, *(f"{len(part)}:{part}" for part in parts)])
    return uuid5(CASEGOLD_NAMESPACE, name)


def customer_key(phone: str, salt: str) -> str:
    """Return the salted SHA-256 hex of the normalised phone, to match repeat complainants."""
    return hashlib.sha256((salt + normalise_phone(phone)).encode("utf-8")).hexdigest()
