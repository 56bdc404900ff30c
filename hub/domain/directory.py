"""The unit directory: every unit that sends or receives meddelanden, with its huvudman, kind,
the kommun it serves, its HL7 ward codes and the system it uses from which date — the data that
Prator's adresseringsregister (personnummerfilter) held (domain.md §4). Parsed from YAML; a bad
file is refused with file, line and field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.configfile import line_of, load_yaml, validate
from hub.errors import ConfigurationError
from hub.schemas.base import TargetSystem, UnitKind
from hub.schemas.identifiers import HsaId, Kommunkod, Lanskod


class SystemPeriod(BaseModel):
    """The unit uses ``system`` from ``from_date`` until the next period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: TargetSystem
    from_date: dt.date


class DirectoryUnit(BaseModel):
    """One unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hsa_id: HsaId
    name: str = Field(min_length=1, max_length=200)
    huvudman: str = Field(pattern=r"^(region|\d{4})$", description="'region' or a kommunkod")
    kind: UnitKind
    municipality: Kommunkod | None = None
    systems: tuple[SystemPeriod, ...] = Field(min_length=1)
    ward_codes: tuple[str, ...] = ()
    handover_on_cutover: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> DirectoryUnit:
        dates = [p.from_date for p in self.systems]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("systems must be in increasing from_date order")
        return self

    def system_on(self, day: dt.date) -> TargetSystem:
        """The system in use on ``day`` (the first period's system before it starts)."""
        current = self.systems[0].system
        for period in self.systems:
            if period.from_date <= day:
                current = period.system
        return current


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = ""
    region: Lanskod | None = Field(default=None, description="The region whose units these are "
                                   "(länskod); else a unit's region is its kommun's län.")
    units: list[DirectoryUnit]


class UnitDirectory:
    """Look-ups over the units."""

    def __init__(self, units: Sequence[DirectoryUnit], *, version: str = "",
                 regions: dict[str, str] | None = None) -> None:
        self.version = version
        self._regions = dict(regions or {})
        self._units = list(units)
        self._by_hsa = {u.hsa_id: u for u in self._units}
        self._wards: dict[str, str] = {}
        for u in self._units:
            for code in u.ward_codes:
                self._wards[code] = u.hsa_id

    def __len__(self) -> int:
        return len(self._units)

    def get(self, hsa_id: str) -> DirectoryUnit | None:
        return self._by_hsa.get(hsa_id)

    def units(self, *, kind: UnitKind | None = None, municipality: str | None = None) -> list[DirectoryUnit]:
        return [u for u in self._units
                if (kind is None or u.kind is kind)
                and (municipality is None or u.municipality == municipality)]

    def region_of(self, hsa_id: str) -> str | None:
        """The länskod of a region unit's region: its file's ``region``, else the län of the
        kommun it lies in; None for a unit not in the directory."""
        unit = self._by_hsa.get(hsa_id)
        if unit is None:
            return None
        found = self._regions.get(hsa_id)
        if found is None and unit.municipality is not None:
            found = unit.municipality[:2]
        return found

    def system_on(self, hsa_id: str, day: dt.date) -> TargetSystem | None:
        unit = self._by_hsa.get(hsa_id)
        return unit.system_on(day) if unit else None

    def ward_for_code(self, code: str, facility: str | None = None) -> str | None:
        """HSA-id of the ward an HL7 PV1-3 code names (``FACILITY^CODE`` first, then ``CODE``)."""
        if facility:
            found = self._wards.get(f"{facility}^{code}")
            if found:
                return found
        return self._wards.get(code)

    def cutovers(
        self, between: tuple[dt.date, dt.date] | None = None
    ) -> list[tuple[DirectoryUnit, SystemPeriod]]:
        """Units that change system, with the period that starts (optionally within dates)."""
        out = []
        for u in self._units:
            for period in u.systems[1:]:
                if between is None or between[0] <= period.from_date <= between[1]:
                    out.append((u, period))
        return out


def parse_directory(text: str, filename: str) -> UnitDirectory:
    """A directory from YAML (``units: [...]``); duplicates refused with file, line and field."""
    doc = load_yaml(text, filename)
    if not isinstance(doc, dict):
        raise ConfigurationError("a unit directory must be a mapping with 'units'", file=filename, line=1)
    parsed = validate(_File, doc, filename)
    seen: dict[str, int] = {}
    codes: dict[str, int] = {}
    for i, unit in enumerate(parsed.units):
        if unit.hsa_id in seen:
            raise ConfigurationError(f"duplicate hsa_id {unit.hsa_id} (first at unit {seen[unit.hsa_id]})",
                                     file=filename, line=line_of(doc, ("units", i, "hsa_id")),
                                     field=f"units.{i}.hsa_id")
        seen[unit.hsa_id] = i
        for code in unit.ward_codes:
            if code in codes:
                raise ConfigurationError(f"ward code {code} is used by two units", file=filename,
                                         line=line_of(doc, ("units", i, "ward_codes")),
                                         field=f"units.{i}.ward_codes")
            codes[code] = i
    regions = ({u.hsa_id: parsed.region for u in parsed.units if u.huvudman == "region"}
               if parsed.region else {})
    return UnitDirectory(parsed.units, version=parsed.version, regions=regions)


def combine(directories: Sequence[tuple[str, UnitDirectory]]) -> UnitDirectory:
    """Several regions' directories side by side (``(file name, directory)`` pairs); an HSA-id
    or a ward code in two files is refused, naming both files."""
    units: list[DirectoryUnit] = []
    regions: dict[str, str] = {}
    owner: dict[str, str] = {}
    wards: dict[str, str] = {}
    for filename, directory in directories:
        for unit in directory.units():
            if unit.hsa_id in owner:
                raise ConfigurationError(f"hsa_id {unit.hsa_id} is in two directories "
                                         f"({owner[unit.hsa_id]} and {filename})", file=filename)
            owner[unit.hsa_id] = filename
            for code in unit.ward_codes:
                if code in wards:
                    raise ConfigurationError(f"ward code {code} is in two directories "
                                             f"({wards[code]} and {filename})", file=filename)
                wards[code] = filename
            units.append(unit)
        regions.update(directory._regions)
    version = "+".join(d.version for _, d in directories if d.version)
    return UnitDirectory(units, version=version, regions=regions)
