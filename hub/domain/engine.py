"""The process engine: one state per vårdtillfälle, every deadline of the law and the county
agreement, routing of each meddelande to its receivers, and alerts.

Pure: ``on_event``/``on_timer`` take ``now`` and return the new state, the records to publish
(alerts on ``svu.alerts``, deliveries on ``svu.deliveries.<system>.<receiver>``, dead letters
for what cannot be routed) and the next wake-up. The rule pack and the unit directory are data,
handed in by the composition root; the directory may be replaced while running.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

from hub.domain import alerting, deadlines
from hub.domain.agreements import Agreements
from hub.domain.directory import UnitDirectory
from hub.domain.episode import EpisodeState, apply
from hub.domain.figures import episode_figures
from hub.domain.processor import Emit, EventProcessor, Step
from hub.domain.routing import Receiver, receivers, requirements
from hub.domain.rules import RulePack
from hub.domain.stats import stats_key
from hub.schemas import payloads as p
from hub.schemas import topics
from hub.schemas.base import UnitKind
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.figures import EpisodeFigures
from hub.schemas.operations import (
    DeadLetter,
    DeliveryRequested,
    DeliveryStatus,
    DeliveryStatusChanged,
    PatientIndexEntry,
)

SOURCE = "/hub/engine"

ROUTED: tuple[type[p.Payload], ...] = (
    p.AdmissionNoticeSent, p.AdmissionNoticeUpdated, p.EstimatedDischargeDateChanged,
    p.PlanningBasisUpdated, p.CareContactAssigned, p.ReadyForDischarge, p.ReadyForDischargeWithdrawn,
    p.SipInvitationSent, p.DischargeNoticeSent,
)
"""Meddelanden from the slutenvård or the FVK that go to every unit the category requires."""

TO_WARD: tuple[type[p.Payload], ...] = (p.MunicipalityReady, p.MessageAcknowledged)
"""Meddelanden from the kommun or a receiving unit that go back to the ward."""


def idempotency_key(source_message_id: str, receiver: str) -> str:
    """Same source message, same receiver → same key: a re-send never makes a second message."""
    return hashlib.sha256(f"{source_message_id}|{receiver}".encode()).hexdigest()[:32]


class EpisodeEngine(EventProcessor[EpisodeState]):
    """The SVU process engine over ``svu.events``, keyed by episode."""

    NAME: ClassVar[str] = "engine"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)
    STATE = EpisodeState

    def __init__(self, pack: RulePack, directory: Callable[[], UnitDirectory | None],
                 secret: bytes, *, agreements: Agreements | None = None) -> None:
        self.pack = pack
        self.agreements = agreements or Agreements.only(pack)
        self.directory = directory
        self.secret = secret

    def pack_for(self, s: EpisodeState) -> RulePack:
        """The agreement that binds the episode: its hospital's region and the patient's kommun."""
        region = self.agreements.region_of(s.ward, self.directory())
        return self.agreements.select(region, s.municipality)

    def on_event(self, state: EpisodeState | None, key: str, event: Envelope,
                 now: dt.datetime) -> Step[EpisodeState]:
        # Evaluated as at the hub's receipt of the event, a fact on the log, so that a replay or
        # a catch-up (whose clock is later) finds exactly what the live run found then: first
        # the timers that were due before the receipt, as the live run fired them, then the event.
        at = min(now, event.received_at)
        current, emits = self._catch_up(state or EpisodeState(episode_id=key), key, at)
        new, changed = apply(current, event, secret=self.secret)
        if not changed:
            return Step(current, tuple(emits), current.wake)
        emits += self._route(new, key, event)
        emits += self._patient_index(current, new)
        return self._evaluate(new, key, at, emits, changed_at=event.time)

    def _catch_up(self, s: EpisodeState, key: str, at: dt.datetime) -> tuple[EpisodeState, list[Emit]]:
        """Fire the episode's timers due at or before ``at``, each at its own due time."""
        emits: list[Emit] = []
        for _ in range(64):  # each round moves the wake-up later; a guard, never reached
            if s.wake is None or s.wake > at:
                break
            step = self._evaluate(s, key, s.wake, [])
            emits += step.emits
            if step.state is None or step.state.wake == s.wake:
                break
            s = step.state
        return s, emits

    def _patient_index(self, old: EpisodeState, new: EpisodeState) -> list[Emit]:
        """Republish the episode by patient when its admission or discharge changed."""
        def facts(s: EpisodeState) -> tuple[object, ...]:
            return (s.patient_key, s.admitted_at, s.is_discharged and s.discharged_at, s.is_cancelled)

        if new.patient_key is None or facts(old) == facts(new):
            return []
        entry = PatientIndexEntry(
            episode_id=new.episode_id, admitted_at=new.admitted_at,
            discharged_at=new.discharged_at if new.is_discharged else None,
            cancelled=new.is_cancelled,
            readmission_days=self.pack_for(new).readmission_days)
        return [Emit(topics.PATIENTS, new.patient_key, entry)]

    def on_timer(self, state: EpisodeState, key: str, now: dt.datetime) -> Step[EpisodeState]:
        return self._evaluate(state, key, now, [])

    # ── alerts ──────────────────────────────────────────────────────────────────────────────

    def _evaluate(self, s: EpisodeState, key: str, now: dt.datetime, emits: list[Emit],
                  changed_at: dt.datetime | None = None) -> Step[EpisodeState]:
        pack = self.pack_for(s)
        found = deadlines.derive(s, pack)
        alerts, transitions, wake = alerting.evaluate(s, found, pack.escalation.after, now,
                                                      changed_at)
        alerts, quality = alerting.quality_alerts(s, alerts, f"{pack.id}: data quality")
        if alerts != s.alerts or wake != s.wake:
            s = s.model_copy(update={"alerts": alerts, "wake": wake})
        s, figures = self._figures(s, pack, now)
        emits += figures
        for t in [*quality, *transitions]:
            name = type(t.payload).EVENT_NAME
            aid = getattr(t.payload, "alert_id", "")
            level = getattr(t.payload, "level", 0)
            ev = new_event(t.payload, episode_id=key, source=SOURCE,
                           source_message_id=f"{aid}:{name}:{level}", time=t.at, received_at=t.at,
                           trusted=True)
            emits.append(Emit(topics.ALERTS, key, ev))
        return Step(s, tuple(emits), wake)

    def _figures(self, s: EpisodeState, pack: RulePack,
                 now: dt.datetime) -> tuple[EpisodeState, list[Emit]]:
        """Publish the episode's follow-up figures once closed, again whenever they change, and
        a retraction under the old key when its kommun or month changed."""
        figures = episode_figures(s, pack, now)
        if figures is None and s.figures_key is None:
            return s, []
        key = stats_key(figures.municipality, figures.month) if figures else None
        sig = (hashlib.blake2s(figures.model_dump_json().encode(), digest_size=8).hexdigest()
               if figures else None)
        if key == s.figures_key and sig == s.figures_sig:
            return s, []
        out = []
        if s.figures_key is not None and s.figures_key != key:
            old_kommun, old_month = s.figures_key.split(":")
            out.append(Emit(topics.FIGURES, s.figures_key, EpisodeFigures(
                episode_id=s.episode_id, municipality=old_kommun, month=old_month,
                care_type=s.care_type, retract=True)))
        if figures is not None and key is not None:
            out.append(Emit(topics.FIGURES, key, figures))
        return s.model_copy(update={"figures_key": key, "figures_sig": sig}), out

    # ── routing ─────────────────────────────────────────────────────────────────────────────

    def _route(self, s: EpisodeState, key: str, event: Envelope) -> list[Emit]:
        directory = self.directory()
        if directory is None or not isinstance(event.data, ROUTED + TO_WARD):
            return []
        day = event.time.astimezone(dt.UTC).date()
        if isinstance(event.data, TO_WARD):
            if isinstance(event.data, p.MessageAcknowledged):
                return self._acknowledged(s, key, event, directory, day)
            if s.ward is None:
                return []
            system = directory.system_on(s.ward, day)
            if system is None:
                return self._unroutable(s, key, event, f"ward {s.ward} is not in the unit directory")
            targets = [Receiver(s.ward, UnitKind.INPATIENT_WARD, system, None)]
        else:
            category = deadlines.category_of(s)
            if category is None:
                return self._unroutable(s, key, event, "the patient's needs (insatser) are not known yet")
            if not requirements(category).in_scope:
                return []
            targets, missing = receivers(category, municipality=s.municipality,
                                         listed_unit=s.listed_unit, directory=directory, on=day)
            out = []
            for gap in missing:
                out += self._unroutable(s, key, event, f"no {gap.kind.value} receiver: {gap.reason}")
            targets = [r for r in targets if r.hsa_id != _sender(event.data)]
            content = _content(event)
            return out + [self._delivery(key, event, r, content) for r in targets]
        return [self._delivery(key, event, r, _content(event)) for r in targets]

    @staticmethod
    def _acknowledged(s: EpisodeState, key: str, event: Envelope, directory: UnitDirectory,
                      day: dt.date) -> list[Emit]:
        """A receiver's kvittering of the inskrivningsmeddelande: its delivery is acknowledged."""
        ack = event.data
        assert isinstance(ack, p.MessageAcknowledged)
        if s.notice_event_id is None or ack.message_id != s.notice_id:
            return []
        system = directory.system_on(ack.unit, day)
        if system is None:
            return []
        change = DeliveryStatusChanged(delivery_id=f"{s.notice_event_id}:{ack.unit}",
                                       status=DeliveryStatus.ACKNOWLEDGED, at=ack.acknowledged_at,
                                       detail="kvittering received")
        out = new_event(change, episode_id=key, source=SOURCE, source_message_id=f"{event.source_message_id}:ack",
                        time=event.time, received_at=event.received_at, trusted=True)
        return [Emit(topics.deliveries(system.value, ack.unit), key, out)]

    @staticmethod
    def _delivery(key: str, event: Envelope, r: Receiver, content: dict[str, Any]) -> Emit:
        ikey = idempotency_key(event.source_message_id, r.hsa_id)
        payload = DeliveryRequested(
            delivery_id=f"{event.id}:{r.hsa_id}", idempotency_key=ikey, receiver=r.hsa_id,
            system=r.system, message_type=type(event.data).EVENT_NAME, source_event_id=event.id,
            content=content)
        out = new_event(payload, episode_id=key, source=SOURCE,
                        source_message_id=f"{event.source_message_id}:{r.hsa_id}",
                        time=event.time, received_at=event.received_at, trusted=True)
        return Emit(topics.deliveries(r.system.value, r.hsa_id), key, out)

    @staticmethod
    def _unroutable(s: EpisodeState, key: str, event: Envelope, reason: str) -> list[Emit]:
        code = f"unroutable_{type(event.data).EVENT_NAME}"
        if code not in s.quality:
            s.quality = {**s.quality, code: event.time}
        letter = DeadLetter(source="routing", source_message_id=event.source_message_id,
                            reason=f"cannot route {type(event.data).EVENT_NAME}: {reason}",
                            raw=event.to_json(), received_at=event.received_at)
        return [Emit(topics.dlq("routing"), key, letter)]


def _content(event: Envelope) -> dict[str, Any]:
    """The meddelande a delivery carries: its type, time and data."""
    return {"type": event.type, "time": event.time.isoformat(),
            "data": event.data.model_dump(mode="json", exclude_none=True)}


def _sender(data: p.Payload) -> str | None:
    for field in ("sender", "unit"):
        value = getattr(data, field, None)
        if isinstance(value, str):
            return value
    return None
