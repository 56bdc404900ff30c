"""Generates the published contracts from the code: a JSON Schema per event type and record
type, and an AsyncAPI 3.0 document of the topics. ``hub contracts export`` writes them to
``contracts/``; a test fails when the files differ from what this module generates."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel

from hub import __version__
from hub.schemas.envelope import (
    ALL_PAYLOADS,
    EVENT_CLASSES,
    TRACEPARENT_PATTERN,
    CanonicalEvent,
    Envelope,
    event_type,
    schema_urn,
)
from hub.schemas.examples import event as example_event
from hub.schemas.examples import sample_payloads
from hub.schemas.figures import EpisodeFigures
from hub.schemas.operations import AuditRecord, DeadLetter, OpsAction, PatientIndexEntry
from hub.schemas.payloads import PROCESS_PAYLOADS, Payload
from hub.schemas.report import EpisodeReport
from hub.schemas.topics import TOPICS, TopicSpec

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
EXAMPLE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
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


def _message(payload: type[Payload], key: str, example: Envelope | None) -> dict[str, Any]:
    ref = f"./{_event_file(payload)}"
    message: dict[str, Any] = {
        "name": payload.__name__,
        "title": payload.__name__,
        "summary": (payload.__doc__ or "").strip().splitlines()[0],
        "description": _MODES,
        "contentType": "application/cloudevents+json",
        "headers": _headers(payload),
        "payload": {"oneOf": [
            {"title": "structured content mode: the whole envelope", "$ref": ref},
            {"title": "binary content mode: the data alone", "$ref": f"{ref}#/properties/data"}]},
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": "0.5.0"}},
    }
    if example is not None:
        message["examples"] = examples(example)
    return message


_MODES = ("CloudEvents Kafka protocol binding. Binary content mode (the hub's default): every "
          "context attribute as a `ce_<name>` header (UTF-8 text), `content-type: application/json`, "
          "and the record value is the event's `data` alone. Structured content mode: `content-type: "
          f"{STRUCTURED_CONTENT_TYPE}` and the value is the whole envelope. Both carry the W3C "
          "`traceparent` header. Extension attributes the hub does not know are kept and ignored.")


def _headers(payload: type[Payload]) -> dict[str, Any]:
    """The record headers of a CloudEvent message: binary mode's ``ce_*`` attributes as a schema."""
    text = {"type": "string"}
    props: dict[str, Any] = {
        "content-type": {"type": "string", "enum": ["application/json", STRUCTURED_CONTENT_TYPE]},
        "traceparent": {"type": "string", "pattern": TRACEPARENT_PATTERN,
                        "description": "W3C Trace Context of the event's trace."},
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": text, "ce_source": text,
        "ce_type": {"type": "string", "const": event_type(payload)},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": text,
        "ce_dataschema": {"type": "string", "const": schema_urn(payload)},
        "ce_episodeid": {"type": "string", "description": "Vårdtillfälle id; also the record key."},
        "ce_sourcemessageid": text,
        "ce_receivedtime": {"type": "string", "format": "date-time"},
    }
    return {
        "type": "object",
        "description": "Binary content mode sets content-type application/json and every ce_ "
        "header below that has a value (ce_specversion, ce_id, ce_source, ce_type, ce_time, "
        "ce_episodeid, ce_sourcemessageid, ce_receivedtime always); structured mode only "
        "content-type (and traceparent). Other ce_ headers are extension attributes.",
        "properties": props,
        "required": ["content-type"],
        "patternProperties": {"^ce_[a-z0-9]+$": text},
    }


def binary_headers(obj: dict[str, Any]) -> dict[str, str]:
    """The binary-mode headers of a structured event object (CloudEvents Kafka binding §3.2)."""
    headers = {f"ce_{k}": str(v) for k, v in obj.items()
               if k not in ("data", "datacontenttype", "traceparent") and v is not None}
    headers["content-type"] = str(obj.get("datacontenttype", "application/json"))
    if obj.get("traceparent"):
        headers["traceparent"] = str(obj["traceparent"])
    return headers


def examples(event: Envelope) -> list[dict[str, Any]]:
    """A message's examples, binary and structured mode, of one sample event."""
    obj = json.loads(event.to_json())
    structured = {"content-type": STRUCTURED_CONTENT_TYPE}
    if event.traceparent:
        structured["traceparent"] = event.traceparent
    return [
        {"name": "binary", "summary": "Binary content mode (the default)",
         "headers": binary_headers(obj), "payload": obj["data"]},
        {"name": "structured", "summary": "Structured content mode", "headers": structured,
         "payload": obj},
    ]


def _servers() -> dict[str, Any]:
    return {"kafka": {
        "host": "{bootstrap}",
        "protocol": "kafka-secure",
        "description": "The region's Kafka cluster (settings [kafka] bootstrap_servers and "
        "security_protocol): TLS, authenticated with SASL SCRAM-SHA-512 or a client certificate.",
        "variables": {"bootstrap": {"default": "kafka-bootstrap.kafka.svc:9093",
                                    "description": "A bootstrap broker, host:port."}},
        "security": [{"$ref": "#/components/securitySchemes/saslScram"},
                     {"$ref": "#/components/securitySchemes/mutualTls"}],
    }}


_SECURITY = {
    "saslScram": {"type": "scramSha512", "description": "SASL SCRAM-SHA-512 over TLS (settings "
                  "[kafka] sasl_mechanism, sasl_username; password in HUB_KAFKA__SASL_PASSWORD)."},
    "mutualTls": {"type": "X509", "description": "TLS client certificate (settings [kafka] "
                  "ssl_certfile, ssl_keyfile; the cluster's CA in ssl_cafile)."},
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
    samples = {type(p): p for p in sample_payloads()}
    messages: dict[str, Any] = {}
    for payload in ALL_PAYLOADS:
        family = next(f for f, names in by_family.items() if payload.__name__ in names)
        sample = samples.get(payload)
        example = None if sample is None else example_event(sample).model_copy(
            update={"traceparent": EXAMPLE_TRACEPARENT})
        messages[payload.__name__] = _message(payload, keys[family], example)
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
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "securitySchemes": _SECURITY},
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

__all__ = ["GENERATED_DIRS", "STRUCTURED_CONTENT_TYPE", "asyncapi", "binary_headers", "examples", "generate"]
