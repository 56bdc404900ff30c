"""The console's read models: Swedish labels and names, the episode list with filters and
paging, and alerts over time. The list is patient-level data: it follows the caller's scope
(``hub.api.access.Access``) and is audit-logged before it is returned."""


import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from hub.api import examples
from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.domain.deadlines import category_of
from hub.domain.engine import EpisodeEngine
from hub.domain.episode import EpisodeState
from hub.domain.labels import Labels, labels_for, sources_document
from hub.domain.timeline import TimelineProcessor
from hub.schemas.geography import kommuner
from hub.settings import Role

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PATIENT_ROLES = (Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)
EpisodeStatus = Literal["inskriven", "utskrivningsklar", "utskriven", "avbruten"]


class EpisodeRow(BaseModel):
    """One vårdtillfälle in the list (no patient identity: the episode id stands for it)."""

    episode_id: str
    municipality: str | None
    ward: str | None
    status: EpisodeStatus
    category: str | None
    care_type: str
    admitted_at: dt.datetime | None
    ready_at: dt.datetime | None
    discharged_at: dt.datetime | None
    open_alerts: int


class EpisodePage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[EpisodeRow]


class Names(BaseModel):
    """Display names: units by HSA-id, kommuner by kommunkod."""

    units: dict[str, str]
    municipalities: dict[str, str]
    county: list[str] = Field(default_factory=list, description="Kommunkoder of the rule pack's län.")


class AlertBucket(BaseModel):
    period: str
    rule: str
    raised: int


def episode_status(s: EpisodeState) -> EpisodeStatus:
    if s.is_cancelled:
        return "avbruten"
    if s.is_discharged:
        return "utskriven"
    if s.ready_at is not None:
        return "utskrivningsklar"
    return "inskriven"


def visible_timeline(ctx: ApiContext, access: Access, who: Principal, episode_id: str) -> dict[str, Any] | None:
    """The episode's timeline state if ``who`` may read it (the same test as /episodes)."""
    raw = ctx.log.get_state(TimelineProcessor.NAME, episode_id)
    state = TimelineProcessor().decode_state(raw) if raw is not None else None
    if state is None or episode_id not in access.visible(who, [episode_id]):
        return None
    return state


