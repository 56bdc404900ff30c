"""The FastAPI application factory. Nothing connects at import time: ``create_app`` receives the
hub's parts from the composition root (``hub.bootstrap``)."""

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from hub import __version__
from hub.api import alerts, dead_letters, episodes, inbound, stats
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.metrics import render
from hub.api.security import Authenticator
from hub.errors import TransportError
from hub.streams.metrics import instrument

__all__ = ["ApiContext", "create_app"]

DESCRIPTION = """\
Operations API of svu-hub, the integration hub for samverkan vid utskrivning (Lag 2017:612).

Send `Authorization: Bearer <API key or JWT>`. Roles: `ops_admin`, `region`, `kommun` (bound
to one kommunkod: sees only episodes, alerts and figures that concern it; another kommun's
episode answers 404), `dashboard` (aggregates only). Every read of patient data is written to
the audit log (`GET /audit`).
"""


def create_app(ctx: ApiContext) -> FastAPI:
    """Build the ops API and the dashboard over the given hub parts."""
    app = FastAPI(title="svu-hub ops API", version=__version__, description=DESCRIPTION)
    auth = Authenticator(ctx.settings.api.keys, ctx.settings.api.jwt)
    audit = AuditLog(ctx.log, ctx.clock)
    instrument(app, ctx.collectors, ctx.log)  # process, HTTP, delivery and dead-letter metrics; HTTP spans

    @app.exception_handler(TransportError)
    def unavailable(request: Request, exc: TransportError) -> JSONResponse:
        # The durable store (Kafka) did not take the write: nothing was accepted; send again.
        retry = max(1, round(exc.retry_after or 1))
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(retry)})

    @app.get("/health", tags=["ops"], summary="Liveness: the process answers.")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["ops"], summary="Readiness: the log answers and processors keep up.",
             responses={503: {"description": "Not ready; the body says why."}})
    def ready() -> JSONResponse:
        checks: dict[str, Any] = {}
        ok = True
        try:
            checks["log"] = {"ok": True, "topics": len(ctx.log.topics())}
        except Exception as exc:
            ok = False
            checks["log"] = {"ok": False, "error": type(exc).__name__}
        if ctx.runtime is not None:
            lag = ctx.runtime.lag()
            within = all(v <= ctx.settings.runtime.max_lag for v in lag.values())
            ok = ok and within
            checks["processors"] = {"ok": within, "lag": lag, "max_lag": ctx.settings.runtime.max_lag}
        for name, check in ctx.checks.items():
            checks[name] = check()
            ok = ok and bool(checks[name].get("ok"))
        body = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response, summary="Prometheus metrics.",
             responses={200: {"content": {"text/plain": {}}}})
    def metrics() -> Response:
        return Response(render(ctx, ctx.collectors), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(episodes.router(ctx, auth, audit))
    app.include_router(alerts.router(ctx, auth))
    app.include_router(dead_letters.router(ctx, auth, audit))
    app.include_router(stats.router(ctx, auth))
    app.include_router(inbound.router(ctx, auth))
    app.include_router(inbound.kommun_router(ctx, auth))
    app.include_router(inbound.lifecare_router(ctx, auth))

    static = files("hub.api") / "static"
    app.mount("/dashboard/static", StaticFiles(directory=str(static)), name="dashboard-static")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    @app.get("/dashboard", include_in_schema=False, response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    return app
