"""Which agreement binds an episode: the rule pack for the pair of huvudmän, the hospital's
region and the patient's folkbokföringskommun (Lag (2017:612) 5 kap.: the parties may agree on
other terms than the law's; domain.md §2 "Legal default").

1. A bilateral agreement configured for the pair (``engine.agreements``) wins.
2. Both in the same county: that county's agreement (its pack, with the kommun's overrides).
3. Otherwise the law's own defaults (``lag-2017-612``): 3 calendar days, no local conditions,
   Socialstyrelsen's amount where known.

The hospital's region is the region of the episode's ward in the unit directory (the län of
the kommun the ward lies in, or the directory file's ``region``); when the ward is not known the
hub's own region (the pack of ``engine.rule_pack``) is assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hub.domain.directory import UnitDirectory
from hub.domain.rules import LAW_PACK, RulePack, builtin_pack
from hub.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Agreement:
    """A bilateral agreement: episodes of ``region``'s hospitals whose patient is folkbokförd in
    ``municipality`` (a kommunkod, or a länskod for every kommun of a county) follow ``pack``."""

    region: str
    municipality: str
    pack: RulePack

    def covers(self, region: str, kommun: str) -> bool:
        return self.region == region and self.municipality in (kommun, kommun[:2])


@dataclass(frozen=True)
class Agreements:
    """The packs in force: the hub's own county pack, other counties' packs, bilateral
    agreements and the law's defaults."""

    home: RulePack
    counties: dict[str, RulePack] = field(default_factory=dict)
    bilateral: tuple[Agreement, ...] = ()
    law: RulePack = field(default_factory=lambda: builtin_pack(LAW_PACK))
    single: bool = False
    """One pack for every episode, whatever the pair (simulations of one pack's rules)."""

    @classmethod
    def only(cls, pack: RulePack) -> Agreements:
        """Every episode under ``pack`` (its kommun overrides still apply)."""
        return cls(home=pack, single=True)

    @classmethod
    def of(cls, home: RulePack, others: Iterable[RulePack] = (),
           bilateral: Iterable[Agreement] = (), law: RulePack | None = None) -> Agreements:
        counties = {p.lanskod: p for p in others}
        counties[home.lanskod] = home
        return cls(home=home, counties=counties, bilateral=tuple(bilateral),
                   law=law or builtin_pack(LAW_PACK))

    def region_of(self, ward: str | None, directory: UnitDirectory | None) -> str:
        """The länskod of the ward's region; the hub's own when the ward is not known."""
        if ward is not None and directory is not None:
            found = directory.region_of(ward)
            if found is not None:
                return found
        return self.home.lanskod

    def select(self, region: str, kommun: str | None) -> RulePack:
        """The effective pack for a hospital region and a patient's kommun."""
        if self.single:
            return self.home.for_municipality(kommun)
        if kommun is None:  # not known yet: the region's own agreement, else the law's
            return self.counties.get(region, self.law)
        for agreement in self.bilateral:
            if agreement.covers(region, kommun):
                return _within(agreement.pack, kommun)
        if kommun[:2] == region and region in self.counties:
            return self.counties[region].for_municipality(kommun)
        return self.law

    def packs(self) -> list[RulePack]:
        """Every distinct pack in force."""
        out = {id(p): p for p in [self.home, *self.counties.values(),
                                  *(a.pack for a in self.bilateral), self.law]}
        return list(out.values())


def _within(pack: RulePack, kommun: str) -> RulePack:
    return pack.for_municipality(kommun) if kommun[:2] == pack.lanskod else pack


def build(home: str, counties: Sequence[str], bilateral: Sequence[tuple[str, str, str]],
          daily_rate_sek: int | None, load: Callable[[str], RulePack]) -> Agreements:
    """The agreements of a configuration: ``home`` and ``counties`` are packs (a shipped id or a
    file, read by ``load``), ``bilateral`` (region, kommun or län, pack) triples; the setting
    ``daily_rate_sek`` is the amount for years the law's pack knows none for."""
    cache: dict[str, RulePack] = {}

    def pack(name: str) -> RulePack:
        if name not in cache:
            cache[name] = load(name)
        return cache[name]

    law = _with_rate(builtin_pack(LAW_PACK), daily_rate_sek)
    others = [pack(name) for name in counties]
    seen: dict[str, str] = {pack(home).lanskod: home}
    for name, found in zip(counties, others, strict=True):
        if found.lanskod in seen and seen[found.lanskod] != name:
            raise ConfigurationError(f"two packs for län {found.lanskod}: {seen[found.lanskod]} and {name}",
                                     field="engine.packs")
        seen[found.lanskod] = name
    deals = [Agreement(region, kommun, _with_rate(pack(name), daily_rate_sek))
             for region, kommun, name in bilateral]
    return Agreements.of(_with_rate(pack(home), daily_rate_sek),
                         [_with_rate(p, daily_rate_sek) for p in others], deals, law)


def _with_rate(pack: RulePack, rate: int | None) -> RulePack:
    if rate is None or pack.payment_liability.unknown_year != "setting":
        return pack
    rule = pack.payment_liability.model_copy(update={"setting_rate": rate})
    return pack.model_copy(update={"payment_liability": rule})
