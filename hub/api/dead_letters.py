"""Dead letters: list, show the reason (and, to ops admins, the raw bytes), replay one or many
after a fix — keeping the link to the original — and discard with a reason. Every action is a
record on ``svu.ops``. A region sees the slutenvård's and the hub's own dead letters (never a
kommun's); raw bytes are for ops admins only, and every raw read, replay and
discard is audited with the patient link of the identifiers the bytes hold."""


import base64
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.errors import responses
from hub.api.security import Authenticator, Principal, require
from hub.errors import IdentifierError
from hub.schemas import topics
from hub.schemas.identifiers import parse_patient_id
from hub.schemas.operations import OpsAction
from hub.settings import Role
from hub.streams.door import redact
from hub.streams.log import Append, Record
from hub.streams.projections import DeadLettersProjection

LETTER_ID = Path(pattern=r"^svu\.dlq\.[a-z0-9_-]+(\.[a-z0-9_-]+)*:\d+:\d+$",
                 description="topic:partition:offset", examples=["svu.dlq.demo:2:17"])


ROW_EXAMPLE = {"id": "svu.dlq.kommun-2480:1:7", "topic": "svu.dlq.kommun-2480", "source": "kommun-2480",
               "reason": "row 2: unit: not a valid HSA-id", "received_at": "2026-03-02T09:05:00Z", "status": "open"}


class DeadLetterRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ROW_EXAMPLE]})  # type: ignore[list-item]

    id: str
    topic: str
    source: str
    reason: str
    received_at: str
    replay_of: str | None = None
    status: Literal["open", "replayed", "discarded"]
    handled_by: str | None = None
    handled_at: str | None = None
    handled_reason: str | None = None
    outcome: str | None = None
    new_reference: str | None = None


class DeadLetterDetail(DeadLetterRow):
    model_config = ConfigDict(json_schema_extra={"examples": [{**ROW_EXAMPLE, "errors": [["row 2: unit",
                                                                                          "not a valid HSA-id"]]}]})

    errors: list[list[str]] = []
    raw_base64: str | None = Field(default=None, description="Only for ops admins.")
    raw_text: str | None = Field(default=None, description="UTF-8 view of the raw bytes, if it is text.")


class Replay(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=500)
    corrected_base64: str | None = Field(default=None, description="Corrected bytes (one id only).")
    reason: str | None = Field(default=None, max_length=500, examples=["Avdelningen finns nu i katalogen"])


class Discard(BaseModel):
    reason: str = Field(min_length=3, max_length=500, examples=["Testmeddelande från leverantören"])


class ReplayResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "svu.dlq.kommun-2480:1:7", "accepted": True, "outcome": "accepted",
         "new_reference": "svu.events:2:118"}]})

    id: str
    accepted: bool
    outcome: str
    new_reference: str | None = None


_ID_RUN = re.compile(rb"(?<![0-9])(?:[0-9]{6}|[0-9]{8})[-+]?[0-9]{4}(?![0-9])")


