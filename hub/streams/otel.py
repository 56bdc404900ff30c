"""OpenTelemetry traces: MLLP receive → durable store → each processor → delivery HTTP call, and
inbound HTTP requests. Off by default.

``configure()`` turns tracing on when the standard variables ask for it
(``OTEL_TRACES_EXPORTER=otlp`` or an ``OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT``, and not
``OTEL_SDK_DISABLED=true``): an SDK tracer provider with the OTLP/HTTP exporter, which reads the
rest (endpoint, headers, timeout, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) itself.

The W3C context travels on the events (``traceparent``, stored on the log and sent as a Kafka
header by the binding). Outputs of a processor keep the deterministic span ids of
``hub.streams.tracing.child``; each output is recorded as an ``emit`` span with exactly that id
(``DeterministicIds``), so that the span that handles it downstream has a recorded parent and
the whole path is one trace.

Span attributes name systems, sources, processors, event types, topics and status codes only;
never a personnummer, a name or an episode id.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

T = TypeVar("T")
NAME = "svu-hub"
_PROPAGATOR = TraceContextTextMapPropagator()
_NEXT_SPAN_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("svu_next_span_id", default=None)
_provider: trace.TracerProvider | None = None


class DeterministicIds(IdGenerator):
    """Random ids, except where the hub asks for a given span id (an output's ``emit`` span)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        wanted = _NEXT_SPAN_ID.get()
        if wanted is not None:
            _NEXT_SPAN_ID.set(None)
            return wanted
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self._random.generate_trace_id()


def provider(*processors: Any) -> TracerProvider:
    """A tracer provider with the hub's id generator and the given span processors."""
    made = TracerProvider(id_generator=DeterministicIds())
    for processor in processors:
        made.add_span_processor(processor)
    return made


def use(tracer_provider: trace.TracerProvider | None) -> None:
    """Record the hub's spans with ``tracer_provider`` (None: off again). For tests and setup."""
    global _provider
    _provider = tracer_provider


def wanted(env: dict[str, str] | None = None) -> bool:
    """Whether the standard OTEL_* variables ask for traces to be exported."""
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()}
    if "none" in exporters:
        return False
    return "otlp" in exporters or bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                                       or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(env: dict[str, str] | None = None) -> bool:
    """Turn tracing on with the OTLP exporter when the environment asks for it; True if on."""
    if not wanted(env):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    use(provider(BatchSpanProcessor(OTLPSpanExporter())))
    return True


def enabled() -> bool:
    return _provider is not None


def _tracer() -> trace.Tracer:
    assert _provider is not None
    return _provider.get_tracer(NAME)


def _parent(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` of a span, if it is valid."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, while tracing is on (else None)."""
    if _provider is None:
        return None
    return traceparent_of(trace.get_current_span())


@contextlib.contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, parent: str | None = None,
         attributes: dict[str, Any] | None = None) -> Iterator[Span]:
    """A span (a no-op one while tracing is off), child of ``parent`` or of the current span."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    with _tracer().start_as_current_span(name, context=_parent(parent), kind=kind,
                                         attributes=attributes or {}) as current:
        yield current


# --- MLLP receive and the durable store -------------------------------------------------------

def mllp_handler(handle: Callable[[bytes, str], Awaitable[T]]) -> Callable[[bytes, str], Awaitable[T]]:
    """The MLLP server's handler, each message in an ``hl7 receive`` server span."""
    async def traced_handle(raw: bytes, connection: str) -> T:
        with span("hl7 receive", kind=SpanKind.SERVER,
                  attributes={"network.transport": "tcp", "svu.source": "hl7"}):
            return await handle(raw, connection)
    return traced_handle


def stamp(parsed: T) -> T:
    """``parsed`` (an adapter's result with ``events``) with each event in the current trace."""
    parent = current_traceparent()
    events = getattr(parsed, "events", None)
    if parent is None or not events:
        return parsed
    import dataclasses

    stamped = tuple(e if e.traceparent else e.model_copy(update={"traceparent": parent}) for e in events)
    return dataclasses.replace(parsed, events=stamped)  # type: ignore[type-var]


async def storing(work: Awaitable[T], topic: str = "svu.events") -> T:
    """Await the durable write in a ``log append`` span."""
    with span("svu.log append", kind=SpanKind.PRODUCER, attributes={"messaging.destination.name": topic}):
        return await work


# --- processors ------------------------------------------------------------------------------

def processed(processor: str, cause: Any, outputs: list[Any]) -> None:
    """Record that ``processor`` handled ``cause`` (consumer span, child of the event's trace) and
    emitted ``outputs`` (an ``emit`` span each, with the span id its traceparent names)."""
    parent = getattr(cause, "traceparent", None)
    if _provider is None or not parent:
        return
    with span(f"process {processor}", kind=SpanKind.CONSUMER, parent=parent,
              attributes={"svu.processor": processor, "svu.event_type": str(getattr(cause, "type", ""))}):
        for output in outputs:
            trace_text = getattr(output, "traceparent", None)
            if not trace_text:
                continue
            _NEXT_SPAN_ID.set(int(trace_text.split("-")[2], 16))
            with span(f"emit {getattr(output, 'type', '')}", kind=SpanKind.PRODUCER,
                      attributes={"svu.event_type": str(getattr(output, "type", ""))}):
                pass
            _NEXT_SPAN_ID.set(None)


# --- deliveries -------------------------------------------------------------------------------

async def delivering(system: str, event: dict[str, Any], call: Awaitable[T]) -> T:
    """Await the delivery call in a client span, child of the delivery request's trace."""
    with span(f"deliver {system}", kind=SpanKind.CLIENT, parent=event.get("traceparent"),
              attributes={"svu.system": system, "svu.event_type": str(event.get("type", ""))}) as current:
        result = await call
        if current.is_recording():
            ok = bool(getattr(result, "delivered", True))
            status = getattr(result, "status", None)
            if isinstance(status, int):
                current.set_attribute("http.response.status_code", status)
            current.set_status(Status(StatusCode.OK if ok else StatusCode.ERROR))
        return result


# --- inbound HTTP -----------------------------------------------------------------------------

@contextlib.contextmanager
def server_span(scope: dict[str, Any]) -> Iterator[Span]:
    """An HTTP server span for one ASGI request, child of its ``traceparent`` header."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
    with span(f"HTTP {scope.get('method', 'GET')}", kind=SpanKind.SERVER, parent=headers.get("traceparent"),
              attributes={"http.request.method": str(scope.get("method", "GET"))}) as current:
        yield current


def end_server_span(current: Span, route: str, status: int) -> None:
    """Name the server span by its route template (never the path: it may hold an episode id)."""
    if not current.is_recording():
        return
    current.update_name(f"{scope_method(current)} {route}")
    current.set_attribute("http.route", route)
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR))


def scope_method(current: Span) -> str:
    attributes = getattr(current, "attributes", None) or {}
    return str(attributes.get("http.request.method", "HTTP"))


def remote(traceparent: str) -> NonRecordingSpan:
    """A non-recording span standing for a remote parent (for tests and adapters)."""
    _, trace_id, span_id, flags = traceparent.split("-")
    return NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                                        trace_flags=TraceFlags(int(flags, 16))))


__all__ = ["DeterministicIds", "configure", "current_traceparent", "delivering", "enabled", "end_server_span",
           "mllp_handler", "processed", "provider", "server_span", "span", "stamp", "storing", "traceparent_of",
           "use", "wanted"]
