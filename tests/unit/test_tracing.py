"""W3C Trace Context: outputs continue the trace of the event that caused them, with span ids of
their own that a replay reproduces; invalid headers start nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def test_valid_headers_only() -> None:
    assert tracing.valid(PARENT.upper()) == PARENT
    for bad in (None, "", "00-abc-def-01", f"ff-{TRACE}-00f067aa0ba902b7-01",
                f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-{TRACE}-{'0' * 16}-01"):
        assert tracing.valid(bad) is None, bad


def test_a_child_keeps_trace_and_flags_with_its_own_deterministic_span() -> None:
    a, b = tracing.child(PARENT, "event-a"), tracing.child(PARENT, "event-b")
    assert a.startswith(f"00-{TRACE}-") and a.endswith("-01")
    assert a != b and a.split("-")[2] != PARENT.split("-")[2]
    assert tracing.child(PARENT, "event-a") == a


def _outputs(tmp: Path, traced: bool) -> dict[str, list[dict[str, object]]]:
    events = Simulator(start=START, episodes=3, seed=4, bad_share=0.0).events()
    if traced:
        events = [e.model_copy(update={"traceparent": PARENT}) for e in events]
    hub = build_hub(HubSettings(log=LogSettings(path=tmp / f"{traced}.db")), clock=FakeClock(START + dt.timedelta(days=30)))
    hub.ingestor.submit_events(events)
    hub.runtime.run_until_idle()
    out: dict[str, list[dict[str, object]]] = {}
    for topic in hub.log.topics():
        if topic == topics.EVENTS:
            continue
        for p in range(hub.log.partitions(topic)):
            for r in hub.log.read(topic, p, 0, 100_000):
                obj = orjson.loads(r.value)
                if isinstance(obj, dict) and "specversion" in obj:
                    out.setdefault(topic, []).append(obj)
    hub.close()
    return out


def test_processor_outputs_continue_the_trace_of_their_cause(tmp_path: Path) -> None:
    plain, traced = _outputs(tmp_path, False), _outputs(tmp_path, True)
    assert plain and all("traceparent" not in e for es in plain.values() for e in es)
    # monthly figures aggregate many episodes and are published by a timer: no single cause
    assert traced[topics.STATS] and all("traceparent" not in e for e in traced[topics.STATS])
    # the engine evaluates each event as at its receipt; deadlines that passed since are raised
    # by its timer, which has no single cause either: every other alert continues its cause
    continued = [e for t, es in traced.items() if t != topics.STATS for e in es
                 if t != topics.ALERTS or "traceparent" in e]
    assert len(continued) > len(traced[topics.ALERTS]) / 2
    assert continued and all(str(e["traceparent"]).split("-")[1] == TRACE for e in continued)
    assert len({e["traceparent"] for e in continued}) == len(continued)  # a span per output
    # apart from the trace, the same outputs
    strip = {t: sorted(orjson.dumps({k: v for k, v in e.items() if k != "traceparent"}) for e in es)
             for t, es in traced.items()}
    assert strip == {t: sorted(orjson.dumps(e) for e in es) for t, es in plain.items()}


def test_an_inbound_request_starts_its_events_in_the_callers_trace(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from hub.api.app import ApiContext, create_app
    from hub.settings import ApiKey, ApiSettings, Role

    example = (Path(__file__).parents[2] / "contracts" / "prator" / "example-inskrivningsmeddelande.xml")
    keys = (ApiKey(key=SecretStr("k"), principal="region", role=Role.REGION),)
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), api=ApiSettings(keys=keys))
    hub = build_hub(settings, clock=FakeClock(START))
    app = create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor, hub.resources))
    headers = {"Authorization": "Bearer k", "Content-Type": "application/xml"}
    with TestClient(app) as client:
        assert client.post("/inbound/prator", content=example.read_bytes(),
                           headers={**headers, "traceparent": PARENT}).status_code == 202
        assert client.post("/inbound/prator", content=example.read_bytes().replace(b"PR-", b"PX-"),
                           headers={**headers, "traceparent": "garbage"}).status_code == 202
    stored = [orjson.loads(r.value) for p in range(hub.log.partitions(topics.EVENTS))
              for r in hub.log.read(topics.EVENTS, p, 0, 10)]
    assert sorted(str(e.get("traceparent")) for e in stored) == sorted([PARENT, "None"])
    hub.close()
