"""One vårdtillfälle's state, built from canonical events of every source.

The state records *facts* with their event time (when admitted, when the notice was sent, who
acknowledged it, when the patient became utskrivningsklar …). Facts are kept so that the order
in which events arrive does not matter: deadlines are derived from the facts afresh after every
event (``hub.domain.deadlines``). A duplicate — the same event id, or the same source message of
the same type — changes nothing.

Patient data is not kept: the state holds units, kommunkod, times and a keyed hash of the patient
(for readmissions), never a personnummer or a name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from pydantic import BaseModel, ConfigDict, Field

from hub.schemas import payloads as p
from hub.schemas.base import CareType, ColourTrack
from hub.schemas.envelope import Envelope
from hub.schemas.identifiers import is_municipal_unit


class AlertState(BaseModel):
    """Where one alert of the episode stands (what was already emitted). Immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: int = 0
    raised_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed: bool = Field(default=False, description="Resolved as no longer required: the rule's "
                         "next deadline is a new alert.")


class EpisodeState(BaseModel):
    """Facts of one vårdtillfälle. Field names are short on purpose: state is stored per episode."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    seen: list[str] = Field(default_factory=list, description="Digests of handled events.")
    patient_key: str | None = None
    municipality: str | None = None
    listed_unit: str | None = None
    care_type: CareType = CareType.SOMATIC
    ward: str | None = None
    admitted_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    discharged_at: dt.datetime | None = None
    discharge_cancelled_at: dt.datetime | None = None
    existing: list[str] = Field(default_factory=list)
    expected: list[str] = Field(default_factory=list)
    needs_changed: bool = False
    needs_known: bool = False
    needs_at: dt.datetime | None = None
    assessed_at: dt.datetime | None = None
    notice_id: str | None = None
    notice_event_id: str | None = None
    notice_at: dt.datetime | None = None
    notice_recipients: list[str] = Field(default_factory=list)
    notice_updated_at: dt.datetime | None = None
    transferred_at: dt.datetime | None = None
    acks: dict[str, dt.datetime] = Field(default_factory=dict, description="unit → first kvittering")
    estimated: dt.date | None = None
    estimate_changed_at: dt.datetime | None = None
    postponements: int = 0
    postponed_after_preparation: int = 0
    planning_at: dt.datetime | None = None
    planning_updates: list[dt.datetime] = Field(default_factory=list)
    completed_at: dt.datetime | None = Field(
        default=None, description="First update with every section answered after one without.")
    colour: ColourTrack | None = None
    incomplete_sections: list[str] = Field(default_factory=list)
    care_contact_at: dt.datetime | None = None
    care_contact_unit: str | None = None
    ready: list[tuple[dt.datetime, bool]] = Field(
        default_factory=list, description="(time, ready?) of utskrivningsklar notices and withdrawals")
    sip_invited_at: dt.datetime | None = None
    sip_meeting_at: dt.datetime | None = None
    sip_held_at: dt.datetime | None = None
    kommun_ready_at: dt.datetime | None = None
    discharge_notice_at: dt.datetime | None = None
    documents: dict[str, dt.datetime] = Field(default_factory=dict)
    information_at: dt.datetime | None = None
    readmission_of: str | None = None
    readmission_days: int | None = None
    quality: dict[str, dt.datetime] = Field(default_factory=dict,
                                            description="Data-quality findings: code → when.")
    wake: dt.datetime | None = None
    figures_key: str | None = None
    figures_sig: str | None = None
    alerts: dict[str, AlertState] = Field(default_factory=dict)

    # ── derived views ───────────────────────────────────────────────────────────────────────

    @property
    def is_discharged(self) -> bool:
        if self.discharged_at is None:
            return False
        return self.discharge_cancelled_at is None or self.discharge_cancelled_at < self.discharged_at

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def ready_at(self) -> dt.datetime | None:
        """Time of the utskrivningsklar notice currently in force, if any (last by event time)."""
        if not self.ready or not self.ready[-1][1]:
            return None
        return self.ready[-1][0]

    @property
    def first_ready_at(self) -> dt.datetime | None:
        return next((t for t, r in self.ready if r), None)

    def ready_periods(self, end: dt.datetime | None) -> list[tuple[dt.datetime, dt.datetime | None]]:
        """Periods as utskrivningsklar: (notice, withdrawal or ``end``)."""
        periods: list[tuple[dt.datetime, dt.datetime | None]] = []
        start: dt.datetime | None = None
        for when, is_ready in self.ready:
            if is_ready and start is None:
                start = when
            elif not is_ready and start is not None:
                periods.append((start, when))
                start = None
        if start is not None:
            periods.append((start, end))
        return periods


def patient_key(patient_id: str, secret: bytes) -> str:
    """Keyed hash of a patient identifier: links a patient's episodes without storing the number."""
    return hmac.new(secret, patient_id.encode(), hashlib.sha256).hexdigest()[:24]


