"""Byte layouts of what the worker stores in its tables and sends on its internal topics."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from pydantic_core import from_json, to_json

from casegold_escalation.context import CaseContext
from casegold_sla import CaseState, PolicyRegistry, dump_state, load_state

# A case record is the next-check instant (8 bytes, big-endian, -1 for none) followed by
# {"state": …, "context": …} as JSON, so rebuilding the due index after a rebalance reads
# 8 bytes, not the state.
_NEXT = struct.Struct(">q")


def encode_case(state: CaseState, context: CaseContext, next_check_us: int | None) -> bytes:
    """Table value of one case."""
    document = {"state": dump_state(state), "context": context.to_json()}
    return _NEXT.pack(-1 if next_check_us is None else next_check_us) + to_json(document)


def decode_case(value: bytes, registry: PolicyRegistry) -> tuple[CaseState, CaseContext]:
    """The case state and context stored by encode_case."""
    document = from_json(value[_NEXT.size :])
    return load_state(document["state"], registry), CaseContext.from_json(document.get("context"))


def next_check_of(value: bytes) -> int | None:
    """The next-check instant stored by encode_case, without decoding the state."""
    (next_check,) = _NEXT.unpack_from(value)
    return None if next_check < 0 else int(next_check)


@dataclass(frozen=True, slots=True)
class Tick:
    """A timer's request to look at a case again (sent through Kafka to reach its partition)."""

    case_id: UUID
    due_us: int

    def encode(self) -> bytes:
        return to_json({"case_id": str(self.case_id), "due_us": self.due_us})

    @classmethod
    def decode(cls, value: bytes) -> Tick:
        data = from_json(value)
        return cls(UUID(data["case_id"]), int(data["due_us"]))


@dataclass(frozen=True, slots=True)
class CustomerCase:
    """A case opened by a customer, sent to the customer's partition to count repeats."""

    customer_key: str
    case_id: UUID
    opened_us: int
    # Set when the case was forgotten (past its retention): drop it from the customer's record.
    forget: bool = False

    def encode(self) -> bytes:
        document = {
            "customer_key": self.customer_key,
            "case_id": str(self.case_id),
            "opened_us": self.opened_us,
        }
        return to_json({**document, "forget": True} if self.forget else document)

    @classmethod
    def decode(cls, value: bytes) -> CustomerCase:
        data = from_json(value)
        return cls(
            str(data["customer_key"]),
            UUID(data["case_id"]),
            int(data["opened_us"]),
            bool(data.get("forget", False)),
        )
