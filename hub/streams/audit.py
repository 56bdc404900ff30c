"""The audit trail (patientdatalagen 4 kap. 3 §, 8 kap.): every response that carries patient
data, every refusal at the door and every operator action on held bytes is appended to
``svu.audit`` before the caller is answered. A record links the patient by the keyed patient
hash (the readmission link, ``hub.domain.episode.patient_key``), never by the personnummer, so a
log extract for one patient (``hub audit extract``) needs the number only at the moment it is
asked for."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from hub.domain.clock import Clock
from hub.domain.episode import patient_key
from hub.schemas import topics
from hub.schemas.operations import AuditRecord
from hub.streams.log import Append


class AuditLogPort(Protocol):
    """What the trail needs of a log (``SqliteLog``; on Kafka a ``MirroredLog``)."""

    def create_topic(self, topic: str, partitions: int | None = None) -> int: ...

    def append(self, records: Sequence[Append]) -> Any: ...

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]: ...


class AuditTrail:
    """Appends audit records durably, one partition (one total order)."""

    def __init__(self, log: AuditLogPort, clock: Clock, secret: bytes) -> None:
        self._log = log
        self._clock = clock
        self._secret = secret
        log.create_topic(topics.AUDIT, 1)

    def key_of(self, patient_value: str) -> str:
        """The keyed patient hash of an identifier in normal form (12 digits, or a reservnummer)."""
        return patient_key(patient_value, self._secret)

    def patient_keys(self, episode_ids: Iterable[str]) -> tuple[str, ...]:
        """The keyed hashes of the patients of these episodes, as the region's data gives them."""
        ids = sorted({e for e in episode_ids if e})
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                sql = f"SELECT value FROM episode_parties WHERE basis = 'patient' AND episode_id IN ({marks})"  # noqa: S608
                rows = self._log.query(sql, chunk)
            except sqlite3.Error:  # no projection in this process: no link can be made
                rows = []
            found.update(self.key_of(str(r["value"])) for r in rows)
        return tuple(sorted(found))

    def write(self, *, principal: str, role: str, huvudman: str | None, endpoint: str, outcome: str,
              episode_id: str | None = None, episode_ids: Sequence[str] = (),
              patient_keys: Sequence[str] | None = None, client: str | None = None,
              detail: str | None = None) -> AuditRecord:
        """Append one record and return it; the caller answers only after this returned."""
        episodes = tuple(dict.fromkeys(e for e in episode_ids if e))
        if patient_keys is None:
            patient_keys = self.patient_keys([*episodes, *([episode_id] if episode_id else [])])
        kommun = huvudman.split(":", 1)[1] if huvudman and huvudman.startswith("kommun:") else None
        entry = AuditRecord(
            at=self._clock.now(), principal=principal[:100] or "-", role=role, municipality=kommun,
            huvudman=huvudman, endpoint=endpoint[:200], episode_id=episode_id[:128] if episode_id else None,
            episode_ids=tuple(e[:128] for e in episodes),
            patient_keys=tuple(patient_keys), outcome=outcome,
            client=client[:100] if client else None, detail=detail[:300] if detail else None)
        self._log.append([Append(topics.AUDIT, entry.principal, entry.model_dump_json().encode())])
        return entry
