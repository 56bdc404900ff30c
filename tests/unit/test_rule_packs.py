"""Rule packs: the shipped ones load; kommun overrides merge; bad files are refused with file,
line and field."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.domain.rules import BUILTIN_PACKS, builtin_pack, parse_rule_pack
from hub.errors import ConfigurationError


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_shipped_packs_load_and_cite_their_sources(name: str) -> None:
    pack = builtin_pack(name)
    assert pack.id == name
    for field in ("admission_notice_hours", "kvittering", "payment_liability", "sip_invitation_days"):
        assert "(" in pack.source_of(field), f"{name} does not cite a source for {field}"


def test_county_differences() -> None:
    assert builtin_pack("gavleborg").discharge_documents_on == "ready_for_discharge_day"
    sthlm = builtin_pack("stockholm").payment_liability
    assert (sthlm.psychiatry_days, sthlm.notice_cutoff) == (5, dt.time(12))
    assert "primary_care_information_available" in builtin_pack("vasterbotten").payment_liability.requires


def test_kommun_override_merges_only_what_it_names() -> None:
    pack = builtin_pack("norrbotten")
    boden = pack.for_municipality("2582")
    assert boden.kvittering.times == (dt.time(13),)
    assert boden.kvittering.non_working_days == pack.kvittering.non_working_days
    assert boden.payment_liability == pack.payment_liability
    assert pack.for_municipality("2580") is pack
    assert "kommun 2582" in boden.source_of("kvittering")


GOOD = """\
id: test
name: Test
lanskod: "24"
kvittering:
  times: ["09:00"]
"""


def test_a_minimal_pack_takes_the_defaults() -> None:
    pack = parse_rule_pack(GOOD, "test.yaml")
    assert pack.admission_notice_hours == 24
    assert pack.payment_liability.days_after_notice == 3


@pytest.mark.parametrize(("text", "line", "field"), [
    (GOOD.replace('["09:00"]', '["nine"]'), 5, "kvittering.times.0"),
    (GOOD + "admission_notice_hours: -1\n", 6, "admission_notice_hours"),
    (GOOD + "unknown_rule: 3\n", 6, "unknown_rule"),
    (GOOD + "payment_liability:\n  requires: [moon_phase]\n", 6, "payment_liability"),
    (GOOD + "municipalities:\n  \"2580\": {kvittering: {times: [\"13:00\"]}}\n", 6, "municipalities"),
])
def test_a_malformed_pack_names_file_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        parse_rule_pack(text, "packs/test.yaml")
    assert exc.value.file == "packs/test.yaml"
    assert exc.value.line == line
    assert exc.value.field == field
    assert str(exc.value).startswith(f"packs/test.yaml:{line} {field}: ")


def test_bad_yaml_names_the_line() -> None:
    with pytest.raises(ConfigurationError) as exc:
        parse_rule_pack("id: x\nname: [unclosed\n", "p.yaml")
    assert exc.value.line is not None
    assert "not valid YAML" in str(exc.value)


def test_the_laws_pack_has_the_defaults_and_socialstyrelsens_known_amounts() -> None:
    law = builtin_pack("lag-2017-612")
    rule = law.payment_liability
    assert (law.lanskod, rule.days_after_notice, rule.notice_cutoff, rule.psychiatry_days) == ("00", 3, None, None)
    assert rule.requires == {"admission_notice_to_kommun", "ready_notice_to_kommun"}  # no local conditions
    assert rule.daily_rate == {2019: 7800, 2022: 9300} and rule.unknown_year == "setting"
    assert law.municipalities == {}


def test_an_override_file_names_its_base_and_only_what_differs() -> None:
    pack = parse_rule_pack("base: gavleborg\nsip_invitation_days: 2\n", "/tmp/Sip Två.yaml")
    assert (pack.id, pack.sip_invitation_days, pack.lanskod) == ("gavleborg-sip-tv", 2, "21")
    assert pack.discharge_documents_on == builtin_pack("gavleborg").discharge_documents_on
    with pytest.raises(ConfigurationError, match="base must be a shipped pack") as exc:
        parse_rule_pack("sip_invitation_days: 2\nbase: nowhere\n", "x.yaml")
    assert exc.value.line == 2
