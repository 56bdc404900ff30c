"""schemathesis against the ops API's own OpenAPI document: no generated request, with or without
a valid key, makes the API answer 5xx."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def _app(folder: Path):  # type: ignore[no-untyped-def]
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    cfg = HubSettings(log=LogSettings(path=folder / "hub.db"),
                      api=ApiSettings(keys=(ApiKey(key=SecretStr("admin"), principal="ops", role=Role.OPS_ADMIN),)),
                      engine=EngineSettings(directory=directory))
    clock = FakeClock(START + dt.timedelta(days=10))
    hub = build_hub(cfg, clock=clock)
    hub.ingestor.submit("demo", [s.raw for s in Simulator(start=START, episodes=10, seed=4, bad_share=0.3).traffic()])
    hub.runtime.run_until_idle()
    return create_app(ApiContext(cfg, hub.log, clock, hub.runtime, hub.ingestor, hub.resources))


def test_no_server_errors(tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(tmp_path))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    calls = {"n": 0}
    for operation in operations:

        @given(operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            for headers in ({"Authorization": "Bearer admin"}, {}):
                response = case.call(headers=headers)
                calls["n"] += 1
                assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

        check()
    assert calls["n"] > 100
