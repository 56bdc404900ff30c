"""Alert policy: a deadline that passes without its message raises an alert, which escalates in
levels after the pack's delays and resolves, with how late, when the message arrives — or when
the rule no longer applies.

Transition times come from the facts (the deadline, the deadline plus each escalation delay, the
message's event time), not from when the hub happened to notice, so a replay of the log gives
the same alerts. ``now`` only decides whether a transition has happened yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hub.domain.deadlines import Deadline
from hub.domain.episode import AlertState, EpisodeState
from hub.schemas.operations import AlertEscalated, AlertRaised, AlertResolved
from hub.schemas.payloads import Payload


@dataclass(frozen=True, slots=True)
class Transition:
    """One alert event to publish, at the time it happened."""

    at: dt.datetime
    payload: Payload


def alert_id(episode_id: str, deadline: Deadline) -> str:
    return f"{episode_id}:{deadline.rule}:{deadline.target}"


def evaluate(state: EpisodeState, deadlines: list[Deadline], escalation: tuple[dt.timedelta, ...],
             now: dt.datetime) -> tuple[dict[str, AlertState], list[Transition], dt.datetime | None]:
    """New alert states, the transitions to publish (in time order), and the next wake-up."""
    alerts = dict(state.alerts)
    out: list[Transition] = []
    wake: list[dt.datetime] = []
    live: set[str] = set()
    for d in deadlines:
        aid = alert_id(state.episode_id, d)
        live.add(aid)
        st = alerts.get(aid) or _NONE
        if d.met_at is not None and d.met_at <= d.due:
            if st.raised_at is not None and st.resolved_at is None:
                # raised while the message was under way: it was sent in time after all
                resolved = max(d.met_at, st.raised_at)
                alerts[aid] = st.model_copy(update={"resolved_at": resolved})
                out.append(Transition(resolved, AlertResolved(
                    alert_id=aid, resolved_at=resolved, resolution="message_arrived",
                    lateness_seconds=0)))
            continue
        if now < d.due:
            wake.append(d.due)
            continue
        if st.resolved_at is not None and (d.met_at is None or st.resolved_at == d.met_at):
            continue  # done: nothing can change for this alert any more
        level, raised_at, resolved_at = st.level, st.raised_at, st.resolved_at
        if raised_at is None:
            raised_at, level = d.due, 1
            out.append(Transition(d.due, AlertRaised(
                alert_id=aid, rule=d.rule, rule_source=d.source, responsible_unit=d.responsible,
                municipality=state.municipality, deadline=d.due, raised_at=d.due, level=1)))
        resolved_by = d.met_at if d.met_at is not None and d.met_at <= now else None
        for next_level, delay in enumerate(escalation, start=2):
            at = d.due + delay
            if level >= next_level or resolved_at is not None:
                continue
            if resolved_by is not None and resolved_by <= at:
                break
            if now < at:
                if resolved_by is None:
                    wake.append(at)
                break
            level = next_level
            out.append(Transition(at, AlertEscalated(alert_id=aid, level=level, escalated_at=at)))
        if resolved_by is not None and resolved_at is None:
            resolved_at = resolved_by
            lateness = int((resolved_by - d.due).total_seconds())
            out.append(Transition(resolved_by, AlertResolved(
                alert_id=aid, resolved_at=resolved_by, resolution="message_arrived",
                lateness_seconds=max(0, lateness))))
        new = AlertState(level=level, raised_at=raised_at, resolved_at=resolved_at)
        if new != st:
            alerts[aid] = new
    for aid, st in sorted(alerts.items()):
        if aid not in live and st.raised_at is not None and st.resolved_at is None:
            resolved = max(now, st.raised_at)
            alerts[aid] = st.model_copy(update={"resolved_at": resolved})
            out.append(Transition(resolved, AlertResolved(
                alert_id=aid, resolved_at=resolved, resolution="no_longer_required")))
    out.sort(key=lambda t: (t.at, _order(t.payload)))
    return alerts, out, min(wake) if wake else None


_NONE = AlertState()


def quality_alerts(state: EpisodeState, alerts: dict[str, AlertState],
                   source: str) -> tuple[dict[str, AlertState], list[Transition]]:
    """Data-quality findings (impossible sequences, unroutable messages) as alerts, once each."""
    alerts = dict(alerts)
    out = []
    for code, at in sorted(state.quality.items()):
        aid = f"{state.episode_id}:data_quality:{code}"
        if aid in alerts:
            continue
        alerts[aid] = AlertState(level=1, raised_at=at)
        out.append(Transition(at, AlertRaised(
            alert_id=aid, rule="data_quality", rule_source=source, municipality=state.municipality,
            raised_at=at, detail=code)))
    return alerts, out


def _order(p: Payload) -> int:
    return {"alert_raised": 0, "alert_escalated": 1, "alert_resolved": 2}.get(type(p).EVENT_NAME, 3)
