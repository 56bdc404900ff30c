"""HL7 files: one message, several messages, or an FHS/BHS batch (HL7 v2.5.1 chapter 2.10.3):
split into messages; the batch header and trailer segments are not messages."""

from __future__ import annotations

import re

_SEGMENT_END = re.compile(rb"\r\n|\r|\n")
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")


def messages_of(data: bytes) -> list[bytes]:
    """The messages in a file, each ending with CR; FHS/BHS/BTS/FTS segments dropped."""
    messages: list[list[bytes]] = []
    for line in _SEGMENT_END.split(data.lstrip(b"\xef\xbb\xbf")):
        if not line.strip() or line[:3] in _ENVELOPE:
            continue
        if line.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(line)
    return [b"\r".join(m) + b"\r" for m in messages]


def batch_counts(data: bytes) -> tuple[int | None, int]:
    """(BTS-1 declared message count or None, messages found) to check a batch is whole."""
    declared = None
    for line in _SEGMENT_END.split(data):
        if line.startswith(b"BTS"):
            fields = line.split(line[3:4]) if len(line) > 3 else []
            if len(fields) > 1 and fields[1].strip().isdigit():
                declared = int(fields[1])
    return declared, len(messages_of(data))
