"""The JSON message the hub exchanges with LifeCare, both ways (``contracts/lifecare``). LifeCare's
own interfaces are not public; this is the hub's contract, replaced with its mapping here when a
vendor specification is at hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LifeCareMessage(BaseModel):
    """One meddelande to or from LifeCare."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, title="LifeCareMessage")

    messageId: str = Field(min_length=1, max_length=200, description="Idempotency key: the same id is one message.")
    messageType: str = Field(min_length=1, max_length=100, examples=["admission_notice_sent"])
    episodeId: str = Field(min_length=1, max_length=128, examples=["VLL-2026-000042"])
    receiver: str | None = Field(default=None, description="HSA-id of the receiving unit (outbound).")
    handover: bool = Field(default=False, description="Open history re-sent after a cutover.")
    eventType: str = Field(pattern=r"^se\.svu\.[a-z_]+\.v[0-9]+$", examples=["se.svu.message_acknowledged.v1"])
    eventTime: dt.datetime = Field(description="When it happened, ISO 8601 with offset.")
    content: dict[str, Any] = Field(description="The canonical payload of eventType (contracts/events).")


def schema() -> dict[str, Any]:
    """The JSON Schema in ``contracts/lifecare/lifecare-message.schema.json``."""
    body = LifeCareMessage.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:svu-hub:schema:lifecare-message:v1", **body}
