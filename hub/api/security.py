"""Who is calling: an API key (embedded default) or a JWT bearer token from the identity
provider, mapped to a principal with a role and, for a kommun, the kommunkod it is bound to.
Keys and tokens are compared in constant time and never logged.

Roles: ``ops_admin`` (everything, raw dead letters, the audit log), ``region`` (every episode),
``kommun`` (episodes and figures of its own kommun only), ``dashboard`` (aggregates only).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import jwt
from fastapi import HTTPException, Request, status

from hub.settings import ApiKey, JwtSettings, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role
    municipality: str | None = None

    def may_read_episode(self, municipalities: list[str]) -> bool:
        """Region and ops see every episode; a kommun only those that concern it."""
        if self.role in (Role.OPS_ADMIN, Role.REGION):
            return True
        if self.role is Role.MUNICIPALITY:
            return self.municipality is not None and self.municipality in municipalities
        return False

    @property
    def sees_patient_data(self) -> bool:
        return self.role is not Role.DASHBOARD

    def kommun_scope(self) -> str | None:
        """The kommunkod every query must be limited to, or None for no limit."""
        return self.municipality if self.role is Role.MUNICIPALITY else None


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


class Authenticator:
    """FastAPI dependency: the Principal for the presented key or token, or 401."""

    def __init__(self, keys: tuple[ApiKey, ...], jwt_settings: JwtSettings) -> None:
        self._keys = keys
        self._jwt = jwt_settings

    def __call__(self, request: Request) -> Principal:
        presented = _presented(request)
        if presented:
            for key in self._keys:
                if hmac.compare_digest(presented.encode(), key.key.get_secret_value().encode()):
                    return Principal(key.principal, key.role, key.municipality)
            if presented.count(".") == 2 and self._jwt.issuer and self._jwt.key:
                return self._from_token(presented)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or unknown credentials: send 'Authorization: Bearer <key or token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _from_token(self, token: str) -> Principal:
        assert self._jwt.key is not None
        try:
            claims = jwt.decode(token, self._jwt.key.get_secret_value(),
                                algorithms=list(self._jwt.algorithms),
                                issuer=self._jwt.issuer, audience=self._jwt.audience,
                                options={"require": ["exp", "iss", "aud", "sub"]})
            role = Role(claims[self._jwt.role_claim])
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"invalid token: {type(exc).__name__}",
                                headers={"WWW-Authenticate": "Bearer"}) from None
        kommun = claims.get(self._jwt.municipality_claim)
        if role is Role.MUNICIPALITY and not kommun:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                                detail=f"a kommun token needs the '{self._jwt.municipality_claim}' claim")
        return Principal(str(claims["sub"]), role, kommun)


def require(principal: Principal, *roles: Role) -> None:
    """403 unless the principal has one of ``roles``."""
    if principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail=f"role {principal.role.value} may not do this")
