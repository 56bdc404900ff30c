"""Build synthetic HL7 v2 ADT messages field by field (numbers as in the standard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WARDS = {"V00": "SE2321000248-V00", "V01": "SE2321000248-V01"}


def lookup(code: str, facility: str | None) -> str | None:
    return WARDS.get(code)


def segment(name: str, fields: dict[int, str]) -> str:
    top = max(fields) if fields else 0
    return "|".join([name, *[fields.get(i, "") for i in range(1, top + 1)]])


def msh(trigger: str = "A01", control: str = "MSG0001", version: str = "2.5.1", charset: str = "UNICODE UTF-8",
        accept_ack: str = "", app_ack: str = "", message_type: str = "ADT") -> str:
    # MSH-1 is the separator itself, so MSH fields are written from MSH-2 on
    fields = {2: "^~\\&", 3: "COSMIC", 4: "NUS", 5: "SVU", 6: "SVU", 7: "20260302083000",
              9: f"{message_type}^{trigger}^ADT_{trigger}", 10: control, 11: "P", 12: version,
              15: accept_ack, 16: app_ack, 17: "SE", 18: charset}
    return "MSH|" + "|".join(fields.get(i, "") for i in range(2, 19))


def adt(trigger: str = "A01", *, control: str = "MSG0001", pid3: str = "191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE",
        name: str = "Tolvansson^Tolvan", address: str = "Storgatan 1^^Umeå^^90325^SE^H^^2480",
        ward: str = "V00^^^NUS", visit: str = "V123456", admit: str = "202603020815", discharge: str = "",
        expected: str = "20260306", version: str = "2.5.1", charset: str = "UNICODE UTF-8", accept_ack: str = "",
        service: str = "MED", evn: str = "202603020830", extra: list[str] | None = None, sep: str = "\r") -> str:
    segments = [
        msh(trigger, control, version, charset, accept_ack),
        segment("EVN", {1: trigger, 2: evn}),
        segment("PID", {1: "1", 3: pid3, 5: name, 7: "19121212", 8: "M", 11: address}),
        segment("PV1", {1: "1", 2: "I", 3: ward, 6: "V01^^^NUS" if trigger == "A02" else "", 10: service,
                        19: visit, 44: admit, 45: discharge}),
        segment("PV2", {9: expected}),
        *(extra or []),
    ]
    return sep.join(segments) + sep


class MemoryTx:
    """A transaction that keeps what it is given (``append``, ``get_state``, ``put_states``)."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.states: dict[tuple[str, str], bytes] = {}

    def append(self, records: Any) -> list[Any]:
        self.records.extend(records)
        return []

    def get_state(self, store: str, key: str) -> bytes | None:
        return self.states.get((store, key))

    def put_states(self, store: str, items: Any) -> None:
        for key, value in items:
            if value is None:
                self.states.pop((store, key), None)
            else:
                self.states[(store, key)] = value


class MemoryCommitter:
    """Runs each work function at once on one MemoryTx (a committer with no durability, for
    tests of what the ingest decides)."""

    def __init__(self) -> None:
        self.tx = MemoryTx()

    async def submit(self, work: Callable[[Any], T]) -> T:
        return work(self.tx)
