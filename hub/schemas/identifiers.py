"""Identifiers of Swedish health and social care, validated with errors that say what is wrong
and never echo the identifier (domain.md §4).

- Personnummer ``YYYYMMDDNNNC``: the check digit C is Luhn over the 10 digits YYMMDDNNN(C), never
  over the 12-digit form (W32, W33). The 10-digit form's ``+`` marks age 100 or more.
- Samordningsnummer: a personnummer whose day is the birth day + 60 (W32).
- Reservnummer: the national pattern and the county patterns of Västerbotten, Gävleborg and
  Stockholm (W34, W35).
- HSA-id ``SE<organisationsnummer>-<suffix>``, at most 31 characters (W36).
- Kommunkod: 4 digits whose first two are the länskod (W38), one of the shipped kommuner.

Check digits come from python-stdnum (``stdnum.luhn``, ``stdnum.se.orgnr``).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from stdnum import luhn
from stdnum.se import orgnr

from hub.errors import IdentifierError
from hub.schemas import geography


class PatientIdKind(StrEnum):
    """Which kind of patient identifier."""

    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"
    RESERVNUMMER = "reservnummer"


OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"
OID_RESERVNUMMER_SLL = "1.2.752.97.3.1.3"
HSA_OIDS = frozenset({"1.2.752.129.2.1.4.1", "1.2.752.29.4.19"})

_PNR = re.compile(r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+])?(?P<serial>\d{3})(?P<check>\d)$")
_RESERV: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stockholm", re.compile(r"^99\d{10}$")),
    ("vasterbotten", re.compile(r"^\d{8}[REKA]\d{3}$")),
    ("gavleborg", re.compile(r"^\d{8}-\d{2}[MKX]\d$")),
    ("national", re.compile(r"^\d{8}-?([A-HJ-NPRSTUX-Z]{2}\d{2}|[A-HJ-NPRSTUX-Z]{3}\d)$")),
)
_PERSONAL_ID_RUN = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?(\d{4})(?!\d)")
_HSA = re.compile(r"^SE(?P<org>\d{10})-(?P<suffix>[A-Za-z0-9]+)$")


_VALID_CACHE_MAX = 200_000
_VALID_NUMBERS: dict[str, tuple[PatientIdKind, str]] = {}


def mask_patient_id(raw: str) -> str:
    """The identifier with its last four characters hidden (``19121212-****``); never raises."""
    text = re.sub(r"\s", "", str(raw))
    digits = re.sub(r"[-+]", "", text)
    if len(digits) < 8:
        return "<masked>"
    return f"{digits[:-4]}-****" if len(digits) in (10, 12) else f"{digits[:8]}-****"


def _resolve_century(yymmdd: str, plus: bool, today: dt.date) -> int:
    """Full year of a 10-digit personnummer: the latest year not after today, minus 100 for '+'."""
    yy = int(yymmdd[:2])
    year = today.year - (today.year - yy) % 100
    if plus:
        year -= 100
    return year


def _parse_number(raw: str, masked: str, today: dt.date) -> tuple[PatientIdKind, str] | None:
    """Personnummer or samordningsnummer in 12-digit normal form, or None if not that shape.

    Valid 12-digit numbers are remembered: they do not depend on ``today`` and recur in every
    message of an episode."""
    known = _VALID_NUMBERS.get(raw)
    if known is not None:
        return known
    parsed = _check_number(raw, masked, today)
    if parsed is not None and len(raw) == 12 and len(_VALID_NUMBERS) < _VALID_CACHE_MAX:
        _VALID_NUMBERS[raw] = parsed
    return parsed


def _check_number(raw: str, masked: str, today: dt.date) -> tuple[PatientIdKind, str] | None:
    m = _PNR.match(raw)
    if m is None:
        return None
    yymmdd, serial, check = m["yymmdd"], m["serial"], m["check"]
    ten = yymmdd + serial + check
    if not luhn.is_valid(ten):
        raise IdentifierError(f"wrong check digit in {masked}")
    year = int(m["century"] + yymmdd[:2]) if m["century"] else _resolve_century(
        yymmdd, m["sep"] == "+", today)
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    kind = PatientIdKind.PERSONNUMMER
    if day > 60:
        kind, day = PatientIdKind.SAMORDNINGSNUMMER, day - 60
        if day > 31:
            raise IdentifierError(f"samordningsnummer day must be 61–91 in {masked}")
    try:
        dt.date(year, month, day)
    except ValueError:
        raise IdentifierError(f"not a calendar date in {masked}") from None
    return kind, f"{year:04d}{yymmdd[2:]}{serial}{check}"


def parse_patient_id(raw: str, *, assigning_authority: str | None = None,
                     today: dt.date | None = None) -> PatientIdentifier:
    """Parse and validate a personnummer, samordningsnummer or reservnummer.

    ``assigning_authority`` (an OID, e.g. from HL7 PID-3.4) narrows what is accepted.
    Raises IdentifierError naming the rule broken, with the value masked.
    """
    text = str(raw).strip().upper()
    masked = mask_patient_id(text)
    today = today or dt.date.today()
    stockholm = assigning_authority == OID_RESERVNUMMER_SLL
    if not stockholm:
        try:
            parsed = _parse_number(text, masked, today)
        except IdentifierError:
            if not text.startswith("99"):
                raise
            parsed = None
        if parsed is not None:
            kind, value = parsed
            expected = {OID_PERSONNUMMER: PatientIdKind.PERSONNUMMER,
                        OID_SAMORDNINGSNUMMER: PatientIdKind.SAMORDNINGSNUMMER}.get(
                            assigning_authority or "")
            if expected is not None and expected is not kind:
                raise IdentifierError(
                    f"{expected.value} expected for assigning authority {assigning_authority} "
                    f"but got a {kind.value}: {masked}")
            return PatientIdentifier.model_construct(kind=kind, value=value, scheme=kind.value)
    if assigning_authority in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
        raise IdentifierError(f"does not match the personnummer format: {masked}")
    for scheme, pattern in _RESERV:
        if stockholm and scheme != "stockholm":
            continue
        if pattern.match(text):
            value = text.replace("-", "") if scheme == "national" else text
            return PatientIdentifier.model_construct(
                kind=PatientIdKind.RESERVNUMMER, value=value, scheme=scheme)
    raise IdentifierError(
        f"does not match any personnummer, samordningsnummer or reservnummer format: {masked}")


class PatientIdentifier(BaseModel):
    """A validated patient identifier in normal form. Accepts a plain string on input."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    kind: PatientIdKind
    value: str
    scheme: str

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            parsed = parse_patient_id(data)
            return {"kind": parsed.kind, "value": parsed.value, "scheme": parsed.scheme}
        return data

    @model_validator(mode="after")
    def _normal_form(self) -> PatientIdentifier:
        if self.kind is PatientIdKind.RESERVNUMMER:
            pattern = dict(_RESERV).get(self.scheme)
            if pattern is None or not pattern.match(self.value):
                raise IdentifierError(f"not a {self.scheme} reservnummer: {mask_patient_id(self.value)}")
            return self
        if not re.fullmatch(r"\d{12}", self.value):
            raise IdentifierError(f"{self.kind.value} must be 12 digits in normal form: "
                                  f"{mask_patient_id(self.value)}")
        parsed = _parse_number(self.value, self.masked(), dt.date(2100, 1, 1))
        if parsed is None or parsed[0] is not self.kind:
            found = parsed[0].value if parsed else "different identifier"
            raise IdentifierError(f"{self.masked()} is a {found}, not a {self.kind.value}")
        return self

    def masked(self) -> str:
        return mask_patient_id(self.value)

    def birth_date(self) -> dt.date | None:
        if self.kind is PatientIdKind.RESERVNUMMER:
            return None
        day = int(self.value[6:8])
        if self.kind is PatientIdKind.SAMORDNINGSNUMMER:
            day -= 60
        return dt.date(int(self.value[:4]), int(self.value[4:6]), day)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"PatientIdentifier(kind={self.kind.value!r}, value={self.masked()!r})"


