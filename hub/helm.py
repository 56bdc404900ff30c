"""The Helm chart's ``values.schema.json``, generated from the settings models.

``settings`` in the chart's values is ``HubSettings`` (rendered as the pods' ``hub.toml``), so
its schema is the settings model's own JSON Schema: a typo or a wrong type fails ``helm lint``
and ``helm install`` before any pod starts. The rest describes the chart's own knobs.
``hub helm schema`` writes the file; a test fails when it drifts from the models.
"""

from __future__ import annotations

import json
from typing import Any

from hub.settings import HubSettings

_QUANTITY = {"type": ["string", "number"]}
_RESOURCES = {
    "type": "object", "additionalProperties": False,
    "description": "Kubernetes resource requests and limits.",
    "properties": {k: {"type": "object", "additionalProperties": _QUANTITY}
                   for k in ("requests", "limits")},
}


def _component(description: str, port: bool = True, probe_port: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "enabled": {"type": "boolean", "description": "Deploy this component."},
        "replicas": {"type": "integer", "minimum": 0, "description": "Pods (without autoscaling)."},
        "command": {"type": "array", "items": {"type": "string"}, "description": "Container command."},
        "resources": _RESOURCES,
    }
    if port:
        props["port"] = {"type": "integer", "minimum": 1, "maximum": 65535,
                         "description": "Container and Service port."}
    if probe_port:
        props["probePort"] = {"type": "integer", "minimum": 1, "maximum": 65535,
                              "description": "Port of /health, /ready and /metrics (settings.api.port)."}
    return {"type": "object", "additionalProperties": False, "description": description,
            "properties": props}


def values_schema() -> dict[str, Any]:
    """JSON Schema of the chart's values."""
    settings = HubSettings.model_json_schema(mode="validation")
    defs = settings.pop("$defs", {})
    settings["description"] = "svu-hub settings (hub.settings.HubSettings), rendered as hub.toml."
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "svu-hub chart values",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "image": {"type": "object", "additionalProperties": False, "properties": {
                "repository": {"type": "string", "minLength": 1},
                "tag": {"type": "string", "minLength": 1},
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}},
            "settings": settings,
            "secretEnv": {"type": "object", "additionalProperties": {"type": "string"},
                          "description": "HUB_* variables holding secrets (API keys, SASL "
                          "password), stored in a Secret."},
            "existingSecret": {"type": "string", "description": "Use this Secret instead."},
            "worker": _component("Faust workers (hub worker): the processors on Kafka."),
            "api": _component("The ops API and dashboard (hub api) over a local mirror of Kafka."),
            "mllp": _component("The HL7 v2 MLLP adapter (hub adapter mllp), exposed as a Service "
                               "(port 2575).", probe_port=True),
            "delivery": {"type": "object", "additionalProperties": False,
                         "description": "Deliveries from Kafka (hub adapter delivery), a Deployment per system.",
                         "properties": {
                             "enabled": {"type": "boolean", "description": "Deploy the delivery workers."},
                             "systems": {"type": "array", "uniqueItems": True,
                                         "items": {"enum": ["lifecare", "prator"]}},
                             "replicas": {"type": "integer", "minimum": 0},
                             "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                                      "description": "Port of /health, /ready and /metrics (settings.api.port)."},
                             "resources": _RESOURCES}},
            "rulePacks": {"type": "object", "additionalProperties": {"type": "string"},
                          "description": "Rule packs: file name → YAML, a ConfigMap mounted at "
                          "/etc/svu-hub/rules."},
            "unitDirectory": {"type": "string", "description": "The unit directory (YAML), a ConfigMap "
                              "mounted at /etc/svu-hub/directory.yaml."},
            "podDisruptionBudget": {"type": "object", "additionalProperties": False, "properties": {
                "enabled": {"type": "boolean"}, "maxUnavailable": {"type": "integer", "minimum": 0}}},
            "autoscaling": {"type": "object", "additionalProperties": False, "properties": {
                "enabled": {"type": "boolean"},
                "minReplicas": {"type": "integer", "minimum": 1},
                "maxReplicas": {"type": "integer", "minimum": 1},
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100}}},
            "serviceMonitor": {"type": "object", "additionalProperties": False, "properties": {
                "enabled": {"type": "boolean"}, "interval": {"type": "string"}}},
        },
        "$defs": defs,
    }


def values_schema_text() -> str:
    """The file's text, stable (sorted keys) so that drift shows as a diff."""
    return json.dumps(values_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
