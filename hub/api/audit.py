"""The audit log (patientdatalagen): every read of patient data through the API is appended to
``svu.audit`` — who, which episode, which endpoint, when, and whether it was allowed — before
the data is returned."""

from __future__ import annotations

from hub.api.security import Principal
from hub.domain.clock import Clock
from hub.schemas import topics
from hub.schemas.operations import AuditRecord
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog


class AuditLog:
    """Appends audit records durably."""

    def __init__(self, log: SqliteLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock
        log.create_topic(topics.AUDIT, 1)  # one partition: the audit trail has one total order

    def record(self, principal: Principal, *, endpoint: str, episode_id: str | None,
               outcome: str) -> AuditRecord:
        entry = AuditRecord(
            at=self._clock.now(),
            principal=principal.name,
            role=principal.role.value,
            municipality=principal.municipality,
            endpoint=endpoint,
            episode_id=episode_id,
            outcome=outcome,
        )
        self._log.append([Append(topics.AUDIT, principal.name, entry.model_dump_json().encode())])
        return entry
