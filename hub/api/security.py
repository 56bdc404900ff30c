"""Who is calling: API keys (embedded default) mapped to a principal with a role and, for a
kommun, the kommunkod it is bound to. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from hub.settings import ApiKey, Role


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


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


class ApiKeyAuth:
    """FastAPI dependency: the Principal for the presented key, or 401."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self._keys = keys

    def __call__(self, request: Request) -> Principal:
        presented = _presented_key(request)
        if presented:
            for key in self._keys:
                if hmac.compare_digest(presented.encode(), key.key.get_secret_value().encode()):
                    return Principal(key.principal, key.role, key.municipality)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or unknown API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
