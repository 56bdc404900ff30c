"""Identifiers: personnummer and samordningsnummer (Luhn over the 10-digit form, 12-digit normal
form, '+' for 100+), reservnummer patterns, HSA-id, kommunkod and länskod — with errors that say
what is wrong and never echo the number."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum import luhn

from hub.errors import IdentifierError
from hub.schemas.base import CanonicalModel
from hub.schemas.geography import kommun, kommuner, lan_name
from hub.schemas.identifiers import (
    OID_PERSONNUMMER,
    OID_RESERVNUMMER_SLL,
    OID_SAMORDNINGSNUMMER,
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


def with_check(nine: str) -> str:
    return nine + luhn.calc_check_digit(nine)


@pytest.mark.parametrize("raw", ["191212121212", "19121212-1212", "121212-1212", "1212121212"])
def test_valid_personnummer_forms_normalise_to_12_digits(raw: str) -> None:
    pid = parse_patient_id(raw, today=TODAY)
    assert pid.kind is PatientIdKind.PERSONNUMMER
    # the 10-digit forms resolve to the latest century not after today: 2012, not 1912
    assert pid.value == ("191212121212" if raw.startswith("1912") else "201212121212")


def test_ten_digit_century_is_resolved_against_today_and_plus_means_100() -> None:
    ten = with_check("121212121")  # 12-12-12
    assert parse_patient_id(f"{ten[:6]}-{ten[6:]}", today=TODAY).value == "20" + ten
    assert parse_patient_id(f"{ten[:6]}+{ten[6:]}", today=TODAY).value == "19" + ten
    old = with_check("301212121")
    assert parse_patient_id(f"{old[:6]}-{old[6:]}", today=TODAY).value == "19" + old
    assert parse_patient_id(f"{old[:6]}+{old[6:]}", today=TODAY).value == "18" + old


def test_wrong_check_digit_is_named_and_masked() -> None:
    with pytest.raises(IdentifierError) as exc:
        parse_patient_id("191212121213")
    assert "check digit" in str(exc.value)
    assert "19121212-****" in str(exc.value)
    assert "1213" not in str(exc.value)


def test_not_a_calendar_date() -> None:
    bad = with_check("121312121")  # month 13
    with pytest.raises(IdentifierError, match="not a calendar date"):
        parse_patient_id("19" + bad)


def test_samordningsnummer() -> None:
    number = "19" + with_check("121272121")  # day 12 + 60
    pid = parse_patient_id(number)
    assert pid.kind is PatientIdKind.SAMORDNINGSNUMMER
    assert pid.birth_date() == dt.date(1912, 12, 12)
    too_high = "19" + with_check("121295121")
    with pytest.raises(IdentifierError):
        parse_patient_id(too_high)


def test_assigning_authority_narrows_the_kind() -> None:
    samordning = "19" + with_check("121272121")
    assert parse_patient_id(samordning, assigning_authority=OID_SAMORDNINGSNUMMER).kind is PatientIdKind.SAMORDNINGSNUMMER
    with pytest.raises(IdentifierError, match="personnummer expected"):
        parse_patient_id(samordning, assigning_authority=OID_PERSONNUMMER)
    with pytest.raises(IdentifierError):
        parse_patient_id("19121212-AB12", assigning_authority=OID_PERSONNUMMER)


@pytest.mark.parametrize(("raw", "scheme", "value"), [
    ("19121212-AB12", "national", "19121212AB12"),
    ("19121212ABC1", "national", "19121212ABC1"),
    ("19121212R123", "vasterbotten", "19121212R123"),
    ("19121212-12K3", "gavleborg", "19121212-12K3"),
    ("991234567890", "stockholm", "991234567890"),
])
def test_reservnummer_patterns(raw: str, scheme: str, value: str) -> None:
    pid = parse_patient_id(raw)
    assert (pid.kind, pid.scheme, pid.value) == (PatientIdKind.RESERVNUMMER, scheme, value)
    assert pid.birth_date() is None


@pytest.mark.parametrize("raw", ["19121212-IB12", "19121212-QQ12", "19121212-VWX1", "19121212Z123",
                                 "19121212-12Z3", "98123456789", "hello"])
def test_invalid_reservnummer_and_garbage(raw: str) -> None:
    with pytest.raises(IdentifierError, match="does not match"):
        parse_patient_id(raw)


def test_stockholm_reservnummer_by_authority() -> None:
    assert parse_patient_id("991234567890", assigning_authority=OID_RESERVNUMMER_SLL).scheme == "stockholm"


def test_model_accepts_a_string_and_never_echoes_a_bad_one() -> None:
    class Holder(CanonicalModel):  # like every canonical model: inputs hidden from errors
        id: PatientIdentifier

    assert Holder(id="19121212-1212").id.value == "191212121212"  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as exc:
        Holder(id="191212121213")  # type: ignore[arg-type]
    text = str(exc.value) + repr(exc.value.errors(include_input=False))
    assert "191212121213" not in text
    assert "19121212-****" in text
    assert repr(Holder(id="191212121212").id) == "PatientIdentifier(kind='personnummer', value='19121212-****')"  # type: ignore[arg-type]


def test_masking_and_detection() -> None:
    assert mask_patient_id("191212121212") == "19121212-****"
    assert mask_patient_id("121212-1212") == "121212-****"
    assert mask_patient_id("x") == "<masked>"
    assert contains_personal_id("episode 19121212-1212 here")
    assert contains_personal_id("1212121212")
    assert not contains_personal_id("VLL-2026-000001")
    assert not contains_personal_id("191212121213")  # wrong check digit: not a personnummer


@pytest.mark.parametrize(("raw", "words"), [
    ("SE2321000016-ABC", None), ("2321000016-ABC", "start with 'SE'"), ("SE232100001-ABC", "10-digit"),
    ("SE2321000016-", "letters and digits"), ("SE2321000016-A_B", "letters and digits"),
    ("SE2321000016-" + "A" * 20, "at most 31"), ("SE2321000017-ABC", "check digit"),
])
def test_hsa_id(raw: str, words: str | None) -> None:
    if words is None:
        assert validate_hsa_id(raw) == raw
    else:
        with pytest.raises(IdentifierError, match=words):
            validate_hsa_id(raw)


def test_kommunkod_and_lanskod() -> None:
    assert validate_kommunkod("2480") == "2480"
    assert kommun("2480").name == "Umeå"
    assert kommun("0180").lan_name == "Stockholms län"
    for bad, words in (("2499", "unknown kommunkod"), ("248", "4 digits"), ("24800", "4 digits")):
        with pytest.raises(IdentifierError, match=words):
            validate_kommunkod(bad)
    assert validate_lanskod("25") == "25"
    with pytest.raises(IdentifierError, match="unknown länskod"):
        validate_lanskod("99")
    assert [len(kommuner(code)) for code in ("21", "24", "25")] == [10, 15, 14]
    assert lan_name("24") == "Västerbottens län"
    assert {k.name for k in kommuner("25")} >= {"Överkalix", "Övertorneå", "Älvsbyn", "Luleå"}


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
       st.integers(min_value=0, max_value=999))
def test_parse_round_trip_and_masking(born: dt.date, serial: int) -> None:
    nine = born.strftime("%y%m%d") + f"{serial:03d}"
    number = born.strftime("%Y")[:2] + nine + luhn.calc_check_digit(nine)
    pid = parse_patient_id(number)
    assert parse_patient_id(pid.value) == pid
    assert pid.birth_date() == born
    assert number[-4:] not in pid.masked()[-5:]
    assert pid.masked() == f"{number[:8]}-****"
