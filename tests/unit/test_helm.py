"""The Helm chart: values.schema.json is generated from the settings models (drift fails), the
chart lints strictly, and its manifests, rendered with the defaults and with every optional
feature on, validate strictly against the Kubernetes schemas of a pinned version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from hub.helm import values_schema_text

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "svu-hub"
KUBE = "1.30.0"
_ROLE_EXTRAS: dict[str, Any] = {
    "extraEnv": [{"name": "TZ_NOTE", "value": "Europe/Stockholm"}],
    "envFrom": [{"configMapRef": {"name": "site-env", "optional": True}}],
    "extraVolumes": [{"name": "inbox", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "inbox", "mountPath": "/app/inbox"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "svu", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                           "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "svu-hub"}}}}]}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway",
                                   "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "svu-hub"}}}],
    "podAnnotations": {"example.org/team": "svu"},
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
}
ALL_ON: dict[str, Any] = {
    "settings": {
        "kafka": {"bootstrap_servers": ["kafka-kafka-bootstrap.kafka.svc:9093"], "security_protocol": "SASL_SSL",
                  "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "svu-hub", "web_host": "0.0.0.0"},
        "api": {"host": "0.0.0.0"},
        "engine": {"rule_pack": "/etc/svu-hub/rules/county.yaml", "directory": "/etc/svu-hub/directory.yaml"},
    },
    "kafkaCA": {"secretName": "kafka-cluster-ca-cert", "key": "ca.crt"},
    "otel": {"endpoint": "http://otel-collector.monitoring.svc:4318",
             "extraEnv": [{"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_always_on"}]},
    "autoscaling": {"enabled": True},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
    "strimziTopics": {"enabled": True, "deliveries": ["prator.se2120024803-soc"]},
    "networkPolicy": {"enabled": True, "mllpFrom": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                      "metricsFrom": [{"namespaceSelector": {"matchLabels": {
                          "kubernetes.io/metadata.name": "monitoring"}}}],
                      "extraEgress": [{"to": [{"namespaceSelector": {"matchLabels": {
                          "kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"port": 4318}]}]},
    "ingress": {"enabled": True, "className": "nginx", "host": "svu.region.example.org",
                "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "HTTP"},
                "tls": [{"hosts": ["svu.region.example.org"], "secretName": "svu-tls"}]},
    "mllp": {"service": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                         "loadBalancerSourceRanges": ["10.20.0.0/16"],
                         "annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}},
             **_ROLE_EXTRAS},
    "worker": _ROLE_EXTRAS,
    "api": _ROLE_EXTRAS,
    "delivery": _ROLE_EXTRAS,
    "rulePacks": {"county.yaml": "name: county\n"},
    "unitDirectory": "units: []\n",
    "secretEnv": {"HUB_KAFKA__SASL_PASSWORD": "not-a-real-password"},
}
CRDS = {"ServiceMonitor", "PrometheusRule", "KafkaTopic"}  # not in the Kubernetes schemas
ROLES = ("svu-worker", "svu-api", "svu-mllp", "svu-delivery-lifecare", "svu-delivery-prator")


def test_values_schema_matches_the_settings_models() -> None:
    assert (CHART / "values.schema.json").read_text(encoding="utf-8") == values_schema_text(), (
        "values.schema.json drifted from hub/settings.py; run 'hub helm schema'")


@pytest.mark.parametrize("values", [{}, "all-on"], ids=["defaults", "all-optional-features"])
def test_chart_lints_strictly(values: dict[str, Any] | str) -> None:
    """The values schema admits the defaults and every option on."""
    report = helm_python.lint(str(CHART), ALL_ON if values == "all-on" else {}, strict=True,
                              kube_version=f"v{KUBE}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values", [{"settings": {"kafka": {"partitions": "many"}}},
                                    {"worker": {"nodeSelectr": {}}}, {"mllp": {"service": {"type": "External"}}}])
def test_the_schema_rejects_a_wrong_setting(values: dict[str, Any]) -> None:
    report = helm_python.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE}")
    assert report["errors"] or any(m["severity"] >= 3 for m in report["messages"])


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    files = helm_python.Chart.load(str(CHART)).render(values, name="svu", namespace="hub", is_install=True)
    return [d for text in files.values() for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["defaults", "all-optional-features"])
def test_rendered_manifests_validate_strictly(values: dict[str, Any]) -> None:
    docs = _render(values)
    for doc in docs:
        if doc["kind"] in CRDS:
            continue
        kubernetes_validate.validate(doc, KUBE, strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for role in ROLES:
        assert {("Deployment", role), ("Service", role), ("PodDisruptionBudget", role),
                ("NetworkPolicy", role)} <= kinds
        assert (("ServiceMonitor", role) in kinds) == bool(values)
    if values:
        assert ("HorizontalPodAutoscaler", "svu-worker") in kinds and ("Ingress", "svu-api") in kinds
        assert ("PrometheusRule", "svu") in kinds and ("KafkaTopic", "svu-events") in kinds
    else:
        assert not any(k in ("HorizontalPodAutoscaler", "Ingress", *CRDS) for k, _ in kinds)


def test_probes_ports_and_hardening() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _render(ALL_ON)}
    mllp = docs[("Service", "svu-mllp")]["spec"]["ports"][0]
    assert mllp["port"] == 2575
    commands = {}
    for name in ROLES:
        pod = docs[("Deployment", name)]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            assert container[probe]["httpGet"]["path"] == path
            assert container[probe]["httpGet"]["port"] in ports  # a port the container declares
        commands[name] = container["command"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"]
    config = docs[("ConfigMap", "svu-config")]["data"]
    assert "bootstrap_servers" in config["hub.toml"] and "directory.yaml" in config
    assert "county.yaml" in docs[("ConfigMap", "svu-rules")]["data"]
    assert docs[("Service", "svu-mllp")]["spec"]["ports"][1]["targetPort"] == "http"
    # every pod runs a real command of the image's CLI
    from typer.testing import CliRunner

    from hub.cli import app
    for name, command in commands.items():
        assert command[0] == "hub", name
        words = [w for w in command[1:] if not w.startswith("-")][:2]
        result = CliRunner().invoke(app, [*[w for w in words if w in ("worker", "api", "adapter", "mllp",
                                                                      "delivery")], "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert all(o in result.output for o in command if o.startswith("--")), (name, command)
    assert "not-a-real-password" not in config["hub.toml"]


def _by_key(values: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in _render(values)}


def _path_fields(model: type[Any], prefix: str = "") -> list[str]:
    """Dotted names of every settings field that holds a file system path."""
    from pathlib import Path as P

    from pydantic import BaseModel
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _path_fields(annotation, f"{prefix}{name}.")
        elif annotation is P or P in args:
            out.append(f"{prefix}{name}")
    return out


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["defaults", "all-optional-features"])
def test_every_file_path_a_pod_is_configured_with_is_mounted(values: dict[str, Any]) -> None:
    """A path in hub.toml (or the command line) lies in a ConfigMap or Secret the pod mounts, with
    that very key, or in a writable emptyDir for data; an unset optional path needs nothing."""
    import tomllib
    from pathlib import PurePosixPath

    from hub.settings import HubSettings
    docs = _by_key(values)
    config = docs[("ConfigMap", "svu-config")]["data"]
    settings = HubSettings.model_validate(tomllib.loads(config["hub.toml"]))
    assert settings.kafka.ssl_cafile is None or values  # the defaults name no CA file
    for role in ROLES:
        pod = docs[("Deployment", role)]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = sorted(container["volumeMounts"], key=lambda m: len(m["mountPath"]), reverse=True)
        named = {"--config": PurePosixPath(container["command"][container["command"].index("--config") + 1])}
        for field in _path_fields(HubSettings):
            value = settings
            for part in field.split("."):
                value = getattr(value, part)
            if value is not None:
                named[field] = PurePosixPath("/app") / str(value)  # WORKDIR /app; absolute stays
        assert "kafka.ssl_cafile" in named or not values
        for field, path in named.items():
            mount = next((m for m in mounts if path.is_relative_to(m["mountPath"])), None)
            assert mount is not None, (role, field, str(path))
            volume = volumes[mount["name"]]
            key = str(path.relative_to(mount["mountPath"]))
            if "configMap" in volume:
                data = docs[("ConfigMap", volume["configMap"]["name"])].get("data") or {}
                assert key in data, (role, field, key)
            elif "secret" in volume:
                assert key in [i["path"] for i in volume["secret"]["items"]], (role, field, key)
            else:
                assert "emptyDir" in volume and path.is_relative_to("/app/var"), (role, field, str(path))


@pytest.mark.parametrize("role", ROLES)
def test_probes_and_service_monitor_target_a_declared_port(role: str) -> None:
    docs = _by_key(ALL_ON)
    container = docs[("Deployment", role)]["spec"]["template"]["spec"]["containers"][0]
    declared = {p["name"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in declared
    service = docs[("Service", role)]
    monitor = docs[("ServiceMonitor", role)]["spec"]
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["selector"]["matchLabels"].items())
    assert not any(labels.get("app.kubernetes.io/component") == role
                   for (kind, name), d in docs.items() if kind == "Service" and name != role)
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    endpoint = monitor["endpoints"][0]
    assert endpoint["path"] == "/metrics" and endpoint["port"] in by_name
    assert by_name[endpoint["port"]]["targetPort"] in declared
    assert by_name[endpoint["port"]]["targetPort"] == container["readinessProbe"]["httpGet"]["port"]


def test_per_role_options_reach_every_pod() -> None:
    docs = _by_key(ALL_ON)
    for role in ROLES:
        pod = docs[("Deployment", role)]["spec"]["template"]
        spec, container = pod["spec"], pod["spec"]["containers"][0]
        assert spec["nodeSelector"] == _ROLE_EXTRAS["nodeSelector"]
        assert spec["tolerations"] == _ROLE_EXTRAS["tolerations"]
        assert spec["affinity"] == _ROLE_EXTRAS["affinity"]
        assert spec["topologySpreadConstraints"] == _ROLE_EXTRAS["topologySpreadConstraints"]
        assert pod["metadata"]["annotations"]["example.org/team"] == "svu"
        assert {"name": "TZ_NOTE", "value": "Europe/Stockholm"} in container["env"]
        assert {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring.svc:4318"} in (
            container["env"])
        assert _ROLE_EXTRAS["envFrom"][0] in container["envFrom"]
        assert {"name": "inbox", "emptyDir": {}} in spec["volumes"]
        assert {"name": "inbox", "mountPath": "/app/inbox"} in container["volumeMounts"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"]["drop"] == ["ALL"] and spec["securityContext"]["runAsNonRoot"]
    mllp = docs[("Service", "svu-mllp")]["spec"]
    assert mllp["type"] == "LoadBalancer" and mllp["externalTrafficPolicy"] == "Local"
    assert docs[("Service", "svu-mllp")]["metadata"]["annotations"]
    defaults = _by_key({})
    assert defaults[("Service", "svu-mllp")]["spec"]["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in defaults[("Service", "svu-mllp")]["spec"]
    assert not any(e["name"].startswith("OTEL_") for e in defaults[("Deployment", "svu-worker")]["spec"][
        "template"]["spec"]["containers"][0]["env"])


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["defaults", "all-optional-features"])
def test_mllp_is_reachable_only_from_the_configured_sources(values: dict[str, Any]) -> None:
    docs = _by_key(values)
    for role in ROLES:
        policy = docs[("NetworkPolicy", role)]["spec"]
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        mllp_rules = [r for r in policy["ingress"] if any(p["port"] == "mllp" for p in r["ports"])]
        if role != "svu-mllp" or not values:
            assert mllp_rules == []  # nobody, until sources are configured
            continue
        assert [r["from"] for r in mllp_rules] == [ALL_ON["networkPolicy"]["mllpFrom"]]
        kafka = [r for r in policy["egress"] if any(p["port"] == 9093 for p in r.get("ports", []))]
        assert kafka, role  # every role reaches Kafka


def test_strimzi_topics_are_the_topics_of_the_asyncapi_document() -> None:
    from hub.schemas.contracts import asyncapi
    from hub.streams.kafka.topics import desired
    topics = {d["spec"]["topicName"]: d for d in _render(ALL_ON) if d["kind"] == "KafkaTopic"}
    pairs = [d.split(".", 1) for d in ALL_ON["strimziTopics"]["deliveries"]]
    wanted = desired(asyncapi(), {"source": ["hl7", "prator", "lifecare", "kommun", "http", "file"],
                                  "system": [p[0] for p in pairs], "receiver": [p[1] for p in pairs]})
    assert set(topics) == {w.name for w in wanted}
    for spec in wanted:
        rendered = topics[spec.name]
        assert rendered["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
        assert (rendered["spec"]["partitions"], rendered["spec"]["replicas"]) == (spec.partitions, spec.replicas)
        assert {k: str(v) for k, v in rendered["spec"]["config"].items()} == spec.config, spec.name


def test_alerting_rules_cover_deliveries_dead_letters_lag_and_mllp() -> None:
    rule = _by_key(ALL_ON)[("PrometheusRule", "svu")]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"SvuHubDeliveryStuck", "SvuHubDeadLettersGrowing", "SvuHubProcessorLag",
            "SvuHubMllpRefusals"} <= set(alerts)
    for alert in alerts.values():
        assert alert["labels"]["severity"] in ("warning", "critical") and alert["annotations"]["summary"]
