"""Identity and correlation in the HL7 mapping: the HL7 null "" (never a value, never part of an
id), the vårdtillfälle-id field per sender, the patient on every event, A40 without a visit
number, PID-3 repetitions chosen by assigning authority or identifier type, reservnummer
schemes per region, and a foreign address held for routing rather than refused."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import TRIGGERS, canonical
from hub.adapters.hl7.profile import Profile, field_ref
from hub.schemas import payloads as p
from tests.support.hl7 import adt, lookup, segment

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
PNR = "191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE"
MRG = segment("MRG", {1: "199001019802^^^&1.2.752.129.2.1.3.1&ISO"})


def parse(text: str, profile: Profile | None = None):  # type: ignore[no-untyped-def]
    return canonical(text.encode(), lookup, NOW, profile or Profile())


def test_null_is_no_value_and_never_part_of_an_episode_id() -> None:
    held = parse(adt(visit='""'))
    assert held.events == () and held.episode is None
    assert held.holds[0].reason == "visit_missing"
    (event,) = parse(adt(discharge='""', expected='""', admit='""')).events  # "" dates: no value, no error
    assert isinstance(event.data, p.PatientAdmitted)
    assert event.data.estimated_discharge is None
    assert event.data.admitted_at == dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.UTC)  # EVN-2
    (named,) = parse(adt(name='""^Tolvan')).events
    assert named.data.patient.name == "Tolvan"  # type: ignore[attr-defined]


def test_two_patients_with_null_visit_numbers_never_share_an_episode() -> None:
    a = parse(adt(visit='""', control="N1"))
    b = parse(adt(visit='""', control="N2", pid3="199001019802^^^&1.2.752.129.2.1.3.1&ISO"))
    assert a.events == b.events == () and a.episode is None and b.episode is None


@pytest.mark.parametrize(("field", "text"), [
    ("PV1-50", adt(visit="").replace("|202603020815|", "|202603020815||||||VT-50|")),
    ("PID-18", adt(visit="").replace("|19121212|M|", "|19121212|M|").replace(
        "Storgatan 1^^Umeå^^90325^SE^H^^2480", "Storgatan 1^^Umeå^^90325^SE^H^^2480|||||||VT-18")),
    ("ZSV-1", adt(visit="", extra=["ZSV|VT-Z"])),
])
def test_the_visit_number_field_is_a_sender_setting(field: str, text: str) -> None:
    (event,) = parse(text, Profile(visit=field_ref(field))).events
    assert re.fullmatch(r"NUS-VT-(50|18|Z)", event.episode_id)
    assert parse(text).holds[0].reason == "visit_missing"  # PV1-19, the default, is empty


@pytest.mark.parametrize("trigger", [t for t in TRIGGERS if t != "A40"])
def test_every_event_from_a_message_with_pid_carries_the_patient(trigger: str) -> None:
    (event,) = parse(adt(trigger, discharge="202603061500")).events
    assert event.data.patient.id.value == "191212121212"  # type: ignore[attr-defined]


def test_a40_merges_patients_without_a_visit_number() -> None:
    text = adt("A40", visit="", extra=[MRG])
    (event,) = parse(text).events
    assert isinstance(event.data, p.PatientRecordsMerged)
    assert (event.data.patient.value, event.data.merged.value) == ("191212121212", "199001019802")
    assert event.episode_id.startswith("NUS-merge-") and "1212" not in event.episode_id
    assert parse(text).events[0].episode_id == event.episode_id  # deterministic


def test_pid3_repetitions_the_swedish_identifier_is_chosen_by_authority_or_type() -> None:
    reps = "MRN0042^^^NUS^MR~1495641465^^^NHS^NH~199001019802^^^SE^PN"
    (event,) = parse(adt(pid3=reps)).events
    assert event.data.patient.id.value == "199001019802"  # type: ignore[attr-defined]
    (by_oid,) = parse(adt(pid3="MRN0042^^^NUS^MR~" + PNR)).events
    assert by_oid.data.patient.id.value == "191212121212"  # type: ignore[attr-defined]
    with pytest.raises(Hl7Error) as exc:  # a Swedish identifier with a wrong check digit: the sender's to fix
        parse(adt(pid3="MRN0042^^^NUS^MR~191212121213^^^SE^PN"))
    assert exc.value.location == "PID-3" and "1213" not in exc.value.text


def test_no_swedish_identifier_is_held_not_refused() -> None:
    held = parse(adt(pid3="MRN0042^^^NUS^MR~1495641465^^^NHS^NH"))
    assert [h.reason for h in held.holds] == ["patient_unidentified"]
    assert held.events == ()


def test_reservnummer_schemes_and_local_patterns_are_settings_per_region() -> None:
    vbn = "19900101R123"
    (event,) = parse(adt(pid3=vbn)).events
    assert event.data.patient.id.kind.value == "reservnummer"  # type: ignore[attr-defined]
    gavle_only = Profile(reservnummer_schemes=frozenset({"gavleborg"}))
    assert parse(adt(pid3=vbn), gavle_only).holds[0].reason == "patient_unidentified"
    local = Profile(local_ids=(re.compile(r"NB\d{8}"),))
    assert parse(adt(pid3="NB12345678"), local).holds[0].text.endswith("local reservnummer of the region")


def test_a_foreign_address_is_held_for_routing_not_refused() -> None:
    held = parse(adt(address="Storgata 1^^Oslo^^0150^NO^H"))
    assert [h.reason for h in held.holds] == ["address_foreign"]
    assert "Oslo" not in held.holds[0].text
    (forced,) = canonical(adt(address="Storgata 1^^Oslo^^0150^NO^H").encode(), lookup, NOW, force=True).events
    assert forced.data.patient.address is None  # type: ignore[attr-defined]
    (with_kommun,) = parse(adt(address="Storgata 1^^Oslo^^0150^NO^H^^2480")).events
    assert with_kommun.data.patient.municipality == "2480"  # type: ignore[attr-defined]


def test_a08_without_pv1_is_held() -> None:
    text = "\r".join(s for s in adt("A08").split("\r") if not s.startswith(("PV1", "PV2"))) + "\r"
    assert [h.reason for h in parse(text).holds] == ["pv1_missing"]
