"""Examples of the console, bridge and held-message answers, for the OpenAPI document."""

from typing import Any

from hub.api.errors import responses


def ok(example: Any, media: str = "application/json") -> dict[int | str, dict[str, Any]]:
    """A 200 answer with its example, and the refusals every authenticated operation can give."""
    return {200: {"content": {media: {"example": example}}}, **responses(401, 403)}


ME: Any = {"name": "umea-mas", "role": "kommun", "municipality": "2480", "sees_patient_data": True}
LABELS: Any = {
    "rules": {
        "admission_notice": {
            "namn": "Inskrivningsmeddelande inom 24 timmar",
            "forklaring": "Slutenvården skickar inskrivningsmeddelandet inom 24 timmar från inskrivning.",
            "kalla": "SFS 2017:612",
        }
    }
}
SOURCES: Any = "# Källor\n\n- SFS 2017:612 Lag om samverkan vid utskrivning från sluten hälso- och sjukvård\n"
NAMES: Any = {
    "units": {"SE2321000222-V001": "Medicinavdelning 1, Umeå"},
    "municipalities": {"2480": "Umeå"},
    "county": ["2480"],
}
EPISODES: Any = {
    "total": 1,
    "page": 1,
    "page_size": 25,
    "items": [
        {
            "episode_id": "VLL-2026-000123",
            "municipality": "2480",
            "ward": "SE2321000222-V001",
            "status": "utskrivningsklar",
            "category": "C",
            "care_type": "somatik",
            "admitted_at": "2026-03-02T08:30:00Z",
            "ready_at": "2026-03-05T10:00:00Z",
            "discharged_at": None,
            "open_alerts": 1,
        }
    ],
}
ALERT_HISTORY: Any = [{"period": "2026-03", "rule": "kvittering", "raised": 12}]
SEARCH: Any = {
    "hits": [{"episode_id": "VLL-2026-000123", "matched": "msh10", "source_message_ids": ["COSMIC|VLL|MSG0001"]}]
}
LINEAGE: Any = {
    "source_message_id": "COSMIC|VLL|MSG0001",
    "episode_id": "VLL-2026-000123",
    "raw": None,
    "events": [
        {
            "id": "7c1e0b52-3f0a-5d1b-9a57-0d6f3c2b1a90",
            "type": "se.svu.patient_admitted.v1",
            "time": "2026-03-02T08:30:00Z",
            "source": "/hl7/COSMIC",
        }
    ],
    "deliveries": [],
}
BRIDGE: Any = {
    "stuck_after_seconds": 3600,
    "systems": [
        {
            "system": "lifecare",
            "circuit": "closed",
            "units": [
                {
                    "receiver": "SE2120000000-K001",
                    "pending": 2,
                    "delivered": 140,
                    "acknowledged": 131,
                    "dead_lettered": 0,
                    "oldest_pending_seconds": 95,
                }
            ],
        }
    ],
}
DELIVERIES: Any = [
    {
        "delivery_id": "d-1",
        "episode_id": "VLL-2026-000123",
        "system": "lifecare",
        "receiver": "SE2120000000-K001",
        "message_type": "admission_notice",
        "idempotency_key": "k-1",
        "status": "pending",
        "requested_at": "2026-03-02T08:31:00Z",
        "updated_at": "2026-03-02T08:31:00Z",
        "detail": None,
        "handover": 0,
    }
]
RESENT: Any = {"delivery_id": "d-1", "idempotency_key": "k-1", "status": "pending"}
HELD: Any = [{"source": "hl7", "sender": "COSMIC|VLL", "reason": "ward_unknown", "subject": "NEW1", "count": 3}]
HELD_NOTES: Any = [{"source": "hl7", "sender": "COSMIC|VLL", "reason": "control_id_reused", "subject": "", "count": 1}]
HELD_MESSAGES: Any = [
    {
        "source": "hl7",
        "number": 1,
        "sender": "COSMIC|VLL",
        "reason": "ward_unknown",
        "subject": "NEW1",
        "text": "ward is not in the unit directory",
        "episode_id": None,
        "received_at": "2026-03-02T08:30:00Z",
    }
]
RELEASED: Any = {"released": 3, "still_held": 0, "dead_lettered": 0}
