"""The inbound door: bad input is never lost (the right 4xx, a dead letter for every content-level
rejection, never a 5xx, the hub still serving), nothing is echoed (a canary personnummer and name
put into every kind of bad input appear in no response, dead-letter reason, reason file, log line
or metric), inboxes read only settled regular files, and a refusing store answers 503."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from hub.schemas import topics
from hub.schemas.operations import DeadLetter
from hub.streams import kommun_files, prator_files
from hub.streams.inbox import InboxScan
from tests.integration.test_access import PRATOR, client, hub  # noqa: F401 - fixtures
from tests.samples import SOC
from tests.support.trust import EP_A, H

CANARY_PNR = "194107081236"
CANARY_NAME = "Kanarie Fågelsdotter"
CANARIES = (CANARY_PNR, CANARY_PNR[2:], "19410708-1236", "410708-1236", "19410708", "Kanarie", "Fågelsdotter")
KOMMUN = {**H["umea-kommun"]}
CSV = {**H["umea-kommun"], "Content-Type": "text/csv"}
JSON = {**H["umea-kommun"], "Content-Type": "application/json"}
XML = {**H["region-vb"], "Content-Type": "application/xml"}
LC = {**H["region-vb"], "Content-Type": "application/json"}
GOOD = {"type": "kvittering", "message_id": "K-1", "episode_id": EP_A, "unit": SOC,
        "time": "2026-03-02T10:00:00+01:00", "acknowledged_message": f"{EP_A}-N1"}


def _dlq(running: Any) -> int:
    return sum(running.log.count(t) for t in running.log.topics() if t.startswith("svu.dlq."))


def _bad_inputs() -> list[tuple[str, str, dict[str, str], bytes]]:
    """(name, url, headers, body) of content-level bad input, each with the canaries inside."""
    cn, pn = CANARY_NAME, CANARY_PNR
    lc = {"messageId": pn, "messageType": cn, "episodeId": EP_A, "eventType": "se.svu.patient_admitted.v1",
          "eventTime": "2026-03-02T10:00:00+01:00",
          "content": {"patient": {"id": pn[:-1] + "7", "name": cn}, "ward": pn, "admitted_at": cn}}
    xml_bad_pnr = PRATOR.replace(b"191212121212", (pn[:-1] + "7").encode()).replace("Märta Åström".encode(),
                                                                                     cn.encode())
    return [
        ("kommun type", "/inbound/kommun/2480", JSON, orjson.dumps({**GOOD, "type": pn})),
        ("kommun time", "/inbound/kommun/2480", JSON, orjson.dumps({**GOOD, "time": f"{cn} {pn}"})),
        ("kommun unit", "/inbound/kommun/2480", JSON, orjson.dumps({**GOOD, "unit": pn})),
        ("kommun episode", "/inbound/kommun/2480", JSON, orjson.dumps({**GOOD, "episode_id": pn})),
        ("kommun list", "/inbound/kommun/2480", JSON, orjson.dumps([GOOD, {**GOOD, "message_id": cn, "unit": cn}])),
        ("kommun scalar", "/inbound/kommun/2480", JSON, orjson.dumps(pn)),
        ("kommun not json", "/inbound/kommun/2480", JSON, f"{{{cn} {pn}".encode()),
        ("kommun csv", "/inbound/kommun/2480", CSV,
         f"type,message_id,episode_id,unit,time\n{pn},{cn},{EP_A},{pn},{cn}\n".encode()),
        ("kommun csv quoting", "/inbound/kommun/2480", CSV, f'type,{pn}\n"{cn}'.encode() + b"\r0"),
        ("kommun empty csv", "/inbound/kommun/2480", CSV, b""),
        ("kommun header only", "/inbound/kommun/2480", CSV, f"type,message_id,{pn}\n".encode()),
        ("kommun empty list", "/inbound/kommun/2480", JSON, b"[]"),
        ("kommun big int", "/inbound/kommun/2480", JSON, b'{"type": 123456789012345678901234567890}'),
        ("kommun deep", "/inbound/kommun/2480", JSON, b"[" * 300 + b"]" * 300),
        ("kommun too deep", "/inbound/kommun/2480", JSON, b"[" * 2000 + b"]" * 2000),
        ("lifecare fields", "/inbound/lifecare", LC, orjson.dumps(lc)),
        ("lifecare list", "/inbound/lifecare", LC, orjson.dumps([lc])),
        ("lifecare scalar", "/inbound/lifecare", LC, b"1"),
        ("lifecare empty", "/inbound/lifecare", LC, b"[]"),
        ("lifecare not json", "/inbound/lifecare", LC, f"{cn}{pn}".encode()),
        ("lifecare big int", "/inbound/lifecare", LC, b'{"messageId": 1' + b"0" * 40 + b"}"),
        ("prator identifier", "/inbound/prator", XML, xml_bad_pnr),
        ("prator facet", "/inbound/prator", XML, PRATOR.replace(b"2480</Folk", f"{pn}</Folk".encode())),
        ("prator ill-formed", "/inbound/prator", XML, f"<PratorMeddelande><{cn}>{pn}</x>".encode()),
        ("prator not xml", "/inbound/prator", XML, f"{cn} {pn}".encode()),
    ]


def test_every_bad_input_is_refused_dead_lettered_and_echoes_nothing(
        client: TestClient, hub: Any, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    answers = []
    for name, url, headers, body in _bad_inputs():
        before = _dlq(hub)
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 422, (name, r.status_code, r.text)
        assert r.json()["errors"], name  # names field and rule
        assert _dlq(hub) == before + 1, name  # the bytes are kept
        answers.append(r.text)
    # the hub still serves, and nothing was accepted
    assert client.get("/health").status_code == 200
    assert client.post("/inbound/kommun/2480", json=GOOD, headers=KOMMUN).status_code == 202
    hub.runtime.run_until_idle()
    reasons = [str(r["reason"]) for r in hub.log.query("SELECT reason FROM dead_letters")]
    errors = [str(DeadLetter.model_validate_json(rec.value).errors) for t in hub.log.topics()
              if t.startswith("svu.dlq.") for p in range(hub.log.partitions(t)) for rec in hub.log.read(t, p, 0, 1000)]
    metrics = client.get("/metrics", headers=H["ops-anna"]).text
    logs = [r.getMessage() for r in caplog.records]
    for where, texts in (("responses", answers), ("dead-letter reasons", reasons), ("dead-letter errors", errors),
                         ("log lines", logs), ("metrics", [metrics])):
        found = [(text[:120], c) for text in texts for c in CANARIES if c in text]
        assert found == [], where


def test_refused_at_the_door_is_audited_not_dead_lettered(client: TestClient, hub: Any) -> None:  # noqa: F811
    before = _dlq(hub)
    big = b"x" * (2 * 1024 * 1024 + 1)
    cases = [
        ("/inbound/kommun/2480", {**KOMMUN, "Content-Type": "text/plain"}, b"a", 415),
        ("/inbound/kommun/2480", {**KOMMUN, "Content-Type": "text/csv; charset=klingon"}, b"a", 415),
        ("/inbound/prator", {**H["region-vb"], "Content-Type": "application/json"}, b"{}", 415),
        ("/inbound/lifecare", {**H["region-vb"], "Content-Type": "text/csv"}, b"a", 415),
        ("/inbound/kommun/2480", CSV, big, 413),
        ("/inbound/prator", XML, big, 413),
        ("/inbound/kommun/9999", {**H["ops-anna"], "Content-Type": "text/csv"}, b"a", 404),
        ("/inbound/kommun/2580", CSV, b"a", 403),
        ("/inbound/prator", {**KOMMUN, "Content-Type": "application/xml"}, b"<a/>", 403),
        ("/inbound/kommun/24\u0668\u0660", CSV, b"a", 422),
    ]
    for url, headers, body, status in cases:
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == status, (url, headers, r.text[:200])
        assert "detail" in r.json()

    def streamed() -> Iterator[bytes]:  # no Content-Length: refused as soon as the limit is passed
        for _ in range(40):
            yield b"x" * 100_000

    assert client.post("/inbound/kommun/2480", content=streamed(), headers=CSV).status_code == 413
    assert _dlq(hub) == before
    audit = [orjson.loads(r.value) for r in hub.log.read(topics.AUDIT, 0, 0, 10_000)]
    assert sum(1 for a in audit if a["outcome"] == "refused") >= 9
    metrics = client.get("/metrics", headers=H["ops-anna"]).text
    assert "svu_hub_door_too_large_total 3.0" in metrics
    assert "svu_hub_door_refused_at_door_total" in metrics


def test_a_declared_charset_is_honoured(client: TestClient, hub: Any) -> None:  # noqa: F811
    csv = f"type,message_id,episode_id,unit,time,sol\nkommunklar,C-1,{EP_A},{SOC},2026-03-02T10:00:00+01:00,hemtjänst\n"
    r = client.post("/inbound/kommun/2480", content=csv.encode("iso-8859-1"),
                    headers={**KOMMUN, "Content-Type": "text/csv; charset=ISO-8859-1"})
    assert r.status_code == 202, r.text
    events = [orjson.loads(x.value) for p in range(4) for x in hub.log.read(topics.EVENTS, p, 0, 100)]
    assert [e["data"]["sol_services"] for e in events if e["type"].endswith("municipality_ready.v1")] == [
        ["hemtjänst"]]


def test_a_refusing_store_answers_503_with_retry_after(client: TestClient, hub: Any,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(hub.log, "append", full)
    for url, headers, body in (("/inbound/kommun/2480", JSON, orjson.dumps(GOOD)),
                               ("/inbound/prator", XML, PRATOR),
                               ("/inbound/kommun/2480", JSON, b"[]")):
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 503, r.text
        assert int(r.headers["Retry-After"]) >= 1
    monkeypatch.undo()
    assert client.post("/inbound/kommun/2480", json=GOOD, headers=KOMMUN).status_code == 202


def test_the_inbox_reads_only_settled_regular_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.csv").mkdir()  # a directory with the suffix
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the hub")
    os.symlink(secret, folder / "link.csv")
    (folder / "half.csv").write_bytes(b"type,mess")
    now = [0.0]
    scan = InboxScan(".csv", settle_s=2.0, clock=lambda: now[0])
    assert scan.ready(folder) == []  # first sight: not settled yet
    now[0] = 1.0
    (folder / "half.csv").write_bytes(b"type,message_id\n")  # still being written
    assert scan.ready(folder) == []
    now[0] = 2.5
    assert scan.ready(folder) == []  # changed at 1.0: not yet 2 s
    now[0] = 3.5
    assert scan.ready(folder) == [folder / "half.csv"]
    assert scan.skipped == 2  # the directory and the symlink, each counted once


async def test_watchers_skip_links_and_directories_and_never_stop(client: TestClient, hub: Any,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    inbox = tmp_path / "kommun"
    (inbox / "2480" / "dir.csv").mkdir(parents=True)
    outside = tmp_path / "outside.csv"
    outside.write_text(f"type,message_id,episode_id,unit,time\nkvittering,L-1,{EP_A},{SOC},x\n")
    os.symlink(outside, inbox / "2480" / "link.csv")
    pdrop = tmp_path / "prator"
    (pdrop / "dir.xml").mkdir(parents=True)
    os.symlink(outside, pdrop / "link.xml")
    bad = f"type,message_id,episode_id,unit,time\nkvittering,{CANARY_PNR},{EP_A},{CANARY_NAME},{CANARY_PNR}\n"
    (inbox / "2480" / "bad.csv").write_text(bad, encoding="utf-8")
    (pdrop / "bad.xml").write_bytes(PRATOR.replace(b"191212121212", CANARY_PNR[:-1].encode() + b"7"))
    options = {**kommun_files.options(hub.settings, hub.resources), "settle_s": 0}
    dlq = _dlq(hub)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(kommun_files.watch(inbox, {}, hub.log, hub.clock, stop, every=0.02, **options)),
             asyncio.create_task(prator_files.watch(pdrop, hub.log, hub.clock, stop, every=0.02, **options))]
    for _ in range(200):
        if (inbox / "2480" / "rejected" / "bad.csv").exists() and (pdrop / "rejected" / "bad.xml").exists():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert not any(t.done() for t in tasks)  # still watching
    stop.set()
    await asyncio.gather(*tasks)
    assert (inbox / "2480" / "link.csv").is_symlink() and (inbox / "2480" / "dir.csv").is_dir()
    assert (pdrop / "link.xml").is_symlink() and outside.exists()
    assert _dlq(hub) == dlq + 2  # the two bad files; nothing behind a link
    for reason in (inbox / "2480" / "rejected" / "bad.csv.reason.txt", pdrop / "rejected" / "bad.xml.reason.txt"):
        text = reason.read_text(encoding="utf-8")
        assert text.strip() and not [c for c in CANARIES if c in text], text
