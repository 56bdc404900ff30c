"""Child process for the kill tests. ``append PATH N``: appends N events one by one and prints
each confirmed index. ``process PATH``: runs the counting and timeline processors, printing
progress after every committed batch."""

from __future__ import annotations

import sys

from hub.domain.timeline import TimelineProcessor
from hub.streams.clock import SystemClock
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from tests.support.processors import CountingProcessor
from tests.support.stream import numbered_event


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    log = SqliteLog(path)
    if mode == "append":
        ing = Ingestor(log, SystemClock())
        for i in range(int(sys.argv[3])):
            ing.submit_events([numbered_event(i)])
            print(i, flush=True)
    else:
        rt = EmbeddedRuntime(log, [CountingProcessor(), TimelineProcessor()], SystemClock(),
                             batch_size=7)
        print("started", flush=True)
        rt.run_until_idle(on_progress=lambda n: print(f"batch {n}", flush=True))
        print("idle", flush=True)


if __name__ == "__main__":
    main()
