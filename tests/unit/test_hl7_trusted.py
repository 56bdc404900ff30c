"""The fast paths of the HL7 mapping give exactly what the validated paths give: events built
from checked values without a second validation pass the canonical schema unchanged, the event
id equals uuid5, and the Stockholm-time shortcut equals zoneinfo across both DST changes."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import orjson
import pytest

from hub.adapters.hl7.mapping import TRIGGERS, canonical
from hub.adapters.hl7.parse import STOCKHOLM, hl7_time
from hub.schemas.envelope import _EVENT_ID_NAMESPACE, event_uuid, parse_event
from tests.support.hl7 import adt, lookup, segment

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
MRG = segment("MRG", {1: "199001019802^^^&1.2.752.129.2.1.3.1&ISO", 5: "V1"})


@pytest.mark.parametrize(("trigger", "address", "name"), list(itertools.product(
    TRIGGERS, ["Storgatan 1^^Umeå^^903 25^SE^H^^2480", "", "Storgatan 1^^Umeå^^90325"], ["Åström^Märta", ""])))
def test_trusted_events_validate_to_themselves(trigger: str, address: str, name: str) -> None:
    text = adt(trigger, discharge="202603061500", address=address, name=name,
               extra=[MRG] if trigger == "A40" else None)
    (event,) = canonical(text.encode(), lookup, NOW).events
    raw = event.to_json()
    again = parse_event(raw)  # the full pydantic validation of the canonical union
    assert again.to_json() == raw
    assert orjson.loads(raw)["data"] == orjson.loads(again.to_json())["data"]


def test_event_id_is_uuid5() -> None:
    for name in ["", "a", "ehr|COSMIC|NUS|1|se.svu.patient_admitted.v1|NUS-V1", "åäö" * 40]:
        assert event_uuid(name) == str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


def test_stockholm_shortcut_equals_zoneinfo_across_dst() -> None:
    hl7_time.cache_clear()
    for start in (dt.datetime(2026, 3, 28, 20), dt.datetime(2026, 10, 24, 20)):
        for minutes in range(0, 36 * 60, 10):
            local = start + dt.timedelta(minutes=minutes)
            for shape in ("%Y%m%d%H%M", "%Y%m%d%H%M%S", "%Y%m%d"):
                text = local.strftime(shape)
                naive = dt.datetime.strptime(text, shape)
                assert hl7_time(text, "PV1", 44) == naive.replace(tzinfo=STOCKHOLM).astimezone(dt.UTC), text
