"""Door hygiene: one 401 text for every failed authentication, failed attempts throttled per
client and audited, JWT claims that name no known huvudman (or of the wrong type) refused, keys
from a JWKS server on loopback with rotation, security headers with a CSP that allows no inline
script, ``Cache-Control: no-store``, API docs served by the hub itself, the demo key only alone,
and no start with the shipped patient-hash secret."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.cli import app as cli
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import ApiSettings, EngineSettings, HubSettings, JwtSettings, LogSettings
from tests.support.trust import EP_A, EP_B, KEYS, SECRET, H, world, write_directory

NOW = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)
HS = "a-shared-secret-that-is-long-enough-for-hs256"


def _client(tmp: Path, api: ApiSettings) -> Iterator[tuple[TestClient, Any]]:
    settings = HubSettings(log=LogSettings(path=tmp / "hub.db"), api=api,
                           engine=EngineSettings(directory=write_directory(tmp), patient_key_secret=SecretStr(SECRET)))
    hub = build_hub(settings, clock=FakeClock(NOW))
    hub.log.append(world(NOW))
    hub.runtime.run_until_idle()
    with TestClient(create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor,
                                          hub.resources))) as c:
        yield c, hub
    hub.close()


@pytest.fixture
def hs(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    yield from _client(tmp_path, ApiSettings(keys=KEYS, auth_failures_per_minute=5, jwt=JwtSettings(
        issuer="https://idp.test", algorithms=("HS256",), key=SecretStr(HS))))


def _claims(**extra: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {"iss": "https://idp.test", "aud": "svu-hub", "sub": "anna@umea", "exp": now + dt.timedelta(minutes=5),
            **extra}


def test_one_401_text_and_throttling_per_client(hs: tuple[TestClient, Any]) -> None:
    client, hub = hs
    texts = {client.get("/alerts").text,
             client.get("/alerts", headers={"Authorization": "Bearer wrong"}).text,
             client.get("/alerts", headers={"Authorization": "Bearer " + jwt.encode(_claims(), "x" * 40)}).text,
             client.get("/alerts", headers={"X-API-Key": "guess"}).text}
    assert len(texts) == 1
    for _ in range(2):  # a missing credential is no guess: it is neither counted nor audited
        assert client.get("/alerts", headers={"Authorization": "Bearer guess"}).status_code == 401
    throttled = client.get("/alerts", headers={"Authorization": "Bearer guess"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # even the right key waits out the throttle of this client
    assert client.get("/alerts", headers=H["ops-anna"]).status_code == 429
    audit = [orjson.loads(r.value) for r in hub.log.read(topics.AUDIT, 0, 0, 1000)]
    assert sum(1 for a in audit if a["outcome"] == "failed_login") == 5
    assert all(a["client"] for a in audit if a["outcome"] == "failed_login")


@pytest.mark.parametrize("claims", [
    {"svu_role": "kommun", "svu_kommun": "9999"},
    {"svu_role": "kommun", "svu_kommun": ["2480"]},
    {"svu_role": "kommun", "svu_kommun": 2480},
    {"svu_role": "kommun"},
    {"svu_role": "kommun", "svu_huvudman": "region:24"},
    {"svu_role": "region", "svu_huvudman": "region:99"},
    {"svu_role": "region", "svu_huvudman": ["region:24"]},
    {"svu_role": ["ops_admin"]},
    {"svu_role": "superuser"},
    {"svu_role": "kommun", "svu_kommun": "2480", "svu_units": "SE2120024803-SOC"},
    {"svu_role": "kommun", "svu_kommun": "2480", "sub": 12},
])
def test_tokens_naming_no_known_huvudman_or_of_the_wrong_type_are_refused(
        hs: tuple[TestClient, Any], claims: dict[str, Any]) -> None:
    client, _ = hs
    token = jwt.encode(_claims(**claims), HS, algorithm="HS256")
    r = client.get("/alerts", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text


def test_a_token_bound_to_a_kommun_and_narrowed_to_units(hs: tuple[TestClient, Any]) -> None:
    client, _ = hs
    good = jwt.encode(_claims(svu_role="kommun", svu_huvudman="kommun:2480"), HS, algorithm="HS256")
    assert client.get(f"/episodes/{EP_A}/timeline", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert client.get(f"/episodes/{EP_B}/timeline", headers={"Authorization": f"Bearer {good}"}).status_code == 404
    # narrowed to a unit the episode was never routed to: not part of it
    narrow = jwt.encode(_claims(svu_role="kommun", svu_kommun="2480", svu_units=["SE2120024803-HSV"]), HS,
                        algorithm="HS256")
    assert client.get(f"/episodes/{EP_A}/timeline", headers={"Authorization": f"Bearer {narrow}"}).status_code == 404


class _Jwks(http.server.BaseHTTPRequestHandler):
    keys: ClassVar[list[dict[str, Any]]] = []
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps({"keys": type(self).keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def test_jwks_keys_rotate(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        first = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        second = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _Jwks.keys = [_jwk(first, "k1")]
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        api = ApiSettings(keys=KEYS, jwt=JwtSettings(issuer="https://idp.test", jwks_url=url, jwks_cache_s=300,
                                                     jwks_refresh_cooldown_s=0))
        for client, _ in _client(tmp_path, api):
            claims = _claims(svu_role="ops_admin")
            one = jwt.encode(claims, first, algorithm="RS256", headers={"kid": "k1"})
            assert client.get("/alerts", headers={"Authorization": f"Bearer {one}"}).status_code == 200
            # the identity provider rotates: a token signed with the new key (a kid not yet seen)
            _Jwks.keys = [_jwk(second, "k2")]
            two = jwt.encode(claims, second, algorithm="RS256", headers={"kid": "k2"})
            assert client.get("/alerts", headers={"Authorization": f"Bearer {two}"}).status_code == 200
            forged = jwt.encode(claims, first, algorithm="RS256", headers={"kid": "k2"})
            assert client.get("/alerts", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
            assert _Jwks.hits >= 2
    finally:
        server.shutdown()
        server.server_close()


def test_security_headers_and_no_store(hs: tuple[TestClient, Any]) -> None:
    client, _ = hs
    for path in ("/dashboard", f"/episodes/{EP_A}/timeline", "/health", "/docs"):
        r = client.get(path, headers=H["ops-anna"])
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
    page = client.get("/dashboard").text
    assert "<script>" not in page and " on" not in page.split("<body>")[1].split(">")[0]


def _shown(media: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """An example in the response, or in the schema it refers to."""
    schema = media.get("schema", {})
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
    return "example" in media or "examples" in media or bool(ref and schemas[ref.rsplit("/", 1)[1]].get("examples"))


def test_api_docs_are_served_by_the_hub(hs: tuple[TestClient, Any]) -> None:
    client, _ = hs
    page = client.get("/docs").text
    assert "<script>" not in page and "http" not in page  # no inline script, nothing from elsewhere
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css", "/docs/init.js"):
        assert client.get(asset).status_code == 200, asset
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"detail", "errors"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            examples = [m for c in ok for m in op["responses"][c].get("content", {}).values()
                        if _shown(m, spec["components"]["schemas"])]
            assert examples, f"{method} {path} has no example"
            if op.get("security") or path.startswith(("/episodes", "/alerts", "/inbound")):
                assert "401" in op["responses"], f"{method} {path}"


def test_the_demo_key_only_when_no_keys_are_configured_and_no_default_secret(tmp_path: Path) -> None:
    from hub.api.app import refuse_default_secret
    from hub.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="patient_key_secret"):
        refuse_default_secret(HubSettings())
    refuse_default_secret(HubSettings(engine=EngineSettings(patient_key_secret=SecretStr(SECRET))))
    result = CliRunner().invoke(cli, ["run", "--data", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "patient_key_secret" in result.output



@pytest.mark.parametrize(("configured", "expected"), [(None, ["demo-ops", "demo-region", "demo-kommun-2480"]),
                                                          ("ops-anna", ["ops-anna"])])
def test_the_demo_key_only_when_no_keys_are_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       configured: str | None, expected: list[str]) -> None:
    import hub.cli

    seen: list[list[str]] = []

    async def serve(running: Any, **kwargs: Any) -> None:
        seen.append([k.principal for k in running.settings.api.keys])

    monkeypatch.setattr(hub.cli, "serve", serve)
    if configured:
        monkeypatch.setenv("HUB_API__KEYS", '[{"key": "k", "principal": "ops-anna", "role": "ops_admin"}]')
    result = CliRunner().invoke(cli, ["demo", "--data", str(tmp_path / "demo.db"), "--episodes", "2"])
    assert result.exit_code == 0, result.output
    assert seen == [expected]
