"""Numbered canonical events spread over a few episodes, for kill and replay tests."""

from __future__ import annotations

import datetime as dt

from hub.schemas.envelope import Envelope
from hub.schemas.payloads import MessageAcknowledged
from tests.samples import SOC, event

BASE = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def numbered_event(i: int, episodes: int = 13) -> Envelope:
    at = BASE + dt.timedelta(seconds=i)
    return event(MessageAcknowledged(message_id=f"M{i}", unit=SOC, acknowledged_at=at),
                 f"VLL-2026-{i % episodes:06d}", seq=i, at=at)
