"""Build one episode's canonical events with local Stockholm times, for engine tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hub.schemas import payloads as p
from hub.schemas.base import CareType, Service
from hub.schemas.envelope import Envelope, new_event
from tests.samples import HC, HSV, SOC, WARD, patient

STHLM = ZoneInfo("Europe/Stockholm")
NEEDS_CD = p.Needs(expected=frozenset({Service.SOCIAL_SERVICES, Service.MUNICIPAL_HEALTH_CARE,
                                        Service.PRIMARY_CARE}), changed=True)
NEEDS_C = p.Needs(expected=frozenset({Service.SOCIAL_SERVICES}), changed=True)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=STHLM)


class Episode:
    """Collects events of one episode in the order they are added."""

    def __init__(self, episode_id: str = "VLL-2026-000001", municipality: str = "2480",
                 ward: str = WARD) -> None:
        self.id = episode_id
        self.municipality = municipality
        self.ward = ward
        self.events: list[Envelope] = []

    def add(self, payload: p.Payload, at: dt.datetime, source: str = "/test") -> Envelope:
        ev = new_event(payload, episode_id=self.id, source=source,
                       source_message_id=f"{self.id}-{len(self.events)}", time=at, received_at=at)
        self.events.append(ev)
        return ev

    def admit(self, at: dt.datetime, needs: p.Needs | None = NEEDS_CD,
              care: CareType = CareType.SOMATIC) -> Episode:
        self.add(p.PatientAdmitted(patient=patient(self.municipality), ward=self.ward, admitted_at=at,
                                   needs=needs, care_type=care), at)
        return self

    def notice(self, at: dt.datetime, needs: p.Needs = NEEDS_CD, recipients=(SOC, HSV, HC),
               care: CareType = CareType.SOMATIC) -> Episode:
        self.add(p.AdmissionNoticeSent(notice_id=f"{self.id}-N", sender=WARD,
                                       patient=patient(self.municipality), needs=needs,
                                       recipients=tuple(recipients), care_type=care), at)
        return self

    def ack(self, unit: str, at: dt.datetime) -> Episode:
        self.add(p.MessageAcknowledged(message_id=f"{self.id}-N", unit=unit, acknowledged_at=at), at)
        return self

    def ready(self, at: dt.datetime) -> Episode:
        self.add(p.ReadyForDischarge(sender=WARD, assessed_at=at), at)
        return self

    def withdraw(self, at: dt.datetime) -> Episode:
        self.add(p.ReadyForDischargeWithdrawn(sender=WARD), at)
        return self

    def sip(self, at: dt.datetime) -> Episode:
        self.add(p.SipInvitationSent(sender=HC), at)
        return self

    def discharge(self, at: dt.datetime) -> Episode:
        self.add(p.PatientDischarged(ward=WARD, discharged_at=at), at)
        return self

    def cancel(self, at: dt.datetime) -> Episode:
        self.add(p.AdmissionCancelled(ward=WARD, cancelled_at=at), at)
        return self
