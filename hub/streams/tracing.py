"""W3C Trace Context across the hub: an output caused by an event continues that event's trace.

A canonical event may carry ``traceparent`` (``version-traceid-parentid-flags``; set from the
HTTP header of an inbound request, or from the Kafka header by the binding). Every event a
processor emits while handling it gets the same trace id and flags, with a span id of its own
derived from the output's event id — deterministic, so that a replay gives the same bytes.
Outputs of timers have no cause on the log and start no trace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

from hub.domain.processor import Emit, Step
from hub.schemas.envelope import Envelope
from hub.streams import otel

TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


def valid(traceparent: str | None) -> str | None:
    """The header if it is a usable ``traceparent`` (version 00 form, non-zero ids), else None."""
    if not traceparent:
        return None
    found = TRACEPARENT.match(traceparent.strip().lower())
    if found is None or found[1] == "ff" or found[2] == _INVALID_TRACE or found[3] == _INVALID_SPAN:
        return None
    return found[0]


def child(parent: str, child_id: str) -> str:
    """The traceparent of an output: the parent's trace id and flags, a span id from ``child_id``."""
    version, trace, _, flags = parent.split("-")
    span = hashlib.sha256(child_id.encode()).hexdigest()[:16]
    return f"{version}-{trace}-{span}-{flags}"


def traced(step: Step[Any], cause: Any, processor: str | None = None) -> Step[Any]:
    """``step`` with its canonical outputs placed in the trace of ``cause`` (if it has one); with
    ``processor`` named and OpenTelemetry on, the handling is recorded as spans (``otel``)."""
    parent = getattr(cause, "traceparent", None)
    if not parent:
        return step
    if step.emits:
        step = dataclasses.replace(step, emits=tuple(_continue(e, parent) for e in step.emits))
    if processor is not None:
        otel.processed(processor, cause, [e.event for e in step.emits])
    return step


def _continue(emit: Emit, parent: str) -> Emit:
    event = emit.event
    if not isinstance(event, Envelope) or event.traceparent is not None:
        return emit
    return dataclasses.replace(emit, event=event.model_copy(update={"traceparent": child(parent, event.id)}))
