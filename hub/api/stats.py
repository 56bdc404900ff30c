"""Follow-up statistics per kommun and month (JSON and CSV), the unit directory, the audit log."""


import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.domain.stats import MonthState, StatsProcessor
from hub.errors import ConfigurationError
from hub.schemas import topics
from hub.schemas.figures import MonthlyFigures
from hub.settings import Role


def router(ctx: ApiContext, auth: Authenticator) -> APIRouter:
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

    Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])]

    @api.get("/stats", response_model=list[MonthlyFigures], tags=["statistics"],
             summary="Monthly follow-up figures per kommun, somatik and psykiatri apart.")
    def stats(who: Who, municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
              month_from: Month = None, month_to: Month = None,
              care_type: Annotated[Literal["somatik", "psykiatri"] | None, Query()] = None,
              ) -> list[MonthlyFigures]:
        return figures(who, municipality, month_from, month_to, care_type)

    @api.get("/stats.csv", tags=["statistics"], response_class=Response,
             responses={200: {"content": {"text/csv": {}}}}, summary="The same figures as CSV.")
    def stats_csv(who: Who, municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
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

    @api.get("/directory", tags=["directory"], summary="The unit directory in force.")
    def directory(who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.MUNICIPALITY)
        holder = ctx.resources.directory if ctx.resources is not None else None
        current = holder.current() if holder is not None else None
        if holder is None or current is None:
            return {"loaded_from": None, "version": None, "units": []}
        units = [u.model_dump(mode="json") for u in current.units()]
        return {"loaded_from": holder.loaded_from, "version": current.version, "units": units}

    @api.post("/directory/reload", tags=["directory"], summary="Read the directory file again.",
              responses={422: {"description": "The file is not valid; the current one stays."}})
    def reload(who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN)
        holder = ctx.resources.directory if ctx.resources is not None else None
        if holder is None or holder.path is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="no unit directory file is configured")
        try:
            current = holder.reload()
        except ConfigurationError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
        return {"loaded_from": holder.loaded_from, "version": current.version, "units": len(current)}

    @api.get("/audit", tags=["audit"], summary="The audit log of patient-data reads (ops admins).")
    def audit_log(who: Who, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                  offset: Annotated[int, Query(ge=0, le=2**53)] = 0) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN)
        records = ctx.log.read(topics.AUDIT, 0, offset, limit)
        return [orjson.loads(r.value) for r in records]

    return api
