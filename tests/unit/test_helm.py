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
ALL_ON: dict[str, Any] = {
    "autoscaling": {"enabled": True},
    "serviceMonitor": {"enabled": True},
    "rulePacks": {"county.yaml": "name: county\n"},
    "unitDirectory": "units: []\n",
    "secretEnv": {"HUB_KAFKA__SASL_PASSWORD": "not-a-real-password"},
}


def test_values_schema_matches_the_settings_models() -> None:
    assert (CHART / "values.schema.json").read_text(encoding="utf-8") == values_schema_text(), (
        "values.schema.json drifted from hub/settings.py; run 'hub helm schema'")


def test_chart_lints_strictly() -> None:
    report = helm_python.lint(str(CHART), strict=True, kube_version=f"v{KUBE}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_the_schema_rejects_a_wrong_setting() -> None:
    report = helm_python.lint(str(CHART), {"settings": {"kafka": {"partitions": "many"}}},
                              strict=True, kube_version=f"v{KUBE}")
    assert report["errors"] or any(m["severity"] >= 3 for m in report["messages"])


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    files = helm_python.Chart.load(str(CHART)).render(values, name="svu", namespace="hub", is_install=True)
    return [d for text in files.values() for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("values", [{}, ALL_ON], ids=["defaults", "all-optional-features"])
def test_rendered_manifests_validate_strictly(values: dict[str, Any]) -> None:
    docs = _render(values)
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: not in the Kubernetes schemas
            continue
        kubernetes_validate.validate(doc, KUBE, strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Service", "svu-mllp") in kinds and ("Deployment", "svu-worker") in kinds
    assert ("PodDisruptionBudget", "svu-worker") in kinds
    if values:
        assert ("HorizontalPodAutoscaler", "svu-worker") in kinds and ("ServiceMonitor", "svu") in kinds
    else:
        assert not any(k == "HorizontalPodAutoscaler" for k, _ in kinds)


def test_probes_ports_and_hardening() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _render(ALL_ON)}
    mllp = docs[("Service", "svu-mllp")]["spec"]["ports"][0]
    assert mllp["port"] == 2575
    commands = {}
    for name in ("svu-worker", "svu-api", "svu-mllp", "svu-delivery-lifecare", "svu-delivery-prator"):
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
