"""Alerts: list and filter (rule, receiving unit, kommun, state, age), acknowledge, assign.
Acknowledgements and assignments are events on ``svu.alerts``, so a replay keeps them."""


import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import AlertAcknowledged, AlertAssigned
from hub.settings import Role
from hub.streams.log import Append, Record
from hub.streams.projections import AlertsProjection


class Alert(BaseModel):
    """One alert as the ops view shows it."""

    alert_id: str
    episode_id: str
    rule: str
    rule_source: str | None = None
    responsible_unit: str | None = None
    municipality: str | None = None
    deadline: str | None = None
    level: int
    state: Literal["open", "resolved"]
    raised_at: str
    escalated_at: str | None = None
    resolved_at: str | None = None
    resolution: str | None = None
    lateness_seconds: int | None = None
    detail: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    assignee: str | None = None


class Acknowledge(BaseModel):
    note: str | None = Field(default=None, max_length=500, examples=["Ringt avdelningen"])


class Assign(BaseModel):
    assignee: str = Field(min_length=1, max_length=100, examples=["team-umea"])


def router(ctx: ApiContext, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/alerts", tags=["alerts"])
    Who = Annotated[Principal, Depends(auth)]

    def _get(who: Principal, alert_id: str) -> dict[str, Any]:
        rows = ctx.log.query("SELECT * FROM alerts WHERE alert_id = ?", (alert_id,))
        scope = who.kommun_scope()
        if not rows or (scope is not None and rows[0]["municipality"] != scope):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="alert not found")
        return rows[0]

    @api.get("", response_model=list[Alert], summary="Alerts, newest first, filtered.")
    def list_alerts(
        who: Who,
        rule: Annotated[str | None, Query(max_length=100)] = None,
        unit: Annotated[str | None, Query(max_length=31, description="Responsible unit (HSA-id).")] = None,
        municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
        state: Annotated[Literal["open", "resolved"] | None, Query()] = None,
        min_age_hours: Annotated[float | None, Query(ge=0, le=24 * 365)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        where, params = [], []
        scope = who.kommun_scope()
        if scope is not None:
            where.append("municipality = ?")
            params.append(scope)
        for column, value in (("rule", rule), ("responsible_unit", unit),
                              ("municipality", municipality), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if min_age_hours is not None:
            cutoff = ctx.clock.now() - dt.timedelta(hours=min_age_hours)
            where.append("raised_at <= ?")
            params.append(cutoff.isoformat().replace("+00:00", "Z"))
        sql = "SELECT * FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return ctx.log.query(sql + " ORDER BY raised_at DESC, alert_id LIMIT ?", (*params, limit))

    @api.get("/{alert_id}", response_model=Alert, responses={404: {"description": "No such alert."}})
    def get_alert(alert_id: str, who: Who) -> dict[str, Any]:
        return _get(who, alert_id)

    def _append(episode_id: str, payload: AlertAcknowledged | AlertAssigned) -> None:
        now = ctx.clock.now()
        ev = new_event(payload, episode_id=episode_id, source="/hub/api",
                       source_message_id=f"{payload.alert_id}:{type(payload).EVENT_NAME}:{now.isoformat()}",
                       time=now, received_at=now)
        body = ev.to_json()
        with ctx.log.transaction() as tx:
            (at,) = tx.append([Append(topics.ALERTS, episode_id, body)])
            # The projection applies the same event again when it reaches it: idempotent.
            AlertsProjection().apply(tx.db, [Record(at.topic, at.partition, at.offset, episode_id, body, 0)])

    @api.post("/{alert_id}/acknowledge", response_model=Alert, summary="Mark an alert as being handled.")
    def acknowledge(alert_id: str, who: Who,
                    body: Annotated[Acknowledge | None, Body()] = None) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)
        row = _get(who, alert_id)
        _append(row["episode_id"], AlertAcknowledged(alert_id=alert_id, by=who.name, at=ctx.clock.now(),
                                                     note=body.note if body else None))
        return _get(who, alert_id)

    @api.post("/{alert_id}/assign", response_model=Alert, summary="Assign an alert to a person or team.")
    def assign(alert_id: str, body: Assign, who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)
        row = _get(who, alert_id)
        _append(row["episode_id"], AlertAssigned(alert_id=alert_id, by=who.name, assignee=body.assignee,
                                                 at=ctx.clock.now()))
        return _get(who, alert_id)

    return api
