"""Errors of the Prator adapter."""

from __future__ import annotations

import re

from hub.errors import ValidationFailed

_VALUE = re.compile(r"(?<!Element )(?<!element )(?<!facet )(?<!attribute )'[^']*'")


def without_values(text: str) -> str:
    """An XML or schema message with every quoted value removed: the rule, never the input.
    (lxml and libxml2 quote the value that broke a facet or a type; an ill-formed document's
    message may quote its text.)"""
    return _VALUE.sub("(value not shown)", text)


class PratorError(ValidationFailed):
    """An XML message the hub cannot accept; names the element and the line."""

    def __init__(self, text: str, *, element: str = "", line: int | None = None) -> None:
        where = f"line {line}" if line else ""
        text = without_values(text)
        super().__init__([(f"{element} ({where})" if element and where else element or where, text)])
        self.element = element
        self.line = line
