"""Reads follow the care relationship the hub established itself (architecture.md, "The trust
boundary"): which episodes, alerts and dead letters a principal may see, decided from the hub's
own routing and the region's data (``episode_parties``), never from what a message says about
itself.

- ``ops_admin``: everything.
- ``kommun``: an episode the hub routed a meddelande of to one of the kommun's units, or whose
  patient the slutenvård gives as folkbokförd in the kommun; narrowed to units, only through
  routing to those units. Its alerts: those of such episodes whose kommun or responsible unit is
  its own; it acknowledges or assigns only those whose responsible unit is its own.
- ``region``: the episodes of its own hospitals (a ward of the region in the unit directory, in
  its län when the principal names one).
- ``dashboard``: no patient-level data at all (aggregates only).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.api.context import ApiContext
from hub.api.security import Principal
from hub.domain.directory import UnitDirectory
from hub.settings import Role
from hub.streams.door import Facts, Parties, kommun_is_part, kommun_units


class Access:
    """Scoping of every read by principal."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def directory(self) -> UnitDirectory | None:
        holder = getattr(self.ctx.resources, "directory", None)
        return holder.current() if holder is not None else None

    def facts(self) -> Facts:
        return Facts(self.ctx.log.query)

    def own_units(self, who: Principal) -> frozenset[str] | None:
        """Units the principal acts for (a kommun's units, a region's hospitals); None: all."""
        directory = self.directory()
        if who.role is Role.MUNICIPALITY and who.municipality:
            units = kommun_units(directory, who.municipality)
        elif who.role is Role.REGION:
            if directory is None:
                return None
            units = frozenset(u.hsa_id for u in directory.units() if u.huvudman == "region" and (
                who.lanskod is None or u.municipality is None or u.municipality[:2] == who.lanskod))
        else:
            return None
        return units & who.units if who.units is not None else units

    def part_of(self, who: Principal, parties: Parties) -> bool:
        if who.role is Role.OPS_ADMIN:
            return True
        if who.role is Role.MUNICIPALITY and who.municipality:
            own = kommun_units(self.directory(), who.municipality)
            return kommun_is_part(parties, who.municipality, own, who.units)
        if who.role is Role.REGION:
            units = self.own_units(who)
            if units is None:  # no directory: a region sees what its län's data names
                return bool(parties.wards) and (who.lanskod is None or any(
                    k[:2] == who.lanskod for k in parties.folkbokford))
            return bool(parties.wards & units)
        return False

    def visible(self, who: Principal, episode_ids: Iterable[str]) -> set[str]:
        """Those of ``episode_ids`` the principal may read."""
        ids = set(episode_ids)
        if who.role is Role.OPS_ADMIN:
            return ids
        if who.role is Role.DASHBOARD or not ids:
            return set()
        known = self.facts().parties(ids)
        return {e for e in ids if self.part_of(who, known[e])}

    def episode_clause(self, who: Principal, column: str = "episode_id") -> tuple[str, list[Any]] | None:
        """An SQL condition limiting ``column`` to the principal's episodes; None for no limit."""
        if who.role is Role.OPS_ADMIN:
            return None
        if who.role is Role.MUNICIPALITY and who.municipality:
            units = sorted(self.own_units(who) or ())
            marks = ",".join("?" * len(units)) or "NULL"
            sub = f"(basis = 'routed' AND value IN ({marks}))"
            params: list[Any] = list(units)
            if who.units is None:
                sub += " OR (basis = 'folkbokford' AND value = ?)"
                params.append(who.municipality)
            return f"{column} IN (SELECT episode_id FROM episode_parties WHERE {sub})", params  # noqa: S608 - placeholders only
        if who.role is Role.REGION:
            region_units = self.own_units(who)
            if region_units is None:
                if who.lanskod is None:
                    return f"{column} IN (SELECT episode_id FROM episode_parties WHERE basis = 'ward')", []  # noqa: S608 - placeholders only
                return (f"{column} IN (SELECT episode_id FROM episode_parties WHERE basis = 'folkbokford' "  # noqa: S608 - placeholders only
                        "AND substr(value, 1, 2) = ?)", [who.lanskod])
            units = sorted(region_units)
            marks = ",".join("?" * len(units)) or "NULL"
            return (f"{column} IN (SELECT episode_id FROM episode_parties WHERE basis = 'ward' "  # noqa: S608 - placeholders only
                    f"AND value IN ({marks}))", units)
        return "0", []

    def alert_clause(self, who: Principal) -> tuple[str, list[Any]] | None:
        """The episode limit plus, for a kommun, its own kommun or units."""
        clause = self.episode_clause(who)
        if clause is None or who.role is not Role.MUNICIPALITY:
            return clause
        units = sorted(self.own_units(who) or ())
        marks = ",".join("?" * len(units)) or "NULL"
        sql, params = clause
        own = f"responsible_unit IN ({marks})"
        if who.units is None:
            own = f"(municipality = ? OR {own})"
            return f"{sql} AND {own}", [*params, who.municipality, *units]
        return f"{sql} AND {own}", [*params, *units]

    def may_act_on_alert(self, who: Principal, alert: dict[str, Any]) -> bool:
        """A kommun acknowledges or assigns only alerts whose responsible unit is its own."""
        if who.role in (Role.OPS_ADMIN, Role.REGION):
            return True
        if who.role is Role.MUNICIPALITY:
            return alert.get("responsible_unit") in (self.own_units(who) or ())
        return False

    def dead_letter_sources(self, who: Principal) -> tuple[str, list[Any]] | None:
        """Dead letters a principal may list: ops all; a region those of the slutenvård's and the
        hub's own sources (never a kommun's); others none."""
        if who.role is Role.OPS_ADMIN:
            return None
        if who.role is Role.REGION:
            return "source NOT LIKE 'kommun-%'", []
        return "0", []
