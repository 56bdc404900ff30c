"""The unit directory: systems by date, ward codes, duplicates refused with file and line."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files

import pytest

from hub.demo.units import directory_yaml
from hub.domain.directory import parse_directory
from hub.errors import ConfigurationError
from hub.schemas.base import TargetSystem, UnitKind
from tests.samples import SOC, WARD

TEXT = f"""\
version: "1"
units:
  - hsa_id: {WARD}
    name: Medicin 1
    huvudman: region
    kind: slutenvard
    systems: [{{system: lifecare, from_date: 2018-01-01}}]
    ward_codes: [MED1, "NUS^MED1"]
  - hsa_id: {SOC}
    name: Umeå socialtjänst
    huvudman: "2480"
    kind: socialtjanst
    municipality: "2480"
    systems:
      - {{system: prator, from_date: 2018-01-01}}
      - {{system: lifecare, from_date: 2027-03-01}}
"""


def test_system_on_a_date_across_the_cutover() -> None:
    d = parse_directory(TEXT, "dir.yaml")
    assert d.system_on(SOC, dt.date(2027, 2, 28)) is TargetSystem.PRATOR
    assert d.system_on(SOC, dt.date(2027, 3, 1)) is TargetSystem.LIFECARE
    assert d.system_on("SE0000000000-X", dt.date(2027, 3, 1)) is None
    assert [u.hsa_id for u, _ in d.cutovers()] == [SOC]
    assert d.units(kind=UnitKind.SOCIAL_SERVICES, municipality="2480")[0].hsa_id == SOC


def test_ward_codes() -> None:
    d = parse_directory(TEXT, "dir.yaml")
    assert d.ward_for_code("MED1") == WARD
    assert d.ward_for_code("MED1", "NUS") == WARD
    assert d.ward_for_code("XYZ") is None


def test_duplicate_hsa_id_is_refused_with_its_line() -> None:
    text = TEXT + TEXT.split("units:\n", 1)[1].split("  - hsa_id: " + SOC)[0]
    with pytest.raises(ConfigurationError) as exc:
        parse_directory(text, "dir.yaml")
    assert "duplicate hsa_id" in str(exc.value)
    assert exc.value.line == 17


@pytest.mark.parametrize(("bad", "field"), [
    ("kind: socialtjanst", "units.1.kind"),
    ('municipality: "2480"', "units.1.municipality"),
])
def test_invalid_fields_are_named(bad: str, field: str) -> None:
    replacement = {"kind: socialtjanst": "kind: bakery", 'municipality: "2480"': 'municipality: "9999"'}[bad]
    with pytest.raises(ConfigurationError) as exc:
        parse_directory(TEXT.replace(bad, replacement), "dir.yaml")
    assert exc.value.field == field
    assert exc.value.line == (12 if "kind" in bad else 13)


@pytest.mark.parametrize("county", ["vasterbotten", "norrbotten", "gavleborg", "stockholm"])
def test_shipped_demo_directories_are_what_the_generator_makes(county: str) -> None:
    shipped = (files("hub.demo") / "data" / f"directory-{county}.yaml").read_text(encoding="utf-8")
    assert shipped == directory_yaml(county)
    assert len(parse_directory(shipped, county)) > 40


def test_a_folder_holds_several_regions_directories_side_by_side(tmp_path) -> None:
    from hub.streams.directory import DirectoryHolder

    def unit(hsa: str, kommun: str, code: str) -> str:
        return (f'  - {{hsa_id: {hsa}, name: "Avd", huvudman: region, kind: slutenvard, municipality: "{kommun}", '
                f"systems: [{{system: lifecare, from_date: 2018-01-01}}], ward_codes: [{code}]}}\n")

    (tmp_path / "a.yaml").write_text('version: "a"\nunits:\n' + unit("SE2321000248-V00", "2480", "U1"),
                                     encoding="utf-8")
    (tmp_path / "b.yaml").write_text('version: "b"\nregion: "25"\nunits:\n' + unit("SE2321000255-V00", "2580", "L1"),
                                     encoding="utf-8")
    holder = DirectoryHolder(tmp_path)
    both = holder.current()
    assert both is not None and len(both) == 2 and both.version == "a+b"
    assert (both.region_of("SE2321000248-V00"), both.region_of("SE2321000255-V00")) == ("24", "25")
    assert both.ward_for_code("L1") == "SE2321000255-V00"
    assert not holder.reload_if_changed()
    (tmp_path / "c.yaml").write_text('version: "c"\nunits:\n' + unit("SE2321000263-V00", "0180", "L1"),
                                     encoding="utf-8")
    with pytest.raises(ConfigurationError, match="ward code L1 is in two directories"):
        holder.reload_if_changed()
    assert holder.current() is both  # the previous directories stay in force
