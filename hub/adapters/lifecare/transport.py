"""HTTP delivery to LifeCare: retries with exponential back-off and full jitter (tenacity), a
circuit breaker per target, ``Retry-After`` honoured on 429/503, 409 counted as delivered (the
receiver already has the message with that idempotency key), other 4xx failing at once."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from hub.adapters.lifecare.config import LifeCareSettings
from hub.errors import TransportError


@dataclass(frozen=True, slots=True)
class Result:
    """How one delivery went: delivered (possibly already there) or failed for good."""

    delivered: bool
    status: int | None
    detail: str
    attempts: int


class Permanent(TransportError):
    """The receiver refused the message; retrying will not help."""


class CircuitOpen(TransportError):
    """Too many failures in a row: the target is left alone for a while."""


class Breaker:
    """A circuit breaker for one target."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None

    def check(self) -> None:
        if self.opened_at is not None and time.monotonic() - self.opened_at < self.cooldown:
            raise CircuitOpen("circuit open", retry_after=self.cooldown - (time.monotonic() - self.opened_at))

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class LifeCareClient:
    """Delivers rendered messages; one breaker per base URL."""

    def __init__(self, settings: LifeCareSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}"} if settings.token else {}
        self._http = httpx.AsyncClient(base_url=settings.base_url, timeout=settings.timeout_s, headers=headers,
                                       transport=transport)
        self.breaker = Breaker(settings.breaker_threshold, settings.breaker_cooldown_s)
        self.requests = 0

    async def close(self) -> None:
        await self._http.aclose()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.settings.backoff_max_s))
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    async def deliver(self, path: str, body: bytes, headers: dict[str, str]) -> Result:
        attempts = 0
        last = "not attempted"
        status: int | None = None
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.settings.max_attempts), wait=self._wait,
                                               retry=retry_if_exception(_retryable), reraise=True):
                with attempt:
                    attempts += 1
                    status, last = await self._once(path, body, headers)
        except Permanent as exc:
            return Result(False, status, str(exc), attempts)
        except TransportError as exc:
            return Result(False, status, f"gave up after {attempts} attempts: {exc}", attempts)
        return Result(True, status, last, attempts)

    async def _once(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        self.breaker.check()
        self.requests += 1
        try:
            response = await self._http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.breaker.failure()
            raise TransportError(f"{type(exc).__name__}") from None
        code = response.status_code
        if code in (200, 201, 202, 204):
            self.breaker.success()
            return code, "delivered"
        if code == 409:
            self.breaker.success()
            return code, "already delivered (409)"
        if code in (429, 503):
            self.breaker.failure()
            raise TransportError(f"HTTP {code}", retry_after=_retry_after(response))
        if 500 <= code < 600:
            self.breaker.failure()
            raise TransportError(f"HTTP {code}")
        self.breaker.success()
        raise Permanent(f"refused with HTTP {code}: {response.text[:200]}")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and not isinstance(exc, Permanent)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
