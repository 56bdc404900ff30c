"""A simulated run of the engine over canonical events: each episode's clock advances with its
own events' times, its timers fire in order, and at the end every clock is moved to ``until``.

Because an episode's clock depends only on its own events, the result does not depend on how
episodes are interleaved: any order that keeps each episode's own order gives the same report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.domain.engine import EpisodeEngine
from hub.domain.episode import EpisodeState
from hub.domain.processor import Emit, Step
from hub.domain.readmission import PatientEpisodes, ReadmissionProcessor
from hub.domain.report import episode_report
from hub.schemas import topics
from hub.schemas.envelope import Envelope
from hub.schemas.operations import PatientIndexEntry
from hub.schemas.report import EpisodeReport


@dataclass
class Simulation:
    """States and outputs of a simulated run."""

    states: dict[str, EpisodeState] = field(default_factory=dict)
    clocks: dict[str, dt.datetime] = field(default_factory=dict)
    emitted: list[Emit] = field(default_factory=list)

    def reports(self, engine: EpisodeEngine, until: dt.datetime) -> list[EpisodeReport]:
        return [episode_report(s, engine.pack_for(s), until,
                               engine.agreements.region_of(s.ward, engine.directory()))
                for _, s in sorted(self.states.items())]


def _fire(engine: EpisodeEngine, sim: Simulation, key: str, until: dt.datetime) -> None:
    """Fire the episode's timers that are due at or before ``until``, each at its due time."""
    state = sim.states.get(key)
    while state is not None and state.wake is not None and state.wake <= until:
        at = state.wake
        sim.clocks[key] = max(sim.clocks.get(key, at), at)
        step: Step[EpisodeState] = engine.on_timer(state, key, sim.clocks[key])
        sim.emitted.extend(step.emits)
        if step.state is None or (step.state.wake == state.wake and step.state == state):
            break
        state = step.state
        sim.states[key] = state


def simulate(engine: EpisodeEngine, events: Iterable[Envelope], until: dt.datetime) -> Simulation:
    """Run ``events`` (each episode's in its order) through the engine, then advance to ``until``.

    The readmission processor runs alongside: the engine's patient-index records are applied to
    it at once, and the links it finds go back to the engine as events of the later episode.
    """
    sim = Simulation()
    readmissions = ReadmissionProcessor()
    patients: dict[str, PatientEpisodes] = {}
    pending = list(events)
    pending.reverse()
    while pending:
        event = pending.pop()
        key = event.episode_id
        now = max(sim.clocks.get(key, event.time), event.time)
        _fire(engine, sim, key, now)
        sim.clocks[key] = now
        step = engine.on_event(sim.states.get(key), key, event, now)
        sim.emitted.extend(step.emits)
        if step.state is not None:
            sim.states[key] = step.state
        for emit in step.emits:
            if emit.topic == topics.PATIENTS and isinstance(emit.event, PatientIndexEntry):
                found = readmissions.on_event(patients.get(emit.key), emit.key, emit.event, now)
                if found.state is not None:
                    patients[emit.key] = found.state
                pending.extend(e.event for e in reversed(found.emits) if isinstance(e.event, Envelope))
    for key in sorted(sim.states):
        _fire(engine, sim, key, until)
        if sim.clocks.get(key, until) < until:
            sim.clocks[key] = until
            step = engine.on_timer(sim.states[key], key, until)
            sim.emitted.extend(step.emits)
            if step.state is not None:
                sim.states[key] = step.state
    return sim
