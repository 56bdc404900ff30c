"""contracts/ is generated from hub/schemas; a change to the model without a new export fails."""

from __future__ import annotations

from pathlib import Path

import yaml

from hub.schemas.contracts import GENERATED_DIRS, generate
from hub.schemas.envelope import ALL_PAYLOADS

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_contracts_match_the_code() -> None:
    files = generate()
    differ = [rel for rel, text in files.items()
              if not (CONTRACTS / rel).is_file() or (CONTRACTS / rel).read_text(encoding="utf-8") != text]
    extra = [p.relative_to(CONTRACTS).as_posix() for d in GENERATED_DIRS
             for p in (CONTRACTS / d).iterdir() if p.relative_to(CONTRACTS).as_posix() not in files]
    assert not differ and not extra, (
        f"contracts/ drifted (differ: {differ}, not generated: {extra}); run 'hub contracts export'")


def test_one_schema_per_event_type_and_an_asyncapi_3_document() -> None:
    files = generate()
    assert sum(1 for f in files if f.startswith("events/")) == len(ALL_PAYLOADS)
    doc = yaml.safe_load(files["asyncapi.yaml"])
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"svu.events", "svu.alerts", "svu.stats", "svu.raw.{source}", "svu.dlq.{source}",
            "svu.deliveries.{system}.{receiver}"} <= addresses
    for message in doc["components"]["messages"].values():
        ref = message["payload"].get("$ref")
        if ref:
            assert ref.removeprefix("./") in files, ref
    for op in doc["operations"].values():
        channel = op["channel"]["$ref"].rsplit("/", 1)[1]
        assert channel in doc["channels"]
