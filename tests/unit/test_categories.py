"""The A–E planning table (Gävleborg, S2) and routing to the receivers it requires."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.domain.directory import parse_directory
from hub.domain.routing import Category, categorise, receivers, requirements
from hub.schemas.base import Service, TargetSystem, UnitKind
from hub.schemas.payloads import Needs
from tests.unit.test_unit_directory import TEXT

P, S, H, N = Service.PRIMARY_CARE, Service.SOCIAL_SERVICES, Service.MUNICIPAL_HEALTH_CARE, Service.NURSING_HOME


@pytest.mark.parametrize(("expected", "category"), [
    (set(), Category.A), ({P}, Category.B), ({S}, Category.C), ({H}, Category.D),
    ({P, H}, Category.D), ({P, S}, Category.BC), ({S, H}, Category.CD), ({P, S, H}, Category.CD),
    ({N}, Category.E), ({N, S}, Category.E),
])
def test_categories(expected: set[Service], category: Category) -> None:
    assert categorise(Needs(expected=frozenset(expected))) is category


def test_existing_insatser_that_go_on_count() -> None:
    assert categorise(Needs(existing=frozenset({S}))) is Category.C


@pytest.mark.parametrize(("category", "kinds", "fvk", "sip", "liability"), [
    (Category.A, set(), False, False, False),
    (Category.B, {UnitKind.PRIMARY_CARE}, False, False, False),
    (Category.C, {UnitKind.SOCIAL_SERVICES}, False, False, True),
    (Category.D, {UnitKind.MUNICIPAL_HEALTH_CARE, UnitKind.PRIMARY_CARE}, True, True, True),
    (Category.BC, {UnitKind.PRIMARY_CARE, UnitKind.SOCIAL_SERVICES}, True, True, True),
    (Category.CD, {UnitKind.SOCIAL_SERVICES, UnitKind.MUNICIPAL_HEALTH_CARE, UnitKind.PRIMARY_CARE}, True, True, True),
    (Category.E, {UnitKind.SOCIAL_SERVICES, UnitKind.MUNICIPAL_HEALTH_CARE, UnitKind.PRIMARY_CARE}, True, True, True),
])
def test_the_table(category: Category, kinds: set[UnitKind], fvk: bool, sip: bool, liability: bool) -> None:
    r = requirements(category)
    assert (set(r.receiver_kinds), r.care_contact, r.sip, r.payment_liability) == (kinds, fvk, sip, liability)
    assert r.in_scope is (category is not Category.A)


def test_routing_by_date_and_unroutable_reasons() -> None:
    d = parse_directory(TEXT, "dir.yaml")
    before, missing = receivers(Category.C, municipality="2480", listed_unit=None, directory=d,
                                on=dt.date(2027, 2, 28))
    assert [(r.kind, r.system) for r in before] == [(UnitKind.SOCIAL_SERVICES, TargetSystem.PRATOR)]
    assert missing == []
    after, _ = receivers(Category.C, municipality="2480", listed_unit=None, directory=d, on=dt.date(2027, 3, 1))
    assert after[0].system is TargetSystem.LIFECARE
    found, missing = receivers(Category.CD, municipality="2480", listed_unit=None, directory=d,
                               on=dt.date(2027, 3, 1))
    assert [r.kind for r in found] == [UnitKind.SOCIAL_SERVICES]
    assert {m.kind for m in missing} == {UnitKind.MUNICIPAL_HEALTH_CARE, UnitKind.PRIMARY_CARE}
    assert all(m.reason for m in missing)
