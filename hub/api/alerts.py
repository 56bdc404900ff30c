"""Alerts: list and filter (rule, receiving unit, kommun, state, age), acknowledge, assign, and
counts for the dashboard role (aggregates only). Scoped by the care relationship
(``hub.api.access``); every answer that names episodes is audited before it is returned.
Acknowledgements and assignments are events on ``svu.alerts``, so a replay keeps them."""


import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.errors import responses
from hub.api.security import Authenticator, Principal, require
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import AlertAcknowledged, AlertAssigned
from hub.settings import Role
from hub.streams.log import Append, Record
from hub.streams.projections import AlertsProjection

ALERT_EXAMPLE: dict[str, Any] = {"alert_id": "VLL-2026-000042:kvittering:SE2120024803-SOC",
                 "episode_id": "VLL-2026-000042",
                 "rule": "kvittering", "rule_source": "vasterbotten: kvittering",
                 "responsible_unit": "SE2120024803-SOC",
                 "municipality": "2480", "deadline": "2026-03-02T13:00:00Z", "level": 1, "state": "open",
                 "raised_at": "2026-03-02T13:00:00Z"}


class Alert(BaseModel):
    """One alert as the ops view shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})

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


class AlertCount(BaseModel):
    """How many alerts of one rule, kommun, month and state (no episode ids)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"rule": "kvittering", "municipality": "2480", "month": "2026-03", "state": "open", "count": 7}]})

    rule: str
    municipality: str | None = None
    month: str = Field(examples=["2026-03"])
    state: Literal["open", "resolved"]
    count: int


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/alerts", tags=["alerts"])
    Who = Annotated[Principal, Depends(auth)]
    patient_level = (Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)

    def _scoped(who: Principal, where: list[str], params: list[Any]) -> None:
        clause = access.alert_clause(who)
        if clause is not None:
            where.append(clause[0])
            params.extend(clause[1])

    def _get(who: Principal, alert_id: str, endpoint: str) -> dict[str, Any]:
        where, params = ["alert_id = ?"], [alert_id]
        _scoped(who, where, params)
        rows = ctx.log.query("SELECT * FROM alerts WHERE " + " AND ".join(where), params)  # noqa: S608
        if not rows:
            audit.record(who, endpoint=endpoint, outcome="not_found", patient_keys=(), detail="alert")
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="alert not found")
        return rows[0]

    def _answer(who: Principal, row: dict[str, Any], endpoint: str, outcome: str = "read") -> dict[str, Any]:
        audit.record(who, endpoint=endpoint, episode_id=str(row["episode_id"]), outcome=outcome)
        return row

    @api.get("", response_model=list[Alert], summary="Alerts, newest first, filtered.",
             responses=responses(401, 403, 422))
    def list_alerts(
        who: Who,
        rule: Annotated[str | None, Query(max_length=100, examples=["kvittering"])] = None,
        unit: Annotated[str | None, Query(max_length=31, description="Responsible unit (HSA-id).")] = None,
        municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$", examples=["2480"])] = None,
        state: Annotated[Literal["open", "resolved"] | None, Query()] = None,
        min_age_hours: Annotated[float | None, Query(ge=0, le=24 * 365)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        require(who, *patient_level)
        where: list[str] = []
        params: list[Any] = []
        _scoped(who, where, params)
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
        rows = ctx.log.query(sql + " ORDER BY raised_at DESC, alert_id LIMIT ?", (*params, limit))
        audit.record(who, endpoint="GET /alerts", episode_ids=[str(r["episode_id"]) for r in rows])
        return rows

    @api.get("/summary", response_model=list[AlertCount], responses=responses(401, 422),
             summary="Counts per rule, kommun, month and state: aggregates, no episode ids (every role).")
    def summary(who: Who, month_from: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")] = None
                ) -> list[dict[str, Any]]:
        where, params = [], []
        if who.role is Role.MUNICIPALITY:
            where.append("municipality = ?")
            params.append(who.municipality)
        if month_from is not None:
            where.append("substr(raised_at, 1, 7) >= ?")
            params.append(month_from)
        sql = ("SELECT rule, municipality, substr(raised_at, 1, 7) AS month, state, COUNT(*) AS count "
               "FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
               + " GROUP BY rule, municipality, month, state ORDER BY month, rule, municipality, state")
        return ctx.log.query(sql, params)

    @api.get("/{alert_id}", response_model=Alert, responses=responses(401, 403, 404),
             summary="One alert.")
    def get_alert(alert_id: Annotated[str, Path(max_length=200)], who: Who) -> dict[str, Any]:
        require(who, *patient_level)
        return _answer(who, _get(who, alert_id, "GET /alerts/{alert_id}"), "GET /alerts/{alert_id}")

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

    def _actionable(who: Principal, alert_id: str, endpoint: str) -> dict[str, Any]:
        require(who, *patient_level)
        row = _get(who, alert_id, endpoint)
        if not access.may_act_on_alert(who, row):
            audit.record(who, endpoint=endpoint, episode_id=str(row["episode_id"]), outcome="denied",
                         patient_keys=(), detail="responsible unit is not the kommun's own")
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail="only the responsible unit's huvudman may act on this alert")
        return row

    @api.post("/{alert_id}/acknowledge", response_model=Alert, responses=responses(401, 403, 404, 422),
              summary="Mark an alert as being handled (not a kvittering of a meddelande).")
    def acknowledge(alert_id: Annotated[str, Path(max_length=200)], who: Who,
                    body: Annotated[Acknowledge | None, Body()] = None) -> dict[str, Any]:
        endpoint = "POST /alerts/{alert_id}/acknowledge"
        row = _actionable(who, alert_id, endpoint)
        _append(row["episode_id"], AlertAcknowledged(alert_id=alert_id, by=who.name, at=ctx.clock.now(),
                                                     note=body.note if body else None))
        return _answer(who, _get(who, alert_id, endpoint), endpoint, "acted")

    @api.post("/{alert_id}/assign", response_model=Alert, responses=responses(401, 403, 404, 422),
              summary="Assign an alert to a person or team.")
    def assign(alert_id: Annotated[str, Path(max_length=200)], body: Assign, who: Who) -> dict[str, Any]:
        endpoint = "POST /alerts/{alert_id}/assign"
        row = _actionable(who, alert_id, endpoint)
        _append(row["episode_id"], AlertAssigned(alert_id=alert_id, by=who.name, assignee=body.assignee,
                                                 at=ctx.clock.now()))
        return _answer(who, _get(who, alert_id, endpoint), endpoint, "acted")

    return api
