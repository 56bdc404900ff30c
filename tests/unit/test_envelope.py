"""The canonical model: every payload type round-trips through its CloudEvents envelope, the
union discriminates on ``type``, and errors name the field without echoing patient data."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from hub.errors import ValidationFailed
from hub.schemas.envelope import ALL_PAYLOADS, EVENT_TYPES, event_type, new_event, parse_event
from hub.schemas.payloads import PatientAdmitted
from tests.samples import PNR, WARD, event, patient, sample_payloads, t


def test_samples_cover_every_payload_type() -> None:
    assert {type(p) for p in sample_payloads()} == set(ALL_PAYLOADS)


@pytest.mark.parametrize("payload", sample_payloads(), ids=lambda p: type(p).__name__)
def test_round_trip_through_json(payload) -> None:
    ev = event(payload)
    raw = ev.to_json()
    back = parse_event(raw)
    assert type(back) is type(ev)
    assert back == ev
    assert back.data == payload
    obj = orjson.loads(raw)
    assert obj["specversion"] == "1.0"
    assert obj["type"] == event_type(type(payload))
    assert obj["dataschema"].startswith("urn:svu-hub:schema:")
    assert obj["episodeid"] == "VLL-2026-000001"
    assert obj["datacontenttype"] == "application/json"


def test_type_names_carry_a_version_and_are_unique() -> None:
    names = [event_type(p) for p in ALL_PAYLOADS]
    assert len(set(names)) == len(names)
    assert all(n.startswith("se.svu.") and n.rsplit(".", 1)[1] == "v1" for n in names)
    assert set(EVENT_TYPES) == set(names)


def test_event_ids_are_derived_from_the_source_message() -> None:
    p = PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0))
    a = new_event(p, episode_id="E1", source="/ehr", source_message_id="M1", time=t(0), received_at=t(1))
    b = new_event(p, episode_id="E1", source="/ehr", source_message_id="M1", time=t(0), received_at=t(2))
    c = new_event(p, episode_id="E1", source="/ehr", source_message_id="M2", time=t(0), received_at=t(1))
    assert a.id == b.id != c.id


def test_times_are_normalised_to_utc_and_naive_times_refused() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    ev = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=cet)))
    assert ev.data.admitted_at == dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)
    obj = orjson.loads(ev.to_json())
    obj["time"] = "2026-03-02T09:30:00"
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    assert exc.value.errors[0][0] == "time"
    assert "timezone" in exc.value.errors[0][1]


def _admission_obj() -> dict:
    return orjson.loads(event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0))).to_json())


def test_error_names_field_and_masks_the_personnummer() -> None:
    obj = _admission_obj()
    obj["data"]["patient"]["id"] = PNR[:-1] + "3"
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    loc, msg = exc.value.errors[0]
    assert loc.startswith("data.patient.id")
    assert "check digit" in msg
    assert "19121212-****" in str(exc.value)
    assert PNR[-4:-1] not in str(exc.value).replace("19121212", "")


def test_unknown_type_and_unknown_field_are_named() -> None:
    obj = _admission_obj()
    obj["type"] = "se.svu.no_such_event.v1"
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    assert "se.svu.no_such_event.v1" in str(exc.value)
    obj = _admission_obj()
    obj["data"]["colour"] = "red"
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    assert exc.value.errors == [("data.colour", "Extra inputs are not permitted")]


def test_unknown_kommunkod_and_bad_hsa_id_are_refused() -> None:
    obj = _admission_obj()
    obj["data"]["patient"]["municipality"] = "2499"
    obj["data"]["ward"] = "XX123"
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    locs = dict(exc.value.errors)
    assert "2499" in locs["data.patient.municipality"]
    assert "data.ward" in locs


@pytest.mark.parametrize("episode", ["191212121212", "VLL-19121212-1212", "x/../y", "", "a" * 129])
def test_episode_ids_that_carry_a_personnummer_or_break_the_pattern_are_refused(episode: str) -> None:
    obj = _admission_obj()
    obj["episodeid"] = episode
    with pytest.raises(ValidationFailed) as exc:
        parse_event(orjson.dumps(obj))
    assert exc.value.errors[0][0] == "episodeid"
    assert "1212" not in exc.value.errors[0][1]


def test_sets_serialise_in_the_same_order_in_every_process() -> None:
    import subprocess
    import sys

    code = ("from hub.schemas.payloads import Needs; from hub.schemas.base import Service as S;"
            "print(Needs(expected=frozenset(S), existing=frozenset([S.SOCIAL_SERVICES, S.PRIMARY_CARE]))"
            ".model_dump_json())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in range(6)}
    assert len(outputs) == 1
