"""The FastAPI application factory. Nothing connects at import time: ``create_app`` receives the
hub's parts from the composition root (``hub.bootstrap``)."""


from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, status
from fastapi.responses import JSONResponse

from hub import __version__
from hub.api.audit import AuditLog
from hub.api.security import ApiKeyAuth, Principal
from hub.domain.clock import Clock
from hub.domain.timeline import Timeline, TimelineProcessor
from hub.settings import HubSettings
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

EPISODE_ID = Path(
    min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
    description="Vårdtillfälle id (never a personnummer).", examples=["VLL-2026-000123"],
)


@dataclass
class ApiContext:
    """What the API reads from and writes to."""

    settings: HubSettings
    log: SqliteLog
    clock: Clock
    runtime: EmbeddedRuntime | None = None


def create_app(ctx: ApiContext) -> FastAPI:
    """Build the ops API over the given hub parts."""
    app = FastAPI(
        title="svu-hub ops API",
        version=__version__,
        description="Operations API of svu-hub: health, readiness and the read models of "
        "samverkan vid utskrivning. Patient data is scoped to the caller's huvudman and every "
        "read of it is audit-logged.",
    )
    auth = ApiKeyAuth(ctx.settings.api.keys)
    audit = AuditLog(ctx.log, ctx.clock)
    CurrentPrincipal = Annotated[Principal, Depends(auth)]

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
            checks["processors"] = {"ok": within, "lag": lag,
                                    "max_lag": ctx.settings.runtime.max_lag}
        body = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(
        "/episodes/{episode_id}/timeline",
        tags=["episodes"],
        summary="Every event of one vårdtillfälle, from every source, in order.",
        response_model=Timeline,
        responses={401: {"description": "No or unknown API key."},
                   404: {"description": "No such episode, or not one the caller may see."}},
    )
    def timeline(episode_id: Annotated[str, EPISODE_ID], who: CurrentPrincipal) -> Timeline:
        endpoint = "GET /episodes/{episode_id}/timeline"
        raw = ctx.log.get_state(TimelineProcessor.NAME, episode_id)
        state = TimelineProcessor().decode_state(raw) if raw is not None else None
        if state is None or not who.may_read_episode(state["municipalities"]):
            # 404, not 403: a kommun must not learn that another kommun's episode exists.
            audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="not_found")
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="episode not found")
        audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="read")
        return TimelineProcessor.view(state)

    return app
