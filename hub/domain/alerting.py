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


GRACE = dt.timedelta(milliseconds=1)
"""A deadline is missed only *after* its due time (a message at the due time is in time); the
first instant after it that the runtime's timers (milliseconds) can express."""


def _current_id(alerts: dict[str, AlertState], base: str) -> str:
    """The id of the deadline's current alert: ``base``, or ``base:N`` once earlier alerts of
    the same rule were closed as no longer required (a rule that applies again is a new alert)."""
    aid, n = base, 1
    while (st := alerts.get(aid)) is not None and st.closed:
        n += 1
        aid = f"{base}:{n}"
    return aid


def _withdraw(alerts: dict[str, AlertState], aid: str, st: AlertState,
              changed_at: dt.datetime | None) -> Transition:
    """Resolve an open alert as no longer required, at the time of the fact that changed it."""
    assert st.raised_at is not None
    resolved = max(changed_at or st.raised_at, st.raised_at)
    alerts[aid] = st.model_copy(update={"resolved_at": resolved, "closed": True})
    return Transition(resolved, AlertResolved(alert_id=aid, resolved_at=resolved,
                                              resolution="no_longer_required"))


def evaluate(state: EpisodeState, deadlines: list[Deadline], escalation: tuple[dt.timedelta, ...],
             now: dt.datetime, changed_at: dt.datetime | None = None,
             ) -> tuple[dict[str, AlertState], list[Transition], dt.datetime | None]:
    """New alert states, the transitions to publish (in time order), and the next wake-up.

    ``changed_at`` is the time of the fact that led to this evaluation (the event's time); an
    alert that is no longer required, or whose deadline moved later, is resolved at that time.
    """
    alerts = dict(state.alerts)
    out: list[Transition] = []
    wake: list[dt.datetime] = []
    live: set[str] = set()
    for d in deadlines:
        base = alert_id(state.episode_id, d)
        aid = _current_id(alerts, base)
        st = alerts.get(aid) or _NONE
        if st.raised_at is not None and st.resolved_at is None and d.due > st.raised_at:
            # the deadline moved later: withdraw; raised again only if the new one passes
            out.append(_withdraw(alerts, aid, st, changed_at))
            aid, st = _current_id(alerts, base), _NONE
        live.add(aid)
        if d.met_at is not None and d.met_at <= d.due:
            if st.raised_at is not None and st.resolved_at is None:
                # raised while the message was under way: it was sent in time after all
                resolved = max(d.met_at, st.raised_at)
                alerts[aid] = st.model_copy(update={"resolved_at": resolved})
                out.append(Transition(resolved, AlertResolved(
                    alert_id=aid, resolved_at=resolved, resolution="message_arrived",
                    lateness_seconds=0)))
            continue
        if now <= d.due:
            wake.append(d.due + GRACE)
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
        if (aid not in live and st.raised_at is not None and st.resolved_at is None
                and ":data_quality:" not in aid):
            out.append(_withdraw(alerts, aid, st, changed_at))
    out.sort(key=lambda t: (t.at, _order(t.payload)))
    return alerts, out, min(wake) if wake else None


_NONE = AlertState()


def quality_alerts(state: EpisodeState, alerts: dict[str, AlertState],
                   source: str) -> tuple[dict[str, AlertState], list[Transition]]:
    """Data-quality findings (impossible sequences, unroutable messages) as alerts, once each;
    they stay open until an operator closes them (a finding does not go away by itself)."""
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
