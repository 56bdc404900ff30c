"""Payloads of the canonical SVU events: one type per step of the process (domain.md §1 and its
message catalogue), plus the HL7 ADT facts the EHR adapters report.

Names are English and past tense; the Swedish term is in each docstring. Every payload names
its ``EVENT_NAME``; the envelope turns it into the CloudEvents ``type``
(``se.svu.<EVENT_NAME>.v<VERSION>``).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field, field_serializer

from hub.schemas.base import AnswerStatus, CanonicalModel, CareType, ColourTrack, Instant, Service
from hub.schemas.identifiers import HsaId, Kommunkod, PatientIdentifier


class Payload(CanonicalModel):
    """Base of every event payload."""

    EVENT_NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1


# ── value objects ────────────────────────────────────────────────────────────────────────────


class Address(CanonicalModel):
    """Folkbokföringsadress: part of the law's minimum content of the inskrivningsmeddelande."""

    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(pattern=r"^\d{3} ?\d{2}$")
    city: str = Field(min_length=1, max_length=100)


class Patient(CanonicalModel):
    """The patient as the sender knows them. Name and address are patient data: never logged."""

    id: PatientIdentifier
    name: str | None = Field(default=None, max_length=200)
    address: Address | None = None
    municipality: Kommunkod | None = Field(
        default=None, description="Folkbokföringskommun; routes the kommun's meddelanden."
    )
    listed_unit: HsaId | None = Field(
        default=None, description="The hälsocentral the patient is listed at (regionens öppenvård)."
    )


class Needs(CanonicalModel):
    """Insatser the patient has before admission and is expected to need after discharge.

    ``changed`` marks new or changed needs (Västerbotten follows the two groups apart, S3).
    """

    existing: frozenset[Service] = frozenset()
    expected: frozenset[Service] = frozenset()
    changed: bool = False

    @field_serializer("existing", "expected")
    def _sorted(self, value: frozenset[Service]) -> list[str]:
        # sets serialise in a stable order: the same event gives the same bytes in every process
        return sorted(v.value for v in value)


