"""Dead-letter records: whatever could not be parsed, validated, processed or delivered is kept
byte for byte on ``svu.dlq.<source>`` with a readable reason. Nothing received is dropped."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from hub.schemas import topics
from hub.schemas.operations import DeadLetter
from hub.streams.log import Append


def content_key(raw: bytes) -> str:
    """Key for bytes whose own message id could not be read."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def dead_letter(
    source: str,
    raw: bytes,
    errors: Sequence[tuple[str, str]],
    now: dt.datetime,
    *,
    reason: str | None = None,
    connection: str | None = None,
    source_message_id: str | None = None,
    key: str | None = None,
    replay_of: str | None = None,
) -> Append:
    """The DLQ append for bytes that failed; ``errors`` must already be masked."""
    if reason is None:
        reason = "; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in errors)
    letter = DeadLetter(
        source=source,
        source_message_id=source_message_id,
        reason=reason[:2000] or "rejected",
        errors=tuple(errors),
        raw=raw,
        received_at=now,
        connection=connection,
        replay_of=replay_of,
    )
    return Append(topics.dlq(source), key or source_message_id or content_key(raw),
                  letter.model_dump_json().encode())
