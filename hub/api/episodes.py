"""Episodes: one vårdtillfälle's timeline across systems, its deadlines and their state, its
deliveries. Scoped per huvudman (another kommun's episode answers 404) and audit-logged."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status

from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal
from hub.domain.engine import EpisodeEngine
from hub.domain.report import episode_report
from hub.domain.timeline import Timeline, TimelineProcessor
from hub.schemas.report import EpisodeReport

EPISODE_ID = Path(
    min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
    description="Vårdtillfälle id (never a personnummer).", examples=["VLL-2026-000123"],
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such episode, or not one the caller may see."}}


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog) -> APIRouter:
    api = APIRouter(prefix="/episodes", tags=["episodes"])
    Who = Annotated[Principal, Depends(auth)]
    Id = Annotated[str, EPISODE_ID]

    def _visible(who: Principal, episode_id: str, endpoint: str) -> dict[str, Any]:
        raw = ctx.log.get_state(TimelineProcessor.NAME, episode_id)
        state = TimelineProcessor().decode_state(raw) if raw is not None else None
        if state is None or not who.may_read_episode(state["municipalities"]):
            # 404, not 403: a kommun must not learn that another kommun's episode exists.
            audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="not_found")
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="episode not found")
        audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="read")
        return state

    @api.get("/{episode_id}/timeline", response_model=Timeline, responses=NOT_FOUND,
             summary="Every event of one vårdtillfälle, from every source, in order.")
    def timeline(episode_id: Id, who: Who) -> Timeline:
        return TimelineProcessor.view(_visible(who, episode_id, "GET /episodes/{episode_id}/timeline"))

    @api.get("/{episode_id}", response_model=EpisodeReport, responses=NOT_FOUND,
             summary="The vårdtillfälle's category, deadlines with their state, alerts and liability.")
    def episode(episode_id: Id, who: Who) -> EpisodeReport:
        _visible(who, episode_id, "GET /episodes/{episode_id}")
        raw = ctx.log.get_state(EpisodeEngine.NAME, episode_id)
        if raw is None or ctx.resources is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="episode not found")
        state = EpisodeEngine.STATE.model_validate_json(raw)
        return episode_report(state, ctx.resources.pack, ctx.clock.now())

    @api.get("/{episode_id}/deliveries", responses=NOT_FOUND,
             summary="What was to be delivered to whom, on which system, and how it stands.")
    def deliveries(episode_id: Id, who: Who) -> list[dict[str, Any]]:
        _visible(who, episode_id, "GET /episodes/{episode_id}/deliveries")
        return ctx.log.query("SELECT * FROM deliveries WHERE episode_id = ? ORDER BY requested_at, receiver",
                             (episode_id,))

    return api
