"""HL7 files from a drop directory: single messages, several, or FHS/BHS batches. Every message
goes through the same durable ingest as MLLP; the file then moves to ``processed/``, or to
``rejected/`` with ``<file>.reason.txt`` naming each refused message and its segment and field.
A batch whose BTS count does not match its messages is rejected whole (a cut-off file)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from hub.adapters.hl7.batch import batch_counts, messages_of
from hub.streams.hl7_ingest import Hl7Ingest

log = logging.getLogger(__name__)


def _msa(ack: bytes | None) -> tuple[str, str]:
    for segment in (ack or b"").decode("utf-8", "replace").split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split("|")
            return (parts[1] if len(parts) > 1 else "", parts[3] if len(parts) > 3 else "")
    return ("", "")


async def process_file(path: Path, ingest: Hl7Ingest) -> bool:
    """Ingest one file and move it; True when every message was accepted. A file the store
    refused (Kafka or the log unavailable) stays where it is and is read again on the next scan;
    the messages already stored are then recognised as duplicates."""
    data = path.read_bytes()
    unstored = ingest.unstored
    declared, found = batch_counts(data)
    problems: list[str] = []
    if declared is not None and declared != found:
        await ingest.reject(data, f"file:{path.name}", f"batch says {declared} messages (BTS-1) but holds {found}")
        problems.append(f"batch: BTS-1 says {declared} messages, the file holds {found}; nothing was processed")
    else:
        for number, message in enumerate(messages_of(data), 1):
            code, text = _msa(await ingest.handle(message, f"file:{path.name}#{number}"))
            if code not in ("AA", "CA", ""):
                problems.append(f"message {number}: {code} {text}")
    if ingest.unstored > unstored:  # the store refused: the file stays for the next scan
        log.warning("HL7 file %s left in place: the store refused part of it", path.name)
        return False
    target = path.parent / ("rejected" if problems else "processed")
    target.mkdir(exist_ok=True)
    path.replace(target / path.name)
    if problems:
        (target / f"{path.name}.reason.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")
    return not problems


async def watch(folder: Path, ingest: Hl7Ingest, stop: asyncio.Event, *, every: float = 1.0) -> None:
    """Poll ``folder`` for files until ``stop``; half-written files (``.tmp``, hidden) are skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            if path.name.startswith(".") or path.suffix in (".tmp", ".part"):
                continue
            try:
                await process_file(path, ingest)
            except OSError as exc:
                log.error("cannot process HL7 file %s: %s", path.name, exc.strerror)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
