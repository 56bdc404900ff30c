"""CloudEvents Kafka protocol binding: binary and structured mode round trips, and both decode
to the same Envelope."""

from __future__ import annotations

import orjson
import pytest

from hub.errors import ValidationFailed
from hub.schemas.payloads import PatientAdmitted
from hub.streams.kafka import binding
from tests.samples import WARD, event, patient, t

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _event(trace: str | None = TRACE):
    ev = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), seq=1, at=t(0))
    return ev.model_copy(update={"traceparent": trace}) if trace else ev


def test_binary_mode_puts_attributes_in_ce_headers_and_data_in_the_value() -> None:
    ev = _event()
    msg = binding.encode(ev, "binary")
    headers = dict(msg.headers)
    assert msg.key == ev.episode_id.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == ev.id.encode()
    assert headers["ce_type"] == b"se.svu.patient_admitted.v1"
    assert headers["ce_episodeid"] == ev.episode_id.encode()
    assert headers["ce_sourcemessageid"] == ev.source_message_id.encode()
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"] == TRACE.encode()
    assert "ce_data" not in headers and "ce_traceparent" not in headers
    assert orjson.loads(msg.value) == orjson.loads(ev.to_json())["data"]


def test_structured_mode_carries_the_whole_envelope() -> None:
    ev = _event()
    msg = binding.encode(ev, "structured")
    headers = dict(msg.headers)
    assert headers["content-type"] == binding.STRUCTURED_CONTENT_TYPE.encode()
    assert headers["traceparent"] == TRACE.encode()
    assert orjson.loads(msg.value) == orjson.loads(ev.to_json())


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_round_trip(mode: binding.ContentMode) -> None:
    ev = _event()
    assert binding.decode(binding.encode(ev, mode)) == ev


def test_both_modes_decode_to_the_same_envelope_and_structured_bytes() -> None:
    ev = _event()
    binary, structured = binding.encode(ev, "binary"), binding.encode(ev, "structured")
    assert binding.decode(binary) == binding.decode(structured) == ev
    assert orjson.loads(binding.to_structured(binary.value, binary.headers)) == orjson.loads(ev.to_json())


def test_a_traceparent_header_alone_fills_the_envelope() -> None:
    ev = _event(trace=None)
    msg = binding.encode(ev, "binary")
    traced = binding.KafkaMessage(msg.key, msg.value, (*msg.headers, ("traceparent", TRACE.encode())))
    assert binding.decode(traced).traceparent == TRACE


def test_a_structured_record_without_headers_passes_through_byte_for_byte() -> None:
    raw = _event(trace=None).to_json()
    assert binding.to_structured(raw, ()) is raw


def test_bad_records_name_what_is_wrong() -> None:
    ev = _event()
    msg = binding.encode(ev, "binary")
    with pytest.raises(ValidationFailed, match="value: not valid JSON"):
        binding.decode(binding.KafkaMessage(msg.key, b"{nope", msg.headers))
    with pytest.raises(ValidationFailed, match="key"):
        binding.decode(binding.KafkaMessage(b"VLL-2026-999999", msg.value, msg.headers))
    without_type = tuple(h for h in msg.headers if h[0] != "ce_type")
    with pytest.raises(ValidationFailed):
        binding.decode(binding.KafkaMessage(msg.key, msg.value, without_type))