class PlanningSection(CanonicalModel):
    """One section of the planeringsunderlag. The section list is not public; codes are free."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    status: AnswerStatus
    text: str | None = Field(default=None, max_length=4000)


# ── admission and the inskrivningsmeddelande ──────────────────────────────────────────────────


class PatientAdmitted(Payload):
    """Inskrivning i slutenvård (HL7 ADT A01). Starts the vårdtillfälle."""

    EVENT_NAME: ClassVar[str] = "patient_admitted"
    patient: Patient
    ward: HsaId
    admitted_at: Instant
    care_type: CareType = CareType.SOMATIC
    visit_number: str | None = Field(default=None, max_length=64, description="PV1-19")
    estimated_discharge: dt.date | None = Field(default=None, description="PV2-9")
    needs: Needs | None = Field(
        default=None,
        description="Insatser known at admission (ankomstsamtal, existing insatser): arms the "
        "24-hour deadline of the inskrivningsmeddelande before the notice itself arrives.",
    )


class PatientRegistered(Payload):
    """Registrering utan inskrivning (HL7 ADT A04), e.g. a patient seen at the emergency ward."""

    EVENT_NAME: ClassVar[str] = "patient_registered"
    patient: Patient
    unit: HsaId
    registered_at: Instant


class AdmissionNoticeSent(Payload):
    """Inskrivningsmeddelande: due within 24 h of inskrivning, or of the doctor's later bedömning.

    Law minimum content: namn, personnummer, folkbokföringsadress, beräknad tidpunkt för
    utskrivning (domain.md §1.2, W5).
    """

    EVENT_NAME: ClassVar[str] = "admission_notice_sent"
    notice_id: str = Field(min_length=1, max_length=128)
    sender: HsaId
    patient: Patient
    estimated_discharge: dt.date | None = None
    needs: Needs = Needs()
    care_type: CareType | None = Field(
        default=None, description="Only when the notice changes it; absent keeps the admission's.")
    assessed_at: Instant | None = Field(
        default=None, description="The doctor's bedömning when the need was found after admission."
    )
    recipients: tuple[HsaId, ...] = Field(
        default=(), description="Units the sender addressed; empty lets the hub route by category."
    )


class AdmissionNoticeUpdated(Payload):
    """Uppdaterat inskrivningsmeddelande, e.g. after a ward or hospital transfer (S4: often forgotten)."""

    EVENT_NAME: ClassVar[str] = "admission_notice_updated"
    notice_id: str = Field(min_length=1, max_length=128)
    sender: HsaId
    reason: str = Field(pattern=r"^(ward_transfer|hospital_transfer|needs_changed|correction)$")
    ward: HsaId | None = None
    needs: Needs | None = None
    patient: Patient | None = None


class PatientTransferred(Payload):
    """Flytt till annan avdelning eller annat sjukhus (HL7 ADT A02)."""

    EVENT_NAME: ClassVar[str] = "patient_transferred"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    from_ward: HsaId | None = None
    to_ward: HsaId
    transferred_at: Instant


class TransferCancelled(Payload):
    """Makulerad flytt (HL7 ADT A12)."""

    EVENT_NAME: ClassVar[str] = "transfer_cancelled"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    cancelled_at: Instant


class PatientInformationUpdated(Payload):
    """Ändrade patient- eller vårdtillfällesuppgifter (HL7 ADT A08)."""

    EVENT_NAME: ClassVar[str] = "patient_information_updated"
    patient: Patient | None = None
    ward: HsaId | None = None
    estimated_discharge: dt.date | None = None
    updated_at: Instant


class MessageAcknowledged(Payload):
    """Kvittering: a receiving unit confirms it has read a meddelande (S4, W3)."""

    EVENT_NAME: ClassVar[str] = "message_acknowledged"
    message_id: str = Field(min_length=1, max_length=128, description="The acknowledged message.")
    unit: HsaId
    acknowledged_at: Instant


class EstimatedDischargeDateSet(Payload):
    """Beräknat (preliminärt) utskrivningsdatum given for the first time."""

    EVENT_NAME: ClassVar[str] = "estimated_discharge_date_set"
    date: dt.date
    unit: HsaId


class EstimatedDischargeDateChanged(Payload):
    """Ändrat beräknat utskrivningsdatum; to be notified "så snart som möjligt" (W6)."""

    EVENT_NAME: ClassVar[str] = "estimated_discharge_date_changed"
    previous: dt.date | None = None
    date: dt.date
    unit: HsaId
    reason: str | None = Field(default=None, max_length=500)


class PlanningBasisUpdated(Payload):
    """Planeringsunderlag updated by one party; its answers give the färgspår (S2)."""

    EVENT_NAME: ClassVar[str] = "planning_basis_updated"
    unit: HsaId
    sections: tuple[PlanningSection, ...] = ()
    colour: ColourTrack | None = None
    updated_at: Instant


class CareContactAssigned(Payload):
    """Fast vårdkontakt utsedd by the öppenvård's verksamhetschef (W5)."""

    EVENT_NAME: ClassVar[str] = "care_contact_assigned"
    unit: HsaId
    contact_name: str | None = Field(default=None, max_length=200)
    contact_phone: str | None = Field(default=None, max_length=40)
    assigned_at: Instant


# ── utskrivningsklar, SIP, kommunklar ─────────────────────────────────────────────────────────


class ReadyForDischarge(Payload):
    """Meddelande om utskrivningsklar. Its time (the underrättelse) starts the kommun's
    payment-liability clock and the 3-day deadline for the kallelse till SIP (W6, W8)."""

    EVENT_NAME: ClassVar[str] = "ready_for_discharge"
    sender: HsaId
    assessed_at: Instant | None = Field(default=None, description="The doctor's bedömning.")
    recipients: tuple[HsaId, ...] = ()


class ReadyForDischargeWithdrawn(Payload):
    """Ej längre utskrivningsklar; to be notified omgående (W6). Stops the liability clock."""

    EVENT_NAME: ClassVar[str] = "ready_for_discharge_withdrawn"
    sender: HsaId
    reason: str | None = Field(default=None, max_length=500)


class SipInvitationSent(Payload):
    """Kallelse till SIP, sent by the fast vårdkontakt within 3 days of utskrivningsklar (W6, S2)."""

    EVENT_NAME: ClassVar[str] = "sip_invitation_sent"
    sender: HsaId
    meeting_at: Instant | None = None
    place: str | None = Field(default=None, max_length=200)
    participants: tuple[HsaId, ...] = ()
    patient_consent: bool = True


class SipHeld(Payload):
    """SIP-möte genomfört."""

    EVENT_NAME: ClassVar[str] = "sip_held"
    unit: HsaId
    held_at: Instant


class MunicipalityReady(Payload):
    """Kommunklarmeddelande: the kommun is ready to receive and lists its SoL and HSL insatser (S0)."""

    EVENT_NAME: ClassVar[str] = "municipality_ready"
    municipality: Kommunkod
    unit: HsaId
    sol_services: tuple[str, ...] = ()
    hsl_services: tuple[str, ...] = ()


