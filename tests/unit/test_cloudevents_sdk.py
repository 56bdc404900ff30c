"""The official CloudEvents SDK and the hub read each other's Kafka records, in both content
modes: the hub keeps (and ignores) the extension attributes the SDK adds, such as
``partitionkey``, and the SDK reads every attribute the hub writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from hub.errors import ValidationFailed
from hub.schemas.envelope import Envelope, parse_event
from hub.schemas.payloads import PatientAdmitted
from hub.streams.kafka import binding
from tests.samples import WARD, event, patient, t

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
MODES: list[binding.ContentMode] = ["binary", "structured"]


def _hub_event() -> Envelope:
    ev = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), seq=1, at=t(0))
    return ev.model_copy(update={"traceparent": TRACE})


def _sdk_message(msg: binding.KafkaMessage) -> ce_kafka.KafkaMessage:
    return ce_kafka.KafkaMessage(headers=dict(msg.headers), key=msg.key, value=msg.value)


def _hub_message(msg: ce_kafka.KafkaMessage) -> binding.KafkaMessage:
    key = msg.key.encode() if isinstance(msg.key, str) else (msg.key or b"")
    return binding.KafkaMessage(key, msg.value, tuple(msg.headers.items()))


def _sdk_event(ev: Envelope, **extensions: Any) -> CloudEvent:
    obj = orjson.loads(ev.to_json())
    data = obj.pop("data")
    obj.pop("traceparent", None)
    obj["time"] = ev.time
    return CloudEvent(attributes={**obj, **extensions}, data=data)


@pytest.mark.parametrize("mode", MODES)
def test_the_sdk_reads_what_the_hub_writes(mode: binding.ContentMode) -> None:
    ev = _hub_event()
    read = ce_kafka.from_kafka_event(_sdk_message(binding.encode(ev, mode)))
    attributes = read.get_attributes()
    assert attributes["id"] == ev.id and attributes["type"] == "se.svu.patient_admitted.v1"
    assert attributes["source"] == ev.source and attributes["specversion"] == "1.0"
    assert attributes["time"] == ev.time
    assert read.get_extension("episodeid") == ev.episode_id
    assert read.get_extension("sourcemessageid") == ev.source_message_id
    assert read.get_data() == orjson.loads(ev.to_json())["data"]


@pytest.mark.parametrize("sdk_mode", MODES)
def test_the_hub_reads_what_the_sdk_writes_and_keeps_its_extensions(sdk_mode: str) -> None:
    ev = _hub_event()
    sdk_event = _sdk_event(ev, partitionkey=ev.episode_id, comexampleregion="24")
    msg = (ce_kafka.to_binary_event(sdk_event) if sdk_mode == "binary"
           else ce_kafka.to_structured_event(sdk_event))
    assert msg.key == ev.episode_id  # the SDK keys by its partitionkey extension
    decoded = binding.decode(_hub_message(msg))
    assert decoded.model_extra == {"partitionkey": ev.episode_id, "comexampleregion": "24"}
    known = decoded.model_dump(exclude={"partitionkey", "comexampleregion", "traceparent"})
    assert known == ev.model_dump(exclude={"traceparent"})
    # kept: the extensions travel on when the hub writes the event again, in either mode
    for mode in MODES:
        again = ce_kafka.from_kafka_event(_sdk_message(binding.encode(decoded, mode)))
        assert again.get_extension("comexampleregion") == "24"
        assert binding.decode(binding.encode(decoded, mode)) == decoded


@pytest.mark.parametrize("mode", MODES)
def test_a_round_trip_hub_sdk_hub_gives_the_same_event(mode: binding.ContentMode) -> None:
    ev = _hub_event().model_copy(update={"traceparent": None})
    via_sdk = ce_kafka.from_kafka_event(_sdk_message(binding.encode(ev, mode)))
    back = (ce_kafka.to_binary_event(via_sdk) if mode == "binary" else ce_kafka.to_structured_event(via_sdk))
    decoded = binding.decode(_hub_message(back))
    assert decoded.model_dump(exclude={"partitionkey"}) == ev.model_dump()
    assert decoded.model_extra == {"partitionkey": ev.episode_id}  # from the record key


def test_extensions_are_ignored_by_the_processing_but_bad_ones_are_named() -> None:
    obj = orjson.loads(_hub_event().to_json())
    with pytest.raises(ValidationFailed, match="lower-case letters and digits"):
        parse_event({**obj, "Bad-Name": "x"})
    with pytest.raises(ValidationFailed, match="string, integer or boolean"):
        parse_event({**obj, "nested": {"a": 1}})
    with pytest.raises(ValidationFailed) as exc:
        parse_event({**obj, "data": {**obj["data"], "colour": "red"}})  # the payload stays closed
    assert exc.value.errors == [("data.colour", "Extra inputs are not permitted")]
