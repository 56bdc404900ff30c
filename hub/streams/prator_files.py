"""Prator XML from a drop directory: each file is one message, ingested durably like the HTTP
endpoint; then moved to ``processed/``, or to ``rejected/`` with ``<file>.reason.txt`` naming the
element and the line, its bytes in the dead-letter store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from hub.adapters.prator.errors import PratorError
from hub.adapters.prator.mapping import parse
from hub.domain.clock import Clock
from hub.errors import LogError, TransportError
from hub.schemas import topics
from hub.streams.dlq import dead_letter
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog

logger = logging.getLogger(__name__)

def process_file(path: Path, log: SqliteLog, clock: Clock) -> bool:
    """Ingest one file and move it; True when it was accepted."""
    raw = path.read_bytes()
    now = clock.now()
    try:
        event = parse(raw, now, source="/prator")
    except PratorError as exc:
        log.append([dead_letter("prator", raw, exc.errors, now, connection=f"file:{path.name}")])
        target = path.parent / "rejected"
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)
        (target / f"{path.name}.reason.txt").write_text(str(exc) + "\n", encoding="utf-8")
        return False
    log.append([Append(topics.EVENTS, event.episode_id, event.to_json())])
    target = path.parent / "processed"
    target.mkdir(exist_ok=True)
    path.replace(target / path.name)
    return True


async def watch(folder: Path, log: SqliteLog, clock: Clock, stop: asyncio.Event, *, every: float = 1.0) -> None:
    """Poll ``folder`` for ``*.xml`` until ``stop``."""
    folder.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        for path in sorted(folder.glob("*.xml")):
            try:
                process_file(path, log, clock)
            except (TransportError, LogError) as exc:  # the store refused: the file stays for the next scan
                logger.warning("Prator file %s left in place: %s", path.name, type(exc).__name__)
                break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