def identifiers_in(raw: bytes) -> list[str]:
    """Personnummer and samordningsnummer in raw bytes, in normal form (12 digits), for the audit
    record's patient link. The bytes are not kept in the record, only the keyed hashes."""
    found = []
    for m in _ID_RUN.finditer(raw[:4 * 1024 * 1024]):
        try:
            found.append(parse_patient_id(m.group().decode()).value)
        except (IdentifierError, ValueError):
            continue
    return sorted(set(found))


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/dead-letters", tags=["dead letters"])
    Who = Annotated[Principal, Depends(auth)]

    def _row(letter_id: str, who: Principal | None = None) -> dict[str, Any]:
        where, params = ["id = ?"], [letter_id]
        scope = access.dead_letter_sources(who) if who is not None else None
        if scope is not None:
            where.append(scope[0])
            params.extend(scope[1])
        rows = ctx.log.query("SELECT * FROM dead_letters WHERE " + " AND ".join(where), params)  # noqa: S608
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="dead letter not found")
        return rows[0]

    def _record(row: dict[str, Any]) -> Record:
        found = ctx.log.read_one(str(row["topic"]), int(row["partition"]), int(row["offset"]))
        if found is None:
            raise HTTPException(status.HTTP_410_GONE,
                                detail="the dead letter's record is no longer on the log")
        return found

    def _act(action: OpsAction) -> None:
        body = action.model_dump_json().encode()
        with ctx.log.transaction() as tx:
            (at,) = tx.append([Append(topics.OPS, action.subject, body)])
            DeadLettersProjection().apply(tx.db, [Record(at.topic, at.partition, at.offset,
                                                         action.subject, body, 0)])

    def _keys(raw: bytes) -> tuple[str, ...]:
        return tuple(sorted({audit.trail.key_of(v) for v in identifiers_in(raw)}))

    @api.get("", response_model=list[DeadLetterRow], summary="Dead letters, newest first.",
             responses=responses(401, 403, 422))
    def list_letters(
        who: Who,
        source: Annotated[str | None, Query(max_length=100)] = None,
        status_: Annotated[Literal["open", "replayed", "discarded"] | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        where, params = [], []
        scope = access.dead_letter_sources(who)
        if scope is not None:
            where.append(scope[0])
            params.extend(scope[1])
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if status_ is not None:
            where.append("status = ?")
            params.append(status_)
        sql = "SELECT * FROM dead_letters" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
        return ctx.log.query(sql + " ORDER BY received_at DESC, id LIMIT ?", (*params, limit))

    @api.get("/{letter_id}", response_model=DeadLetterDetail, responses=responses(401, 403, 404, 422),
             summary="One dead letter with its reason (and, for ops admins, its raw bytes).")
    def show(letter_id: Annotated[str, LETTER_ID], who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        row = _row(letter_id, who)
        from hub.schemas.operations import DeadLetter

        letter = DeadLetter.model_validate_json(_record(row).value)
        detail: dict[str, Any] = {**row, "errors": [list(e) for e in letter.errors]}
        if who.role is Role.OPS_ADMIN:
            audit.record(who, endpoint="GET /dead-letters/{letter_id}", outcome="raw_read",
                         patient_keys=_keys(letter.raw), detail=letter_id)
            detail["raw_base64"] = base64.b64encode(letter.raw).decode()
            try:
                detail["raw_text"] = letter.raw.decode("utf-8")
            except UnicodeDecodeError:
                detail["raw_text"] = None
        return detail

    @api.post("/replay", response_model=list[ReplayResult], responses=responses(401, 403, 404, 422),
              summary="Re-submit dead letters after a fix.")
    def replay(body: Replay, who: Who) -> list[ReplayResult]:
        require(who, Role.OPS_ADMIN)
        if body.corrected_base64 is not None and len(body.ids) != 1:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail="corrected_base64 goes with exactly one id")
        results = []
        for letter_id in body.ids:
            row = _row(letter_id)
            if row["status"] != "open":
                raise HTTPException(status.HTTP_409_CONFLICT,
                                    detail=f"{letter_id} is already {row['status']}")
            replayer = ctx.replayer_for(str(row["source"]))
            if replayer is None:
                raise HTTPException(status.HTTP_409_CONFLICT,
                                    detail=f"dead letters of {row['source']} cannot be replayed here; "
                                    "correct them at their source")
            from hub.schemas.operations import DeadLetter

            raw = DeadLetter.model_validate_json(_record(row).value).raw
            if body.corrected_base64 is not None:
                try:
                    raw = base64.b64decode(body.corrected_base64, validate=True)
                except ValueError:
                    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                        detail="corrected_base64: not valid base64") from None
            outcome = replayer(raw, letter_id)
            audit.record(who, endpoint="POST /dead-letters/replay", outcome="replayed",
                         episode_id=outcome.episode_id, patient_keys=_keys(raw), detail=letter_id)
            where = outcome.stored_at
            ref = f"{where.topic}:{where.partition}:{where.offset}" if where else None
            text = "accepted" if outcome.accepted else f"rejected again: {redact(outcome.reason)}"
            _act(OpsAction(action="dead_letter_replayed", subject=letter_id, by=who.name,
                           at=ctx.clock.now(), reason=body.reason, outcome=text[:500], new_reference=ref))
            results.append(ReplayResult(id=letter_id, accepted=outcome.accepted, outcome=text[:500],
                                        new_reference=ref))
        return results

    @api.post("/{letter_id}/discard", response_model=DeadLetterRow, responses=responses(401, 403, 404, 422),
              summary="Discard with a reason.")
    def discard(letter_id: Annotated[str, LETTER_ID], body: Discard, who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN)
        row = _row(letter_id)
        if row["status"] != "open":
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"already {row['status']}")
        audit.record(who, endpoint="POST /dead-letters/{letter_id}/discard", outcome="discarded",
                     patient_keys=(), detail=letter_id)
        _act(OpsAction(action="dead_letter_discarded", subject=letter_id, by=who.name,
                       at=ctx.clock.now(), reason=body.reason))
        return _row(letter_id)

    return api
