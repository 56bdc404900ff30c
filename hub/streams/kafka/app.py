"""The Faust application of ``hub worker``: built on demand from settings, never at import.

Fast restarts (the old member's session need not time out): static group membership when
``kafka.group_instance_id`` is set (KIP-345; e.g. the pod name of a StatefulSet), short
session and rebalance timeouts otherwise, and a clean LeaveGroup when the worker stops on
SIGTERM (Faust's worker stops the consumer before it exits).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust

from hub.domain.clock import Clock
from hub.domain.processor import Processor
from hub.settings import KafkaSettings
from hub.streams import metrics
from hub.streams.kafka.config import faust_credentials
from hub.streams.kafka.store import store_url
from hub.streams.kafka.worker import ProcessorAgent, wire

QUIET = ("faust", "aiokafka", "mode", "kafka")
"""Libraries that log at INFO/DEBUG on every fetch and rebalance: kept at WARNING."""


class WorkerApp:
    """A Faust app with one agent per processor, and the agents (for tests and probes)."""

    def __init__(self, settings: KafkaSettings, processors: Sequence[Processor[Any, Any]],
                 clock: Clock) -> None:
        self.settings = settings
        s = settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        for name in QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.app = faust.App(
            s.app_id,
            broker=[f"kafka://{server}" for server in s.bootstrap_servers],
            broker_credentials=faust_credentials(s),
            broker_client_id=s.client_id,
            store=store_url(s.store),
            datadir=str(s.data_dir),
            autodiscover=False,
            topic_allow_declare=s.declare_topics,
            topic_disable_leader=True,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            consumer_auto_offset_reset="earliest",
            key_serializer="raw",
            value_serializer="raw",
            consumer_group_instance_id=s.group_instance_id,
            broker_session_timeout=s.session_timeout_s,
            broker_heartbeat_interval=s.heartbeat_interval_s,
            broker_rebalance_timeout=s.rebalance_timeout_s,
            broker_commit_interval=1.0,
            broker_max_poll_records=5000,
            stream_buffer_maxsize=16384,
            consumer_max_fetch_size=8 << 20,
            producer_acks=-1,
            stream_wait_empty=False,
            web_enabled=s.web_enabled,
            web_bind=s.web_host,
            web_host=s.web_host,
            web_port=s.web_port,
            web_stats_enabled=False,
            web_graph_enabled=False,
            web_tables_enabled=False,
            web_metrics_enabled=False,
        )
        # Table writes wait in Faust's producer buffer, and Faust stops feeding streams while it
        # holds more than 100: one batch writes a state per touched key, so allow a batch's worth.
        self.app.producer.buffer.max_messages = max(100, 4 * s.batch_size)
        self.agents: list[ProcessorAgent] = wire(
            self.app, processors, clock, mode=s.content_mode, partitions=s.partitions,
            batch_size=s.batch_size, batch_within=s.batch_within_s, timer_interval=s.timer_interval_s)
        if s.web_enabled:
            self._probes()

    def ready(self) -> bool:
        """Started, not rebalancing and not restoring tables: the worker processes events (a
        worker left without partitions, when workers outnumber them, is ready too)."""
        return bool(self.app.started and not self.app.rebalancing and not self.app.in_recovery)

    def _probes(self) -> None:
        app = self.app

        @app.page("/health")
        async def health(web: Any, request: Any) -> Any:
            return web.json({"status": "ok"})

        @app.page("/ready")
        async def ready(web: Any, request: Any) -> Any:
            ok = self.ready()
            return web.json({"ready": ok}, status=200 if ok else 503)

        metrics.worker_page(self)  # /metrics: consumer lag per processor, process metrics

    def run(self) -> None:
        """Run the worker until SIGINT/SIGTERM (blocking); leaves the group cleanly."""
        worker = faust.Worker(self.app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
        worker.execute_from_commandline()
