"""contracts/ is generated from hub/schemas; a change to the model without a new export fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import orjson
import yaml
from jsonschema import Draft202012Validator

from hub.schemas.contracts import GENERATED_DIRS, asyncapi, generate
from hub.schemas.envelope import ALL_PAYLOADS, parse_event
from hub.schemas.examples import sample_payloads
from hub.streams.kafka import binding

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


def test_servers_and_kafka_security_are_declared() -> None:
    doc = asyncapi()
    server = doc["servers"]["kafka"]
    assert server["protocol"] == "kafka-secure"
    schemes = doc["components"]["securitySchemes"]
    for ref in server["security"]:
        assert ref["$ref"].rsplit("/", 1)[1] in schemes
    assert {s["type"] for s in schemes.values()} == {"scramSha512", "X509"}


def test_message_examples_are_the_test_samples_and_decode_in_both_modes() -> None:
    doc = asyncapi()
    messages = doc["components"]["messages"]
    by_type = {type(p).__name__: p for p in sample_payloads()}
    assert {n for n, m in messages.items() if "examples" in m} == set(by_type)
    for name, message in messages.items():
        if "examples" not in message:
            continue
        binary, structured = message["examples"]
        header_schema = Draft202012Validator(message["headers"])
        for example in (binary, structured):
            errors = [e.message for e in header_schema.iter_errors(example["headers"])]
            assert not errors, (name, example["name"], errors)
        # the structured payload is a sample event, the binary one decodes to the same event
        ev = parse_event(structured["payload"])
        assert ev.data == by_type[name]
        assert dict((k, v.decode()) for k, v in binding.encode(ev, "binary").headers) == binary["headers"]
        record = binding.KafkaMessage(ev.episode_id.encode(), orjson.dumps(binary["payload"]),
                                      tuple((k, v.encode()) for k, v in binary["headers"].items()))
        assert binding.decode(record) == ev


def test_the_binary_mode_header_schema_refuses_a_wrong_type() -> None:
    message = asyncapi()["components"]["messages"]["PatientAdmitted"]
    headers = dict(message["examples"][0]["headers"], ce_type="se.svu.sip_held.v1")
    assert list(Draft202012Validator(message["headers"]).iter_errors(headers))


def test_the_asyncapi_parser_finds_no_error_and_no_warning() -> None:
    """The official parser (npm @asyncapi/parser, installed by ./dev test into .npm-tools)."""
    script = Path(__file__).resolve().parents[1] / "support" / "asyncapi_parse.cjs"
    assert (CONTRACTS.parent / ".npm-tools" / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is missing: run the tests with ./dev test (it installs it once)")
    done = subprocess.run([shutil.which("node") or "node", str(script), str(CONTRACTS / "asyncapi.yaml")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    diagnostics = json.loads(done.stdout)
    problems = [d for d in diagnostics if d["severity"] in (0, 1)]  # 0 error, 1 warning
    assert problems == [], problems
    # the parser did read the document: an unknown field is an error to it
    broken = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text(encoding="utf-8"))
    broken["servers"]["kafka"]["protocl"] = "kafka"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(CONTRACTS, tmp, dirs_exist_ok=True)
        (Path(tmp) / "asyncapi.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
        done = subprocess.run([shutil.which("node") or "node", str(script), str(Path(tmp) / "asyncapi.yaml")],
                              capture_output=True, text=True, timeout=300, check=False)
    assert any(d["severity"] == 0 for d in json.loads(done.stdout))
