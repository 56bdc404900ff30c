"""The hub's one error tree. Every error the hub raises on purpose descends from HubError.

    HubError
    ├── ConfigurationError          settings, rule packs or directories unusable: refuse to start
    ├── ValidationFailed            bad input: the sender gets the reason, the bytes go to the DLQ
    │   └── IdentifierError         an identifier (personnummer, HSA-id, kommunkod …) that is not valid
    ├── LogError                    the log could not do what was asked
    │   ├── LogClosed               the log was used after close()
    │   ├── StoreUnavailable        the store refuses for now (lock timeout, disk full, I/O error): retry
    │   ├── NotOwner                another process runs this data file's processors
    │   └── UnknownTopic            a topic that does not exist (and was not to be created)
    └── TransportError              I/O to a peer failed; retried with back-off by whoever owns the I/O

Library exceptions are translated into these where they enter the hub. Messages never carry a
personnummer or a name: validation errors quote a masked value (``19121212-****``).
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class ConfigurationError(HubError):
    """Settings, a rule pack or a directory cannot be used; the hub refuses to start with it."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, field) if p]
        super().__init__(f"{' '.join(parts)}: {message}" if parts else message)
        self.file = file
        self.line = line
        self.field = field


class ValidationFailed(HubError):
    """Input that breaks a rule. ``errors`` lists (location, message) pairs, already masked."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in errors))


class IdentifierError(ValueError, HubError):
    """An identifier that is not valid. The message names the rule broken and masks the value.

    Subclasses ValueError so that pydantic reports it as a field validation error.
    """


class LogError(HubError):
    """The log could not do what was asked."""


class LogClosed(LogError):
    """The log was used after it was closed."""


class StoreUnavailable(LogError):
    """The store refuses writes for now (lock timeout, full disk, I/O error); retry later."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotOwner(LogError):
    """Another process owns this data file's consumer positions (it runs the processors)."""


class UnknownTopic(LogError):
    """A topic that does not exist."""


class TransportError(HubError):
    """I/O to a peer failed; the owner of the I/O retries it with back-off."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
