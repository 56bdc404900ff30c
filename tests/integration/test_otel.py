"""OpenTelemetry with the SDK's in-memory exporter, in the embedded hub: one MLLP message gives
one trace (receive → durable store → each processor), an inbound HTTP request gives one trace
down to the delivery's HTTP call, and no span attribute holds patient data. Off by default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import send
from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.lifecare.transport import LifeCareClient
from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub, start_hl7
from hub.domain.clock import FakeClock
from hub.schemas.identifiers import contains_personal_id
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from hub.streams import otel
from hub.streams.delivery import DeliveryWorker
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving
from tests.support.hl7 import WARDS, adt

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
DIRECTORY = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
EXAMPLE = (Path(__file__).parents[2] / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
KEYS = (ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    otel.use(otel.provider(SimpleSpanProcessor(exporter)))
    yield exporter
    otel.use(None)


def _settings(tmp: Path, **extra: Any) -> HubSettings:
    return HubSettings(log=LogSettings(path=tmp / "hub.db"), engine=EngineSettings(directory=DIRECTORY),
                       hl7=Hl7Settings(enabled=True, port=0, wards=WARDS), api=ApiSettings(keys=KEYS), **extra)


def assert_no_patient_data(found: list[ReadableSpan], episodes: list[str]) -> None:
    for span in found:
        for value in [span.name, *(str(v) for v in (span.attributes or {}).values())]:
            assert not contains_personal_id(value), span.name
            assert "Tolvan" not in value and not any(e in value for e in episodes), (span.name, value)


def _one_trace(found: list[ReadableSpan]) -> int:
    traces = {s.context.trace_id for s in found}
    assert len(traces) == 1, [(s.name, s.context.trace_id) for s in found]
    return traces.pop()


async def test_one_mllp_message_gives_one_trace_through_store_and_processors(
        spans: InMemorySpanExporter, tmp_path: Path) -> None:
    hub = build_hub(_settings(tmp_path), clock=FakeClock(NOW))
    server, _ = await start_hl7(hub)
    try:
        acks = await send("127.0.0.1", server.port, [adt(control="T1").encode()])
    finally:
        await server.close()
    assert b"MSA|AA" in acks[0]
    hub.runtime.run_until_idle()
    stored = [orjson.loads(r.value) for p in range(hub.log.partitions("svu.events"))
              for r in hub.log.read("svu.events", p, 0, 100)]
    hub.close()
    found = list(spans.get_finished_spans())
    by_name = {s.name: s for s in found}
    receive = by_name["hl7 receive"]
    assert receive.kind == SpanKind.SERVER and receive.parent is None
    store = by_name["svu.log append"]
    assert store.parent is not None and store.parent.span_id == receive.context.span_id
    processing = [s for s in found if s.name.startswith("process ")]
    assert processing and all(s.parent is not None and s.parent.span_id == receive.context.span_id
                              for s in processing)
    trace_id = _one_trace(found)
    assert stored and all(e["traceparent"].split("-")[1] == f"{trace_id:032x}" for e in stored)
    assert_no_patient_data(found, [e["episodeid"] for e in stored])


async def test_an_inbound_request_gives_one_trace_down_to_the_delivery_call(
        spans: InMemorySpanExporter, tmp_path: Path) -> None:
    fake, port = FakeLifeCare(Behaviour()), free_port()
    lifecare = LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01,
                                backoff_max_s=0.05, timeout_s=2, max_attempts=2)
    settings = _settings(tmp_path, lifecare=lifecare)
    hub = build_hub(settings, clock=FakeClock(NOW))
    ctx = ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor, hub.resources)
    with TestClient(create_app(ctx)) as client:
        answer = client.post("/inbound/prator", content=EXAMPLE, headers={
            "Content-Type": "application/xml", "Authorization": "Bearer admin", "traceparent": CALLER})
    assert answer.status_code == 202, answer.text
    hub.runtime.run_until_idle()
    client_ = LifeCareClient(lifecare)
    async with serving(fake, port):
        delivered = await DeliveryWorker(hub.log, client_, hub.clock).run_once()
    await client_.close()
    hub.close()
    assert delivered and fake.received
    found = list(spans.get_finished_spans())
    assert _one_trace(found) == int(CALLER.split("-")[1], 16)  # the caller's trace, end to end
    ids = {s.context.span_id: s for s in found}
    http = next(s for s in found if s.kind == SpanKind.SERVER and s.name == "POST /inbound/prator")
    assert http.parent is not None and http.parent.span_id == int(CALLER.split("-")[2], 16)
    assert http.attributes is not None and http.attributes["http.route"] == "/inbound/prator"
    deliveries = [s for s in found if s.name == "deliver lifecare"]
    assert len(deliveries) == len(fake.received)
    for span in deliveries:  # delivery call ← emit of the request ← engine ← HTTP request
        assert span.kind == SpanKind.CLIENT and span.parent is not None
        emit = ids[span.parent.span_id]
        assert emit.name == "emit se.svu.delivery_requested.v1" and emit.parent is not None
        process = ids[emit.parent.span_id]
        assert process.name == "process engine" and process.parent is not None
        assert process.parent.span_id == http.context.span_id
    assert_no_patient_data(found, [answer.json()["episode_id"]])


def test_tracing_is_off_unless_the_otel_variables_ask() -> None:
    assert not otel.wanted({})
    assert otel.wanted({"OTEL_TRACES_EXPORTER": "otlp"})
    assert otel.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not otel.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"})
    assert not otel.wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert not otel.enabled() and otel.current_traceparent() is None
    with otel.span("nothing") as span:
        assert not span.is_recording()
