"""Replay for analysts: several regions' packs and a bilateral agreement from the
configuration, an override file merged over a shipped pack for one run, days as
utskrivningsklar and readmission days (calendar) per episode, every line valid against
``contracts/records/episode_report.v1.schema.json``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from hub.cli import app
from hub.demo.units import region_orgnr
from tests.support.episodes import Episode, local

ROOT = Path(__file__).parents[2]
NUS = f"SE{region_orgnr('24')}-V00"
SUNDERBY = f"SE{region_orgnr('25')}-V00"
runner = CliRunner()


def _unit(hsa: str, kommun: str) -> str:
    return (f'  - {{hsa_id: {hsa}, name: "Avdelning", huvudman: region, kind: slutenvard, '
            f'municipality: "{kommun}", systems: [{{system: lifecare, from_date: 2018-01-01}}]}}\n')


def _setup(tmp: Path) -> tuple[Path, Path, Path]:
    units = tmp / "units"
    units.mkdir()
    (units / "vasterbotten.yaml").write_text('version: "vb"\nunits:\n' + _unit(NUS, "2480"), encoding="utf-8")
    (units / "norrbotten.yaml").write_text('version: "nb"\nregion: "25"\nunits:\n' + _unit(SUNDERBY, "2580"),
                                           encoding="utf-8")
    config = tmp / "hub.toml"
    config.write_text(f'[engine]\nrule_pack = "vasterbotten"\npacks = ["norrbotten", "stockholm"]\n'
                      f'directory = "{units}"\n'
                      '[[engine.agreements]]\nregion = "24"\nmunicipality = "0184"\npack = "stockholm"\n',
                      encoding="utf-8")
    override = tmp / "kvitteringstid.yaml"
    override.write_text('base: norrbotten\nkvittering:\n  times: ["10:30"]\n  non_working_days: keep\n',
                        encoding="utf-8")
    umea = Episode("E1", "2480", NUS).admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    umea.ready(local(2026, 3, 4, 15)).discharge(local(2026, 3, 6, 10))
    lulea = Episode("E2", "2580", SUNDERBY).admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 7, 11))  # Saturday
    solna = Episode("E3", "0184", NUS).admit(local(2026, 3, 2, 8))
    kalix = Episode("E4", "2514", NUS).admit(local(2026, 3, 2, 8))
    # 30 calendar days after E1's discharge, and 30 days and 1 hour of elapsed time
    again = Episode("E5", "2480", NUS).admit(local(2026, 4, 5, 12))
    events = tmp / "events.jsonl"
    events.write_bytes(b"".join(e.to_json() + b"\n" for ep in (umea, lulea, solna, kalix, again)
                                for e in ep.events))
    return config, override, events


def test_replay_with_several_packs_an_override_and_every_line_valid(tmp_path: Path) -> None:
    config, override, events = _setup(tmp_path)
    out = tmp_path / "report.jsonl"
    result = runner.invoke(app, ["replay", "--config", str(config), "--input", str(events), "--report", str(out),
                                 "--pack", str(override), "--until", "2026-04-10T00:00:00+02:00"])
    assert result.exit_code == 0, result.output
    schema = json.loads((ROOT / "contracts" / "records" / "episode_report.v1.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["episode_id"] for r in lines] == ["E1", "E2", "E3", "E4", "E5"]
    for line in lines:
        assert [e.message for e in validator.iter_errors(line)] == []
    by = {r["episode_id"]: r for r in lines}
    assert {k: r["rule_pack"] for k, r in by.items()} == {
        "E1": "vasterbotten", "E2": "norrbotten-kvitteringstid", "E3": "stockholm",
        "E4": "lag-2017-612", "E5": "vasterbotten"}
    assert by["E2"]["hospital_region"] == "25"
    # the override's one kvitteringstid, kept on a Saturday
    (kvitt,) = {d["due"] for d in by["E2"]["deadlines"] if d["rule"] == "kvittering"}
    assert dt.datetime.fromisoformat(kvitt) == local(2026, 3, 7, 10, 30).astimezone(dt.UTC) + dt.timedelta(days=1)
    assert by["E1"]["days_ready"] == 2 and by["E3"]["days_ready"] is None
    assert (by["E5"]["readmission_of"], by["E5"]["readmission_days"]) == ("E1", 30)
    assert by["E1"]["readmission_days"] is None


def test_the_readmission_window_counts_calendar_days(tmp_path: Path) -> None:
    _, _, events = _setup(tmp_path)
    late = Episode("E6", "2480", NUS).admit(local(2026, 4, 6, 0, 30))  # 31 calendar days after
    text = events.read_bytes().replace(b'"E5"', b'"E5x"') + b"".join(e.to_json() + b"\n" for e in late.events)
    only_late = tmp_path / "late.jsonl"
    only_late.write_bytes(b"\n".join(ln for ln in text.splitlines() if b'"E5x"' not in ln) + b"\n")
    out = tmp_path / "late-report.jsonl"
    result = runner.invoke(app, ["replay", "--input", str(only_late), "--report", str(out),
                                 "--until", "2026-04-10T00:00:00+02:00"])
    assert result.exit_code == 0, result.output
    by = {r["episode_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert by["E6"]["readmission_of"] is None
