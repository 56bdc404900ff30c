"""Notifications against real servers on loopback: an SMTP server (aiosmtpd) that requires
STARTTLS with a certificate made here, and a webhook receiver that fails at first. Each raise and
each escalation level reaches the recipients configured for it, failed attempts are retried,
a restart does not notify twice, and no personnummer or name is in any notification."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.bootstrap import build_hub
from hub.demo.fake_lifecare import _Quiet
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import (
    EmailRecipient,
    EngineSettings,
    HubSettings,
    LogSettings,
    NotifyMatch,
    NotifySettings,
    SmtpSettings,
    WebhookRecipient,
)
from hub.streams.notify import Notifier

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Mailbox:
    """aiosmtpd handler: keeps each message with whether the session was upgraded to TLS."""

    def __init__(self) -> None:
        self.messages: list[tuple[bool, list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        body = parsed.get_body()
        text = f"{parsed['Subject']}\n{body.get_content() if body is not None else ''}"
        self.messages.append((session.ssl is not None, list(envelope.rcpt_tos), text))
        return "250 OK"


def _expected(log: Any) -> list[tuple[str, str, int, str | None]]:
    """(alert id, rule, level, kommun) of every raise and escalation on svu.alerts."""
    info: dict[str, dict[str, Any]] = {}
    out = []
    for partition in range(log.partitions(topics.ALERTS)):
        for record in log.read(topics.ALERTS, partition, 0, 100_000):
            event = orjson.loads(record.value)
            kind, d = event["type"].split(".")[2], event["data"]
            if kind == "alert_raised":
                info[d["alert_id"]] = d
                out.append((d["alert_id"], d["rule"], 1, d.get("municipality")))
            elif kind == "alert_escalated":
                i = info[d["alert_id"]]
                out.append((d["alert_id"], i["rule"], d["level"], i.get("municipality")))
    return out


def test_raise_and_each_escalation_reach_webhook_and_email_without_patient_identity(tmp_path: Path) -> None:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           engine=EngineSettings(directory=directory, rule_pack="vasterbotten"))
    hub = build_hub(settings, clock=FakeClock(START + dt.timedelta(days=20)))
    traffic = Simulator(start=START, episodes=25, seed=3, bad_share=0).events()
    hub.ingestor.submit_events(traffic)
    hub.runtime.run_until_idle()
    expected = _expected(hub.log)
    webhook_expected = [e for e in expected if e[1] == "kvittering"]
    escalated = sorted({e[3] for e in expected if e[2] >= 2 and e[3]})
    assert escalated, "the feed should escalate some kommun's alerts"
    kommun = escalated[0]  # the e-mail recipient: one kommun's MAS, levels 2 and 3
    mail_expected = [e for e in expected if e[3] == kommun and e[2] >= 2]
    assert {e[2] for e in webhook_expected} >= {1, 2, 3}, "the feed should escalate kvittering alerts"
    assert mail_expected

    cert, key = _certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    smtp_port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port, tls_context=tls, require_starttls=True)
    controller.start()

    received: list[dict[str, Any]] = []
    attempts = {"n": 0}

    async def hook(request: Request) -> Response:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            return JSONResponse({"error": "busy"}, status_code=503)
        received.append(orjson.loads(await request.body()))
        return JSONResponse({}, status_code=200)

    web_port = _free_port()
    notify = NotifySettings(
        enabled=True, console_url="http://127.0.0.1:8000/dashboard", backoff_initial_s=0.01, backoff_max_s=0.05,
        webhooks=(WebhookRecipient(url=f"http://127.0.0.1:{web_port}/hook", match=NotifyMatch(rules=("kvittering",))),),
        email=(EmailRecipient(to=("mas@umea.example",), match=NotifyMatch(municipalities=(kommun,), levels=(2, 3))),),
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port, ca_file=cert, sender="svu-hub@region.example"))

    async def scenario() -> tuple[int, int]:
        import uvicorn

        server = _Quiet(uvicorn.Config(Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
                                       host="127.0.0.1", port=web_port, log_level="error", lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            first = Notifier(hub.log, notify, pack_id="vasterbotten")
            done = 0
            while (batch := await first.run_once()) > 0:
                done += batch
            await first.close()
            again = Notifier(hub.log, notify, pack_id="vasterbotten")
            repeat = await again.run_once()
            await again.close()
            return done, repeat
        finally:
            server.should_exit = True
            await task

    try:
        done, repeat = asyncio.run(scenario())
    finally:
        controller.stop()
        hub.close()
    assert done >= len(expected) and repeat == 0
    assert attempts["n"] == len(webhook_expected) + 2  # two refused attempts, retried
    assert sorted((r["alert_id"], r["level"]) for r in received) == sorted((e[0], e[2]) for e in webhook_expected)
    assert {r["type"] for r in received} == {"svu.alert.raised", "svu.alert.escalated"}
    first = received[0]
    assert first["rule_name"] == "Kvittering av inskrivningsmeddelande"
    assert first["link"] == f"http://127.0.0.1:8000/dashboard#vardtillfalle={first['episode_id']}"
    assert len(mailbox.messages) == len(mail_expected)
    assert all(tls_used and to == ["mas@umea.example"] for tls_used, to, _ in mailbox.messages)
    assert any("eskalerat till nivå 3" in text for _, _, text in mailbox.messages)

    secrets: set[str] = set()
    for ev in traffic:
        patient = getattr(ev.data, "patient", None)
        if patient is not None:
            secrets |= {patient.id.value, patient.id.value[2:], patient.name or ""}
            secrets |= set((patient.name or "").split())
    secrets.discard("")
    everything = orjson.dumps(received).decode() + "".join(text for _, _, text in mailbox.messages)
    leaked = [s for s in secrets if s in everything]
    assert not leaked
