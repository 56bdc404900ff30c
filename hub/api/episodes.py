"""Episodes: one vårdtillfälle's timeline across systems, its deadlines and their state, its
deliveries. Only for principals that are part of the episode (``hub.api.access``); another
kommun's episode answers 404 like one that does not exist. Every answer is audited first."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status

from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.errors import responses
from hub.api.security import Authenticator, Principal
from hub.domain.engine import EpisodeEngine
from hub.domain.report import episode_report
from hub.domain.timeline import Timeline, TimelineProcessor
from hub.schemas.identifiers import contains_personal_id
from hub.schemas.report import EpisodeReport

EPISODE_ID = Path(
    min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
    description="Vårdtillfälle id (never a personnummer).", examples=["VLL-2026-000123"],
)
NOT_FOUND = responses(401, 403, 404, 422)
DELIVERY_EXAMPLE = [{"delivery_id": "d-1", "episode_id": "VLL-2026-000123", "receiver": "SE2120002411-SOC",
                     "system": "lifecare", "message_type": "admission_notice_sent", "idempotency_key": "k-1",
                     "status": "delivered", "requested_at": "2026-03-02T08:30:00Z",
                     "updated_at": "2026-03-02T08:30:02Z", "detail": None, "handover": 0}]


TIMELINE_EXAMPLE = {"episode_id": "VLL-2026-000123", "municipalities": ["2480"], "units": ["SE2321000248-V00"],
                    "entries": [{"id": "hl7:COSMIC|NUS|M1", "type": "se.svu.patient_admitted.v1",
                                 "time": "2026-03-02T08:15:00Z", "source": "/hl7/COSMIC/NUS",
                                 "source_message_id": "COSMIC|NUS|M1", "received_at": "2026-03-02T08:15:01Z",
                                 "data": {"ward": "SE2321000248-V00", "admitted_at": "2026-03-02T08:15:00Z"}}]}
REPORT_EXAMPLE = {"episode_id": "VLL-2026-000123", "category": "C", "deadlines": [], "alerts": []}


def _no_personal_id(episode_id: str) -> None:
    """An episode id is never a personnummer: refused by rule, and never written to the audit log."""
    if contains_personal_id(episode_id):
        raise HTTPException(422, detail=[{"field": "path.episode_id", "rule": "must not hold a personnummer"}])


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/episodes", tags=["episodes"])
    Who = Annotated[Principal, Depends(auth)]
    Id = Annotated[str, EPISODE_ID]

    def _visible(who: Principal, episode_id: str, endpoint: str) -> dict[str, Any]:
        _no_personal_id(episode_id)
        raw = ctx.log.get_state(TimelineProcessor.NAME, episode_id)
        state = TimelineProcessor().decode_state(raw) if raw is not None else None
        if state is None or episode_id not in access.visible(who, [episode_id]):
            # 404, not 403: a kommun must not learn that another kommun's episode exists.
            audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="not_found", patient_keys=())
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="episode not found")
        audit.record(who, endpoint=endpoint, episode_id=episode_id, outcome="read")
        return state

    @api.get("/{episode_id}/timeline", response_model=Timeline, responses={**NOT_FOUND, 200: {
        "content": {"application/json": {"example": TIMELINE_EXAMPLE}}}},
             summary="Every event of one vårdtillfälle, from every source, in order.")
    def timeline(episode_id: Id, who: Who) -> Timeline:
        return TimelineProcessor.view(_visible(who, episode_id, "GET /episodes/{episode_id}/timeline"))

    @api.get("/{episode_id}", response_model=EpisodeReport, responses={**NOT_FOUND, 200: {
        "content": {"application/json": {"example": REPORT_EXAMPLE}}}},
             summary="The vårdtillfälle's category, deadlines with their state, alerts and liability.")
    def episode(episode_id: Id, who: Who) -> EpisodeReport:
        _no_personal_id(episode_id)
        raw = ctx.log.get_state(EpisodeEngine.NAME, episode_id)
        if raw is None or ctx.resources is None:
            audit.record(who, endpoint="GET /episodes/{episode_id}", episode_id=episode_id,
                         outcome="not_found", patient_keys=())
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="episode not found")
        _visible(who, episode_id, "GET /episodes/{episode_id}")
        state = EpisodeEngine.STATE.model_validate_json(raw)
        return episode_report(state, ctx.resources.pack, ctx.clock.now())

    @api.get("/{episode_id}/deliveries", responses={
        200: {"content": {"application/json": {"example": DELIVERY_EXAMPLE}}}, **NOT_FOUND},
        summary="What was to be delivered to whom, on which system, and how it stands.")
    def deliveries(episode_id: Id, who: Who) -> list[dict[str, Any]]:
        _visible(who, episode_id, "GET /episodes/{episode_id}/deliveries")
        return ctx.log.query("SELECT * FROM deliveries WHERE episode_id = ? ORDER BY requested_at, receiver",
                             (episode_id,))

    return api
