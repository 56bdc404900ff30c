"""Topics from the AsyncAPI document: what the cluster should hold, compared with what it holds.

``desired`` reads each channel's Kafka binding (partitions, replicas, topicConfiguration) from
``hub.schemas.contracts.asyncapi()`` — the document in ``contracts/asyncapi.yaml`` — and expands
parameterised addresses (``svu.raw.{source}``) with the values given; the workers' changelog
topics (compacted, co-partitioned with the inputs) are added. ``plan`` compares with the cluster's
description and says, per topic, what to do. Both are pure; ``describe`` and ``create`` are the
admin calls (aiokafka's admin client).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.errors import KafkaError

from hub.errors import TransportError
from hub.settings import KafkaSettings
from hub.streams.kafka.config import client_kwargs


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as it should be (or as the cluster has it)."""

    name: str
    partitions: int
    replicas: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicAction:
    """What to do about one topic: ``create`` it, nothing (``ok``), or a ``mismatch`` to settle
    by hand (partitions can only grow, and growing them moves keys between partitions)."""

    action: Literal["create", "ok", "mismatch"]
    spec: TopicSpec
    problems: tuple[str, ...] = ()


def _config(binding: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (binding.get("topicConfiguration") or {}).items():
        out[k] = ",".join(v) if isinstance(v, list) else str(v)
    return out


def desired(doc: Mapping[str, Any], params: Mapping[str, Sequence[str]],
            changelogs: Iterable[str] = (), *, changelog_partitions: int = 12,
            changelog_replicas: int = 3) -> list[TopicSpec]:
    """Every topic the AsyncAPI document describes, with parameters expanded from ``params``
    (e.g. ``{"source": ["hl7", "prator"]}``); a channel whose parameter has no value is left out."""
    specs: list[TopicSpec] = []
    for channel in doc["channels"].values():
        binding = channel.get("bindings", {}).get("kafka", {})
        names = [channel["address"]]
        for param in re.findall(r"{(\w+)}", channel["address"]):
            names = [n.replace("{" + param + "}", value) for n in names for value in params.get(param, ())]
        for name in names:
            specs.append(TopicSpec(name, int(binding.get("partitions", 1)),
                                   int(binding.get("replicas", 1)), _config(binding)))
    for name in changelogs:
        specs.append(TopicSpec(name, changelog_partitions, changelog_replicas,
                               {"cleanup.policy": "compact"}))
    return specs


def plan(wanted: Sequence[TopicSpec], existing: Mapping[str, TopicSpec]) -> list[TopicAction]:
    """Per wanted topic: create it, leave it, or report how it differs."""
    actions = []
    for spec in wanted:
        have = existing.get(spec.name)
        if have is None:
            actions.append(TopicAction("create", spec))
            continue
        problems = []
        if have.partitions != spec.partitions:
            problems.append(f"partitions {have.partitions}, want {spec.partitions}")
        if have.replicas < spec.replicas:
            problems.append(f"replicas {have.replicas}, want {spec.replicas}")
        for key, value in spec.config.items():
            if key in have.config and have.config[key] != value:
                problems.append(f"{key}={have.config[key]}, want {value}")
        actions.append(TopicAction("mismatch" if problems else "ok", spec, tuple(problems)))
    return actions


async def describe(settings: KafkaSettings, names: Sequence[str]) -> dict[str, TopicSpec]:
    """Partitions and replicas of those of ``names`` that exist (metadata request; works on
    librdkafka's mock cluster). Topic configs are not read: the mock has no DescribeConfigs."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names if n in existing]
        if not wanted:
            return {}
        out = {}
        for topic in await admin.describe_topics(wanted):
            parts = topic.get("partitions") or []
            if topic.get("error_code", 0) or not parts:
                continue
            replicas = min(len(p.get("replicas") or ()) for p in parts)
            out[topic["topic"]] = TopicSpec(topic["topic"], len(parts), replicas)
        return out
    finally:
        await admin.close()


async def create(settings: KafkaSettings, specs: Sequence[TopicSpec]) -> None:
    """CreateTopics for ``specs`` (a real cluster; the mock cluster refuses the request)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    if not specs:
        return
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(s.name, s.partitions, s.replicas, topic_configs=dict(s.config))
                                   for s in specs])
    except KafkaError as exc:
        raise TransportError(f"CreateTopics failed: {type(exc).__name__}") from None
    except AttributeError:
        # aiokafka's admin client, when the cluster names a controller that is not among its
        # brokers (librdkafka's mock cluster reports controller 0), fails on a None node.
        raise TransportError("CreateTopics failed: the cluster names no usable controller") from None
    finally:
        await admin.close()
