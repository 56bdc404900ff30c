"""Errors of the HL7 adapter. Each names the segment and field at fault and the HL7 error code
(table 0357) that goes into the ERR segment of the negative acknowledgement."""

from __future__ import annotations

from hub.errors import ValidationFailed

# HL7 table 0357 (message error condition codes), v2.5 chapter 2
SEGMENT_SEQUENCE = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
INTERNAL_ERROR = "207"


class Hl7Error(ValidationFailed):
    """A message the hub cannot accept. ``reject`` (AR/CR) for what it will never process
    (version, message type, framing); otherwise an application error (AE/CE)."""

    def __init__(self, text: str, *, segment: str = "MSH", sequence: int = 1, field: int | None = None,
                 code: str = DATA_TYPE_ERROR, reject: bool = False) -> None:
        super().__init__([("", text)])
        self.text = text
        self.segment = segment
        self.sequence = sequence
        self.field = field
        self.code = code
        self.reject = reject
        self.others: list[Hl7Error] = []

    @classmethod
    def several(cls, errors: list[Hl7Error]) -> Hl7Error:
        """The first error, carrying the others (every error of a message goes into the ACK)."""
        first = errors[0]
        if len(errors) > 1:
            first.others = errors[1:]
            first.errors = [e for x in errors for e in x.errors]
        return first

    @property
    def all(self) -> list[Hl7Error]:
        return [self, *self.others]

    @property
    def location(self) -> str:
        return f"{self.segment}-{self.field}" if self.field is not None else self.segment
