"""Errors of the Prator adapter."""

from __future__ import annotations

from hub.errors import ValidationFailed


class PratorError(ValidationFailed):
    """An XML message the hub cannot accept; names the element and the line."""

    def __init__(self, text: str, *, element: str = "", line: int | None = None) -> None:
        where = f"line {line}" if line else ""
        super().__init__([(f"{element} ({where})" if element and where else element or where, text)])
        self.element = element
        self.line = line