def pack_labels(ctx: ApiContext) -> Labels:
    pack = ctx.resources.pack.id if ctx.resources is not None else None
    return labels_for(pack)


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/console", tags=["console"])
    Who = Annotated[Principal, Depends(auth)]

    @api.get("/me", responses=examples.ok(examples.ME),
                               summary="Who is logged in: name, role and kommun (for the console's menus).")
    def me(who: Who) -> dict[str, Any]:
        return {"name": who.name, "role": who.role.value, "municipality": who.municipality,
                "sees_patient_data": who.sees_patient_data}

    @api.get("/labels", responses=examples.ok(examples.LABELS), response_model=Labels,
             summary="Swedish names and explanations of every rule, outcome, status and level.")
    def labels(who: Who) -> Labels:
        return pack_labels(ctx)

    @api.get("/sources", responses=examples.ok(examples.SOURCES, "text/plain"), response_class=PlainTextResponse,
             summary="The documents the rules cite (Markdown), shipped with the hub.")
    def sources(who: Who) -> str:
        return sources_document()

    @api.get("/names", responses=examples.ok(examples.NAMES), response_model=Names,
             summary="Names of units and kommuner for display.")
    def names(who: Who) -> Names:
        holder = ctx.resources.directory if ctx.resources is not None else None
        current = holder.current() if holder is not None else None
        units = {u.hsa_id: u.name for u in current.units()} if current is not None else {}
        lanskod = ctx.resources.pack.lanskod if ctx.resources is not None else None
        return Names(units=units, municipalities={k.code: k.name for k in kommuner()},
                     county=[k.code for k in kommuner(lanskod)] if lanskod else [])

    @api.get("/episodes", responses=examples.ok(examples.EPISODES), response_model=EpisodePage,
             summary="Vårdtillfällen, newest admission first, filtered and paged (audit-logged).")
    def episodes(
        who: Who,
        municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
        unit: Annotated[str | None, Query(max_length=40, description="Any unit the episode concerns.")] = None,
        ward: Annotated[str | None, Query(max_length=40)] = None,
        status_: Annotated[EpisodeStatus | None, Query(alias="status")] = None,
        category: Annotated[str | None, Query(max_length=4)] = None,
        open_alerts: Annotated[bool | None, Query(description="Only episodes with open alerts.")] = None,
        admitted_from: Annotated[dt.date | None, Query(description="Inskriven från (Stockholm-datum).")] = None,
        admitted_to: Annotated[dt.date | None, Query(description="Inskriven till och med.")] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 25,
    ) -> EpisodePage:
        require(who, *PATIENT_ROLES)
        counts = {str(r["episode_id"]): int(str(r["n"])) for r in ctx.log.query(
            "SELECT episode_id, COUNT(*) AS n FROM alerts WHERE state = 'open' GROUP BY episode_id")}
        rows: list[EpisodeRow] = []
        states = list(ctx.log.scan_states(EpisodeEngine.NAME))
        allowed = access.visible(who, [key for key, _ in states])
        for key, raw in states:
            if key not in allowed:
                continue
            s = EpisodeEngine.STATE.model_validate_json(raw)
            if s.admitted_at is None:
                continue
            row = EpisodeRow(
                episode_id=key, municipality=s.municipality, ward=s.ward, status=episode_status(s),
                category=(c.value if (c := category_of(s)) else None), care_type=s.care_type.value,
                admitted_at=s.admitted_at, ready_at=s.ready_at, discharged_at=s.discharged_at,
                open_alerts=counts.get(key, 0))
            if not _matches(row, municipality, ward, status_, category, open_alerts, admitted_from, admitted_to):
                continue
            timeline: dict[str, Any] | None = None
            if unit is not None:
                timeline = visible_timeline(ctx, access, who, key)
                if timeline is None:
                    continue
                if unit is not None and unit not in timeline["units"] and unit != s.ward:
                    continue
            rows.append(row)
        rows.sort(key=lambda r: (r.admitted_at or dt.datetime.min.replace(tzinfo=dt.UTC), r.episode_id),
                  reverse=True)
        start = (page - 1) * page_size
        items = rows[start:start + page_size]
        audit.record(who, endpoint="GET /console/episodes", episode_id=None, outcome="read",
                     episode_ids=[r.episode_id for r in items])
        return EpisodePage(total=len(rows), page=page, page_size=page_size, items=items)

    @api.get("/alert-history", responses=examples.ok(examples.ALERT_HISTORY), response_model=list[AlertBucket],
             summary="Alerts raised per month (or week) and rule: aggregates only.")
    def alert_history(who: Who, by: Annotated[Literal["month", "week"], Query()] = "month",
                      municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
                      ) -> list[AlertBucket]:
        scope = who.kommun_scope()
        if scope is not None and municipality not in (None, scope):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="kommun not found")
        municipality = scope or municipality
        where, params = "", []
        if municipality is not None:
            where, params = " WHERE municipality = ?", [municipality]
        fmt = "%Y-%m" if by == "month" else "%Y-W%W"
        sql = (f"SELECT strftime('{fmt}', raised_at) AS period, rule, COUNT(*) AS n FROM alerts{where} "  # noqa: S608
               "GROUP BY period, rule ORDER BY period, rule")
        return [AlertBucket(period=str(r["period"]), rule=str(r["rule"]), raised=int(str(r["n"])))
                for r in ctx.log.query(sql, params)]

    return api


def _matches(row: EpisodeRow, municipality: str | None, ward: str | None, status_: str | None,
             category: str | None, open_alerts: bool | None, admitted_from: dt.date | None,
             admitted_to: dt.date | None) -> bool:
    if municipality is not None and row.municipality != municipality:
        return False
    if ward is not None and row.ward != ward:
        return False
    if status_ is not None and row.status != status_:
        return False
    if category is not None and row.category != category:
        return False
    if open_alerts is not None and (row.open_alerts > 0) != open_alerts:
        return False
    day = row.admitted_at.astimezone(STOCKHOLM).date() if row.admitted_at else None
    if admitted_from is not None and (day is None or day < admitted_from):
        return False
    return not (admitted_to is not None and (day is None or day > admitted_to))
