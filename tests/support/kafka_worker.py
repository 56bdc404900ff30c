"""Child process for the Kafka worker tests: ``python -m tests.support.kafka_worker BOOTSTRAP
APP_ID DATA_DIR STATS_FILE [INSTANCE_ID]`` runs the timeline, counting and deadline processors
as a Faust worker (SIGTERM leaves the group cleanly) and rewrites STATS_FILE with its counters
and owned partitions every 0.1 s. STORE (environment) picks the table store."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

from hub.domain.timeline import TimelineProcessor
from hub.streams.clock import SystemClock
from hub.streams.kafka.app import WorkerApp
from tests.support.kafka import MOCK_PARTITIONS
from tests.support.processors import CountingProcessor, DeadlineProcessor

DEADLINE = dt.timedelta(seconds=float(os.environ.get("DEADLINE_S", "4")))


def main() -> None:
    bootstrap, app_id, data_dir, stats_file = sys.argv[1:5]
    instance = sys.argv[5] if len(sys.argv) > 5 else None
    from hub.settings import KafkaSettings

    settings = KafkaSettings(
        bootstrap_servers=tuple(bootstrap.split(",")), app_id=app_id, data_dir=Path(data_dir),
        declare_topics=False, partitions=MOCK_PARTITIONS, replication_factor=1, web_enabled=False,
        session_timeout_s=6.0, heartbeat_interval_s=0.5, rebalance_timeout_s=6.0,
        timer_interval_s=0.2, batch_within_s=0.02, batch_size=200, group_instance_id=instance,
        store=os.environ.get("STORE", "memory://"))
    worker = WorkerApp(settings, [TimelineProcessor(), CountingProcessor(), DeadlineProcessor(DEADLINE)],
                       SystemClock())
    target = Path(stats_file)

    @worker.app.timer(0.1)
    async def report() -> None:
        stats = {a.processor.NAME: vars(a.stats) for a in worker.agents}
        owned = sorted(worker.agents[0].owned_partitions())
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "stats": stats, "owned": owned}))
        tmp.replace(target)

    worker.run()


if __name__ == "__main__":
    main()
