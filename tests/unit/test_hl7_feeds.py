"""The golden feed corpus (tests/samples/hl7/feeds; provenance of each file in the README there
and in its expected file): messages after public projects' fixtures and the HL7 standard's
examples, several vendors and versions 2.3–2.5.1, each with the ACK the hub owes and the
events it gives (or why it holds the message)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.adapters.hl7.batch import messages_of
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import canonical
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.streams.held import HELD, HeldMessage
from hub.streams.hl7_ingest import Hl7Ingest
from tests.support.hl7 import MemoryCommitter, lookup

FEEDS = Path(__file__).resolve().parents[1] / "samples" / "hl7" / "feeds"
RECEIVED = dt.datetime(2026, 3, 8, 10, 0, tzinfo=dt.UTC)


def _segments(ack: bytes | None) -> dict[str, Any] | None:
    if ack is None:
        return None
    segments = ack.decode("latin-1").split("\r")
    msa = next(s for s in segments if s.startswith("MSA")).split("|")
    msh = segments[0].split("|")
    return {"code": msa[1], "control": msa[2], "version": msh[11], "charset": msh[17],
            "err": [s for s in segments if s.startswith("ERR")]}


def observe(path: Path) -> list[dict[str, Any]]:
    """Each message of the file through the ingest: its ACK, its events, why it is held."""
    out = []
    for raw in messages_of(path.read_bytes()):
        committer = MemoryCommitter()
        ingest = Hl7Ingest(committer, lookup, FakeClock(RECEIVED))
        reply = asyncio.run(ingest.handle(raw, "file"))
        events = [orjson.loads(r.value) for r in committer.tx.records if r.topic == topics.EVENTS]
        held = [HeldMessage.load(k, v) for (store, k), v in committer.tx.states.items() if store == HELD]
        try:
            holds = [h.reason for h in canonical(raw, lookup, RECEIVED).holds]
        except Hl7Error:
            holds = []
        out.append({"ack": _segments(reply), "held": [m.reason for m in held], "holds": holds,
                    "events": [{"type": e["type"], "episodeid": e["episodeid"], "time": e["time"],
                                "sourcemessageid": e["sourcemessageid"], "data": e["data"]} for e in events]})
    return out


@pytest.mark.parametrize("path", sorted(FEEDS.glob("*.hl7")), ids=lambda p: p.name)
def test_feed_sample(path: Path) -> None:
    expected_path = path.with_suffix(".expected.json")
    expected = orjson.loads(expected_path.read_bytes())
    assert expected["provenance"]
    assert observe(path) == expected["messages"]


def test_the_corpus_covers_what_real_feeds_send() -> None:
    texts = [p.read_bytes() for p in FEEDS.glob("*.hl7")]
    versions = {m.split(b"\r")[0].split(b"|")[11].decode() for t in texts for m in messages_of(t)}
    assert {"2.3", "2.3.1", "2.4", "2.5", "2.5.1"} <= versions
    assert any(b'""' in t for t in texts)
    assert any(b"~" in t.split(b"PID|")[1].split(b"\r")[0] for t in texts if b"PID|" in t)  # PID-3 repeated
    assert any(b"PV1|" not in t for t in texts)
    assert any(b"|NE|AL|" in t for t in texts) and any(b"|ER|" in t for t in texts)
    readme = (FEEDS / "README.md").read_text(encoding="utf-8")
    assert all(p.name in readme for p in FEEDS.glob("*.hl7"))


if __name__ == "__main__" and os.environ.get("WRITE_EXPECTED"):
    for p in sorted(FEEDS.glob("*.hl7")):
        target = p.with_suffix(".expected.json")
        old = orjson.loads(target.read_bytes()) if target.exists() else {"provenance": ""}
        target.write_bytes(orjson.dumps({"provenance": old["provenance"], "messages": observe(p)},
                                        option=orjson.OPT_INDENT_2) + b"\n")
