"""The CloudEvents Kafka protocol binding (CloudEvents 1.0, "Kafka Protocol Binding"), pure.

- Binary content mode (the default): each context attribute is a header ``ce_<name>`` (UTF-8
  text), ``content-type`` is the event's ``datacontenttype``, and the record value is the data
  alone (the payload's JSON).
- Structured content mode: ``content-type: application/cloudevents+json; charset=UTF-8`` and
  the whole envelope as the value (the bytes the embedded log stores).

The record key is the episode id (vårdtillfälle), so every event of one episode lands on one
partition and stays in order. The W3C Trace Context ``traceparent`` travels as a plain
``traceparent`` header in both modes (the header OpenTelemetry's messaging instrumentation
reads), and fills the envelope's ``traceparent`` on decode.

Decoding both modes gives the same structured JSON object and therefore the same Envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from hub.errors import ValidationFailed
from hub.schemas import contracts
from hub.schemas.envelope import Envelope, parse_event

ContentMode = Literal["binary", "structured"]
Headers = tuple[tuple[str, bytes], ...]

STRUCTURED_CONTENT_TYPE = contracts.STRUCTURED_CONTENT_TYPE
PREFIX = "ce_"
TRACEPARENT = "traceparent"
CONTENT_TYPE = "content-type"


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    """One Kafka record as the binding sees it: key, value and headers."""

    key: bytes
    value: bytes
    headers: Headers


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> bytes | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def encode_object(event: dict[str, Any], mode: ContentMode = "binary") -> KafkaMessage:
    """A structured JSON object of a canonical event as a Kafka record."""
    key = str(event["episodeid"]).encode()
    trace = event.get(TRACEPARENT)
    tail: Headers = ((TRACEPARENT, str(trace).encode()),) if trace else ()
    if mode == "structured":
        return KafkaMessage(key, orjson.dumps(event),
                            ((CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode()), *tail))
    headers: list[tuple[str, bytes]] = []
    for name, value in event.items():
        if name in ("data", "datacontenttype", TRACEPARENT) or value is None:
            continue
        headers.append((PREFIX + name, str(value).encode()))
    content_type = str(event.get("datacontenttype", "application/json")).encode()
    headers.append((CONTENT_TYPE, content_type))
    return KafkaMessage(key, orjson.dumps(event["data"]), (*headers, *tail))


def encode(event: Envelope, mode: ContentMode = "binary") -> KafkaMessage:
    """A canonical event as a Kafka record in the given content mode; key = episode id."""
    return encode_object(orjson.loads(event.to_json()), mode)


def is_binary(headers: Sequence[tuple[str, bytes]]) -> bool:
    """A binary-mode record carries the ``ce_specversion`` header."""
    return _header(headers, PREFIX + "specversion") is not None


def to_object(value: bytes, headers: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """The structured JSON object of a record in either mode.

    Raises ValidationFailed (naming the header or the value) when the record is not a CloudEvent
    in JSON: such a record goes to the dead-letter topic.
    """
    try:
        if is_binary(headers):
            obj: dict[str, Any] = {}
            for name, raw in headers:
                lower = name.lower()
                if lower.startswith(PREFIX):
                    obj[lower[len(PREFIX):]] = raw.decode()
            content_type = _header(headers, CONTENT_TYPE)
            if content_type is not None:
                obj["datacontenttype"] = content_type.decode().split(";")[0].strip()
            obj["data"] = orjson.loads(value)
        else:
            loaded = orjson.loads(value)
            if not isinstance(loaded, dict):
                raise ValidationFailed([("", "a canonical event must be a JSON object")])
            obj = loaded
    except UnicodeDecodeError:
        raise ValidationFailed([("headers", "a ce_ header is not UTF-8 text")]) from None
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed([("value", f"not valid JSON: {exc.msg}")]) from None
    trace = _header(headers, TRACEPARENT)
    if trace is not None and TRACEPARENT not in obj:
        obj[TRACEPARENT] = trace.decode(errors="replace")
    return obj


def to_structured(value: bytes, headers: Sequence[tuple[str, bytes]]) -> bytes:
    """Structured-mode bytes of a record in either mode (a structured record comes back as it is,
    byte for byte, so that the worker feeds processors exactly what the embedded log stores)."""
    if not is_binary(headers) and _header(headers, TRACEPARENT) is None:
        return value
    return orjson.dumps(to_object(value, headers))


def decode(message: KafkaMessage) -> Envelope:
    """The canonical event of a record in either mode; ValidationFailed names what is wrong."""
    event = parse_event(to_object(message.value, message.headers))
    if message.key and message.key.decode(errors="replace") != event.episode_id:
        raise ValidationFailed([("key", "the record key is not the event's episodeid")])
    return event


__all__ = ["STRUCTURED_CONTENT_TYPE", "ContentMode", "KafkaMessage", "decode", "encode",
           "encode_object", "is_binary", "to_object", "to_structured"]
