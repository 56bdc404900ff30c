"""Synthetic units of a county for the demo: wards, hälsocentraler and each kommun's
socialtjänst and kommunal hälso- och sjukvård. HSA-ids are synthetic but well-formed
(organisationsnummer with a correct check digit)."""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import luhn

from hub.schemas.base import TargetSystem, UnitKind
from hub.schemas.geography import Kommun, kommuner

COUNTIES: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    # county: (länskod, episode-id prefix, hospitals as (name, kommunkod))
    "vasterbotten": ("24", "VLL", (("Norrlands universitetssjukhus", "2480"),
                                   ("Skellefteå lasarett", "2482"), ("Lycksele lasarett", "2481"))),
    "norrbotten": ("25", "NLL", (("Sunderby sjukhus", "2580"), ("Piteå älvdals sjukhus", "2581"),
                                 ("Gällivare sjukhus", "2523"), ("Kiruna sjukhus", "2584"))),
    "gavleborg": ("21", "RGG", (("Gävle sjukhus", "2180"), ("Hudiksvalls sjukhus", "2184"),
                                ("Bollnäs sjukhus", "2183"))),
}

WARD_NAMES = ("Medicinavdelning", "Geriatrisk avdelning", "Ortopedavdelning", "Psykiatrisk avdelning")


def _orgnr(prefix: str) -> str:
    """A 10-digit organisationsnummer: the 9-digit prefix plus its Luhn check digit."""
    return prefix + luhn.calc_check_digit(prefix)


def region_orgnr(lanskod: str) -> str:
    return _orgnr(f"2321000{lanskod}")


def kommun_orgnr(kommunkod: str) -> str:
    return _orgnr(f"21200{kommunkod}")


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of the synthetic directory."""

    hsa_id: str
    name: str
    kind: UnitKind
    huvudman: str  # "region" or a kommunkod
    municipality: str
    system: TargetSystem


@dataclass(frozen=True, slots=True)
class CountyUnits:
    """All synthetic units of one county."""

    county: str
    lanskod: str
    prefix: str
    kommuner: tuple[Kommun, ...]
    wards: tuple[Unit, ...]
    primary_care: dict[str, Unit]
    social_services: dict[str, Unit]
    municipal_health: dict[str, Unit]

    def all(self) -> list[Unit]:
        return [*self.wards, *self.primary_care.values(), *self.social_services.values(),
                *self.municipal_health.values()]


def county_units(county: str) -> CountyUnits:
    """The demo's units of ``county`` (vasterbotten, norrbotten or gavleborg)."""
    lanskod, prefix, hospitals = COUNTIES[county]
    region = region_orgnr(lanskod)
    wards = []
    for h, (hospital, kod) in enumerate(hospitals):
        for w, ward in enumerate(WARD_NAMES):
            wards.append(Unit(f"SE{region}-V{h}{w}", f"{hospital}, {ward} {w + 1}",
                              UnitKind.INPATIENT_WARD, "region", kod, TargetSystem.LIFECARE))
    ks = kommuner(lanskod)
    primary, social, health = {}, {}, {}
    for i, k in enumerate(ks):
        org = kommun_orgnr(k.code)
        # Half of the kommuner are still on Prator: the migration the hub bridges.
        system = TargetSystem.PRATOR if i % 2 else TargetSystem.LIFECARE
        primary[k.code] = Unit(f"SE{region}-HC{k.code}", f"Hälsocentralen {k.name}",
                               UnitKind.PRIMARY_CARE, "region", k.code, TargetSystem.LIFECARE)
        social[k.code] = Unit(f"SE{org}-SOC", f"{k.name} kommun, socialtjänst",
                              UnitKind.SOCIAL_SERVICES, k.code, k.code, system)
        health[k.code] = Unit(f"SE{org}-HSV", f"{k.name} kommun, hemsjukvård",
                              UnitKind.MUNICIPAL_HEALTH_CARE, k.code, k.code, system)
    return CountyUnits(county, lanskod, prefix, ks, tuple(wards), primary, social, health)
