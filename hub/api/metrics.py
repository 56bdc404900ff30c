"""Prometheus metrics, computed from the log at scrape time. Conventional names; no patient data
in any label (topics, processors, rules, states, sources only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.api.context import ApiContext


class HubCollector(Collector):
    """Records per topic, processor lag, alerts by rule and state, dead letters by source."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        log = self.ctx.log
        records = CounterMetricFamily("svu_hub_topic_records", "Records appended per topic "
                                      "(deliveries summed per system).", labels=["topic"])
        totals: dict[str, int] = {}
        for topic in log.topics():
            family = ".".join(topic.split(".")[:3]) if topic.startswith("svu.deliveries.") else topic
            totals[family] = totals.get(family, 0) + log.count(topic)
        for family, count in sorted(totals.items()):
            records.add_metric([family], count)
        yield records
        lag = GaugeMetricFamily("svu_hub_processor_lag_records", "Records a processor has yet to read.",
                                labels=["processor"])
        if self.ctx.runtime is not None:
            for name, value in self.ctx.runtime.lag().items():
                lag.add_metric([name], value)
        yield lag
        alerts = GaugeMetricFamily("svu_hub_alerts", "Alerts by rule and state.", labels=["rule", "state"])
        for row in log.query("SELECT rule, state, COUNT(*) AS n FROM alerts GROUP BY rule, state"):
            alerts.add_metric([str(row["rule"]), str(row["state"])], float(str(row["n"])))
        yield alerts
        dlq = GaugeMetricFamily("svu_hub_dead_letters", "Dead letters by source and status.",
                                labels=["source", "status"])
        sql = "SELECT source, status, COUNT(*) AS n FROM dead_letters GROUP BY source, status"
        for row in log.query(sql):
            dlq.add_metric([str(row["source"]), str(row["status"])], float(str(row["n"])))
        yield dlq


class MllpCollector(Collector):
    """MLLP connections, messages, refusals, duplicates and the ACK latency histogram."""

    def __init__(self, server: Any, ingest: Any) -> None:
        self.server = server
        self.ingest = ingest

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("svu_hub_mllp_connections", "Open MLLP connections.",
                                value=self.server.open_connections)
        for name, value, text in (("messages", self.ingest.received, "HL7 messages received."),
                                  ("rejected", self.ingest.rejected, "HL7 messages negatively acknowledged."),
                                  ("duplicates", self.ingest.duplicates, "Re-sent HL7 messages (not reprocessed)."),
                                  ("unstored", self.ingest.unstored,
                                   "HL7 messages the store refused, answered AR for a re-send.")):
            yield CounterMetricFamily(f"svu_hub_mllp_{name}", text, value=value)
        buckets, total = [], 0
        for bound, count in self.ingest.latency_buckets.items():
            total = count
            buckets.append(("+Inf" if bound == float("inf") else str(bound), total))
        histogram = HistogramMetricFamily("svu_hub_mllp_ack_seconds", "Receipt to durable ACK.")
        histogram.add_metric([], buckets, sum_value=self.ingest.latency_sum)
        yield histogram


class DoorCollector(Collector):
    """Refusals at the door: refused writes, failed and throttled authentications."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        texts = {"refused": "Inbound messages refused at the door (403, 404, 422).",
                 "auth_failures": "Failed authentications.", "auth_throttled": "Requests refused with 429 "
                 "after too many failed authentications."}
        for name, value in sorted(self.counts.items()):
            yield CounterMetricFamily(f"svu_hub_door_{name}", texts.get(name, name), value=value)


def render(ctx: ApiContext, extra: list[Collector] | None = None, door: dict[str, int] | None = None) -> bytes:
    """The metrics text of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(ctx))
    if door is not None:
        registry.register(DoorCollector(door))
    for collector in extra or []:
        registry.register(collector)
    return generate_latest(registry)
