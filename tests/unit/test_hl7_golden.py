"""Golden samples (tests/samples/hl7, provenance in its README) against their expected canonical
JSON, and the hub's fast parser against hl7apy on every message of the corpus."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import orjson
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from hub.adapters.hl7.batch import batch_counts, messages_of
from hub.adapters.hl7.mapping import canonical
from hub.adapters.hl7.parse import split
from tests.support.hl7 import adt, lookup

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "hl7"
RECEIVED = dt.datetime(2026, 3, 6, 16, 0, tzinfo=dt.UTC)


def _canonical(path: Path) -> list[dict]:
    out = []
    for message in messages_of(path.read_bytes()):
        for event in canonical(message, lookup, RECEIVED).events:
            obj = orjson.loads(event.to_json())
            out.append({"type": obj["type"], "episodeid": obj["episodeid"], "time": obj["time"],
                        "sourcemessageid": obj["sourcemessageid"], "data": obj["data"]})
    return out


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.hl7")), ids=lambda p: p.name)
def test_golden_sample(path: Path) -> None:
    expected = orjson.loads(path.with_suffix(".expected.json").read_bytes())
    assert _canonical(path) == expected


def test_latin1_and_utf8_samples_give_the_same_events() -> None:
    assert _canonical(SAMPLES / "a01-utf8.hl7") == _canonical(SAMPLES / "a01-latin1.hl7")
    assert _canonical(SAMPLES / "a01-utf8.hl7")[0]["data"]["patient"]["address"]["city"] == "Skellefteå"


def test_batch_is_whole() -> None:
    assert batch_counts((SAMPLES / "batch.hl7").read_bytes()) == (3, 3)


def _corpus() -> list[bytes]:
    out = [m for p in sorted(SAMPLES.glob("*.hl7")) if "latin1" not in p.name for m in messages_of(p.read_bytes())]
    for trigger, visit, ward in itertools.product(("A01", "A02", "A03", "A08"), ("V1", "V77"), ("V00", "V01")):
        out.append(adt(trigger, visit=visit, ward=f"{ward}^^^NUS", control=f"C{trigger}{visit}{ward}",
                       name="Nilsson^Märta Åsa", discharge="202603061500").encode())
    return out


FIELDS = (("MSH", 10), ("MSH", 12), ("PID", 5), ("PV1", 19), ("PV1", 44), ("PV1", 45), ("PV2", 9))


@pytest.mark.parametrize("raw", _corpus())
def test_fast_parser_extracts_what_hl7apy_extracts(raw: bytes) -> None:
    ours = split(raw)
    theirs = parse_message(raw.decode("utf-8"), validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    for seg, number in FIELDS:
        segment = getattr(theirs, seg.lower())
        node = getattr(segment, f"{seg.lower()}_{number}")
        assert ours.field(seg, number) == node.to_er7(), f"{seg}-{number}"
    assert ours.component("MSH", 9, 2) == theirs.msh.msh_9.msh_9_2.to_er7()
    assert ours.component("PID", 3, 1) == theirs.pid.pid_3.pid_3_1.to_er7()
    assert ours.component("PV1", 3, 1) == theirs.pv1.pv1_3.pv1_3_1.to_er7()
