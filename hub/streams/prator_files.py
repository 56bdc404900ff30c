"""Prator XML from a drop directory: each file is one message, taken through the inbound door
like the HTTP endpoint (the region's folder: an identity conflict is refused, never merged);
then moved to ``processed/``, or to ``rejected/`` with ``<file>.reason.txt`` naming the element,
the line and the rule (never a value), its bytes in the dead-letter store. Only regular files
whose size has settled are read; the watcher never stops on an error."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from hub.adapters.prator.mapping import parse
from hub.domain.clock import Clock
from hub.errors import LogError, TransportError
from hub.schemas.envelope import Envelope
from hub.streams.door import Door, Refused, Sender
from hub.streams.inbox import InboxScan, move, read_regular
from hub.streams.kommun_files import DirectoryFn, file_door

logger = logging.getLogger(__name__)


def _parse(raw: bytes, now: dt.datetime) -> list[tuple[str, Envelope]]:
    return [("", parse(raw, now, source="/prator"))]


def process_file(path: Path, log: Any, clock: Clock, *, door: Door | None = None) -> bool:
    """Ingest one file and move it; True when it was accepted."""
    door = door or file_door(log, clock, None, b"")
    raw = read_regular(path)
    if raw is None:
        return False
    sender = Sender("inbox:prator", "region", None, f"file:{path.name[:80]}")
    try:
        door.admit(sender, "prator", raw, _parse, endpoint="inbox prator")
    except Refused as exc:
        move(path, "rejected", f"refused ({exc.status}): {exc}")
        return False
    move(path, "processed")
    return True


async def watch(folder: Path, log: Any, clock: Clock, stop: asyncio.Event, *, every: float = 1.0,
                directory: DirectoryFn | None = None, secret: bytes = b"", settle_s: float = 2.0) -> None:
    """Poll ``folder`` for ``*.xml`` until ``stop``; an error is logged and the scan goes on."""
    door = file_door(log, clock, directory, secret)
    scan = InboxScan(".xml", settle_s)
    while not stop.is_set():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for path in scan.ready(folder):
                try:
                    process_file(path, log, clock, door=door)
                except (TransportError, LogError) as exc:  # the store refused: the file stays
                    logger.warning("Prator file %s left in place: %s", path.name[:80], type(exc).__name__)
                    break
                except Exception as exc:  # one bad file does not stop the others
                    scan.errors += 1
                    logger.error("Prator file %s not handled: %s", path.name[:80], type(exc).__name__)
                scan.forget(path)
        except Exception as exc:  # a watcher never stops
            logger.error("Prator inbox scan failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
