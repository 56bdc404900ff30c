"""Kommun CSV files from a drop directory, one folder per kommun (``<inbox>/<kommunkod>/*.csv``),
mapped by that kommun's mapping. A file is taken whole or not at all: it then moves to
``processed/`` or to ``rejected/`` with ``<file>.reason.txt`` naming row and field; the bytes of
a rejected file go to the dead-letter store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from hub.adapters.kommun.mapping import KommunMapping, csv_records, to_event
from hub.domain.clock import Clock
from hub.errors import LogError, TransportError, ValidationFailed
from hub.schemas import topics
from hub.streams.dlq import dead_letter
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog

logger = logging.getLogger(__name__)

def process_file(path: Path, kommunkod: str, mapping: KommunMapping, log: SqliteLog, clock: Clock) -> bool:
    raw = path.read_bytes()
    now = clock.now()
    try:
        events = [to_event(r, mapping, kommunkod, now, where=f"row {n}: ")
                  for n, r in enumerate(csv_records(raw, mapping), 1)]
    except ValidationFailed as exc:
        log.append([dead_letter(f"kommun-{kommunkod}", raw, exc.errors, now, connection=f"file:{path.name}")])
        target = path.parent / "rejected"
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)
        (target / f"{path.name}.reason.txt").write_text(str(exc) + "\n", encoding="utf-8")
        return False
    if events:
        log.append([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events])
    target = path.parent / "processed"
    target.mkdir(exist_ok=True)
    path.replace(target / path.name)
    return True


async def watch(inbox: Path, mappings: dict[str, KommunMapping], log: SqliteLog, clock: Clock,
                stop: asyncio.Event, *, every: float = 1.0) -> None:
    """Poll ``inbox/<kommunkod>/*.csv`` until ``stop``."""
    inbox.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 4):
            for path in sorted(folder.glob("*.csv")):
                try:
                    process_file(path, folder.name, mappings.get(folder.name, KommunMapping()), log, clock)
                except (TransportError, LogError) as exc:  # the store refused: the file stays
                    logger.warning("kommun file %s left in place: %s", path.name, type(exc).__name__)
                    break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
