"""Kommun CSV files from a drop directory, one folder per kommun (``<inbox>/<kommunkod>/*.csv``),
mapped by that kommun's mapping. The folder's kommun is the sender: its files pass the inbound
door (``hub.streams.door``) like the kommun's HTTP messages — its own units only, episodes it
is part of only. A file is taken whole or not at all: it then moves to ``processed/`` or to
``rejected/`` with ``<file>.reason.txt`` naming row, field and rule (never a value); the bytes of
a file that does not parse go to the dead-letter store. Only regular files whose size has
settled are read (``hub.streams.inbox``); the watcher never stops on an error."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.adapters.kommun.mapping import KommunMapping, csv_records, to_event
from hub.domain.clock import Clock
from hub.domain.directory import UnitDirectory
from hub.errors import LogError, TransportError
from hub.schemas.envelope import Envelope
from hub.schemas.geography import is_known_kommunkod
from hub.streams.audit import AuditTrail
from hub.streams.door import Door, Refused, Sender
from hub.streams.inbox import InboxScan, move, read_regular

logger = logging.getLogger(__name__)

DirectoryFn = Callable[[], UnitDirectory | None]


def options(settings: Any, resources: Any) -> dict[str, Any]:
    """The watchers' door settings from the hub's settings and resources (the composition root)."""
    return {"directory": resources.directory.current, "settle_s": settings.api.file_settle_s,
            "secret": settings.engine.patient_key_secret.get_secret_value().encode()}


def file_door(log: Any, clock: Clock, directory: DirectoryFn | None, secret: bytes) -> Door:
    """The door for file inboxes, over the same log, unit directory and audit trail as the API."""
    return Door(log, clock, directory or (lambda: None), AuditTrail(log, clock, secret))


def _parser(mapping: KommunMapping, kommunkod: str) -> Callable[[bytes, dt.datetime], list[tuple[str, Envelope]]]:
    def parse(raw: bytes, now: dt.datetime) -> list[tuple[str, Envelope]]:
        return [(f"row {n}: ", to_event(r, mapping, kommunkod, now, where=f"row {n}: "))
                for n, r in enumerate(csv_records(raw, mapping), 1)]
    return parse


def process_file(path: Path, kommunkod: str, mapping: KommunMapping, log: Any, clock: Clock, *,
                 door: Door | None = None) -> bool:
    """Ingest one file through the door and move it; True when it was accepted. The store's
    refusal (``Unavailable``) leaves the file where it is."""
    door = door or file_door(log, clock, None, b"")
    raw = read_regular(path)
    if raw is None:
        return False
    sender = Sender(f"inbox:{kommunkod}", "kommun", f"kommun:{kommunkod}", f"file:{path.name[:80]}")
    try:
        door.admit(sender, f"kommun-{kommunkod}", raw, _parser(mapping, kommunkod),
                   endpoint="inbox kommun/{kommunkod}")
    except Refused as exc:
        move(path, "rejected", f"refused ({exc.status}): {exc}")
        return False
    move(path, "processed")
    return True


async def watch(inbox: Path, mappings: dict[str, KommunMapping], log: Any, clock: Clock,
                stop: asyncio.Event, *, every: float = 1.0, directory: DirectoryFn | None = None,
                secret: bytes = b"", settle_s: float = 2.0) -> None:
    """Poll ``inbox/<kommunkod>/*.csv`` until ``stop``; an error is logged and the scan goes on."""
    door = file_door(log, clock, directory, secret)
    scans: dict[str, InboxScan] = {}
    while not stop.is_set():
        try:
            inbox.mkdir(parents=True, exist_ok=True)
            _scan(inbox, mappings, log, clock, door, scans, settle_s)
        except Exception as exc:  # a watcher never stops; the next scan tries again
            logger.error("kommun inbox scan failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _scan(inbox: Path, mappings: dict[str, KommunMapping], log: Any, clock: Clock, door: Door,
          scans: dict[str, InboxScan], settle_s: float) -> None:
    for folder in sorted(inbox.iterdir()):
        name = folder.name
        if folder.is_symlink() or not folder.is_dir() or not (name.isascii() and name.isdigit() and len(name) == 4):
            continue
        if not is_known_kommunkod(name):
            continue
        scan = scans.setdefault(name, InboxScan(".csv", settle_s))
        for path in scan.ready(folder):
            try:
                process_file(path, name, mappings.get(name, KommunMapping()), log, clock, door=door)
            except (TransportError, LogError) as exc:  # the store refused: the file stays
                logger.warning("kommun file %s left in place: %s", path.name[:80], type(exc).__name__)
                return
            except Exception as exc:  # one bad file does not stop the others
                scan.errors += 1
                logger.error("kommun file %s not handled: %s", path.name[:80], type(exc).__name__)
            scan.forget(path)