def contains_personal_id(text: str) -> bool:
    """True when ``text`` holds a 10- or 12-digit run that is a valid personnummer or
    samordningsnummer (check digit and date). Guards ids, URLs and log lines."""
    for m in _PERSONAL_ID_RUN.finditer(text):
        date_part, tail = m.group(1), m.group(2)
        candidate = date_part + tail
        try:
            if _parse_number(candidate, "", dt.date(2100, 1, 1)) is not None:
                return True
        except IdentifierError:
            continue
    return False


_VALID_HSA: set[str] = set()


def validate_hsa_id(raw: str) -> str:
    """HSA-id: ``SE`` + 10-digit organisationsnummer + ``-`` + [A-Za-z0-9]+, ≤ 31 characters."""
    if raw in _VALID_HSA:
        return raw
    if not raw.startswith("SE"):
        raise IdentifierError("HSA-id must start with 'SE'")
    if len(raw) > 31:
        raise IdentifierError(f"HSA-id is at most 31 characters (got {len(raw)})")
    m = _HSA.match(raw)
    if m is None:
        if not re.match(r"^SE\d{10}-", raw):
            raise IdentifierError("HSA-id needs a 10-digit organisationsnummer after 'SE' and then '-'")
        raise IdentifierError("HSA-id suffix after '-' must be letters and digits only")
    if not orgnr.is_valid(m["org"]):
        raise IdentifierError(f"organisationsnummer {m['org']} in the HSA-id has a wrong check digit")
    if len(_VALID_HSA) < _VALID_CACHE_MAX:
        _VALID_HSA.add(raw)
    return raw


def is_municipal_unit(hsa_id: str) -> bool:
    """A kommun's unit: its organisationsnummer has the juridisk form of a kommun (2120…),
    where a region's begins 2321…"""
    return hsa_id.startswith("SE2120")


def validate_kommunkod(raw: str) -> str:
    """Four digits of a shipped kommun (the first two are its länskod)."""
    if not re.fullmatch(r"\d{4}", raw):
        raise IdentifierError(f"kommunkod must be 4 digits (got {len(raw)} characters)")
    if not geography.is_known_kommunkod(raw):
        raise IdentifierError(f"unknown kommunkod {raw}")
    return raw


def validate_lanskod(raw: str) -> str:
    """Two digits of a shipped län."""
    if not re.fullmatch(r"\d{2}", raw):
        raise IdentifierError("länskod must be 2 digits")
    if not geography.kommuner(raw):
        raise IdentifierError(f"unknown länskod {raw}")
    return raw


HsaId = Annotated[str, AfterValidator(validate_hsa_id)]
Kommunkod = Annotated[str, AfterValidator(validate_kommunkod)]
Lanskod = Annotated[str, AfterValidator(validate_lanskod)]
