"""Follow-up statistics per kommun and month (JSON and CSV; aggregates, a kommun sees its own),
the unit directory (no server paths), the audit log (filters by episode, principal, time, and —
in a request body, never a URL — by personnummer)."""


import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.errors import responses
from hub.api.security import Authenticator, Principal, require
from hub.domain.stats import MonthState, StatsProcessor
from hub.errors import ConfigurationError, IdentifierError
from hub.schemas import topics
from hub.schemas.figures import MonthlyFigures
from hub.schemas.identifiers import parse_patient_id
from hub.settings import Role

CSV_EXAMPLE = "municipality,month,care_type,episodes_closed\n2480,2026-03,somatik,12\n"


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog) -> APIRouter:
    api = APIRouter()
    Who = Annotated[Principal, Depends(auth)]

    def figures(who: Principal, municipality: str | None, month_from: str | None,
                month_to: str | None, care_type: str | None) -> list[MonthlyFigures]:
        scope = who.kommun_scope()
        if scope is not None and municipality not in (None, scope):
            return []
        municipality = scope or municipality
        out = []
        for key, raw in ctx.log.scan_states(StatsProcessor.NAME):
            kommun, month = key.split(":")
            if municipality is not None and kommun != municipality:
                continue
            if (month_from and month < month_from) or (month_to and month > month_to):
                continue
            for f in MonthState.model_validate_json(raw).figures(key):
                if f.episodes_closed and (care_type is None or f.care_type.value == care_type):
                    out.append(f)
        return sorted(out, key=lambda f: (f.municipality, f.month, f.care_type.value))

    Month = Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$", examples=["2026-03"])]

    @api.get("/stats", response_model=list[MonthlyFigures], tags=["statistics"],
             summary="Monthly follow-up figures per kommun, somatik and psykiatri apart.",
             responses={**responses(401, 422), 200: {"content": {"application/json": {"example": [
                 {"municipality": "2480", "month": "2026-03", "care_type": "somatik", "episodes_closed": 12}]}}}})
    def stats(who: Who, municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$", examples=["2480"])] = None,
              month_from: Month = None, month_to: Month = None,
              care_type: Annotated[Literal["somatik", "psykiatri"] | None, Query()] = None,
              ) -> list[MonthlyFigures]:
        return figures(who, municipality, month_from, month_to, care_type)

    @api.get("/stats.csv", tags=["statistics"], response_class=Response,
             responses={200: {"content": {"text/csv": {"example": CSV_EXAMPLE}}},
                        **responses(401, 422)}, summary="The same figures as CSV.")
    def stats_csv(who: Who, municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$", examples=["2480"])] = None,
                  month_from: Month = None, month_to: Month = None,
                  care_type: Annotated[Literal["somatik", "psykiatri"] | None, Query()] = None) -> Response:
        rows = figures(who, municipality, month_from, month_to, care_type)
        buf = io.StringIO()
        fields = list(MonthlyFigures.model_fields)
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for f in rows:
            writer.writerow(f.model_dump(mode="json"))
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="svu-stats.csv"'})

    @api.get("/directory", tags=["directory"], summary="The unit directory in force.",
             responses={200: {"content": {"application/json": {"example": {
                 "loaded_from": "units.yaml", "version": "2026-03", "units": []}}}}, **responses(401, 403)})
    def directory(who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)
        holder = ctx.resources.directory if ctx.resources is not None else None
        current = holder.current() if holder is not None else None
        if holder is None or current is None:
            return {"loaded_from": None, "version": None, "units": []}
        units = [u.model_dump(mode="json") for u in current.units()]
        return {"loaded_from": _name(holder.loaded_from), "version": current.version, "units": units}

    @api.post("/directory/reload", tags=["directory"], summary="Read the directory file again.",
              responses={200: {"content": {"application/json": {"example": {
                  "loaded_from": "units.yaml", "version": "2026-03", "units": 57}}}},
                  409: {"description": "No directory file is configured."}, **responses(401, 403, 422)})
    def reload(who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN)
        holder = ctx.resources.directory if ctx.resources is not None else None
        if holder is None or holder.path is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="no unit directory file is configured")
        try:
            current = holder.reload()
        except ConfigurationError as exc:
            audit.record(who, endpoint="POST /directory/reload", outcome="refused", patient_keys=(),
                         detail="the file is not valid; the current directory stays")
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail=[{"field": exc.field or "", "rule": str(exc).replace(str(holder.path), _name(
                                    str(holder.path)) or "")}]) from None
        audit.record(who, endpoint="POST /directory/reload", outcome="reloaded", patient_keys=(),
                     detail=f"version {current.version}"[:300])
        return {"loaded_from": _name(holder.loaded_from), "version": current.version, "units": len(current)}

    def _matching(records: list[dict[str, Any]], *, episode_id: str | None, principal: str | None,
                  since: str | None, until: str | None, patient_key: str | None) -> list[dict[str, Any]]:
        out = []
        for r in records:
            if episode_id is not None and episode_id != r.get("episode_id") and episode_id not in (
                    r.get("episode_ids") or ()):
                continue
            if principal is not None and r.get("principal") != principal:
                continue
            if since is not None and str(r.get("at", "")) < since:
                continue
            if until is not None and str(r.get("at", "")) > until:
                continue
            if patient_key is not None and patient_key not in (r.get("patient_keys") or ()):
                continue
            out.append(r)
        return out

    def _all_audit(offset: int, limit: int) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in ctx.log.read(topics.AUDIT, 0, offset, limit)]

    Since = Annotated[str | None, Query(max_length=40, examples=["2026-03-01T00:00:00Z"],
                                        description="ISO 8601 UTC, inclusive.")]

    @api.get("/audit", tags=["audit"], summary="The audit log (ops admins), filtered by episode, principal, time.",
             responses={200: {"content": {"application/json": {"example": [AUDIT_EXAMPLE]}}},
                        **responses(401, 403, 422)})
    def audit_log(who: Who, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                  offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
                  episode_id: Annotated[str | None, Query(max_length=128)] = None,
                  principal: Annotated[str | None, Query(max_length=100)] = None,
                  since: Since = None, until: Since = None) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN)
        if episode_id is None and principal is None and since is None and until is None:
            return _all_audit(offset, limit)
        found = _matching(_all_audit(0, 2**31), episode_id=episode_id, principal=principal, since=since,
                          until=until, patient_key=None)
        return found[offset:offset + limit]

    @api.post("/audit/search", tags=["audit"], responses={200: {"content": {"application/json": {
        "example": [AUDIT_EXAMPLE]}}}, **responses(401, 403, 422)},
        summary="The audit log filtered by patient: the personnummer travels in the body, never in a URL.")
    def audit_search(who: Who, body: AuditSearch) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN)
        key = None
        if body.personnummer is not None:
            try:
                key = audit.trail.key_of(parse_patient_id(body.personnummer).value)
            except IdentifierError:
                raise HTTPException(422, detail=[{"field": "body.personnummer",
                                                  "rule": "not a valid personnummer, samordningsnummer or "
                                                          "reservnummer"}]) from None
        found = _matching(_all_audit(0, 2**31), episode_id=body.episode_id, principal=body.principal,
                          since=body.since, until=body.until, patient_key=key)
        return found[:body.limit]

    return api


AUDIT_EXAMPLE = {"at": "2026-03-02T08:31:00Z", "principal": "umea-kommun", "role": "kommun",
                 "municipality": "2480", "huvudman": "kommun:2480", "endpoint": "GET /episodes/{episode_id}",
                 "episode_id": "VLL-2026-000042", "episode_ids": [], "patient_keys": ["3f1c0e7d2a9b4c5d6e7f8a9b"],
                 "outcome": "read", "client": "10.0.0.7", "detail": None}


class AuditSearch(BaseModel):
    """Filters of an audit search; ``personnummer`` is hashed with the patient key, never stored."""

    personnummer: str | None = Field(default=None, max_length=20, examples=["19121212-1212"])
    episode_id: str | None = Field(default=None, max_length=128, examples=["VLL-2026-000042"])
    principal: str | None = Field(default=None, max_length=100)
    since: str | None = Field(default=None, max_length=40, examples=["2026-03-01T00:00:00Z"])
    until: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=500, ge=1, le=5000)


def _name(path: str | None) -> str | None:
    """A file's name without the server's folders."""
    return path.replace("\\", "/").rsplit("/", 1)[-1] if path else None
