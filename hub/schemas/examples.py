"""Synthetic samples of every canonical payload, shared by the tests and the published contracts
(the AsyncAPI document's message examples are built from them). No real patient: personnummer
19121212-1212 is the well-known test number (Skatteverket's "Tolvan Tolvansson")."""

from __future__ import annotations

import datetime as dt

from hub.schemas import operations as o
from hub.schemas import payloads as p
from hub.schemas.base import AnswerStatus, CareType, ColourTrack, Service, TargetSystem
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.figures import MonthlyFigures

T0 = dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)
PNR = "191212121212"
# HSA-ids of Region Västerbotten (organisationsnummer 232100-0248) and of Umeå and Luleå kommun
# (212000-2480, 212000-2580), synthetic units with correct check digits.
WARD = "SE2321000248-V00"
WARD2 = "SE2321000248-V01"
HC = "SE2321000248-HC2480"
SOC = "SE2120024803-SOC"
HSV = "SE2120024803-HSV"
SOC_LULEA = "SE2120025800-SOC"


def patient(municipality: str = "2480") -> p.Patient:
    return p.Patient(
        id=PNR,
        name="Tolvan Tolvansson",
        address=p.Address(street="Storgatan 1", postal_code="903 25", city="Umeå"),
        municipality=municipality,
        listed_unit=HC,
    )


def t(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def sample_payloads() -> list[p.Payload]:
    """One instance of every payload type."""
    needs = p.Needs(existing=frozenset({Service.SOCIAL_SERVICES}),
                    expected=frozenset({Service.SOCIAL_SERVICES, Service.MUNICIPAL_HEALTH_CARE}),
                    changed=True)
    return [
        p.PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0), visit_number="V1",
                          estimated_discharge=dt.date(2026, 3, 6), needs=needs),
        p.PatientRegistered(patient=patient(), unit=WARD, registered_at=t(0)),
        p.AdmissionNoticeSent(notice_id="N1", sender=WARD, patient=patient(),
                              estimated_discharge=dt.date(2026, 3, 6), needs=needs,
                              recipients=(SOC, HSV, HC)),
        p.AdmissionNoticeUpdated(notice_id="N1", sender=WARD2, reason="ward_transfer", ward=WARD2),
        p.PatientTransferred(from_ward=WARD, to_ward=WARD2, transferred_at=t(5)),
        p.TransferCancelled(ward=WARD2, cancelled_at=t(6)),
        p.PatientInformationUpdated(ward=WARD, updated_at=t(7)),
        p.MessageAcknowledged(message_id="N1", unit=SOC, acknowledged_at=t(9)),
        p.EstimatedDischargeDateSet(date=dt.date(2026, 3, 6), unit=WARD),
        p.EstimatedDischargeDateChanged(previous=dt.date(2026, 3, 6), date=dt.date(2026, 3, 8),
                                        unit=WARD, reason="Försämring"),
        p.PlanningBasisUpdated(unit=WARD, colour=ColourTrack.YELLOW, updated_at=t(10), sections=(
            p.PlanningSection(code="adl", status=AnswerStatus.ANSWERED, text="Behöver stöd"),
            p.PlanningSection(code="rehab", status=AnswerStatus.UNKNOWN))),
        p.CareContactAssigned(unit=HC, contact_name="Kerstin Ödmark", assigned_at=t(11)),
        p.ReadyForDischarge(sender=WARD, assessed_at=t(48), recipients=(SOC, HSV, HC)),
        p.ReadyForDischargeWithdrawn(sender=WARD, reason="Feber"),
        p.SipInvitationSent(sender=HC, meeting_at=t(200), place="Hemma",
                            participants=(SOC, HSV)),
        p.SipHeld(unit=HC, held_at=t(200)),
        p.MunicipalityReady(municipality="2480", unit=SOC, sol_services=("hemtjänst",),
                            hsl_services=("såromläggning",)),
        p.DischargeNoticeSent(sender=WARD, discharge_at=t(80)),
        p.PatientDischarged(ward=WARD, discharged_at=t(80), disposition="01"),
        p.DischargeCancelled(ward=WARD, cancelled_at=t(81)),
        p.AdmissionCancelled(ward=WARD, cancelled_at=t(1)),
        p.LeaveOfAbsenceStarted(ward=WARD, started_at=t(30)),
        p.LeaveOfAbsenceEnded(ward=WARD, ended_at=t(40)),
        p.PatientRecordsMerged(patient=PNR, merged="191212121212"),
        p.DischargeDocumentsAvailable(unit=WARD, documents=frozenset({"epikris"}),
                                      available_at=t(80)),
        p.PatientInformationGiven(unit=WARD, given_to="patient", given_at=t(79)),
        p.ReadmissionLinked(previous_episode="VLL-2026-000000", previous_discharged_at=t(-100),
                            admitted_at=t(0), days_after_discharge=4),
        o.AlertRaised(alert_id="A1", rule="admission_notice", rule_source="vasterbotten#x",
                      responsible_unit=WARD, municipality="2480", deadline=t(24), raised_at=t(24)),
        o.AlertEscalated(alert_id="A1", level=2, escalated_at=t(30)),
        o.AlertResolved(alert_id="A1", resolved_at=t(31), resolution="message_arrived",
                        lateness_seconds=25200),
        o.AlertAcknowledged(alert_id="A1", by="ops-anna", at=t(25), note="Ringt avdelningen"),
        o.AlertAssigned(alert_id="A1", by="ops-anna", assignee="team-umea", at=t(25)),
        o.DeliveryRequested(delivery_id="D1", idempotency_key="K1", receiver=SOC,
                            system=TargetSystem.PRATOR, message_type="admission_notice_sent",
                            source_event_id="E1", content={"type": "se.svu.sip_held.v1", "data": {}}),
        o.DeliveryStatusChanged(delivery_id="D1", status=o.DeliveryStatus.DELIVERED, at=t(2)),
        MonthlyFigures(municipality="2480", month="2026-03", care_type=CareType.SOMATIC,
                       episodes_closed=3, episodes_ready=2, mean_days_ready_all=1.5),
    ]


def event(payload: p.Payload, episode: str = "VLL-2026-000001", *, seq: int = 1,
          at: dt.datetime | None = None, source: str = "/test") -> Envelope:
    when = at or T0 + dt.timedelta(minutes=seq)
    return new_event(payload, episode_id=episode, source=source,
                     source_message_id=f"{episode}-m{seq}", time=when, received_at=when)
