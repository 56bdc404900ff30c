"""Identifiers of Swedish health and social care (domain.md §4 "Identifiers"), validated with
errors that name the rule broken and never echo a patient identifier: they quote it masked,
``19121212-****`` (date part kept, last four characters hidden), or ``<masked>``.

- Personnummer ``YYYYMMDDNNNC``, also ``YYYYMMDD-NNNC``, ``YYMMDD-NNNC``, ``YYMMDDNNNC`` and
  ``YYMMDD+NNNC`` (``+``: age 100 or more). Check digit C: Luhn over the 10 digits YYMMDDNNNC,
  never the 12-digit form (W32, W33), from ``stdnum.luhn`` (``stdnum.se.personnummer`` rejects
  samordningsnummer and reads the clock). Normal form: 12 digits, no separator (RIV, W34).
- Samordningsnummer: the same with day + 60, i.e. day 61–91 (W32).
- Reservnummer: national ``\\d{8}-?([A-Z]{2}\\d{2}|[A-Z]{3}\\d)`` without I, O, Q, V, W;
  Västerbotten ``YYYYMMDD(R|E|K|A)NNN``; Gävleborg ``YYYYMMDD-NN[MKX]N``; Stockholm
  ``99\\d{10}`` (OID 1.2.752.97.3.1.3) (W34, W35). Norrbotten's pattern is unknown.
- HSA-id ``SE<10-digit organisationsnummer>-<[A-Za-z0-9]+>``, at most 31 characters (W36); the
  organisationsnummer check digit via ``stdnum.se.orgnr`` (232100-0016 and 232100-0131 pass).
- Kommunkod: 4 digits, the first two the länskod (W38), one of :mod:`hub.schemas.geography`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
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


OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"  # W34
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"  # W34
OID_RESERVNUMMER_SLL = "1.2.752.97.3.1.3"  # W35
HSA_OIDS = frozenset({"1.2.752.129.2.1.4.1", "1.2.752.29.4.19"})  # RIV (W34), Simplifier (W37)

_STOCKHOLM = "stockholm"
_KIND_VALUES = tuple(k.value for k in PatientIdKind)
_AUTHORITIES = {OID_PERSONNUMMER: PatientIdKind.PERSONNUMMER,
                OID_SAMORDNINGSNUMMER: PatientIdKind.SAMORDNINGSNUMMER, OID_RESERVNUMMER_SLL: _STOCKHOLM}
_TWELVE = re.compile(r"(\d{2})(\d{6})-?(\d{4})", re.ASCII)
_DIGITS12 = re.compile(r"[0-9]{12}")
_TEN = re.compile(r"(\d{6})([-+]?)(\d{4})", re.ASCII)
_LETTER = "[A-HJ-NPRSTUX-Z]"  # A–Z without I, O, Q, V, W
_RESERV = {  # scheme → pattern; only the national pattern's separator is optional (dropped)
    "national": re.compile(rf"\d{{8}}-?({_LETTER}{{2}}\d{{2}}|{_LETTER}{{3}}\d)", re.ASCII),
    "vasterbotten": re.compile(r"\d{8}[REKA]\d{3}", re.ASCII),
    "gavleborg": re.compile(r"\d{8}-\d{2}[MKX]\d", re.ASCII),
    _STOCKHOLM: re.compile(r"99\d{10}", re.ASCII),
}
_PERSONAL_ID_RUN = re.compile(r"(?<![0-9])(?:[0-9]{8}|[0-9]{6})[-+]?[0-9]{4}(?![0-9])")
_ANY_DAY = dt.date(2099, 12, 31)  # "today" for checks where the century is given or irrelevant


def mask_patient_id(raw: str) -> str:
    """``raw`` with its last four characters hidden and the date part kept: ``19121212-****``,
    ``121212-****``; ``<masked>`` for anything not shaped like an identifier. Never raises."""
    text = re.sub(r"[\s+-]", "", raw if isinstance(raw, str) else "")
    if len(text) == 12 and text[:8].isascii() and text[:8].isdigit():
        return f"{text[:8]}-****"
    if len(text) == 10 and text.isascii() and text.isdigit():
        return f"{text[:6]}-****"
    return "<masked>"


def _full_year(yymmdd: str, plus: bool, today: dt.date) -> int:
    """Year of a 10-digit number: that of the latest birthday not after ``today``; with ``+``
    (used from the year of the 100th birthday) the latest such year at least 100 years back."""
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    day = day - 60 if day > 60 else day  # samordningsnummer
    year = today.year - (today.year - yy) % 100
    if plus:
        return year - 100
    return year - 100 if year == today.year and (month, day) > (today.month, today.day) else year


def _check_number(text: str, masked: str, today: dt.date) -> tuple[PatientIdKind, str] | None:
    """(kind, 12-digit normal form) of a personnummer or samordningsnummer; None when ``text``
    does not have the digit shape of one; IdentifierError when it has but breaks a rule."""
    if m := _TWELVE.fullmatch(text):
        century, yymmdd, tail = m.groups()
        year: int | None = int(century + yymmdd[:2])
    elif m := _TEN.fullmatch(text):
        yymmdd, sep, tail = m.groups()
        century, year = "", None
    else:
        return None
    if not luhn.is_valid(yymmdd + tail):
        raise IdentifierError(f"wrong check digit: {masked}")
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    kind = PatientIdKind.PERSONNUMMER
    if day > 60:
        kind, day = PatientIdKind.SAMORDNINGSNUMMER, day - 60
        if day > 31:
            raise IdentifierError(f"samordningsnummer day must be 61–91: {masked}")
    if year is None:
        year = _full_year(yymmdd, sep == "+", today)
    elif century not in ("18", "19", "20"):
        raise IdentifierError(f"century must be 18, 19 or 20: {masked}")
    try:
        dt.date(year, month, day)
    except ValueError:
        raise IdentifierError(f"not a calendar date: {masked}") from None
    return kind, f"{year:04d}{yymmdd[2:]}{tail}"


def _match_reservnummer(text: str) -> tuple[str, str] | None:
    """(scheme, normal form) of a reservnummer, or None."""
    for scheme, pattern in _RESERV.items():
        if pattern.fullmatch(text):
            return scheme, text.replace("-", "") if scheme == "national" else text
    return None


def _authority(assigning_authority: str | None) -> tuple[str, PatientIdKind | str] | None:
    """(OID, what it allows) for a known assigning authority: a bare OID, ``urn:oid:…`` or an
    HL7 HD such as ``&1.2.752.129.2.1.3.1&ISO``. Unknown authorities and names give None."""
    for part in re.split(r"[&^]", assigning_authority or ""):
        oid = part.strip().removeprefix("urn:oid:")
        if oid in _AUTHORITIES:
            return oid, _AUTHORITIES[oid]
    return None


def parse_patient_id(raw: str, *, assigning_authority: str | None = None,
                     today: dt.date | None = None) -> PatientIdentifier:
    """Parse and validate a personnummer, samordningsnummer or reservnummer (§4).

    ``today`` (default: the current date) resolves the century of the 10-digit forms. A known
    ``assigning_authority`` (HL7 PID-3.4) narrows what is accepted: the personnummer OID only
    personnummer, the samordningsnummer OID only samordningsnummer, the Stockholm OID only a
    Stockholm reservnummer; a 12-digit ``99…`` that is no personnummer is a Stockholm
    reservnummer. Raises IdentifierError naming the rule broken, with the value masked.
    """
    if not isinstance(raw, str):
        raise IdentifierError("patient identifier must be a string")
    text, today = raw.strip().upper(), today if today is not None else dt.date.today()
    masked = mask_patient_id(text)
    oid, expected = _authority(assigning_authority) or ("", None)
    parsed = None
    if expected != _STOCKHOLM:
        try:
            parsed = _check_number(text, masked, today)
        except IdentifierError:
            if not _RESERV[_STOCKHOLM].fullmatch(text):
                raise
    if parsed is not None:
        kind, value = parsed
        if expected is not None and expected is not kind:
            raise IdentifierError(f"{expected} expected for assigning authority {oid} "
                                  f"but got a {kind}: {masked}")
        return PatientIdentifier.model_construct(kind=kind, value=value, scheme=kind.value)
    reserv = _match_reservnummer(text)
    if reserv is not None:
        scheme, value = reserv
        if expected is not None and expected != scheme:
            wanted = "Stockholm reservnummer" if expected == _STOCKHOLM else expected
            raise IdentifierError(f"{wanted} expected for assigning authority {oid} "
                                  f"but got a {scheme} reservnummer: {masked}")
        return PatientIdentifier.model_construct(kind=PatientIdKind.RESERVNUMMER, value=value,
                                                 scheme=scheme)
    if expected is not None:
        wanted = "Stockholm reservnummer (99 and 10 digits)" if expected == _STOCKHOLM else expected
        raise IdentifierError(f"{wanted} expected for assigning authority {oid}: {masked}")
    raise IdentifierError("does not match any personnummer, samordningsnummer or reservnummer "
                          f"format: {masked}")


class _Rejected(str):
    """The masked stand-in for an input that failed; pydantic records it as the error's input,
    so ``ValidationError.errors()`` never holds the raw identifier."""

    reason: str


def _normalised(data: object) -> dict[str, object]:
    """Field values for a string (parsed) or a ``{kind, value, scheme}`` mapping (checked to be
    valid and in normal form); IdentifierError otherwise."""
    if isinstance(data, str):
        parsed = parse_patient_id(data)
        return {"kind": parsed.kind, "value": parsed.value, "scheme": parsed.scheme}
    if not isinstance(data, Mapping):
        raise IdentifierError("patient identifier must be a string or an object with kind, value, scheme")
    kind, value, scheme = data.get("kind"), data.get("value"), data.get("scheme")
    if set(data) != {"kind", "value", "scheme"}:
        raise IdentifierError("patient identifier needs exactly the fields kind, value and scheme")
    if not isinstance(kind, str) or kind not in _KIND_VALUES:
        raise IdentifierError(f"kind must be one of {', '.join(_KIND_VALUES)}")
    if not isinstance(value, str) or not isinstance(scheme, str):
        raise IdentifierError("value and scheme must be strings")
    kind, masked = PatientIdKind(kind), mask_patient_id(value)
    if kind is PatientIdKind.RESERVNUMMER:
        if _match_reservnummer(value) != (scheme, value):
            raise IdentifierError(f"not a reservnummer of scheme {', '.join(_RESERV)} in normal "
                                  f"form (upper case, national without '-'): {masked}")
    else:
        checked = _check_number(value, masked, _ANY_DAY) if _DIGITS12.fullmatch(value) else None
        if checked is None:
            raise IdentifierError(f"{kind} must be 12 digits without separator: {masked}")
        if checked[0] is not kind:
            raise IdentifierError(f"a {checked[0]} given as a {kind}: {masked}")
        if scheme != kind.value:
            raise IdentifierError(f"the scheme of a {kind} must be '{kind}'")
    return {"kind": kind, "value": value, "scheme": scheme}


def _prepare_input(data: object) -> object:
    """Field values for ``data``, or when it is invalid a _Rejected that masks it."""
    if isinstance(data, PatientIdentifier):
        return data
    try:
        return _normalised(data)
    except IdentifierError as exc:
        raw = data.get("value") if isinstance(data, Mapping) else data
        rejected = _Rejected(mask_patient_id(str(raw)) if isinstance(raw, str | int) else "<masked>")
        rejected.reason = str(exc)
        return rejected


class PatientIdentifier(BaseModel):
    """A validated patient identifier in normal form. Accepts a plain string on input."""

    # (That docstring is the published JSON-schema description: changing it drifts contracts/.)
    # Contract (domain.md §4): ``value`` is 12 digits for a personnummer or samordningsnummer,
    # upper case for a reservnummer with the national pattern's optional '-' removed; ``scheme``
    # is the reservnummer pattern that matched (national, vasterbotten, gavleborg, stockholm),
    # else the kind's value. Input: a plain string, parsed as by parse_patient_id without
    # authority, or a {kind, value, scheme} object, re-validated. Serializes as that object.
    # str(), repr() and validation errors (message and recorded input) show the value masked.

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    kind: PatientIdKind
    value: str
    scheme: str

    # pydantic runs "before" model validators in reverse order of definition: _prepare first,
    # so the error raised here records the masked _Rejected as its input, not the raw value.
    @model_validator(mode="before")
    @classmethod
    def _raise_rejected(cls, data: Any) -> Any:
        if isinstance(data, _Rejected):
            raise IdentifierError(data.reason)
        return data

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        return _prepare_input(data)

    def masked(self) -> str:
        """The value with its last four characters hidden, e.g. ``19121212-****``."""
        return mask_patient_id(self.value)

    def birth_date(self) -> dt.date | None:
        """Födelsedatum (for a samordningsnummer the day less 60); None for a reservnummer."""
        if self.kind is PatientIdKind.RESERVNUMMER:
            return None
        day = int(self.value[6:8])
        if self.kind is PatientIdKind.SAMORDNINGSNUMMER:
            day -= 60
        return dt.date(int(self.value[:4]), int(self.value[4:6]), day)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"PatientIdentifier(kind={self.kind.value!r}, value={self.masked()!r}, scheme={self.scheme!r})"


def contains_personal_id(text: str) -> bool:
    """True when ``text`` holds a 10- or 12-digit run (optionally ``-``/``+`` before the last
    four) that is a valid personnummer or samordningsnummer: check digit, date and day rules
    pass. Used to refuse episode ids, URLs and log lines that carry one."""
    for m in _PERSONAL_ID_RUN.finditer(text):
        try:
            if _check_number(m.group(), "", _ANY_DAY) is not None:
                return True
        except IdentifierError:
            continue
    return False


@lru_cache(maxsize=4096)
def validate_hsa_id(raw: str) -> str:
    """HSA-id (W36): ``SE`` + 10-digit organisationsnummer (valid check digit) + ``-`` + one or
    more of [A-Za-z0-9], at most 31 characters. Returns it unchanged, else IdentifierError
    naming the rule. Never echoes the organisationsnummer (a sole trader's is a personnummer)."""
    if not isinstance(raw, str):
        raise IdentifierError("HSA-id must be a string")
    if not raw.startswith("SE"):
        raise IdentifierError("HSA-id must start with the prefix 'SE'")
    if len(raw) > 31:
        raise IdentifierError(f"HSA-id too long ({len(raw)} > 31 characters)")
    if not re.fullmatch(r"[0-9]{10}", raw[2:12]):
        raise IdentifierError("HSA-id organisationsnummer after 'SE' must be 10 digits")
    if raw[12:13] != "-":
        raise IdentifierError("HSA-id needs '-' after the 10-digit organisationsnummer")
    if not re.fullmatch(r"[A-Za-z0-9]+", raw[13:]):
        raise IdentifierError("HSA-id suffix after '-' must be one or more letters A–Z, a–z or digits")
    if not orgnr.is_valid(raw[2:12]):
        raise IdentifierError("HSA-id organisationsnummer has a wrong check digit")
    return raw


def is_municipal_unit(hsa_id: str) -> bool:
    """True for a kommun's unit: its organisationsnummer has the juridisk form of a kommun
    (``2120…``), where a region's begins ``2321…`` (W36)."""
    return hsa_id.startswith("SE2120")


def validate_kommunkod(raw: str) -> str:
    """Kommunkod (W38): exactly 4 digits, one of the shipped kommuner (so its first two digits
    are a known länskod). IdentifierError ``unknown kommunkod 2499`` etc. otherwise."""
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{4}", raw):
        raise IdentifierError("kommunkod must be exactly 4 digits")
    if not geography.is_known_kommunkod(raw):
        raise IdentifierError(f"unknown kommunkod {raw}")
    return raw


def validate_lanskod(raw: str) -> str:
    """Länskod (W38): exactly 2 digits, a län of the shipped table."""
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{2}", raw):
        raise IdentifierError("länskod must be exactly 2 digits")
    geography.lan_name(raw)  # IdentifierError "unknown länskod …"
    return raw


HsaId = Annotated[str, AfterValidator(validate_hsa_id)]
Kommunkod = Annotated[str, AfterValidator(validate_kommunkod)]
Lanskod = Annotated[str, AfterValidator(validate_lanskod)]
