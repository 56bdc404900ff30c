"""The audit log (patientdatalagen 4 kap. 3 §): every response of the API that carries patient
data writes its record to ``svu.audit`` before it is returned — principal, role, huvudman,
endpoint, the episodes shown, the keyed patient hashes of their patients, time and outcome
(``hub.streams.audit``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hub.api.security import Principal
from hub.domain.clock import Clock
from hub.schemas.operations import AuditRecord
from hub.streams.audit import AuditLogPort, AuditTrail


class AuditLog:
    """Appends audit records for API principals."""

    def __init__(self, log: AuditLogPort, clock: Clock, secret: bytes) -> None:
        self.trail = AuditTrail(log, clock, secret)

    def record(self, principal: Principal, *, endpoint: str, episode_id: str | None = None,
               outcome: str = "read", episode_ids: Iterable[str] = (),
               patient_keys: Sequence[str] | None = None, detail: str | None = None) -> AuditRecord:
        return self.trail.write(principal=principal.name, role=principal.role.value,
                                huvudman=principal.huvudman, endpoint=endpoint, outcome=outcome,
                                episode_id=episode_id, episode_ids=list(episode_ids),
                                patient_keys=patient_keys, client=principal.client, detail=detail)
