"""HL7 v2 ADT parsing and canonical mapping: every trigger, character sets, escapes, segment
endings, and a clear error naming segment and field for each kind of bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import TRIGGERS, canonical
from hub.adapters.hl7.parse import Separators, hl7_time, split, unescape
from hub.adapters.hl7.render import ack, should_send
from hub.schemas import payloads as p
from tests.support.hl7 import WARDS, adt, lookup, segment

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
EXPECTED = {"A01": p.PatientAdmitted, "A02": p.PatientTransferred, "A03": p.PatientDischarged,
            "A04": p.PatientRegistered, "A08": p.PatientInformationUpdated, "A11": p.AdmissionCancelled,
            "A12": p.TransferCancelled, "A13": p.DischargeCancelled, "A21": p.LeaveOfAbsenceStarted,
            "A22": p.LeaveOfAbsenceEnded, "A40": p.PatientRecordsMerged}


def parse(text: str, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    return canonical(text.encode(encoding), lookup, NOW)


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_trigger_maps_to_its_event(trigger: str) -> None:
    extra = [segment("MRG", {1: "191212121212^^^&1.2.752.129.2.1.3.1&ISO", 5: "V123456"})] if trigger == "A40" else []
    parsed = parse(adt(trigger, discharge="202603061500", extra=extra))
    (event,) = parsed.events
    assert isinstance(event.data, EXPECTED[trigger])
    assert event.episode_id == "NUS-V123456"
    assert event.source == "/ehr/COSMIC/NUS"
    assert event.source_message_id == "COSMIC|NUS|MSG0001"


def test_admission_fields() -> None:
    (event,) = parse(adt()).events
    d = event.data
    assert isinstance(d, p.PatientAdmitted)
    assert d.patient.id.value == "191212121212"
    assert d.patient.name == "Tolvan Tolvansson"
    assert d.patient.address is not None and d.patient.address.city == "Umeå"
    assert d.patient.municipality == "2480"
    assert d.ward == WARDS["V00"]
    assert d.admitted_at == dt.datetime(2026, 3, 2, 7, 15, tzinfo=dt.UTC)  # 08:15 CET
    assert d.estimated_discharge == dt.date(2026, 3, 6)
    assert d.visit_number == "V123456"


def test_transfer_names_both_wards_and_psychiatry_is_recognised() -> None:
    (event,) = parse(adt("A02")).events
    assert isinstance(event.data, p.PatientTransferred)
    assert (event.data.from_ward, event.data.to_ward) == (WARDS["V01"], WARDS["V00"])
    (admit,) = parse(adt(service="PSYK")).events
    assert isinstance(admit.data, p.PatientAdmitted)
    assert admit.data.care_type.value == "psykiatri"


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_segment_endings(sep: str) -> None:
    assert parse(adt(sep=sep)).events[0].episode_id == "NUS-V123456"


@pytest.mark.parametrize(("charset", "encoding"), [("UNICODE UTF-8", "utf-8"), ("8859/1", "iso-8859-1"),
                                                   ("", "utf-8")])
def test_swedish_characters_in_both_charsets(charset: str, encoding: str) -> None:
    text = adt(charset=charset, name="Åström^Örjan", address="Älvvägen 3^^Skellefteå^^93131^SE^H^^2482")
    (event,) = parse(text, encoding).events
    assert isinstance(event.data, p.PatientAdmitted)
    assert event.data.patient.name == "Örjan Åström"
    assert event.data.patient.address is not None and event.data.patient.address.city == "Skellefteå"


def test_escape_sequences() -> None:
    sep = Separators()
    assert unescape(r"A\F\B\S\C\T\D\R\E\E\F", sep) == "A|B^C&D~E\\F"
    assert unescape(r"rad 1\.br\rad 2", sep) == "rad 1\nrad 2"
    assert unescape(r"\XC5\ngström", sep) == "Ångström"
    (event,) = parse(adt(name=r"Svensson\T\Berg^Anna")).events
    assert event.data.patient.name == "Anna Svensson&Berg"  # type: ignore[union-attr]


def test_other_separators_are_honoured() -> None:
    text = adt().replace("|", "#").replace("^", "$").replace("MSH#$~\\&", "MSH#$~\\&")
    (event,) = parse(text).events
    assert event.episode_id == "NUS-V123456"


def test_local_times_across_dst_and_offsets() -> None:
    assert hl7_time("202607011200", "PV1", 44) == dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)
    assert hl7_time("202601011200", "PV1", 44) == dt.datetime(2026, 1, 1, 11, 0, tzinfo=dt.UTC)
    assert hl7_time("202601011200+0000", "PV1", 44) == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert hl7_time("20260301", "PV2", 9) == dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "location", "reject", "words"), [
    ("garbage that is not HL7", "MSH", True, "does not start with an MSH"),
    (adt().replace("MSH|^~\\&", "MSH|^~"), "MSH-2", True, "encoding characters"),
    (adt().replace("MSH|^~\\&", "MSHA^~\\&"), "MSH-2", True, "five distinct"),
    (adt(version="2.1"), "MSH-12", True, "not supported"),
    (adt(charset="KLINGON-8"), "MSH-18", True, "not supported"),
    (adt(pid3="191212121213^^^&1.2.752.129.2.1.3.1&ISO"), "PID-3", False, "check digit"),
    (adt(admit="2026-03-02"), "PV1-44", False, "not an HL7 date"),
    (adt().replace("ADT^A01", "ORU^R01"), "MSH-9", True, "not ADT"),
])
def test_bad_input_names_segment_and_field(text: str, location: str, reject: bool, words: str) -> None:
    with pytest.raises(Hl7Error) as exc:
        parse(text)
    assert exc.value.location == location
    assert exc.value.reject is reject
    assert words in exc.value.text
    assert "1212121213" not in exc.value.text  # masked


@pytest.mark.parametrize(("text", "reason", "location", "words"), [
    (adt(ward="X99^^^NUS"), "ward_unknown", "PV1-3", "not in the unit directory"),
    (adt(visit=""), "visit_missing", "PV1-19", "no visit number"),
    (adt(visit='""'), "visit_missing", "PV1-19", "no visit number"),
])
def test_what_the_hub_cannot_place_is_held_naming_the_field(text: str, reason: str, location: str,
                                                             words: str) -> None:
    parsed = parse(text)
    assert parsed.events == ()
    (hold,) = parsed.holds
    assert (hold.reason, hold.as_error().location) == (reason, location)
    assert words in hold.text


def test_wrong_charset_bytes_are_refused() -> None:
    with pytest.raises(Hl7Error) as exc:
        canonical(adt(name="Åström^Örjan").encode("iso-8859-1"), lookup, NOW)
    assert exc.value.location == "MSH-18"


def test_unmapped_triggers_give_no_events() -> None:
    assert parse(adt("A31")).events == ()


def test_acknowledgements_original_and_enhanced_mode() -> None:
    head = parse(adt()).header
    accept = ack(head, "accept", now=NOW).decode()
    assert "\rMSA|AA|MSG0001" in accept
    assert accept.startswith("MSH|^~\\&|SVU-HUB|SVU-HUB|COSMIC|NUS|")
    assert "|ACK^A01^ACK|" in accept
    (hold,) = parse(adt(ward="X99^^^NUS")).holds
    nak = ack(head, "error", error=hold.as_error(), now=NOW).decode()
    assert "\rMSA|AE|MSG0001|" in nak
    assert "\rERR||PV1^1^3|204^Unknown key identifier^HL70357|E||||" in nak
    enhanced = parse(adt(accept_ack="AL")).header
    assert "MSA|CA|" in ack(enhanced, "accept", now=NOW).decode()
    assert "MSA|CR|" in ack(enhanced, "reject", error=hold.as_error(), now=NOW).decode()
    for mode, ok, bad in (("AL", True, True), ("NE", False, False), ("ER", False, True), ("SU", True, False)):
        h = parse(adt(accept_ack=mode)).header
        assert (should_send(h, "accept"), should_send(h, "error")) == (ok, bad)


def test_split_keeps_segments_in_order() -> None:
    message = split(adt().encode())
    assert [s for s, _ in message.segments] == ["MSH", "EVN", "PID", "PV1", "PV2"]
    assert message.field("MSH", 10) == "MSG0001"
