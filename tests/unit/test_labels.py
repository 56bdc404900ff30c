"""Swedish labels: every rule the engine, the alert policy and the bridge can raise has a Swedish
name, an explanation and a source the hub ships; a county's override changes only what it names;
a broken labels file is refused naming the file and line; dead-letter reasons get a short text."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from hub.domain.labels import labels_for, parse_labels, sources_document
from hub.errors import ConfigurationError
from hub.schemas.base import ColourTrack
from hub.streams.bridge import CIRCUIT, STUCK


def _rule_codes() -> set[str]:
    source = (files("hub.domain") / "deadlines.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'Deadline\("([a-z_]+)"', source))
    codes |= set(re.findall(r'\("(planning_basis_[a-z_]+)", s\.', source))
    codes |= {f"sip_meeting_{c.value}" for c in ColourTrack}
    return codes | {"data_quality", STUCK, CIRCUIT}


def test_every_rule_has_a_swedish_name_explanation_and_shipped_source() -> None:
    labels = labels_for()
    codes = _rule_codes()
    assert len(codes) >= 20
    shipped = sources_document()
    for code in codes:
        assert code in labels.rules, f"{code} has no Swedish label"
        rule = labels.rules[code]
        assert rule.namn != code and "_" not in rule.namn
        for ref in re.findall(r"\b([SW]\d+)\b", rule.kalla):
            assert f"**{ref}**" in shipped, f"{code} cites {ref}, not in kallor.sv.md"


def test_a_county_override_changes_only_what_it_names() -> None:
    base = (files("hub.domain") / "packs" / "labels.sv.yaml").read_text(encoding="utf-8")
    override = "rules:\n  kvittering:\n    namn: Kvittering inom kvitteringstiden\n"
    labels = parse_labels(base, "labels.sv.yaml", override)
    assert labels.rules["kvittering"].namn == "Kvittering inom kvitteringstiden"
    assert labels.rules["kvittering"].kalla == labels_for().rules["kvittering"].kalla
    assert labels.rules["admission_notice"] == labels_for().rules["admission_notice"]


def test_a_broken_labels_file_names_file_and_line() -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_labels("rules:\n  kvittering:\n    namn: x\n", "labels.test.yaml")
    assert "labels.test.yaml" in str(err.value)


def test_dead_letter_reasons_get_a_short_swedish_text() -> None:
    labels = labels_for()
    assert labels.short_reason("data.patient.id: wrong personnummer check digit") == \
        "Personnumret är ogiltigt (kontrollsiffra eller format)"
    assert labels.short_reason("type: unsupported event type 'x'") == "Händelsetypen eller versionen stöds inte"
    tag = ("Input tag 'se.svu.admission_notice_sent.v9' found using 'type' does not match any of the expected "
           "tags: 'se.svu.patient_admitted.v1', 'se.svu.delivery_requested.v1'")
    assert labels.short_reason(tag) == "Händelsetypen eller versionen stöds inte"
    assert labels.short_reason("something nobody foresaw") == labels.default_reason
    assert labels.rule("no_such_rule").namn == "No such rule"
