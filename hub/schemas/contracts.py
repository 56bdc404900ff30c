"""Generates the published contracts from the code: a JSON Schema per event type and record
type, and an AsyncAPI 3.0 document of the topics. ``hub contracts export`` writes them to
``contracts/``; a test fails when the files differ from what this module generates."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel

from hub import __version__
from hub.schemas.envelope import ALL_PAYLOADS, EVENT_CLASSES, CanonicalEvent, event_type, schema_urn
from hub.schemas.figures import EpisodeFigures
from hub.schemas.operations import AuditRecord, DeadLetter, OpsAction, PatientIndexEntry
from hub.schemas.payloads import PROCESS_PAYLOADS, Payload
from hub.schemas.report import EpisodeReport
from hub.schemas.topics import TOPICS, TopicSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
RECORDS: dict[str, type[BaseModel]] = {
    "dead_letter": DeadLetter, "audit_record": AuditRecord, "episode_report": EpisodeReport,
    "patient_index_entry": PatientIndexEntry, "episode_figures": EpisodeFigures,
    "ops_action": OpsAction,
}


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _event_file(payload: type[Payload]) -> str:
    return f"events/{payload.EVENT_NAME}.v{payload.VERSION}.schema.json"


def _schema(model: type[BaseModel], schema_id: str) -> dict[str, Any]:
    body = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id, **body}


def _message(payload: type[Payload], key: str) -> dict[str, Any]:
    return {
        "name": payload.__name__,
        "title": payload.__name__,
        "summary": (payload.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/cloudevents+json",
        "payload": {"$ref": f"./{_event_file(payload)}"},
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": "0.5.0"}},
    }


def _channel(spec: TopicSpec, messages: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": ["compact"] if spec.compacted else ["delete"]}
    if not spec.compacted:
        config["retention.ms"] = 31_536_000_000 if spec.address != "svu.audit" else -1
    channel: dict[str, Any] = {
        "address": spec.address,
        "description": f"{spec.description} Key: {spec.key}.",
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {"kafka": {"partitions": 12, "replicas": 3, "topicConfiguration": config,
                               "bindingVersion": "0.5.0"}},
    }
    params = [p.strip("{}") for p in spec.address.split(".") if p.startswith("{")]
    if params:
        channel["parameters"] = {p: {"description": f"The {p}, lower-case."} for p in params}
    return channel


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic the hub reads or writes."""
    by_family: dict[str, list[str]] = {
        "raw": ["RawMessage"],
        "process": [p.__name__ for p in PROCESS_PAYLOADS],
        "delivery": ["DeliveryRequested", "DeliveryStatusChanged"],
        "alert": ["AlertRaised", "AlertEscalated", "AlertResolved", "AlertAcknowledged",
                  "AlertAssigned"],
        "stats": ["MonthlyFigures"],
        "dead_letter": ["DeadLetter"],
        "audit": ["AuditRecord"],
        "patient_index": ["PatientIndexEntry"],
        "episode_figures": ["EpisodeFigures"],
        "ops": ["OpsAction"],
    }
    keys = {s.payloads: s.key for s in TOPICS}
    messages: dict[str, Any] = {}
    for payload in ALL_PAYLOADS:
        family = next(f for f, names in by_family.items() if payload.__name__ in names)
        messages[payload.__name__] = _message(payload, keys[family])
    messages["RawMessage"] = {
        "name": "RawMessage", "title": "Raw inbound bytes",
        "summary": "The bytes exactly as received; headers carry receive time and connection.",
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "properties": {
            "received-at": {"type": "string", "format": "date-time"},
            "connection": {"type": "string"}, "content-type": {"type": "string"}}},
        "payload": {"type": "string", "format": "binary"},
    }
    for name, model in (("DeadLetter", DeadLetter), ("AuditRecord", AuditRecord),
                        ("PatientIndexEntry", PatientIndexEntry), ("EpisodeFigures", EpisodeFigures),
                        ("OpsAction", OpsAction)):
        record = next(k for k, v in RECORDS.items() if v is model)
        messages[name] = {"name": name, "title": name,
                          "summary": (model.__doc__ or "").strip().splitlines()[0],
                          "contentType": "application/json",
                          "payload": {"$ref": f"./records/{record}.v1.schema.json"}}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in TOPICS:
        cid = "".join(w.capitalize() for w in spec.address.replace("{", "").replace("}", "")
                      .replace("_", ".").split("."))
        cid = cid[0].lower() + cid[1:]
        channels[cid] = _channel(spec, by_family[spec.payloads])
        action = "receive" if spec.payloads == "raw" else "send"
        operations[f"{action}{cid[0].upper()}{cid[1:]}"] = {
            "action": action, "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in by_family[spec.payloads]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "svu-hub topics",
            "version": __version__,
            "description": "Topics of svu-hub, the integration hub for samverkan vid utskrivning "
            "(Lag 2017:612). Events use the CloudEvents 1.0 envelope (structured mode JSON; on "
            "Kafka also binary mode with ce_ headers); the record key orders what must stay "
            "in order.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    """Every generated contract file: path relative to ``contracts/`` → text."""
    files: dict[str, str] = {}
    for payload in ALL_PAYLOADS:
        files[_event_file(payload)] = _dump(_schema(EVENT_CLASSES[payload], schema_urn(payload)))
    for name, model in RECORDS.items():
        files[f"records/{name}.v1.schema.json"] = _dump(
            _schema(model, f"urn:svu-hub:schema:{name}:v1"))
    union = _schema_of_union()
    files["canonical-event.schema.json"] = _dump(union)
    files["asyncapi.yaml"] = yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True,
                                            width=100)
    files["event-types.json"] = _dump({event_type(p): _event_file(p) for p in ALL_PAYLOADS})
    return files


def _schema_of_union() -> dict[str, Any]:
    from pydantic import TypeAdapter

    body = TypeAdapter(CanonicalEvent).json_schema(by_alias=True, mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": "urn:svu-hub:schema:canonical-event:v1",
            "title": "CanonicalEvent", **body}


GENERATED_DIRS = ("events", "records")
"""Folders of ``contracts/`` owned by the generator: files there that it did not make are drift."""

__all__ = ["GENERATED_DIRS", "asyncapi", "generate"]
