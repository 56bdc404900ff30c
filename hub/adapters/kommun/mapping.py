"""Kommun systems' records (a JSON object, or a CSV row) → canonical events, by a mapping per
kommun: which column holds what, and which value of the type column means which meddelande.
Supported: kvittering, kommunklarmeddelande (with SoL and HSL insatser), answers to the
planeringsunderlag. Errors name the field (or CSV column and row)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ValidationFailed
from hub.schemas import payloads as p
from hub.schemas.base import AnswerStatus, ColourTrack
from hub.schemas.envelope import Envelope, new_event, validation_errors


class KommunMapping(BaseModel):
    """How one kommun's system names things. Defaults are the hub's own generic format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type_field: str = "type"
    types: dict[str, str] = Field(default_factory=lambda: {
        "kvittering": "kvittering", "kommunklar": "kommunklar", "planeringsunderlag": "planeringsunderlag"},
        description="value in the system → kvittering | kommunklar | planeringsunderlag")
    fields: dict[str, str] = Field(default_factory=lambda: {
        "message_id": "message_id", "episode_id": "episode_id", "unit": "unit", "time": "time",
        "acknowledged_message": "acknowledged_message", "sol": "sol", "hsl": "hsl",
        "section": "section", "answer": "answer", "text": "text", "colour": "colour"})
    list_separator: str = ";"
    csv_delimiter: str = ","


def _get(record: dict[str, Any], mapping: KommunMapping, name: str, *, required: bool = True) -> str | None:
    column = mapping.fields.get(name, name)
    value = record.get(column)
    if value in (None, "") and required:
        raise ValidationFailed([(column, f"required ({name})")])
    return None if value in (None, "") else str(value)


def _split(value: str | None, separator: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in (value or "").split(separator) if x.strip())


def to_event(record: dict[str, Any], mapping: KommunMapping, kommunkod: str, received_at: dt.datetime,
             *, where: str = "") -> Envelope:
    """One record → its canonical event; ValidationFailed names the field (prefixed by ``where``)."""
    try:
        kind = mapping.types.get(str(record.get(mapping.type_field, "")))
        if kind is None:
            raise ValidationFailed([(mapping.type_field, "not a known message type; known: "
                                     + ", ".join(sorted(mapping.types)))])
        time = dt.datetime.fromisoformat(_get(record, mapping, "time") or "")
        unit = _get(record, mapping, "unit") or ""
        payload: p.Payload
        if kind == "kvittering":
            payload = p.MessageAcknowledged(message_id=_get(record, mapping, "acknowledged_message") or "",
                                            unit=unit, acknowledged_at=time)
        elif kind == "kommunklar":
            payload = p.MunicipalityReady(
                municipality=kommunkod, unit=unit,
                sol_services=_split(_get(record, mapping, "sol", required=False), mapping.list_separator),
                hsl_services=_split(_get(record, mapping, "hsl", required=False), mapping.list_separator))
        else:
            colour = _get(record, mapping, "colour", required=False)
            section = p.PlanningSection(code=_get(record, mapping, "section") or "",
                                        status=AnswerStatus(_get(record, mapping, "answer") or ""),
                                        text=_get(record, mapping, "text", required=False))
            payload = p.PlanningBasisUpdated(unit=unit, sections=(section,), updated_at=time,
                                             colour=ColourTrack(colour) if colour else None)
        return new_event(payload, episode_id=_get(record, mapping, "episode_id") or "",
                         source=f"/kommun/{kommunkod}", source_message_id=_get(record, mapping, "message_id") or "",
                         time=time, received_at=received_at)
    except ValidationFailed as exc:
        raise ValidationFailed([(f"{where}{loc}", msg) for loc, msg in exc.errors]) from None
    except ValidationError as exc:
        raise ValidationFailed([(f"{where}{loc}", msg) for loc, msg in validation_errors(exc)]) from None
    except ValueError:
        raise ValidationFailed([(f"{where}{mapping.fields.get('time', 'time')}",
                                 "not a valid ISO 8601 date and time")]) from None


def csv_records(data: bytes, mapping: KommunMapping) -> list[dict[str, Any]]:
    """Rows of a CSV file (UTF-8, with or without BOM) as dicts by header."""
    try:
        text = data.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.csv_delimiter))
    except UnicodeDecodeError:
        raise ValidationFailed([("", "CSV must be UTF-8")]) from None
    except csv.Error:
        raise ValidationFailed([("", "not valid CSV (quoting or line endings)")]) from None
