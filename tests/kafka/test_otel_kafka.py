"""OpenTelemetry on librdkafka's mock cluster: an MLLP message received by the MLLP adapter is
one trace on the Faust worker too (the context travels in the ``traceparent`` Kafka header), and
a Prator message through the API role is one trace down to the delivery role's HTTP call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from hub.adapters.hl7.transport import send
from hub.adapters.lifecare.config import LifeCareSettings
from hub.bootstrap import build_processors
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import ApiSettings, EngineSettings, HubSettings, LogSettings
from hub.streams import otel
from hub.streams.kafka.app import WorkerApp
from tests.integration.test_otel import CALLER, EXAMPLE, assert_no_patient_data
from tests.kafka.test_api_role import ADMIN, KEYS, api_role
from tests.kafka.test_delivery_role import role
from tests.kafka.test_mllp_adapter import running
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving
from tests.support.hl7 import adt
from tests.support.kafka import MockCluster, read_all, wait_for

pytestmark = pytest.mark.slow
NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
DIRECTORY = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    otel.use(otel.provider(SimpleSpanProcessor(exporter)))
    yield exporter
    otel.use(None)


def _named(found: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in found if s.name.startswith(prefix)]


async def test_an_mllp_message_is_one_trace_from_the_adapter_through_the_worker(
        cluster: MockCluster, tmp_path: Path, spans: InMemorySpanExporter) -> None:
    kafka = cluster.settings(app_id="otel-mllp", data_dir=tmp_path / "faust")
    async with running(cluster, tmp_path) as adapter:
        assert adapter.server is not None
        acks = await send("127.0.0.1", adapter.server.port, [adt(control="OT1").encode()])
    assert b"MSA|AA" in acks[0]
    records = await read_all(cluster.bootstrap, topics.EVENTS)
    headers = [dict(r.headers) for r in records]
    assert headers and all("traceparent" in h for h in headers)  # the context in the Kafka header
    worker = WorkerApp(kafka, build_processors(HubSettings(engine=EngineSettings(directory=DIRECTORY))),
                       FakeClock(NOW))
    await worker.app.start()
    try:
        await wait_for(lambda: bool(_named(list(spans.get_finished_spans()), "process engine")))
    finally:
        await worker.app.stop()
    found = list(spans.get_finished_spans())
    receive = _named(found, "hl7 receive")[0]
    assert receive.kind == SpanKind.SERVER and {s.context.trace_id for s in found} == {receive.context.trace_id}
    assert _named(found, "svu.log append")[0].parent.span_id == receive.context.span_id  # type: ignore[union-attr]
    for process in _named(found, "process "):
        assert process.parent is not None and process.parent.span_id == receive.context.span_id
    assert headers[0]["traceparent"].decode().split("-")[1] == f"{receive.context.trace_id:032x}"
    assert_no_patient_data(found, [r.key.decode() for r in records])


async def test_a_prator_message_is_one_trace_from_the_api_role_to_the_delivery_call(
        cluster: MockCluster, tmp_path: Path, spans: InMemorySpanExporter) -> None:
    kafka = cluster.settings(app_id="otel-deliver", data_dir=tmp_path / "faust")
    worker = WorkerApp(kafka, build_processors(HubSettings(engine=EngineSettings(directory=DIRECTORY))),
                       FakeClock(NOW))
    await worker.app.start()
    fake, port = FakeLifeCare(Behaviour()), free_port()
    lifecare = LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01,
                                backoff_max_s=0.05, timeout_s=2, max_attempts=2)
    api_settings = HubSettings(kafka=kafka, log=LogSettings(path=tmp_path / "mirror.db"),
                               api=ApiSettings(host="127.0.0.1", port=0, keys=KEYS))
    delivery_settings = HubSettings(kafka=kafka, lifecare=lifecare, api=ApiSettings(host="127.0.0.1", port=0))
    try:
        async with api_role(api_settings) as api, httpx.AsyncClient(base_url=api.url or "", headers=ADMIN) as client:
            answer = await client.post("/inbound/prator", content=EXAMPLE,
                                       headers={"Content-Type": "application/xml", "traceparent": CALLER})
            assert answer.status_code == 202, answer.text
        async with serving(fake, port), role(delivery_settings):
            await wait_for(lambda: len(_named(list(spans.get_finished_spans()), "deliver lifecare")) >= 3,
                           timeout=120)
    finally:
        await worker.app.stop()
    found = list(spans.get_finished_spans())
    assert {s.context.trace_id for s in found} == {int(CALLER.split("-")[1], 16)}
    ids = {s.context.span_id: s for s in found}
    http = next(s for s in found if s.name == "POST /inbound/prator")
    for span in _named(found, "deliver lifecare"):
        emit = ids[span.parent.span_id]  # type: ignore[union-attr]
        assert emit.name == "emit se.svu.delivery_requested.v1"
        process = ids[emit.parent.span_id]  # type: ignore[union-attr]
        assert process.name == "process engine"
        assert process.parent is not None and process.parent.span_id == http.context.span_id
    assert_no_patient_data(found, [answer.json()["episode_id"]])
