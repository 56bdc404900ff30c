"""One hub, several regions: the rule pack of an episode is the agreement between the
hospital's region and the patient's kommun — their county's when both are in one county, a
configured bilateral agreement when there is one, else the law's defaults (lag-2017-612)."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path

import pytest

from hub.bootstrap import load_pack
from hub.demo.units import region_orgnr
from hub.domain.agreements import build
from hub.domain.deadlines import LAW_SOURCES
from hub.domain.directory import UnitDirectory, combine, parse_directory
from hub.domain.engine import EpisodeEngine
from hub.domain.replay import simulate
from hub.errors import ConfigurationError
from hub.schemas.report import EpisodeReport
from tests.samples import SOC
from tests.support.episodes import Episode, local

SECRET = b"test-secret"
NUS = f"SE{region_orgnr('24')}-V00"        # Norrlands universitetssjukhus, Umeå (Västerbotten)
SUNDERBY = f"SE{region_orgnr('25')}-V00"   # Sunderby sjukhus, Luleå (Norrbotten)
KAROLINSKA = f"SE{region_orgnr('01')}-V00"  # Karolinska Solna (Stockholm)


def demo_directory(county: str) -> UnitDirectory:
    text = (files("hub.demo") / "data" / f"directory-{county}.yaml").read_text(encoding="utf-8")
    parsed = parse_directory(text, f"directory-{county}.yaml")
    # each demo file names its wards V00, V01 …: side by side they keep only their HSA-ids
    return UnitDirectory([u.model_copy(update={"ward_codes": ()}) for u in parsed.units()],
                         version=parsed.version)


DIRECTORY = combine([(f"{c}.yaml", demo_directory(c)) for c in ("vasterbotten", "norrbotten", "stockholm")])


def engine(home: str = "vasterbotten", packs: tuple[str, ...] = ("norrbotten", "stockholm"),
           bilateral: tuple[tuple[str, str, str], ...] = (), rate: int | None = None) -> EpisodeEngine:
    agreements = build(home, packs, bilateral, rate, load_pack)
    return EpisodeEngine(agreements.home, lambda: DIRECTORY, SECRET, agreements=agreements)


def liable_episode(ep: Episode) -> Episode:
    """Notice to the kommun 2 March, utskrivningsklar Thursday 5 March 10:00, out the 12th."""
    ep.admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12), recipients=(SOC,))
    ep.ready(local(2026, 3, 5, 10)).sip(local(2026, 3, 5, 12))
    return ep.discharge(local(2026, 3, 12, 10))


def report(eng: EpisodeEngine, *episodes: Episode) -> dict[str, EpisodeReport]:
    until = local(2026, 3, 13).astimezone(dt.UTC)
    sim = simulate(eng, [e for ep in episodes for e in ep.events], until)
    return {r.episode_id: r for r in sim.reports(eng, until)}


def test_vasterbotten_hospital_with_a_solna_patient_gets_the_laws_defaults() -> None:
    ep = liable_episode(Episode("VLL-1", municipality="0184", ward=NUS))
    (r,) = report(engine(), ep).values()
    assert (r.rule_pack, r.hospital_region, r.municipality) == ("lag-2017-612", "24", "0184")
    # the law: liable 3 calendar days after the notice, no county conditions (Västerbotten
    # would require primärvårdens information, which this episode lacks)
    assert r.liability.applies, r.liability.not_applicable_because
    assert r.liability.days == 4
    assert all("lag-2017-612.yaml" in d.source for d in r.deadlines if d.rule not in LAW_SOURCES)


def test_same_patient_in_a_vasterbotten_kommun_gets_vasterbottens_agreement() -> None:
    ep = liable_episode(Episode("VLL-2", municipality="2480", ward=NUS))
    (r,) = report(engine(), ep).values()
    assert r.rule_pack == "vasterbotten"
    assert r.liability.not_applicable_because == ["condition not met: primary_care_information_available"]


def test_norrbotten_hospital_with_a_lulea_patient_gets_norrbottens_agreement() -> None:
    lulea = liable_episode(Episode("NLL-1", municipality="2580", ward=SUNDERBY))
    boden = liable_episode(Episode("NLL-2", municipality="2582", ward=SUNDERBY))
    reports = report(engine(), lulea, boden)
    assert (reports["NLL-1"].rule_pack, reports["NLL-1"].hospital_region) == ("norrbotten", "25")
    assert reports["NLL-2"].rule_pack == "norrbotten/2582"  # Boden's own kvitteringstid
    assert reports["NLL-1"].liability.applies and reports["NLL-1"].liability.days == 4


def test_a_configured_bilateral_agreement_wins_over_county_and_law() -> None:
    solna = liable_episode(Episode("VLL-3", municipality="0184", ward=NUS))
    lulea = liable_episode(Episode("NLL-3", municipality="2580", ward=SUNDERBY))
    other = liable_episode(Episode("VLL-4", municipality="0180", ward=NUS))
    eng = engine(bilateral=(("24", "0184", "stockholm"), ("25", "25", "gavleborg")))
    reports = report(eng, solna, lulea, other)
    assert reports["VLL-3"].rule_pack == "stockholm"
    assert reports["NLL-3"].rule_pack == "gavleborg"   # the whole of län 25, over Norrbotten's own
    assert reports["VLL-4"].rule_pack == "lag-2017-612"  # Stockholm kommun: not in the agreement
    # Stockholm's noon rule: the 10:00 notice counts on its day; liable after days 0-2
    assert reports["VLL-3"].liability.days == 4


def test_a_stockholm_hospital_with_a_solna_patient_gets_stockholms_agreement() -> None:
    ep = liable_episode(Episode("SLL-1", municipality="0184", ward=KAROLINSKA))
    (r,) = report(engine(), ep).values()
    assert (r.rule_pack, r.hospital_region) == ("stockholm", "01")


def test_the_laws_amount_per_year_and_the_setting_for_other_years() -> None:
    ep = liable_episode(Episode("VLL-5", municipality="0184", ward=NUS))
    unknown = report(engine(), ep)["VLL-5"].liability
    assert (unknown.amount_sek, unknown.daily_rate_sek) == (0, None)
    assert "engine.liability_daily_rate_sek" in (unknown.daily_rate_source or "")
    with_setting = report(engine(rate=9_800), ep)["VLL-5"].liability
    assert (with_setting.amount_sek, with_setting.daily_rate_sek) == (4 * 9_800, 9_800)
    assert "setting" in (with_setting.daily_rate_source or "")
    old = Episode("VLL-6", municipality="0184", ward=NUS)
    old.admit(local(2022, 3, 2, 8)).notice(local(2022, 3, 2, 12), recipients=(SOC,))
    old.ready(local(2022, 3, 3, 10)).discharge(local(2022, 3, 10, 10))
    sim = simulate(engine(rate=9_800), old.events, local(2022, 3, 11).astimezone(dt.UTC))
    (r,) = sim.reports(engine(rate=9_800), local(2022, 3, 11).astimezone(dt.UTC))
    assert (r.liability.daily_rate_sek, r.liability.daily_rate_source) == (
        9_300, "payment_liability.daily_rate 2022")  # Socialstyrelsen's amount for 2022


def test_an_unknown_ward_counts_as_the_hubs_own_region() -> None:
    ep = liable_episode(Episode("X-1", municipality="2480", ward=f"SE{region_orgnr('24')}-ZZ9"))
    assert report(engine(), ep)["X-1"].rule_pack == "vasterbotten"
    ep = liable_episode(Episode("X-2", municipality="2580", ward=f"SE{region_orgnr('24')}-ZZ9"))
    assert report(engine(), ep)["X-2"].rule_pack == "lag-2017-612"


def test_two_packs_for_one_county_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="two packs for län 25"):
        build("vasterbotten", ["norrbotten", "tests-norrbotten"], [], None,
              lambda name: load_pack("norrbotten").model_copy(update={"id": name}))


def test_an_override_file_over_a_shipped_pack(tmp_path: Path) -> None:
    path = tmp_path / "kalix.yaml"
    path.write_text('base: norrbotten\nkvittering:\n  times: ["10:30"]\n  non_working_days: keep\n'
                    "payment_liability:\n  days_after_notice: 5\n", encoding="utf-8")
    pack = load_pack(str(path))
    assert pack.id == "norrbotten-kalix"
    assert [t.isoformat() for t in pack.kvittering.times] == ["10:30:00"]
    assert pack.kvittering.non_working_days == "keep"
    assert pack.payment_liability.days_after_notice == 5
    assert pack.payment_liability.daily_rate == load_pack("norrbotten").payment_liability.daily_rate
    assert pack.municipalities == load_pack("norrbotten").municipalities
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: norrbotten\npayment_liability:\n  days_after_notice: 99\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="days_after_notice"):
        load_pack(str(bad))


def test_directories_side_by_side_refuse_a_unit_in_two_files() -> None:
    vb = demo_directory("vasterbotten")
    with pytest.raises(ConfigurationError, match="in two directories"):
        combine([("a.yaml", vb), ("b.yaml", vb)])
    assert len(DIRECTORY) == len(vb) + len(demo_directory("norrbotten")) + len(demo_directory("stockholm"))
    assert DIRECTORY.region_of(SUNDERBY) == "25" and DIRECTORY.region_of(KAROLINSKA) == "01"


def test_a_directory_files_region_names_the_region_of_its_wards() -> None:
    text = (files("hub.demo") / "data" / "directory-stockholm.yaml").read_text(encoding="utf-8")
    text = text.replace('version: "demo-stockholm"', 'version: "x"\nregion: "03"')
    assert parse_directory(text, "x.yaml").region_of(KAROLINSKA) == "03"


def test_the_stockholm_demo_traffic_runs_under_stockholms_agreement() -> None:
    from hub.demo.simulator import Simulator

    start = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
    events = Simulator("stockholm", start=start, episodes=20, seed=2, bad_share=0.0).events()
    sthlm = demo_directory("stockholm")
    agreements = build("stockholm", (), (), None, load_pack)
    eng = EpisodeEngine(agreements.home, lambda: sthlm, SECRET, agreements=agreements)
    until = start + dt.timedelta(days=30)
    sim = simulate(eng, events, until)
    reports = sim.reports(eng, until)
    assert len(reports) == 20
    assert {r.rule_pack for r in reports} == {"stockholm"}
    assert {r.municipality for r in reports} <= {k for k in {u.municipality for u in sthlm.units()} if k}
    assert not [e for e in sim.emitted if e.topic.startswith("svu.dlq.")]
    assert [e for e in sim.emitted if e.topic.startswith("svu.deliveries.")]
