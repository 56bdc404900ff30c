"""Who is calling: an API key or a JWT bearer token (a static key, or the identity provider's
JWKS with rotation), mapped to a principal — a role and the huvudman it acts for
(``region:<länskod>`` or ``kommun:<kommunkod>``), optionally narrowed to units. A token whose
claims name no known kommun or region, or claims of the wrong type, is refused like any other
bad credential: one 401 text for every failure, so that a caller learns nothing from it.
Failed attempts are throttled per client (429 with Retry-After) and audited. Keys and tokens
are compared in constant time and never logged.

Roles: ``ops_admin`` (everything, raw dead letters, the audit log, metrics), ``region`` (the
episodes of its own hospitals), ``kommun`` (the episodes it is part of), ``dashboard``
(aggregates only).
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.schemas.geography import is_known_kommunkod, kommuner
from hub.settings import ApiKey, ApiSettings, JwtSettings, Role
from hub.streams.audit import AuditTrail

UNAUTHORIZED = "not authenticated: send 'Authorization: Bearer <API key or token>'"
_HUVUDMAN = re.compile(r"^(region:\d{2}|kommun:\d{4})$")
_HSA = re.compile(r"^SE\d{10}-[A-Za-z0-9]{1,18}$")

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="An API key or a JWT from the identity provider.")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role
    huvudman: str | None = None
    units: frozenset[str] | None = None
    client: str | None = None

    @property
    def municipality(self) -> str | None:
        """The kommunkod a kommun principal acts for."""
        if self.huvudman is not None and self.huvudman.startswith("kommun:"):
            return self.huvudman.split(":", 1)[1]
        return None

    @property
    def lanskod(self) -> str | None:
        """The länskod a region principal acts for (None: the region of the directory's hospitals)."""
        if self.huvudman is not None and self.huvudman.startswith("region:"):
            return self.huvudman.split(":", 1)[1]
        return None

    @property
    def sees_patient_data(self) -> bool:
        return self.role is not Role.DASHBOARD

    def kommun_scope(self) -> str | None:
        """The kommunkod every query must be limited to, or None for no kommun limit."""
        return self.municipality if self.role is Role.MUNICIPALITY else None


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def client_of(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


class Throttle:
    """Failed authentications per client in a sliding minute; over the limit the client waits."""

    def __init__(self, per_minute: int, *, clock: Any = time.monotonic, clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._clients = clients
        self.throttled = 0

    def wait(self, client: str) -> float:
        """Seconds the client must wait before it may try again (0: it may)."""
        now: float = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < 60]
            if len(recent) < self.per_minute:
                return 0.0
            return max(1.0, 60 - (now - recent[0]))

    def fail(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.pop(client, []) if now - t < 60]
            self._failures[client] = [*recent, now][-self.per_minute:]
            while len(self._failures) > self._clients:
                self._failures.popitem(last=False)


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED,
                         headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """FastAPI dependency: the Principal for the presented key or token, or 401 (429 when the
    client failed too often)."""

    def __init__(self, api: ApiSettings, audit: AuditTrail | None = None, *,
                 extra_keys: tuple[ApiKey, ...] = ()) -> None:
        self._keys = (*api.keys, *extra_keys)
        self._jwt = api.jwt
        self._audit = audit
        self.throttle = Throttle(api.auth_failures_per_minute)
        self.failures = 0
        self._jwks: Any = None
        if api.jwt.issuer and api.jwt.jwks_url:
            self._jwks = jwt.PyJWKClient(api.jwt.jwks_url, cache_keys=False, lifespan=max(1, api.jwt.jwks_cache_s),
                                         timeout=5, cooldown_duration=api.jwt.jwks_refresh_cooldown_s)

    def __call__(self, request: Request,
                 _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None) -> Principal:
        client = client_of(request)
        wait = self.throttle.wait(client)
        if wait:
            self.throttle.throttled += 1
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail="too many failed authentications; "
                                "try again later", headers={"Retry-After": str(round(wait))})
        presented = _presented(request)
        principal = self._identify(presented, client) if presented else None
        if principal is None:
            if presented is not None:  # a guess: counted, throttled, audited (a missing one is not)
                self._failed(request, client)
            raise _unauthorized()
        request.state.principal = principal
        return principal

    def _identify(self, presented: str, client: str) -> Principal | None:
        for key in self._keys:
            if hmac.compare_digest(presented.encode(), key.key.get_secret_value().encode()):
                units = frozenset(key.units) if key.units else None
                return Principal(key.principal, key.role, key.acts_for, units, client)
        if presented.count(".") == 2 and self._jwt.issuer and (self._jwt.key or self._jwks is not None):
            return self._from_token(presented, client)
        return None

    def _failed(self, request: Request, client: str) -> None:
        self.failures += 1
        self.throttle.fail(client)
        if self._audit is not None:
            self._audit.write(principal="-", role="none", huvudman=None, endpoint=_endpoint(request),
                              outcome="failed_login", patient_keys=(), client=client, detail="bad credential")

    def _from_token(self, token: str, client: str) -> Principal | None:
        settings: JwtSettings = self._jwt
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
            else:
                assert settings.key is not None
                key = settings.key.get_secret_value()
            claims = jwt.decode(token, key, algorithms=list(settings.algorithms), issuer=settings.issuer,
                                audience=settings.audience, options={"require": ["exp", "iss", "aud", "sub"]})
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return principal_from_claims(claims, settings, client)


def principal_from_claims(claims: dict[str, Any], settings: JwtSettings, client: str | None = None) -> Principal | None:
    """The principal a verified token's claims name, or None when a claim is missing, of the wrong
    type, or names no known kommun or region."""
    role_value, sub = claims.get(settings.role_claim), claims.get("sub")
    if not isinstance(role_value, str) or not isinstance(sub, str) or not 0 < len(sub) <= 100:
        return None
    try:
        role = Role(role_value)
    except ValueError:
        return None
    huvudman = claims.get(settings.huvudman_claim)
    kommun = claims.get(settings.municipality_claim)
    if huvudman is None and kommun is not None:
        if not isinstance(kommun, str):
            return None
        huvudman = f"kommun:{kommun}"
    if huvudman is not None and not (isinstance(huvudman, str) and _HUVUDMAN.match(huvudman)):
        return None
    if huvudman is not None:
        kind, code = huvudman.split(":", 1)
        if (kind == "kommun" and not is_known_kommunkod(code)) or (kind == "region" and not kommuner(code)):
            return None
    if role is Role.MUNICIPALITY and not (huvudman or "").startswith("kommun:"):
        return None
    if role is Role.REGION and huvudman is not None and not huvudman.startswith("region:"):
        return None
    units_claim = claims.get(settings.units_claim)
    units = None
    if units_claim is not None:
        if not isinstance(units_claim, list) or not all(isinstance(u, str) and _HSA.match(u) for u in units_claim):
            return None
        units = frozenset(units_claim)
    return Principal(sub, role, huvudman, units, client)


def _endpoint(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None) or "(unmatched)"
    return f"{request.method} {path}"


def require(principal: Principal, *roles: Role) -> None:
    """403 unless the principal has one of ``roles``."""
    if principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this role may not do this")
