"""The demo's live traffic through the hub's real doors: a simulated EHR sends HL7 v2 ADT over
MLLP (admissions and discharges), the ward's LifeCare sends JSON and a Prator unit sends XML
over HTTP, and each kommun's system drops CSV files (kvitteringar, kommunklar) in the inbox.
Bad input still goes in as it is, so the dead-letter view has something to show.

Which door a message takes follows from its kind and its episode (even episodes' ward messages
over LifeCare, odd ones' over Prator where Prator has a form for them); the bytes are rendered
by the adapters' own renderers, so the demo exercises parse and render both ways."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from hub.adapters.hl7.transport import send as mllp_send
from hub.demo.simulator import Scheduled
from hub.domain.clock import Clock
from hub.streams.ingest import Ingestor

log = logging.getLogger(__name__)

PRATOR_KINDS = frozenset({"planning_basis_updated", "care_contact_assigned", "estimated_discharge_date_changed",
                          "discharge_notice_sent"})
CSV_KINDS = frozenset({"message_acknowledged", "municipality_ready"})
HL7_KINDS = frozenset({"patient_admitted", "patient_discharged"})


def _hl7_time(iso: str) -> str:
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(dt.UTC)
    return t.strftime("%Y%m%d%H%M%S+0000")


def control_id(source_message_id: str) -> str:
    """MSH-10 for a simulated message: ``<episode number>M<sequence>`` (stable, so a re-send is
    recognised as a duplicate)."""
    episode, _, seq = source_message_id.rpartition("-m")
    return f"{episode.rsplit('-', 1)[-1]}M{seq}"[:20]


def render_adt(event: dict[str, Any], control: str) -> bytes:
    """ADT^A01 (admission) or ADT^A03 (discharge) for the simulated EHR. MSH-4 and PV1-19 make
    the hub's episode id ``<MSH-4>-<PV1-19>`` the simulator's own."""
    facility, visit = event["episodeid"].split("-", 1)
    d = event["data"]
    admitted = "type" in event and event["type"].startswith("se.svu.patient_admitted.")
    trigger = "A01" if admitted else "A03"
    ward = (d.get("ward") or "").rsplit("-", 1)[-1]
    fields = {
        "MSH": ["^~\\&", "COSMIC", facility, "SVU", "SVU", _hl7_time(event["time"]), "",
                f"ADT^{trigger}^ADT_{trigger}", control, "P", "2.5.1", "", "", "", "", "SE", "UNICODE UTF-8"],
        "EVN": [trigger, _hl7_time(event["time"])],
    }
    segments = ["MSH|" + "|".join(fields["MSH"]), "EVN|" + "|".join(fields["EVN"])]
    patient = d.get("patient")
    if patient:
        pid = patient["id"]["value"] if isinstance(patient["id"], dict) else patient["id"]
        last, _, first = (patient.get("name") or "").rpartition(" ")
        a = patient.get("address") or {}
        xad = (f"{a.get('street', '')}^^{a.get('city', '')}^^{a.get('postal_code', '')}^SE^H^^"
               f"{patient.get('municipality', '')}")
        pid_fields = ["1", "", f"{pid}^^^&1.2.752.129.2.1.3.1&ISO^NNSWE", "", f"{last}^{first}",
                      "", "", "", "", "", xad]
        segments.append("PID|" + "|".join(pid_fields))
        if patient.get("listed_unit"):
            segments.append("PD1|||^^^^^^^^^" + patient["listed_unit"])
    else:
        segments.append("PID|1||" + "^^^&1.2.752.129.2.1.3.1&ISO^NNSWE")
    pv1 = [""] * 45
    pv1[0], pv1[1], pv1[2] = "1", "I", f"{ward}^^^{facility}"
    pv1[9] = "PSY" if d.get("care_type") == "psykiatri" else "MED"
    pv1[18] = visit
    if admitted:
        pv1[43] = _hl7_time(d["admitted_at"])
    else:
        pv1[44] = _hl7_time(d["discharged_at"])
    segments.append("PV1|" + "|".join(pv1))
    if admitted and d.get("estimated_discharge"):
        segments.append("PV2|||||||||" + d["estimated_discharge"].replace("-", ""))
    return ("\r".join(segments) + "\r").encode("utf-8")


def render_prator(event: dict[str, Any], receiver: str) -> bytes:
    """The Prator unit's XML for one canonical event (the adapter's renderer)."""
    from hub.adapters.prator.mapping import render

    kind = event["type"].split(".")[2]
    delivery = {"message_type": kind, "idempotency_key": event["sourcemessageid"], "receiver": receiver,
                "content": {"type": event["type"], "time": event["time"], "data": event["data"]}}
    return render(delivery, event["episodeid"])


def render_lifecare(event: dict[str, Any]) -> bytes:
    """LifeCare's JSON message for one canonical event (contracts/lifecare)."""
    return orjson.dumps({"messageId": event["sourcemessageid"], "messageType": event["type"].split(".")[2],
                         "episodeId": event["episodeid"], "eventType": event["type"], "eventTime": event["time"],
                         "content": event["data"]})


