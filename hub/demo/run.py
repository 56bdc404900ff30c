"""What `hub demo` sets up around the hub: three months of history replayed at start (so the
plots show trends from the first minute), then live traffic through the real adapters; a fake
LifeCare on loopback and a Prator outbox, so deliveries are delivered, and kvitteringar that
come back from the kommuner."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.adapters.lifecare.config import LifeCareSettings
from hub.demo.adapters import AdapterFeed
from hub.demo.fake_lifecare import FakeLifeCare, serving
from hub.demo.simulator import Scheduled, Simulator
from hub.domain.clock import Clock
from hub.settings import ApiKey, HubSettings, Role
from hub.streams.ingest import Ingestor

HISTORY_DAYS = 92

Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_kommun(county: str) -> str:
    """The kommun the demo's kommun key speaks for: the first hospital's."""
    from hub.demo.units import COUNTIES

    return COUNTIES[county][2][0][1] if county in COUNTIES else "2480"


def demo_keys(county: str) -> tuple[ApiKey, ...]:
    """Keys to try the console as a region coordinator and as a kommun's MAS (demo only)."""
    return (ApiKey(key=SecretStr("demo-region"), principal="demo-region", role=Role.REGION),
            ApiKey(key=SecretStr("demo-kommun"), principal=f"demo-kommun-{demo_kommun(county)}",
                   role=Role.MUNICIPALITY, municipality=demo_kommun(county)))


@dataclass
class DemoRun:
    """The demo's traffic and the parts it runs beside the hub."""

    settings: HubSettings
    history: list[Scheduled]
    live: list[Scheduled]
    kommun: str = "2480"
    fake: FakeLifeCare = field(default_factory=FakeLifeCare)
    lifecare_port: int = 0
    feed: AdapterFeed | None = None

    @property
    def traffic(self) -> list[Scheduled]:
        return [*self.history, *self.live]

    def replay_history(self, ingestor: Ingestor) -> int:
        """The history as canonical events, at once; returns how many were accepted."""
        outcomes = ingestor.submit("demo", [s.raw for s in self.history], connection="demo-history")
        return sum(1 for o in outcomes if o.accepted)

    def jobs(self, *, clock: Clock, ingestor: Ingestor, api_url: Callable[[], str | None], api_key: str,
             mllp_port: Callable[[], int | None], notify: Callable[[], None]) -> list[Job]:
        assert self.settings.kommun_inbox is not None
        units = self._receivers()

        def receiver_of(episode_id: str) -> str:
            return units.get(episode_id, next(iter(units.values()), "SE0000000000-X"))

        self.feed = AdapterFeed(self.live, clock=clock, ingestor=ingestor, api_url=api_url, api_key=api_key,
                                mllp_port=mllp_port, inbox=self.settings.kommun_inbox, receiver_of=receiver_of,
                                notify=notify)

        async def lifecare(stop: asyncio.Event) -> None:
            async with serving(self.fake, self.lifecare_port):
                await stop.wait()
                await asyncio.sleep(3)  # the delivery worker finishes what it has in hand

        return [lifecare, self.feed.run]

    def _receivers(self) -> dict[str, str]:
        import orjson

        out: dict[str, str] = {}
        for item in self.live:
            try:
                event = orjson.loads(item.raw)
            except orjson.JSONDecodeError:
                continue
            recipients = event.get("data", {}).get("recipients") if isinstance(event.get("data"), dict) else None
            if recipients and item.episode_id not in out:
                out[item.episode_id] = recipients[0]
        return out


def prepare(settings: HubSettings, county: str, *, episodes: int, start: dt.datetime, seed: int,
            speed: float = 3600.0, history_episodes: int | None = None, work: Path) -> DemoRun:
    """Settings for the demo's fake LifeCare, Prator outbox and kommun inbox under ``work``, and
    the traffic: ``history_episodes`` over the last three months, ``episodes`` live from ``start``."""
    port = _free_port()
    work.mkdir(parents=True, exist_ok=True)
    # quick to give up once the demo stops (the fake goes away with it)
    lifecare = LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.1,
                                backoff_max_s=0.5, max_attempts=3, breaker_threshold=3, timeout_s=2)
    prator = settings.prator.model_copy(update={"outbox": work / "prator-out"})
    # "stuck" after a real minute of the scaled clock (at least the configured time)
    stuck = min(7 * 86400.0, max(settings.bridge.stuck_after_s, 60 * speed))
    bridge = settings.bridge.model_copy(update={"stuck_after_s": stuck})
    log = settings.log.model_copy(update={"durability": "normal"})  # a demo survives a kill, not a power cut
    settings = settings.model_copy(update={"lifecare": lifecare, "prator": prator, "bridge": bridge, "log": log,
                                           "kommun_inbox": work / "kommun-in"})
    history_start = start - dt.timedelta(days=HISTORY_DAYS)
    count = history_episodes if history_episodes is not None else max(90, 2 * episodes)
    history = Simulator(county, start=history_start, episodes=count, seed=seed,
                        span=dt.timedelta(days=HISTORY_DAYS - 10)).traffic()
    live = Simulator(county, start=start, episodes=episodes, seed=seed + 1, index_offset=count).traffic()
    # History up to now is replayed at start; whatever of it still lies ahead plays live too.
    now_items = [s for s in history if s.at > start]
    history = [s for s in history if s.at <= start]
    live = sorted([*now_items, *live], key=lambda s: (s.at, s.episode_id))
    return DemoRun(settings, history, live, kommun=demo_kommun(county), lifecare_port=port)
