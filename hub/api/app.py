"""The FastAPI application factory. Nothing connects at import time: ``create_app`` receives the
hub's parts from the composition root (``hub.bootstrap``)."""

from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from hub import __version__
from hub.api import alerts, bridge, console, dead_letters, docs, episodes, held, inbound, search, stats
from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.errors import install, responses
from hub.api.metrics import render
from hub.api.middleware import BodyLimit, SecurityHeaders
from hub.api.security import Authenticator, Principal, require
from hub.errors import ConfigurationError
from hub.settings import ApiKey, Role
from hub.streams.door import Door
from hub.streams.metrics import instrument

__all__ = ["ApiContext", "create_app", "refuse_default_secret", "tls_options"]

DEFAULT_SECRET = "change-me-in-production"  # noqa: S105 - the shipped default, refused

METRICS_EXAMPLE = 'svu_hub_topic_records{topic="svu.events"} 42\n'

DESCRIPTION = """\
Operations API of svu-hub, the integration hub for samverkan vid utskrivning (Lag 2017:612).

Send `Authorization: Bearer <API key or JWT>`. Every principal acts for a huvudman
(`region:<länskod>` or `kommun:<kommunkod>`). Roles: `ops_admin`; `region` (the episodes of its
own hospitals); `kommun` (the episodes it is part of: the hub routed a meddelande to one of its
units, or the slutenvård gives the patient as folkbokförd there — another kommun's episode answers
404, like one that does not exist); `dashboard` (aggregates only). Every response with patient
data is written to the audit log (`GET /audit`) before it is returned. Errors have one shape:
`{"detail": "...", "errors": [{"field": "...", "rule": "..."}]}` — a value is never quoted back.
"""


def refuse_default_secret(settings: Any) -> None:
    """``hub run`` and ``hub api`` do not start with the shipped patient-hash secret (the demo may)."""
    if settings.engine.patient_key_secret.get_secret_value() == DEFAULT_SECRET:
        raise ConfigurationError("set engine.patient_key_secret (HUB_ENGINE__PATIENT_KEY_SECRET): the shipped "
                                 "default would let anyone link the patient hashes", field="engine.patient_key_secret")


def tls_options(api: Any) -> dict[str, Any]:
    """uvicorn's TLS options from ``[api]``: HTTPS when a certificate and key are configured."""
    if api.tls_certfile is None:
        return {}
    if api.tls_keyfile is None:
        raise ConfigurationError("api.tls_certfile needs api.tls_keyfile", field="api.tls_keyfile")
    return {"ssl_certfile": str(api.tls_certfile), "ssl_keyfile": str(api.tls_keyfile)}


def create_app(ctx: ApiContext, *, extra_keys: tuple[ApiKey, ...] = ()) -> FastAPI:
    """Build the ops API and the dashboard over the given hub parts."""
    app = FastAPI(title="svu-hub ops API", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None)
    secret = ctx.settings.engine.patient_key_secret.get_secret_value().encode()
    audit = AuditLog(ctx.log, ctx.clock, secret)
    counts = {"too_large": 0, "refused_at_door": 0}
    instrument(app, ctx.collectors, ctx.log)  # process, HTTP, delivery and dead-letter metrics; HTTP spans

    def refused_at_door(request: Request, status: int) -> None:
        """Inbound refusals before the door (role, kommun path, content type): audited, counted."""
        if not request.url.path.startswith("/inbound/"):
            return
        counts["refused_at_door"] += 1
        who = getattr(request.state, "principal", None)
        route = getattr(request.scope.get("route"), "path", request.url.path)
        audit.trail.write(principal=who.name if who else "-", role=who.role.value if who else "none",
                          huvudman=who.huvudman if who else None, endpoint=f"{request.method} {route}"[:200],
                          outcome="refused", patient_keys=(), client=who.client if who else None,
                          detail=f"{status} at the door")

    install(app, refused_at_door)
    auth = Authenticator(ctx.settings.api, audit.trail, extra_keys=extra_keys)
    access = Access(ctx)
    door = Door(ctx.log, ctx.clock, access.directory, audit.trail,
                dead_letter_prefix=ctx.settings.api.dead_letter_prefix_bytes)
    ctx.door = door
    Who = Annotated[Principal, Depends(auth)]

    def too_large(scope: dict[str, Any], reason: str) -> None:
        counts["too_large"] += 1
        client = scope.get("client")
        audit.trail.write(principal="-", role="none", huvudman=None,
                          endpoint=f"{scope.get('method')} {scope.get('path', '')}"[:200], outcome="refused",
                          patient_keys=(), client=str(client[0]) if client else None, detail=f"413: {reason}")

    app.add_middleware(BodyLimit, limit=ctx.settings.api.max_body_bytes, on_refused=too_large)
    app.add_middleware(SecurityHeaders)

    @app.get("/health", tags=["ops"], summary="Liveness: the process answers.",
             responses={200: {"content": {"application/json": {"example": {"status": "ok", "version": __version__}}}}})
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["ops"], summary="Readiness: the log answers and processors keep up.",
             responses={200: {"content": {"application/json": {"example": {"status": "ready", "checks": {
                 "log": {"ok": True, "topics": 12}}}}}},
                 503: {"description": "Not ready; the body says why."}})
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

    @app.get("/metrics", tags=["ops"], response_class=Response, summary="Prometheus metrics (ops admins).",
             responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}},
                        **responses(401, 403)})
    def metrics(who: Who) -> Response:
        require(who, Role.OPS_ADMIN)
        door_counts = {"refused": door.refused, "auth_failures": auth.failures,
                       "auth_throttled": auth.throttle.throttled, **counts}
        return Response(render(ctx, ctx.collectors, door_counts), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(episodes.router(ctx, auth, audit, access))
    app.include_router(alerts.router(ctx, auth, audit, access))
    app.include_router(dead_letters.router(ctx, auth, audit, access))
    app.include_router(stats.router(ctx, auth, audit))
    app.include_router(inbound.router(ctx, auth, door))
    app.include_router(docs.router(app))
    app.include_router(console.router(ctx, auth, audit, access))
    app.include_router(search.router(ctx, auth, audit, access))
    app.include_router(bridge.router(ctx, auth, audit, access))
    app.include_router(held.router(ctx, auth, audit))

    static = files("hub.api") / "static"
    app.mount("/dashboard/static", StaticFiles(directory=str(static)), name="dashboard-static")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    @app.get("/dashboard", include_in_schema=False, response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    return app
