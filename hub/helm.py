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


_OBJECT: dict[str, Any] = {"type": "object"}
_OBJECTS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}


def _scheduling() -> dict[str, Any]:
    """What every role admits beyond its own knobs (Kubernetes objects, checked by the API server)."""
    return {
        "extraEnv": {**_OBJECTS, "description": "More container env entries (EnvVar)."},
        "envFrom": {**_OBJECTS, "description": "More envFrom sources (EnvFromSource)."},
        "extraVolumes": {**_OBJECTS, "description": "More pod volumes (Volume)."},
        "extraVolumeMounts": {**_OBJECTS, "description": "More container volume mounts (VolumeMount)."},
        "nodeSelector": {**_STRINGS, "description": "Node labels the pods must run on."},
        "tolerations": {**_OBJECTS, "description": "Pod tolerations (Toleration)."},
        "affinity": {**_OBJECT, "description": "Pod affinity (Affinity)."},
        "topologySpreadConstraints": {**_OBJECTS, "description": "TopologySpreadConstraint list."},
        "podAnnotations": {**_STRINGS, "description": "Annotations of the pods."},
        "resources": _RESOURCES,
    }


def _component(description: str, port: bool = True, probe_port: bool = False,
               service: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "enabled": {"type": "boolean", "description": "Deploy this component."},
        "replicas": {"type": "integer", "minimum": 0, "description": "Pods (without autoscaling)."},
        "command": {"type": "array", "items": {"type": "string"}, "description": "Container command."},
        **_scheduling(),
    }
    if port:
        props["port"] = {**_PORT, "description": "Container and Service port."}
    if probe_port:
        props["probePort"] = {**_PORT, "description": "Port of /health, /ready and /metrics (settings.api.port)."}
    if service:
        props["service"] = {"type": "object", "additionalProperties": False,
                            "description": "The MLLP Service: how senders reach the adapter.", "properties": {
                                "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                                "externalTrafficPolicy": {"enum": ["", "Cluster", "Local"],
                                                          "description": "Local keeps the sender's address."},
                                "loadBalancerSourceRanges": {"type": "array", "items": {"type": "string"}},
                                "annotations": _STRINGS}}
    return {"type": "object", "additionalProperties": False, "description": description,
            "properties": props}


def _closed(description: str, **props: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "description": description, "properties": props}


def _chart_knobs() -> dict[str, Any]:
    peers = {**_OBJECTS, "description": "NetworkPolicyPeer list."}
    ports = {"type": "array", "items": _PORT}
    return {
        "kafkaCA": _closed("The brokers' CA: a Secret mounted at /etc/svu-hub/kafka-ca; sets "
                           "settings.kafka.ssl_cafile when given.",
                           secretName={"type": "string"}, key={"type": "string", "minLength": 1}),
        "otel": _closed("OpenTelemetry traces over OTLP; off while endpoint is empty.",
                        endpoint={"type": "string", "description": "OTEL_EXPORTER_OTLP_ENDPOINT."},
                        serviceNamePrefix={"type": "string", "minLength": 1},
                        extraEnv={**_OBJECTS, "description": "More OTEL_* variables (EnvVar)."}),
        "podSecurityContext": {**_OBJECT, "description": "PodSecurityContext of every role."},
        "securityContext": {**_OBJECT, "description": "SecurityContext of every container."},
        "networkPolicy": _closed(
            "Ingress: MLLP only from mllpFrom; API and metrics from apiFrom / metricsFrom (anyone "
            "when empty). Egress: DNS, Kafka, delivery targets, extraEgress.",
            enabled={"type": "boolean"}, mllpFrom=peers, apiFrom=peers, metricsFrom=peers,
            kafka=_closed("Where the brokers are.", to=peers, ports=ports),
            deliveryTargets=_closed("Where LifeCare and Prator answer.", to=peers, ports=ports),
            extraEgress={**_OBJECTS, "description": "More NetworkPolicyEgressRule entries."}),
        "ingress": _closed("An Ingress for the ops API and dashboard.",
                           enabled={"type": "boolean"}, className={"type": "string"},
                           annotations=_STRINGS, host={"type": "string", "minLength": 1},
                           tls={**_OBJECTS, "description": "IngressTLS list."}),
        "serviceMonitor": _closed("A prometheus-operator ServiceMonitor per role.",
                                  enabled={"type": "boolean"}, interval={"type": "string"}, labels=_STRINGS),
        "prometheusRule": _closed(
            "Alerts: stuck deliveries, dead-letter growth, processor lag, MLLP refusals.",
            enabled={"type": "boolean"}, labels=_STRINGS,
            deliveryStuckSeconds={"type": "integer", "minimum": 1},
            deadLetterGrowth={"type": "integer", "minimum": 0},
            processorLagRecords={"type": "integer", "minimum": 1},
            mllpRefusals={"type": "integer", "minimum": 0}),
        "strimziTopics": _closed(
            "Strimzi KafkaTopic resources for the topics of contracts/asyncapi.yaml.",
            enabled={"type": "boolean"}, cluster={"type": "string", "minLength": 1},
            partitions={"type": "integer", "minimum": 1}, replicas={"type": "integer", "minimum": 1},
            sources={"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_]+$"}},
            deliveries={"type": "array", "items": {"type": "string", "pattern": r"^[a-z0-9_]+\.[a-z0-9_.-]+$"},
                        "description": "system.receiver of svu.deliveries topics."}),
    }


def values_schema() -> dict[str, Any]:
    """JSON Schema of the chart's values."""
    settings = HubSettings.model_json_schema(mode="validation")
    defs = settings.pop("$defs", {})
    settings["description"] = "svu-hub settings (hub.settings.HubSettings), rendered as hub.toml."
    delivery = _component("Deliveries from Kafka (hub adapter delivery), a Deployment per system.",
                          port=False)
    delivery["properties"].pop("command")
    delivery["properties"]["systems"] = {"type": "array", "uniqueItems": True,
                                         "items": {"enum": ["lifecare", "prator"]}}
    delivery["properties"]["port"] = {**_PORT, "description": "Port of /health, /ready and /metrics "
                                      "(settings.api.port)."}
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
                               "(port 2575).", probe_port=True, service=True),
            "delivery": delivery,
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
            **_chart_knobs(),
        },
        "$defs": defs,
    }


def values_schema_text() -> str:
    """The file's text, stable (sorted keys) so that drift shows as a diff."""
    return json.dumps(values_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
