"""A small HTTP app for processes that are not the ops API (the MLLP adapter on Kafka):
``/health`` (liveness), ``/ready`` (readiness, with the checks that decided it) and ``/metrics``
(Prometheus), for Kubernetes probes and a ServiceMonitor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from hub import __version__
from hub.streams.metrics import instrument

Checks = Callable[[], dict[str, dict[str, Any]]]
"""Named checks, each a dict with at least ``ok`` (bool)."""


def create_probe_app(name: str, checks: Checks, collectors: list[Collector]) -> FastAPI:
    """Probes and metrics of one process (``name`` appears in the OpenAPI title)."""
    app = FastAPI(title=f"svu-hub {name}", version=__version__, docs_url=None, redoc_url=None)
    instrument(app, collectors)  # process and HTTP metrics, HTTP spans

    @app.get("/health", summary="Liveness: the process answers.")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", summary="Readiness: every check passes.",
             responses={503: {"description": "Not ready; the body says which check failed."}})
    def ready() -> JSONResponse:
        found = checks()
        ok = all(bool(c.get("ok")) for c in found.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": found},
                            status_code=200 if ok else 503)

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics.")
    def metrics() -> Response:
        registry = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            registry.register(collector)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
