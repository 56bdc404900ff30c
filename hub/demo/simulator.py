"""A deterministic simulator of one county's samverkan-vid-utskrivning traffic.

Each vårdtillfälle runs through the whole process — inskrivning, inskrivningsmeddelande,
kvitteringar, planeringsunderlag with a färgspår, utskrivningsklar, kallelse till SIP,
kommunklar, utskrivning — as canonical events from the EHR, LifeCare/Prator and the kommun.
Some episodes break deadlines (late notice, missing kvittering, late SIP invitation, postponed
date) and a few messages are bad input. Patients are synthetic: personnummer in the test series
(födelsenummer 980–999) with correct check digits, invented names.

The same (county, start, episodes, seed) always gives the same traffic.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import orjson
from stdnum import luhn

from hub.demo.units import CountyUnits, county_units
from hub.schemas.base import AnswerStatus, CareType, ColourTrack, Service
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.payloads import (
    Address,
    AdmissionNoticeSent,
    CareContactAssigned,
    DischargeDocumentsAvailable,
    DischargeNoticeSent,
    EstimatedDischargeDateChanged,
    EstimatedDischargeDateSet,
    MessageAcknowledged,
    MunicipalityReady,
    Needs,
    Patient,
    PatientAdmitted,
    PatientDischarged,
    PatientInformationGiven,
    Payload,
    PlanningBasisUpdated,
    PlanningSection,
    ReadyForDischarge,
    SipHeld,
    SipInvitationSent,
)

FIRST = ("Åsa", "Örjan", "Märta", "Göran", "Ingrid", "Åke", "Sölve", "Britt", "Nils", "Elsa",
         "Gunnel", "Håkan", "Ulla", "Bengt", "Märit", "Sture")
LAST = ("Öberg", "Åström", "Lindgren", "Näslund", "Bäckström", "Holmgren", "Sjölander",
        "Lundström", "Grönlund", "Älvsbyn-Nilsson", "Marklund", "Öhman")
STREETS = ("Storgatan", "Skolgatan", "Kyrkvägen", "Björkvägen", "Älvvägen", "Solgatan")
SECTIONS = ("status", "adl", "formagor", "rehab", "egenvard", "lakemedel")
KVITTERING_TIMES = (dt.time(9), dt.time(14))
STOCKHOLM = dt.timezone(dt.timedelta(hours=1))  # only for picking plausible local clock times


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One message of the traffic: when it is sent and its bytes (canonical JSON or bad input)."""

    at: dt.datetime
    raw: bytes
    episode_id: str
    note: str = ""


def synthetic_personnummer(rng: random.Random) -> str:
    """A 12-digit personnummer in the test series (födelsenummer 980–999), check digit right."""
    born = dt.date(1925, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 40))
    serial = f"{rng.randrange(980, 1000):03d}"
    ten = born.strftime("%y%m%d") + serial
    return born.strftime("%Y%m%d") + serial + luhn.calc_check_digit(ten)


def _next_kvittering(after: dt.datetime) -> dt.datetime:
    local = after.astimezone(STOCKHOLM)
    for days in range(0, 3):
        day = local.date() + dt.timedelta(days=days)
        for t in KVITTERING_TIMES:
            candidate = dt.datetime.combine(day, t, STOCKHOLM)
            if candidate > local:
                return candidate.astimezone(dt.UTC)
    raise AssertionError("unreachable")


class _Episode:
    """Builds the events of one vårdtillfälle."""

    def __init__(self, sim: Simulator, index: int, rng: random.Random) -> None:
        self.sim, self.rng = sim, rng
        u = sim.units
        self.kommun = rng.choice(u.kommuner)
        self.ward = rng.choice(u.wards)
        self.id = f"{u.prefix}-{sim.start.year}-{index:06d}"
        self.items: list[Scheduled] = []
        self._seq = 0
        self.psych = "Psykiatrisk" in self.ward.name
        self.patient = Patient(
            id=synthetic_personnummer(rng),
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            address=Address(street=f"{rng.choice(STREETS)} {rng.randrange(1, 60)}",
                            postal_code=f"9{rng.randrange(1000, 9999)}", city=self.kommun.name),
            municipality=self.kommun.code,
            listed_unit=u.primary_care[self.kommun.code].hsa_id,
        )

    def emit(self, at: dt.datetime, payload: Payload, source: str, note: str = "") -> None:
        self._seq += 1
        event = new_event(payload, episode_id=self.id, source=source,
                          source_message_id=f"{self.id}-m{self._seq:03d}", time=at, received_at=at)
        self.items.append(Scheduled(at, event.to_json(), self.id, note))

    def bad(self, at: dt.datetime, raw: bytes, note: str) -> None:
        self.items.append(Scheduled(at, raw, self.id, note))


