"""Optional TLS for the API: with ``api.tls_certfile`` and ``api.tls_keyfile`` the embedded hub
serves HTTPS on loopback (a self-signed certificate made here), and plain HTTP is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.api.app import tls_options
from hub.bootstrap import build_hub, serve
from hub.errors import ConfigurationError
from hub.settings import ApiSettings, Hl7Settings, HubSettings, LogSettings
from tests.support.trust import KEYS


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "api.crt", folder / "api.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


async def test_the_api_serves_https_when_configured(tmp_path: Path) -> None:
    certfile, keyfile = _certificate(tmp_path)
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), hl7=Hl7Settings(enabled=False),
                           api=ApiSettings(port=0, keys=KEYS, tls_certfile=certfile, tls_keyfile=keyfile))
    hub = build_hub(settings)
    urls: list[str] = []
    answers: dict[str, Any] = {}

    async def probe(stop: asyncio.Event) -> None:
        while not urls:
            await asyncio.sleep(0.02)
        port = urls[0].rsplit(":", 1)[1]
        try:
            async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(certfile))) as client:
                r = await client.get(f"https://127.0.0.1:{port}/health")
                answers["https"] = r.status_code
            async with httpx.AsyncClient() as client:
                try:
                    await client.get(f"http://127.0.0.1:{port}/health")
                    answers["http"] = "answered"
                except httpx.HTTPError:
                    answers["http"] = "refused"
        except Exception as exc:  # reported below
            answers["error"] = repr(exc)
        finally:
            stop.set()

    try:
        await asyncio.wait_for(serve(hub, extra=[probe], on_started=urls.append), timeout=60)
    finally:
        hub.close()
    assert answers.get("https") == 200, answers
    assert answers["http"] == "refused"


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tls_keyfile"):
        tls_options(ApiSettings(tls_certfile=tmp_path / "api.crt"))
    assert tls_options(ApiSettings()) == {}
