"""Identifiers (domain.md §4): personnummer and samordningsnummer (Luhn over the 10-digit form,
12-digit normal form, '+' for 100+), reservnummer patterns, assigning-authority narrowing, HSA-id,
kommunkod and länskod — with errors that name the rule and never echo a patient identifier."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from stdnum import luhn

from hub.errors import HubError, IdentifierError
from hub.schemas.identifiers import (
    HSA_OIDS,
    OID_PERSONNUMMER,
    OID_RESERVNUMMER_SLL,
    OID_SAMORDNINGSNUMMER,
    HsaId,
    Kommunkod,
    Lanskod,
    PatientIdentifier,
    PatientIdKind,
    contains_personal_id,
    mask_patient_id,
    parse_patient_id,
    validate_hsa_id,
    validate_kommunkod,
    validate_lanskod,
)

TODAY = dt.date(2026, 11, 22)
PNR = PatientIdKind.PERSONNUMMER
SAMNR = PatientIdKind.SAMORDNINGSNUMMER
RESERV = PatientIdKind.RESERVNUMMER


def with_check(nine: str) -> str:
    """YYMMDDNNN plus its Luhn check digit: a 10-digit number with a right check digit."""
    return nine + luhn.calc_check_digit(nine)


def leaked(text: str, twelve: str) -> bool:
    """Whether ``text`` holds the number ``twelve`` (12 digits) in any written form."""
    date8, date6, tail = twelve[:8], twelve[2:8], twelve[8:]
    forms = (date8 + tail, date6 + tail, f"{date8}-{tail}", f"{date6}-{tail}", f"{date6}+{tail}")
    return any(form in text for form in forms)


def error_of(raw: str, **kwargs: object) -> str:
    with pytest.raises(IdentifierError) as exc:
        parse_patient_id(raw, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return str(exc.value)


def test_constants() -> None:
    assert (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER, OID_RESERVNUMMER_SLL) == (
        "1.2.752.129.2.1.3.1", "1.2.752.129.2.1.3.3", "1.2.752.97.3.1.3")
    assert sorted(HSA_OIDS) == ["1.2.752.129.2.1.4.1", "1.2.752.29.4.19"]
    assert [k.value for k in PatientIdKind] == ["personnummer", "samordningsnummer", "reservnummer"]
    assert issubclass(IdentifierError, HubError) and issubclass(IdentifierError, ValueError)


@pytest.mark.parametrize(("raw", "value"), [
    ("191212121212", "191212121212"),
    ("19121212-1212", "191212121212"),
    (" 19121212-1212 ", "191212121212"),
    ("121212-1212", "201212121212"),  # latest 12-12-12 not after TODAY: 2012
    ("1212121212", "201212121212"),
    ("121212+1212", "191212121212"),  # '+': 100 or older
])
def test_valid_personnummer_forms_normalise_to_12_digits(raw: str, value: str) -> None:
    pid = parse_patient_id(raw, today=TODAY)
    assert (pid.kind, pid.value, pid.scheme) == (PNR, value, "personnummer")
    assert pid.birth_date() == dt.date(int(value[:4]), 12, 12)


def test_constructed_personnummer_with_computed_check_digit() -> None:
    ten = with_check("850709980")
    pid = parse_patient_id("19" + ten, today=TODAY)
    assert (pid.kind, pid.value) == (PNR, "19" + ten)
    assert pid.birth_date() == dt.date(1985, 7, 9)
    assert parse_patient_id(f"{ten[:6]}-{ten[6:]}", today=TODAY) == pid


def test_ten_digit_century_is_resolved_against_today() -> None:
    today_ten = with_check("261122980")  # born on TODAY's date in 2026
    tomorrow_ten = with_check("261123980")  # 2026-11-23 lies in the future: 1926
    assert parse_patient_id(today_ten, today=TODAY).value == "20" + today_ten
    assert parse_patient_id(tomorrow_ten, today=TODAY).value == "19" + tomorrow_ten
    assert parse_patient_id(tomorrow_ten, today=TODAY + dt.timedelta(days=1)).value == "20" + tomorrow_ten
    later = with_check("300101980")  # '30' is after '26': last century
    assert parse_patient_id(later, today=TODAY).value == "19" + later
    assert parse_patient_id(later, today=dt.date(2031, 1, 1)).value == "20" + later


def test_plus_sign_means_a_century_earlier() -> None:
    ten = with_check("121212121")
    assert parse_patient_id(f"{ten[:6]}-{ten[6:]}", today=TODAY).value == "20" + ten
    assert parse_patient_id(f"{ten[:6]}+{ten[6:]}", today=TODAY).value == "19" + ten
    old = with_check("300101980")
    assert parse_patient_id(f"{old[:6]}+{old[6:]}", today=TODAY).value == "18" + old
    # the '+' is used from the year of the 100th birthday (1926 → 2026), birthday passed or not
    for nine in ("261121980", "261123980"):
        ten = with_check(nine)
        assert parse_patient_id(f"{ten[:6]}+{ten[6:]}", today=TODAY).value == "19" + ten


@pytest.mark.parametrize("raw", ["191212121213", "19121212-1213", "121212-1213", "1212121213", "121212+1213"])
def test_wrong_check_digit_is_named_and_masked(raw: str) -> None:
    message = error_of(raw)
    assert "wrong check digit" in message
    assert ("19121212-****" if len(raw.replace("-", "")) == 12 else "121212-****") in message
    assert not leaked(message, "191212121213")


@pytest.mark.parametrize("nine", ["121312121", "190230980", "120100980", "121232980", "000229980"])
def test_not_a_calendar_date(nine: str) -> None:
    # month 13, 30 February, day 00, day 32, and 29 February 1900 (not a leap year) — all with
    # a right check digit, so it is the date that is refused
    number = "19" + with_check(nine)
    message = error_of(number)
    assert "not a calendar date" in message
    assert f"{number[:8]}-****" in message and not leaked(message, number)


def test_leap_day_2000_is_a_date() -> None:
    number = "20" + with_check("000229980")
    assert parse_patient_id(number, today=TODAY).birth_date() == dt.date(2000, 2, 29)


def test_samordningsnummer_is_recognised_with_its_birth_date() -> None:
    number = "19" + with_check("121272121")  # day 12 + 60
    pid = parse_patient_id(number, today=TODAY)
    assert (pid.kind, pid.value, pid.scheme) == (SAMNR, number, "samordningsnummer")
    assert pid.birth_date() == dt.date(1912, 12, 12)
    ten = with_check("850769980")  # 1985-07-09
    short = parse_patient_id(f"{ten[:6]}-{ten[6:]}", today=TODAY)
    assert (short.kind, short.value, short.birth_date()) == (SAMNR, "19" + ten, dt.date(1985, 7, 9))
    ten = with_check("261182980")  # 22 November: today, so 2026
    assert parse_patient_id(ten, today=TODAY).value == "20" + ten


def test_samordningsnummer_day_rules() -> None:
    day_92 = "19" + with_check("121292121")
    assert "samordningsnummer day must be 61–91" in error_of(day_92)
    day_45 = "19" + with_check("121245121")  # neither a day of a month nor a day + 60
    assert "not a calendar date" in error_of(day_45)
    feb_30 = "19" + with_check("120290121")  # 30 February + 60
    assert "not a calendar date" in error_of(feb_30)


def test_twelve_digit_century_must_be_plausible() -> None:
    number = "21" + with_check("121212121")
    assert "century must be 18, 19 or 20" in error_of(number)


@pytest.mark.parametrize(("raw", "scheme", "value"), [
    ("19121212-AB12", "national", "19121212AB12"),
    ("19121212AB12", "national", "19121212AB12"),
    ("19121212-abc1", "national", "19121212ABC1"),  # upper-cased
    ("19121212XYZ9", "national", "19121212XYZ9"),
    ("19121212R123", "vasterbotten", "19121212R123"),
    ("19121212E123", "vasterbotten", "19121212E123"),
    ("19121212K123", "vasterbotten", "19121212K123"),
    ("19121212A123", "vasterbotten", "19121212A123"),
    ("19121212-12M3", "gavleborg", "19121212-12M3"),  # its '-' is required, so kept
    ("19121212-12K3", "gavleborg", "19121212-12K3"),
    ("19121212-12X3", "gavleborg", "19121212-12X3"),
    ("991234567890", "stockholm", "991234567890"),
])
def test_reservnummer_patterns(raw: str, scheme: str, value: str) -> None:
    pid = parse_patient_id(raw, today=TODAY)
    assert (pid.kind, pid.scheme, pid.value) == (RESERV, scheme, value)
    assert pid.birth_date() is None
    assert pid.masked() == f"{value.replace('-', '')[:8]}-****"


@pytest.mark.parametrize("raw", [
    *(f"19121212-{c}B12" for c in "IOQVW"),  # national, excluded letters
    *(f"19121212B{c}12" for c in "IOQVW"),
    *(f"19121212AB{c}1" for c in "IOQVW"),
    "19121212-A123",  # national needs 2 letters + 2 digits or 3 letters + 1 digit
    "1912121-AB12",  # 7 digits
    "19121212B123",  # Västerbotten letters are R, E, K, A
    "19121212R12",  # Västerbotten needs 3 digits
    "19121212-12A3",  # Gävleborg letters are M, K, X
    "1912121212M3",  # Gävleborg needs its '-'
    "99123456789",  # Stockholm: 99 + 10 digits
    "9912345678901",
    "hello",
    "",
])
def test_invalid_reservnummer_and_garbage(raw: str) -> None:
    assert "does not match any personnummer, samordningsnummer or reservnummer format" in error_of(raw)


def test_stockholm_reservnummer_99_prefix() -> None:
    # passes Luhn and has a calendar date, but century 99 is no personnummer: Stockholm reservnummer
    looks_valid = "99" + with_check("121212121")
    assert luhn.is_valid(looks_valid[2:])
    pid = parse_patient_id(looks_valid, today=TODAY)
    assert (pid.kind, pid.scheme, pid.value) == (RESERV, "stockholm", looks_valid)
    by_oid = parse_patient_id("991234567890", assigning_authority=OID_RESERVNUMMER_SLL, today=TODAY)
    assert (by_oid.kind, by_oid.scheme) == (RESERV, "stockholm")
    for other in ("191212121212", "19121212-AB12"):
        message = error_of(other, assigning_authority=OID_RESERVNUMMER_SLL)
        assert "Stockholm reservnummer" in message and OID_RESERVNUMMER_SLL in message
        assert "19121212-****" in message


def test_assigning_authority_narrows_the_kind() -> None:
    samordning = "19" + with_check("121272121")
    assert parse_patient_id(samordning, assigning_authority=OID_SAMORDNINGSNUMMER, today=TODAY).kind is SAMNR
    assert parse_patient_id("191212121212", assigning_authority=OID_PERSONNUMMER, today=TODAY).kind is PNR
    message = error_of(samordning, assigning_authority=OID_PERSONNUMMER)
    assert message == ("personnummer expected for assigning authority 1.2.752.129.2.1.3.1 but got a "
                       "samordningsnummer: 19121272-****")
    message = error_of("191212121212", assigning_authority=OID_SAMORDNINGSNUMMER)
    assert "samordningsnummer expected for assigning authority 1.2.752.129.2.1.3.3 but got a personnummer" in message
    assert "national reservnummer" in error_of("19121212-AB12", assigning_authority=OID_PERSONNUMMER)
    assert "personnummer expected" in error_of("hello", assigning_authority=OID_PERSONNUMMER)
    # the same OID written as an HL7 HD or a URN narrows too
    for written in (f"&{OID_PERSONNUMMER}&ISO", f"urn:oid:{OID_PERSONNUMMER}"):
        assert "personnummer expected" in error_of(samordning, assigning_authority=written)
    # an unknown authority or a name is ignored
    for unknown in ("1.2.3.4", "SKATTEVERKET", ""):
        assert parse_patient_id(samordning, assigning_authority=unknown, today=TODAY).kind is SAMNR


def test_today_defaults_to_the_current_date() -> None:
    # a 12-digit number does not depend on today; the default must still work
    assert parse_patient_id("191212121212").value == "191212121212"


@pytest.mark.parametrize(("raw", "masked"), [
    ("191212121212", "19121212-****"),
    ("19121212-1212", "19121212-****"),
    ("121212-1212", "121212-****"),
    ("121212+1212", "121212-****"),
    ("1212121212", "121212-****"),
    ("19121212-AB12", "19121212-****"),
    ("19121212-12K3", "19121212-****"),
    ("x", "<masked>"),
    ("", "<masked>"),
    ("12345", "<masked>"),
    ("Tolvan Tolvansson", "<masked>"),  # never part of a name
    ("1912121212121", "<masked>"),
])
def test_mask_patient_id(raw: str, masked: str) -> None:
    assert mask_patient_id(raw) == masked


def test_mask_patient_id_never_raises() -> None:
    assert mask_patient_id(None) == "<masked>"  # type: ignore[arg-type]
    assert mask_patient_id(191212121212) == "<masked>"  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "episode 19121212-1212 here", "191212121212", "1212121212", "ep-121212+1212", "id:121212-1212;",
    "19" + with_check("121272121"),  # samordningsnummer
])
def test_contains_personal_id(text: str) -> None:
    assert contains_personal_id(text)


@pytest.mark.parametrize("text", [
    "VLL-2026-000001", "191212121213", "1212121213", "12121212121", "19121212121212",
    "20261122T101530", "19" + with_check("121312121"),  # right check digit, month 13
    "V123456", "",
])
def test_contains_no_personal_id(text: str) -> None:
    assert not contains_personal_id(text)


@pytest.mark.parametrize("raw", [
    "191212121213", "19121212-1213", "121212-1213", "121212+1213", "19" + with_check("121312121"),
    "19" + with_check("121292121"), "21" + with_check("121212121"),
])
def test_no_error_message_contains_the_number(raw: str) -> None:
    twelve = raw.replace("-", "").replace("+", "")
    twelve = twelve if len(twelve) == 12 else "19" + twelve
    for authority in (None, OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER, OID_RESERVNUMMER_SLL):
        message = error_of(raw, assigning_authority=authority)
        assert not leaked(message, twelve), message
        assert "-****" in message


@given(born=st.dates(min_value=dt.date(1850, 1, 1), max_value=TODAY),
       serial=st.integers(min_value=0, max_value=999), coordination=st.booleans())
def test_parse_round_trip_and_masking(born: dt.date, serial: int, coordination: bool) -> None:
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    ten = nine + luhn.calc_check_digit(nine)
    number = f"{born.year // 100}{ten}"
    pid = parse_patient_id(number, today=TODAY)
    assert (pid.kind, pid.value, pid.birth_date()) == (SAMNR if coordination else PNR, number, born)
    assert parse_patient_id(pid.value, today=TODAY) == pid
    assert PatientIdentifier.model_validate(pid.model_dump()) == pid
    sep = "+" if TODAY.year - born.year >= 100 else "-"
    assert parse_patient_id(f"{ten[:6]}{sep}{ten[6:]}", today=TODAY) == pid
    assert pid.masked() == f"{number[:8]}-****"
    assert number[8:] not in pid.masked()[8:]
    assert not leaked(str(pid) + repr(pid), number)


class Holder(BaseModel):  # a plain model: no hide_input_in_errors of its own
    id: PatientIdentifier


def test_model_accepts_a_string_or_its_serialised_form() -> None:
    held = Holder(id="19121212-1212")
    assert held.id == parse_patient_id("191212121212", today=TODAY)
    dumped = held.model_dump(mode="json")
    assert dumped == {"id": {"kind": "personnummer", "value": "191212121212", "scheme": "personnummer"}}
    assert Holder.model_validate(dumped) == held
    assert Holder.model_validate_json('{"id": "19121212-AB12"}').id.value == "19121212AB12"
    assert PatientIdentifier.model_validate_json('"19121212-1212"').kind is PNR
    assert repr(held.id) == "PatientIdentifier(kind='personnummer', value='19121212-****', scheme='personnummer')"
    assert str(held.id) == "19121212-****"


@pytest.mark.parametrize("bad", [
    "191212121213",
    "19121212-1213",
    {"kind": "personnummer", "value": "191212121213", "scheme": "personnummer"},  # bad check digit
    {"kind": "personnummer", "value": "19121212-1212", "scheme": "personnummer"},  # not normal form
    {"kind": "samordningsnummer", "value": "191212121212", "scheme": "samordningsnummer"},  # kind wrong
    {"kind": "personnummer", "value": "191212121212", "scheme": "national"},
    {"kind": "reservnummer", "value": "191212121212", "scheme": "national"},
    {"kind": "reservnummer", "value": "19121212-AB12", "scheme": "national"},  # '-' not dropped
    {"kind": "reservnummer", "value": "19121212ab12", "scheme": "national"},  # not upper case
    {"kind": "nonsense", "value": "191212121212", "scheme": "personnummer"},
    {"value": "191212121212"},  # fields missing
    {"kind": "personnummer", "value": "191212121212", "scheme": "personnummer", "name": "Tolvan"},
    191212121212,
])
def test_model_error_is_masked_everywhere(bad: object) -> None:
    with pytest.raises(ValidationError) as exc:
        Holder(id=bad)
    everything = str(exc.value) + repr(exc.value.errors()) + exc.value.json()
    raw = (bad.get("value") if isinstance(bad, dict) else str(bad)) or ""
    assert not leaked(everything, raw.replace("-", "").upper())
    assert "Tolvan" not in everything
    assert "19121212-****" in everything
    assert exc.value.errors()[0]["loc"] == ("id",)


def test_model_reports_the_rule() -> None:
    with pytest.raises(ValidationError) as exc:
        Holder(id="191212121213")
    assert "wrong check digit: 19121212-****" in exc.value.errors()[0]["msg"]
    with pytest.raises(ValidationError) as exc:
        Holder(id={"kind": "samordningsnummer", "value": "191212121212", "scheme": "samordningsnummer"})
    assert "a personnummer given as a samordningsnummer" in exc.value.errors()[0]["msg"]


def test_valid_dicts_are_accepted() -> None:
    for raw in ("19" + with_check("121272121"), "19121212-12K3", "19121212-AB12", "991234567890"):
        pid = parse_patient_id(raw, today=TODAY)
        assert PatientIdentifier.model_validate(pid.model_dump(mode="json")) == pid


@pytest.mark.parametrize("raw", [
    "SE2321000016-ABC", "SE2321000131-x9", "SE2321000016-" + "A" * 18,  # exactly 31 characters
])
def test_hsa_id_valid(raw: str) -> None:
    assert validate_hsa_id(raw) == raw


@pytest.mark.parametrize(("raw", "words"), [
    ("2321000016-ABC", "must start with the prefix 'SE'"),
    ("se2321000016-ABC", "must start with the prefix 'SE'"),
    ("SE2321000016-" + "A" * 19, "too long (32 > 31 characters)"),
    ("SE232100001-ABC", "organisationsnummer after 'SE' must be 10 digits"),
    ("SE23210000X6-ABC", "organisationsnummer after 'SE' must be 10 digits"),
    ("SE2321000016ABC", "needs '-' after the 10-digit organisationsnummer"),
    ("SE2321000016-", "suffix after '-' must be one or more"),
    ("SE2321000016-A_B", "suffix after '-' must be one or more"),
    ("SE2321000016-ÅB", "suffix after '-' must be one or more"),
    ("SE2321000017-ABC", "organisationsnummer has a wrong check digit"),
])
def test_hsa_id_invalid(raw: str, words: str) -> None:
    with pytest.raises(IdentifierError) as exc:
        validate_hsa_id(raw)
    assert words in str(exc.value)


def test_hsa_id_error_does_not_echo_a_personnummer_as_organisationsnummer() -> None:
    with pytest.raises(IdentifierError) as exc:
        validate_hsa_id("SE1212121213-ABC")  # wrong check digit
    assert "1212121213" not in str(exc.value)


def test_kommunkod() -> None:
    assert validate_kommunkod("2480") == "2480"
    assert validate_kommunkod("0180") == "0180"
    with pytest.raises(IdentifierError) as exc:
        validate_kommunkod("2499")
    assert str(exc.value) == "unknown kommunkod 2499"
    for bad in ("248", "24800", "24a0", " 2480", "２４８０", ""):
        with pytest.raises(IdentifierError, match="kommunkod must be exactly 4 digits"):
            validate_kommunkod(bad)


def test_lanskod() -> None:
    for code in ("01", "21", "24", "25"):
        assert validate_lanskod(code) == code
    with pytest.raises(IdentifierError, match="unknown länskod 99"):
        validate_lanskod("99")
    for bad in ("2", "024", "2a"):
        with pytest.raises(IdentifierError, match="länskod must be exactly 2 digits"):
            validate_lanskod(bad)


class Unit(BaseModel):
    hsa: HsaId
    kommun: Kommunkod
    lan: Lanskod


def test_annotated_field_types() -> None:
    assert Unit(hsa="SE2321000016-ABC", kommun="2482", lan="24").kommun == "2482"
    with pytest.raises(ValidationError) as exc:
        Unit(hsa="SE2321000016-A_B", kommun="2499", lan="26")
    assert [e["loc"] for e in exc.value.errors()] == [("hsa",), ("kommun",), ("lan",)]
    assert "unknown kommunkod 2499" in str(exc.value)
