"""HL7 files from a drop directory (single messages and FHS/BHS batches), MLLP over TLS, and the
MLLP metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import send
from hub.api.metrics import MllpCollector
from hub.bootstrap import build_hub, start_hl7
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams import hl7_files
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "hl7"


def _settings(tmp_path: Path, **hl7: object) -> HubSettings:
    return HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                       hl7=Hl7Settings(port=0, wards=WARDS, **hl7))  # type: ignore[arg-type]


async def test_drop_directory_moves_files_and_explains_rejections(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "batch.hl7").write_bytes((SAMPLES / "batch.hl7").read_bytes())
    (drop / "single.hl7").write_bytes(adt(control="S1", visit="V5").encode())
    (drop / "bad.hl7").write_bytes(adt(control="S2", ward="X1^^^NUS").encode() + adt(control="S3").encode())
    cut = (SAMPLES / "batch.hl7").read_bytes().replace(b"BTS|3", b"BTS|4")
    (drop / "cut.hl7").write_bytes(cut)
    (drop / "partial.hl7.tmp").write_bytes(b"MSH|")
    hub = build_hub(_settings(tmp_path, drop_directory=drop, ack_policy="strict"), clock=SystemClock())
    server, ingest = await start_hl7(hub)
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(hl7_files.watch(drop, ingest, stop, every=0.05))
        for _ in range(100):
            if not any(p.suffix == ".hl7" for p in drop.iterdir() if p.is_file()):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        assert sorted(p.name for p in (drop / "processed").iterdir()) == ["batch.hl7", "single.hl7"]
        assert sorted(p.name for p in (drop / "rejected").iterdir()) == [
            "bad.hl7", "bad.hl7.reason.txt", "cut.hl7", "cut.hl7.reason.txt"]
        reason = (drop / "rejected" / "bad.hl7.reason.txt").read_text()
        assert reason.startswith("message 1: AE") and "ward 'X1'" in reason
        assert "BTS-1 says 4" in (drop / "rejected" / "cut.hl7.reason.txt").read_text()
        assert (drop / "partial.hl7.tmp").exists()
        events = [orjson.loads(v)["sourcemessageid"] for p in range(4)
                  for v in (r.value for r in hub.log.read(topics.EVENTS, p, 0, 100))]
        assert sorted(events) == ["COSMIC|NUS|B001", "COSMIC|NUS|B002", "COSMIC|NUS|B003",
                                  "COSMIC|NUS|S1", "COSMIC|NUS|S3"]
    finally:
        await server.close()
        hub.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_mllp_over_tls_and_its_metrics(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    hub = build_hub(_settings(tmp_path, tls_cert=cert, tls_key=key), clock=SystemClock())
    server, ingest = await start_hl7(hub)
    try:
        client = ssl.create_default_context(cafile=str(cert))
        client.check_hostname = False
        acks = await send("127.0.0.1", server.port, [adt(control="T1").encode(), b"nonsense"], ssl_context=client)
        assert ["|AA|" in a.decode() for a in acks] == [True, False]
        try:
            await send("127.0.0.1", server.port, [adt(control="T2").encode()], timeout=2)
            plain_worked = True
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
            plain_worked = False
        assert not plain_worked
        samples = {s.name: s.value for m in MllpCollector(server, ingest).collect() for s in m.samples}
        assert samples["svu_hub_mllp_messages_total"] >= 2
        assert samples["svu_hub_mllp_rejected_total"] >= 1
        assert samples["svu_hub_mllp_ack_seconds_count"] >= 2
    finally:
        await server.close()
        hub.close()
