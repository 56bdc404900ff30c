"""Pure: a delivery → the JSON message LifeCare receives (contracts/lifecare). The idempotency
key travels as the message id and the ``Idempotency-Key`` header: a retry never makes a second
message."""

from __future__ import annotations

from typing import Any

import orjson


def render(delivery: dict[str, Any], episode_id: str) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of one delivery's request."""
    content = delivery.get("content") or {}
    body = {
        "messageId": delivery["idempotency_key"],
        "messageType": delivery["message_type"],
        "episodeId": episode_id,
        "receiver": delivery["receiver"],
        "handover": bool(delivery.get("handover", False)),
        "eventType": content.get("type"),
        "eventTime": content.get("time"),
        "content": content.get("data", {}),
    }
    headers = {"Idempotency-Key": delivery["idempotency_key"], "Content-Type": "application/json"}
    return f"/units/{delivery['receiver']}/messages", orjson.dumps(body), headers