def csv_row(event: dict[str, Any]) -> dict[str, str]:
    """A kommun system's CSV row (the hub's generic kommun format)."""
    d, kind = event["data"], event["type"].split(".")[2]
    row = {"type": "kvittering" if kind == "message_acknowledged" else "kommunklar",
           "message_id": event["sourcemessageid"], "episode_id": event["episodeid"], "unit": d["unit"],
           "time": event["time"], "acknowledged_message": d.get("message_id") or "",
           "sol": ";".join(d.get("sol_services") or ()), "hsl": ";".join(d.get("hsl_services") or ())}
    return row


class AdapterFeed:
    """Plays scheduled messages through the adapters once the clock reaches their time."""

    def __init__(self, traffic: Sequence[Scheduled], *, clock: Clock, ingestor: Ingestor,
                 api_url: Callable[[], str | None], api_key: str, mllp_port: Callable[[], int | None],
                 inbox: Path, receiver_of: Callable[[str], str], notify: Callable[[], None] | None = None) -> None:
        self.traffic = list(traffic)
        self.clock = clock
        self.ingestor = ingestor
        self.api_url = api_url
        self.api_key = api_key
        self.mllp_port = mllp_port
        self.inbox = inbox
        self.receiver_of = receiver_of
        self.notify = notify
        self.sent = 0
        self.rejected = 0
        self.by_adapter: Counter[str] = Counter()
        self._files = 0

    @property
    def done(self) -> bool:
        return self.sent >= len(self.traffic)

    def channel(self, item: Scheduled, event: dict[str, Any] | None) -> str:
        if event is None or item.note.startswith("bad:"):
            return "canonical"
        kind = event["type"].split(".")[2]
        if kind in HL7_KINDS:
            return "hl7"
        if kind in CSV_KINDS:
            return "kommun-csv"
        odd = int(event["episodeid"].rsplit("-", 1)[-1] or 0) % 2 == 1
        return "prator" if odd and kind in PRATOR_KINDS else "lifecare"

    async def pump(self, http: httpx.AsyncClient) -> int:
        """Send everything due now; returns how many were sent."""
        now = self.clock.now()
        if self.api_url() is None or self.mllp_port() is None:
            return 0  # the hub is not listening yet
        rows: dict[str, list[dict[str, str]]] = {}
        count = 0
        try:
            while not self.done and self.traffic[self.sent].at <= now:
                await self._send(http, self.traffic[self.sent], rows)
                self.sent += 1
                count += 1
        finally:
            for kommun, batch in rows.items():
                self._drop(kommun, batch)
            if count and self.notify is not None:
                self.notify()
        return count

    async def _send(self, http: httpx.AsyncClient, item: Scheduled, rows: dict[str, list[dict[str, str]]]) -> None:
        event = self._event(item)
        channel = self.channel(item, event)
        ok = True
        if channel == "canonical" or event is None:
            ok = self.ingestor.submit("demo", [item.raw], connection="demo-feed")[0].accepted
            channel = "canonical"
        elif channel == "hl7":
            port = self.mllp_port()
            assert port is not None
            (ack,) = await mllp_send("127.0.0.1", port, [render_adt(event, control_id(event["sourcemessageid"]))])
            ok = b"MSA|AA" in ack
        elif channel == "kommun-csv":
            rows.setdefault(event["source"].rsplit("/", 1)[-1], []).append(csv_row(event))
        elif channel == "prator":
            r = await http.post(f"{self.api_url()}/inbound/prator", content=render_prator(
                event, self.receiver_of(event["episodeid"])), headers={"Content-Type": "application/xml"})
            ok = r.status_code == 202
        else:
            r = await http.post(f"{self.api_url()}/inbound/lifecare", content=render_lifecare(event),
                                headers={"Content-Type": "application/json"})
            ok = r.status_code == 202
        self.by_adapter[channel] += 1
        self.rejected += 0 if ok else 1

    def _drop(self, kommun: str, batch: list[dict[str, str]]) -> None:
        folder = self.inbox / kommun
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(batch[0]))
        writer.writeheader()
        writer.writerows(batch)
        self._files += 1
        tmp = folder / f".demo-{self._files:06d}.tmp"
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        tmp.replace(folder / f"demo-{self._files:06d}.csv")

    @staticmethod
    def _event(item: Scheduled) -> dict[str, Any] | None:
        try:
            event: dict[str, Any] = orjson.loads(item.raw)
            return event
        except orjson.JSONDecodeError:
            return None

    async def run(self, stop: asyncio.Event, *, tick: float = 0.2) -> None:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {self.api_key}"}, timeout=10) as http:
            while not stop.is_set() and not self.done:
                try:
                    await self.pump(http)
                except (httpx.TransportError, OSError) as exc:
                    log.warning("demo feed: %s, trying again", type(exc).__name__)
                await asyncio.sleep(tick)
        log.info("demo feed finished: %d messages (%s), %d rejected", self.sent, dict(self.by_adapter), self.rejected)
