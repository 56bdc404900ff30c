"""What the API reads from and writes to, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.domain.clock import Clock
from hub.settings import HubSettings
from hub.streams.ingest import Ingestor, Outcome
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

Replayer = Callable[[bytes, str], Outcome]
"""Re-submits a dead letter's (possibly corrected) bytes; the second argument is its id."""


@dataclass
class ApiContext:
    """The hub's parts the API uses."""

    settings: HubSettings
    log: SqliteLog
    clock: Clock
    runtime: EmbeddedRuntime | None = None
    ingestor: Ingestor | None = None
    resources: Any = None
    replayers: dict[str, Replayer] = field(default_factory=dict)
    collectors: list[Any] = field(default_factory=list)
    checks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    """Further readiness checks by name (e.g. the Kafka mirror), each giving at least ``ok``."""
    door: Any = None
    """The inbound door (``hub.streams.door.Door``), set by ``create_app``."""
    circuits: dict[str, Callable[[], str]] = field(default_factory=dict)
    """Per target system: its circuit breaker's state now ("closed" or "open")."""
    held: Any = None
    """The HeldStore (messages held until the hub can place them), if the hub has one."""

    def replayer_for(self, source: str) -> Replayer | None:
        """The replayer for a dead letter's source: an adapter's, or canonical JSON ingest."""
        if source in self.replayers:
            return self.replayers[source]
        if self.ingestor is None or source.startswith(("processor-", "routing")):
            return None
        ingestor = self.ingestor

        def canonical(raw: bytes, original: str) -> Outcome:
            return ingestor.submit(source, [raw], connection="replay", replay_of=original)[0]

        return canonical