class Simulator:
    """Plays ``episodes`` vårdtillfällen of ``county`` admitted over ``span`` from ``start``."""

    def __init__(self, county: str = "vasterbotten", *, start: dt.datetime, episodes: int = 60,
                 seed: int = 2017_612, span: dt.timedelta = dt.timedelta(hours=36),
                 bad_share: float = 0.06, index_offset: int = 0) -> None:
        self.units: CountyUnits = county_units(county)
        self.county = county
        self.start = start.astimezone(dt.UTC)
        self.episodes = episodes
        self.seed = seed
        self.span = span
        self.bad_share = bad_share
        self.index_offset = index_offset

    def traffic(self) -> list[Scheduled]:
        """Every message of every episode, ordered by send time."""
        items: list[Scheduled] = []
        for i in range(1 + self.index_offset, self.episodes + self.index_offset + 1):
            rng = random.Random(f"{self.seed}:{i}")
            items.extend(self._episode(i, rng))
        items.sort(key=lambda s: (s.at, s.episode_id))
        return items

    def events(self) -> list[Envelope]:
        """The valid messages as canonical events (bad input left out)."""
        from hub.schemas.envelope import parse_event

        out = []
        for item in self.traffic():
            if not item.note.startswith("bad:"):
                out.append(parse_event(item.raw))
        return out

    def _episode(self, index: int, rng: random.Random) -> list[Scheduled]:
        ep = _Episode(self, index, rng)
        u, k = self.units, ep.kommun
        ehr = f"/ehr/cosmic/{self.county}"
        spu = f"/lifecare/{self.county}"
        kommun_src = f"/kommun/{k.code}"
        t0 = self.start + dt.timedelta(seconds=rng.uniform(0, self.span.total_seconds()))
        stay_days = rng.uniform(2, 7)
        estimated = (t0 + dt.timedelta(days=stay_days)).date()
        care = CareType.PSYCHIATRIC if ep.psych else CareType.SOMATIC
        expected = {Service.SOCIAL_SERVICES}
        if rng.random() < 0.6:
            expected.add(Service.MUNICIPAL_HEALTH_CARE)
        if rng.random() < 0.5:
            expected.add(Service.PRIMARY_CARE)
        existing = frozenset(s for s in expected if rng.random() < 0.5)
        needs = Needs(existing=existing, expected=frozenset(expected),
                      changed=existing != frozenset(expected))
        # Most needs are known at the ankomstsamtal (S2); the rest only from the notice.
        ep.emit(t0, PatientAdmitted(patient=ep.patient, ward=ep.ward.hsa_id, admitted_at=t0,
                                    care_type=care, visit_number=f"V{index:07d}",
                                    estimated_discharge=estimated,
                                    needs=needs if rng.random() < 0.8 else None), ehr)
        recipients = [u.social_services[k.code].hsa_id]
        if Service.MUNICIPAL_HEALTH_CARE in expected:
            recipients.append(u.municipal_health[k.code].hsa_id)
        if Service.PRIMARY_CARE in expected or Service.MUNICIPAL_HEALTH_CARE in expected:
            recipients.append(u.primary_care[k.code].hsa_id)

        late_notice = rng.random() < 0.15
        t_notice = t0 + dt.timedelta(hours=rng.uniform(26, 40) if late_notice else rng.uniform(1, 20))
        notice = AdmissionNoticeSent(
            notice_id=f"{ep.id}-inskr", sender=ep.ward.hsa_id, patient=ep.patient,
            estimated_discharge=estimated, needs=needs, care_type=care,
            recipients=tuple(recipients))
        if rng.random() < self.bad_share:
            self._bad_input(ep, t_notice, notice, rng)
        ep.emit(t_notice, notice, spu, "late notice" if late_notice else "")
        ep.emit(t_notice, EstimatedDischargeDateSet(date=estimated, unit=ep.ward.hsa_id), spu)

        for unit in recipients:
            if rng.random() < 0.1:
                continue  # kvittering never comes: the missing-kvittering alert
            at = max(t_notice + dt.timedelta(minutes=1),
                     _next_kvittering(t_notice) + dt.timedelta(minutes=rng.uniform(-120, 15)))
            ep.emit(at, MessageAcknowledged(message_id=notice.notice_id, unit=unit,
                                            acknowledged_at=at), kommun_src)

        colour = rng.choice([ColourTrack.GREEN, ColourTrack.YELLOW, ColourTrack.RED,
                             ColourTrack.BLUE]) if needs.changed else ColourTrack.GREEN
        t_plan = t_notice + dt.timedelta(hours=rng.uniform(2, 30))
        sections = tuple(
            PlanningSection(code=s, status=AnswerStatus.UNKNOWN if rng.random() < 0.03
                            else AnswerStatus.ANSWERED) for s in SECTIONS)
        ep.emit(t_plan, PlanningBasisUpdated(unit=ep.ward.hsa_id, sections=sections,
                                             colour=colour, updated_at=t_plan), spu)
        answered = tuple(PlanningSection(code=s, status=AnswerStatus.ANSWERED) for s in SECTIONS)
        if u.primary_care[k.code].hsa_id in recipients:
            t_fvk = t_notice + dt.timedelta(hours=rng.uniform(3, 48))
            ep.emit(t_fvk, CareContactAssigned(unit=u.primary_care[k.code].hsa_id,
                                               contact_name="Distriktssköterska Kerstin Ödmark",
                                               contact_phone="090-123 45 67", assigned_at=t_fvk),
                    spu)

        t_ready = t0 + dt.timedelta(days=stay_days * rng.uniform(0.6, 0.95))
        if rng.random() < 0.2:  # postponed after the kommun started preparing
            new = estimated + dt.timedelta(days=rng.randrange(1, 4))
            ep.emit(t_ready - dt.timedelta(hours=6), EstimatedDischargeDateChanged(
                previous=estimated, date=new, unit=ep.ward.hsa_id, reason="Försämring"), spu)
        ep.emit(t_ready, ReadyForDischarge(sender=ep.ward.hsa_id, assessed_at=t_ready,
                                           recipients=tuple(recipients)), spu)
        t_kommun = t_ready + dt.timedelta(hours=rng.uniform(4, 60))
        t_out = max(t_kommun, t_ready) + dt.timedelta(hours=rng.uniform(1, 30))
        # The planeringsunderlag is kept up to date through the stay (S2) …
        t_next = t_plan + dt.timedelta(hours=rng.uniform(20, 40))
        while t_next < t_out:
            ep.emit(t_next, PlanningBasisUpdated(unit=ep.ward.hsa_id, sections=answered,
                                                 colour=colour, updated_at=t_next), spu)
            t_next += dt.timedelta(hours=rng.uniform(20, 40) if rng.random() < 0.9 else 60)
        if u.primary_care[k.code].hsa_id in recipients:
            late_sip = rng.random() < 0.15
            t_sip = t_ready + dt.timedelta(days=rng.uniform(3.2, 5) if late_sip else rng.uniform(0.2, 2.5))
            window = {ColourTrack.GREEN: (7, 21), ColourTrack.YELLOW: (1, 6),
                      ColourTrack.RED: (-1, 0)}.get(colour, (7, 21))
            meeting = t_out + dt.timedelta(days=rng.uniform(*window))
            ep.emit(t_sip, SipInvitationSent(sender=u.primary_care[k.code].hsa_id,
                                             meeting_at=meeting, place="Hemma hos patienten",
                                             participants=tuple(recipients)), spu,
                    "late SIP invitation" if late_sip else "")
            if rng.random() < 0.85:
                held = max(meeting, t_sip + dt.timedelta(hours=1))
                ep.emit(held, SipHeld(unit=u.primary_care[k.code].hsa_id, held_at=held), spu)
        ep.emit(t_kommun, MunicipalityReady(municipality=k.code, unit=recipients[0],
                                            sol_services=("hemtjänst", "trygghetslarm"),
                                            hsl_services=("läkemedelshantering",)), kommun_src)
        ep.emit(t_out, PatientInformationGiven(unit=ep.ward.hsa_id, given_to="patient",
                                               given_at=t_out - dt.timedelta(hours=1)), spu)
        ep.emit(t_out, DischargeDocumentsAvailable(unit=ep.ward.hsa_id,
                                                   documents=frozenset({"epikris", "lakemedelslista"}),
                                                   available_at=t_out), spu)
        ep.emit(t_out, PatientDischarged(ward=ep.ward.hsa_id, discharged_at=t_out), ehr)
        ep.emit(t_out, DischargeNoticeSent(sender=ep.ward.hsa_id, discharge_at=t_out), spu)
        return ep.items

    @staticmethod
    def _bad_input(ep: _Episode, at: dt.datetime, notice: AdmissionNoticeSent,
                   rng: random.Random) -> None:
        """One bad message: the hub must refuse it clearly and keep it in the dead-letter store."""
        event = new_event(notice, episode_id=ep.id, source="/demo/bad",
                          source_message_id=f"{ep.id}-bad", time=at, received_at=at)
        obj = orjson.loads(event.to_json())
        kind = rng.randrange(4)
        if kind == 0:
            raw, note = event.to_json()[:200], "bad: truncated message"
        elif kind == 1:
            pnr = ep.patient.id.value
            obj["data"]["patient"]["id"] = pnr[:-1] + str((int(pnr[-1]) + 1) % 10)
            raw, note = orjson.dumps(obj), "bad: wrong personnummer check digit"
        elif kind == 2:
            obj["data"]["patient"]["municipality"] = "2499"
            raw, note = orjson.dumps(obj), "bad: unknown kommunkod"
        else:
            obj["type"] = "se.svu.admission_notice_sent.v9"
            raw, note = orjson.dumps(obj), "bad: unsupported event version"
        ep.bad(at, raw, note)