# ── discharge ─────────────────────────────────────────────────────────────────────────────────


class DischargeNoticeSent(Payload):
    """Utskrivningsmeddelande, due on the day of utskrivning (S2)."""

    EVENT_NAME: ClassVar[str] = "discharge_notice_sent"
    sender: HsaId
    discharge_at: Instant


class PatientDischarged(Payload):
    """Utskrivning (HL7 ADT A03). Ends the vårdtillfälle and the liability clock."""

    EVENT_NAME: ClassVar[str] = "patient_discharged"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    discharged_at: Instant
    disposition: str | None = Field(default=None, max_length=64, description="PV1-36")
    destination: str | None = Field(default=None, max_length=200, description="PV1-37")


class DischargeCancelled(Payload):
    """Makulerad utskrivning (HL7 ADT A13)."""

    EVENT_NAME: ClassVar[str] = "discharge_cancelled"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    cancelled_at: Instant


class AdmissionCancelled(Payload):
    """Makulerad inskrivning (HL7 ADT A11). Later meddelanden for the episode are data-quality errors."""

    EVENT_NAME: ClassVar[str] = "admission_cancelled"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    cancelled_at: Instant


class LeaveOfAbsenceStarted(Payload):
    """Permission (HL7 ADT A21)."""

    EVENT_NAME: ClassVar[str] = "leave_of_absence_started"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    started_at: Instant


class LeaveOfAbsenceEnded(Payload):
    """Återkomst från permission (HL7 ADT A22)."""

    EVENT_NAME: ClassVar[str] = "leave_of_absence_ended"
    patient: Patient | None = Field(default=None, description="The patient of the message (PID), when it had one.")
    ward: HsaId
    ended_at: Instant


class PatientRecordsMerged(Payload):
    """Sammanslagning av patientidentiteter (HL7 ADT A40): ``merged`` is replaced by ``patient``."""

    EVENT_NAME: ClassVar[str] = "patient_records_merged"
    patient: PatientIdentifier
    merged: PatientIdentifier


class DischargeDocumentsAvailable(Payload):
    """Epikris and läkemedelslista available (via NPÖ): Gävleborg on the utskrivningsklar day,
    elsewhere at the latest on the discharge day (W6, S2)."""

    EVENT_NAME: ClassVar[str] = "discharge_documents_available"
    unit: HsaId
    documents: frozenset[str] = Field(description="Any of 'epikris', 'lakemedelslista'.")
    available_at: Instant

    @field_serializer("documents")
    def _sorted(self, value: frozenset[str]) -> list[str]:
        return sorted(value)


class PatientInformationGiven(Payload):
    """Skriftlig information till patienten (or a närstående): care summary, planned insatser,
    the fast vårdkontakt and the SIP's date, time and place (S0, S2)."""

    EVENT_NAME: ClassVar[str] = "patient_information_given"
    unit: HsaId
    given_to: str = Field(pattern=r"^(patient|narstaende)$")
    given_at: Instant


class ReadmissionLinked(Payload):
    """Återinskrivning: this vårdtillfälle began within the rule pack's window (30 days) after
    the discharge of an earlier one of the same patient (Socialstyrelsen's indicator, W19)."""

    EVENT_NAME: ClassVar[str] = "readmission_linked"
    previous_episode: str = Field(min_length=1, max_length=128)
    previous_discharged_at: Instant
    admitted_at: Instant
    days_after_discharge: int = Field(ge=0)


PROCESS_PAYLOADS: tuple[type[Payload], ...] = (
    PatientAdmitted,
    PatientRegistered,
    AdmissionNoticeSent,
    AdmissionNoticeUpdated,
    PatientTransferred,
    TransferCancelled,
    PatientInformationUpdated,
    MessageAcknowledged,
    EstimatedDischargeDateSet,
    EstimatedDischargeDateChanged,
    PlanningBasisUpdated,
    CareContactAssigned,
    ReadyForDischarge,
    ReadyForDischargeWithdrawn,
    SipInvitationSent,
    SipHeld,
    MunicipalityReady,
    DischargeNoticeSent,
    PatientDischarged,
    DischargeCancelled,
    AdmissionCancelled,
    LeaveOfAbsenceStarted,
    LeaveOfAbsenceEnded,
    PatientRecordsMerged,
    DischargeDocumentsAvailable,
    PatientInformationGiven,
    ReadmissionLinked,
)
"""Every fact about a vårdtillfälle that travels on ``svu.events``."""
