"""Topic planning from the AsyncAPI document, and Kafka security settings turned into client
arguments (TLS, SASL/SCRAM, SASL/OAUTHBEARER) with secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigurationError
from hub.schemas.contracts import asyncapi
from hub.settings import KafkaSettings
from hub.streams.kafka.config import FileTokenProvider, client_kwargs, faust_credentials
from hub.streams.kafka.topics import TopicSpec, desired, plan


def test_desired_topics_come_from_the_asyncapi_bindings() -> None:
    specs = {s.name: s for s in desired(asyncapi(), {"source": ["hl7"], "system": ["lifecare"],
                                                     "receiver": ["umea"]}, ["svu-hub-timeline-state-changelog"])}
    assert specs["svu.events"] == TopicSpec("svu.events", 12, 3,
                                            {"cleanup.policy": "delete", "retention.ms": "31536000000"})
    assert specs["svu.stats"].config == {"cleanup.policy": "compact"}
    assert specs["svu.audit"].config["retention.ms"] == "-1"
    assert {"svu.raw.hl7", "svu.dlq.hl7", "svu.deliveries.lifecare.umea"} <= set(specs)
    assert specs["svu-hub-timeline-state-changelog"].config == {"cleanup.policy": "compact"}
    assert not any("{" in name for name in specs)


def test_a_family_without_values_is_left_out() -> None:
    names = {s.name for s in desired(asyncapi(), {})}
    assert "svu.events" in names and not any(n.startswith("svu.raw.") for n in names)


def test_plan_creates_missing_and_reports_differences() -> None:
    wanted = [TopicSpec("a", 12, 3, {"cleanup.policy": "compact"}), TopicSpec("b", 12, 3),
              TopicSpec("c", 12, 3, {"retention.ms": "1000"})]
    existing = {"b": TopicSpec("b", 12, 3), "c": TopicSpec("c", 4, 1, {"retention.ms": "5"})}
    actions = {a.spec.name: a for a in plan(wanted, existing)}
    assert actions["a"].action == "create"
    assert actions["b"].action == "ok"
    assert actions["c"].action == "mismatch"
    assert actions["c"].problems == ("partitions 4, want 12", "replicas 1, want 3", "retention.ms=5, want 1000")


def test_plaintext_by_default() -> None:
    kwargs = client_kwargs(KafkaSettings(bootstrap_servers=("k1:9092", "k2:9092")))
    assert kwargs == {"bootstrap_servers": ["k1:9092", "k2:9092"], "client_id": "svu-hub",
                      "security_protocol": "PLAINTEXT"}
    assert faust_credentials(KafkaSettings()) is None


def test_sasl_scram_over_tls() -> None:
    settings = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                             sasl_username="hub", sasl_password="pw-123")
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_password"] == "pw-123"
    assert kwargs["ssl_context"].check_hostname is True
    assert "pw-123" not in repr(settings)
    creds = faust_credentials(settings)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.username == "hub"


async def test_oauthbearer_reads_the_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJ.token.sig\n")
    kwargs = client_kwargs(KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="OAUTHBEARER",
                                         sasl_oauth_token_file=token))
    provider = kwargs["sasl_oauth_token_provider"]
    assert isinstance(provider, FileTokenProvider)
    assert await provider.token() == "eyJ.token.sig"
    with pytest.raises(ConfigurationError, match="token"):
        await FileTokenProvider(tmp_path / "missing").token()


def test_incomplete_sasl_settings_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"kafka\.sasl_mechanism"):
        client_kwargs(KafkaSettings(security_protocol="SASL_SSL"))
    with pytest.raises(ConfigurationError, match=r"kafka\.sasl_username"):
        client_kwargs(KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256"))