def _digest(text: str) -> str:
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


def _earliest(current: dt.datetime | None, new: dt.datetime) -> dt.datetime:
    return new if current is None or new < current else current


def _latest(current: dt.datetime | None, new: dt.datetime) -> dt.datetime:
    return new if current is None or new > current else current


def apply(state: EpisodeState, event: Envelope, *, secret: bytes) -> tuple[EpisodeState, bool]:
    """Record the facts of one event. Returns (new state, whether anything changed).

    The input state is not modified. Data-quality findings (events after a cancellation, a
    discharge before the admission …) are recorded in ``quality``; nothing raises.
    """
    keys = (_digest(event.id), _digest(f"{event.source}|{event.source_message_id}|{event.type}"))
    if any(k in state.seen for k in keys):
        return state, False
    # A shallow copy: _record replaces, never mutates, the containers it changes.
    s = state.model_copy()
    s.seen = [*state.seen, *keys]
    _record(s, event, secret)
    _check_order(s, event)
    return s, True


def _patient(s: EpisodeState, patient: p.Patient | None, secret: bytes) -> None:
    if patient is None:
        return
    s.patient_key = patient_key(patient.id.value, secret)
    if patient.municipality:
        s.municipality = patient.municipality
    if patient.listed_unit:
        s.listed_unit = patient.listed_unit


def _needs(s: EpisodeState, needs: p.Needs | None, at: dt.datetime) -> None:
    if needs is None:
        return
    if s.needs_at is not None and at < s.needs_at:
        return  # an older statement of needs than the one we have
    s.existing = sorted(v.value for v in needs.existing)
    s.expected = sorted(v.value for v in needs.expected)
    s.needs_changed = needs.changed
    s.needs_known = True
    s.needs_at = at


def _record(s: EpisodeState, event: Envelope, secret: bytes) -> None:
    d, t = event.data, event.time
    match d:
        case p.PatientAdmitted():
            _patient(s, d.patient, secret)
            s.admitted_at, s.ward, s.care_type = d.admitted_at, d.ward, d.care_type
            if d.estimated_discharge and s.estimated is None:
                s.estimated = d.estimated_discharge
            _needs(s, d.needs, t)
        case p.AdmissionNoticeSent():
            _patient(s, d.patient, secret)
            if s.notice_at is None or t < s.notice_at:
                s.notice_at, s.notice_id, s.notice_event_id = t, d.notice_id, event.id
            s.notice_recipients = sorted(set(s.notice_recipients) | set(d.recipients))
            if d.assessed_at is not None:
                s.assessed_at = d.assessed_at
            if d.care_type is not None:  # absent: the admission's care type stays
                s.care_type = d.care_type
            if d.estimated_discharge and s.estimated is None:
                s.estimated = d.estimated_discharge
            _needs(s, d.needs, t)
        case p.AdmissionNoticeUpdated():
            s.notice_updated_at = _latest(s.notice_updated_at, t)
            if d.ward:
                s.ward = d.ward
            _patient(s, d.patient, secret)
            _needs(s, d.needs, t)
        case p.PatientTransferred():
            s.transferred_at, s.ward = _latest(s.transferred_at, d.transferred_at), d.to_ward
        case p.MessageAcknowledged():
            if d.message_id == s.notice_id or s.notice_id is None:
                s.acks = {**s.acks, d.unit: min(s.acks.get(d.unit, d.acknowledged_at), d.acknowledged_at)}
        case p.EstimatedDischargeDateSet():
            if s.estimated is None:
                s.estimated = d.date
        case p.EstimatedDischargeDateChanged():
            previous = s.estimated or d.previous
            s.estimated, s.estimate_changed_at = d.date, _latest(s.estimate_changed_at, t)
            if previous is not None and d.date > previous:
                s.postponements += 1
                if _kommun_preparing(s, t):
                    s.postponed_after_preparation += 1
        case p.PlanningBasisUpdated():
            s.planning_updates = sorted({*s.planning_updates, d.updated_at})[-_MAX_UPDATES:]
            if s.planning_at is None or d.updated_at >= s.planning_at:
                was_incomplete = bool(s.incomplete_sections)
                s.planning_at = d.updated_at
                if d.colour is not None:
                    s.colour = d.colour
                s.incomplete_sections = sorted(
                    sec.code for sec in d.sections if sec.status.value != "besvarad")
                if was_incomplete and not s.incomplete_sections:
                    s.completed_at = d.updated_at
        case p.CareContactAssigned():
            s.care_contact_at = _earliest(s.care_contact_at, d.assigned_at)
            s.care_contact_unit = d.unit
        case p.ReadyForDischarge():
            s.ready = sorted({*s.ready, (t, True)})
        case p.ReadyForDischargeWithdrawn():
            s.ready = sorted({*s.ready, (t, False)})
        case p.SipInvitationSent():
            s.sip_invited_at = _earliest(s.sip_invited_at, t)
            if d.meeting_at is not None:
                s.sip_meeting_at = d.meeting_at
        case p.SipHeld():
            s.sip_held_at = _earliest(s.sip_held_at, d.held_at)
        case p.MunicipalityReady():
            s.kommun_ready_at = _earliest(s.kommun_ready_at, t)
        case p.DischargeNoticeSent():
            s.discharge_notice_at = _earliest(s.discharge_notice_at, t)
        case p.PatientDischarged():
            s.discharged_at = d.discharged_at
        case p.DischargeCancelled():
            s.discharge_cancelled_at = d.cancelled_at
        case p.AdmissionCancelled():
            s.cancelled_at = d.cancelled_at
        case p.DischargeDocumentsAvailable():
            s.documents = {**s.documents, **{doc: min(s.documents.get(doc, d.available_at), d.available_at)
                                             for doc in d.documents}}
        case p.PatientInformationGiven():
            s.information_at = _earliest(s.information_at, d.given_at)
        case p.ReadmissionLinked():
            s.readmission_of, s.readmission_days = d.previous_episode, d.days_after_discharge
        case p.PatientInformationUpdated():
            _patient(s, d.patient, secret)
            if d.ward:
                s.ward = d.ward
            if d.estimated_discharge:
                s.estimated = d.estimated_discharge
        case p.PatientRecordsMerged():
            s.patient_key = patient_key(d.patient.value, secret)
        case _:
            pass  # registered, leave of absence, transfer cancelled: on the timeline only


def _kommun_preparing(s: EpisodeState, at: dt.datetime) -> bool:
    """The kommun had started preparing: it acknowledged the notice or reported ready before ``at``."""
    started = [t for u, t in s.acks.items() if is_municipal_unit(u)]
    if s.kommun_ready_at is not None:
        started.append(s.kommun_ready_at)
    return any(t <= at for t in started)


_LATE_AFTER_CANCEL = ("admission_notice_sent", "ready_for_discharge", "discharge_notice_sent",
                      "sip_invitation_sent")


_MAX_UPDATES = 16


def _check_order(s: EpisodeState, event: Envelope) -> None:
    """Record impossible sequences as data-quality findings; they raise alerts, never errors."""
    name = type(event.data).EVENT_NAME
    if s.admitted_at and s.discharged_at and s.discharged_at < s.admitted_at:
        _finding(s, "discharge_before_admission", event.time)
    if s.cancelled_at and name in _LATE_AFTER_CANCEL and event.time >= s.cancelled_at:
        _finding(s, f"{name}_after_cancellation", event.time)


def _finding(s: EpisodeState, code: str, at: dt.datetime) -> None:
    if code not in s.quality:
        s.quality = {**s.quality, code: at}
