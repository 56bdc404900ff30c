"""YAML configuration files (rule packs, the unit directory) validated by pydantic, with errors
that name the file, the line and the field. Parsing is pure: text in, model out."""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise ConfigurationError(f"duplicate key '{key}'", line=key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[str(key)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    return _Seq(items, [child.start_mark.line + 1 for child in node.value])


class _Seq(list[Any]):
    """A list that knows the line of each item."""

    def __init__(self, items: list[Any], lines: list[int]) -> None:
        super().__init__(items)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest part of ``loc`` that the document has."""
    line = None
    node = doc
    for part in loc:
        if isinstance(node, dict) and str(part) in node:
            line = node.get("__lines__", {}).get(str(part), line)
            node = node[str(part)]
        elif isinstance(node, _Seq) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def load_yaml(text: str, filename: str) -> Any:
    """Parse YAML keeping line numbers; ConfigurationError with file and line on bad YAML."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc).split(": ", 1)[-1], file=filename, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigurationError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=filename,
                                 line=mark.line + 1 if mark else None) from None


def validate(model: type[M], doc: Any, filename: str, *, at: tuple[int | str, ...] = ()) -> M:
    """Validate a parsed document (or the part at ``at``) with ``model``; the first error is
    reported with file, line and field path."""
    try:
        return model.model_validate(_strip(doc))
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        loc = (*at, *err["loc"])
        field = ".".join(str(p) for p in loc) or None
        raise ConfigurationError(err["msg"].removeprefix("Value error, "), file=filename,
                                 line=_line_of(doc, tuple(err["loc"])), field=field) from None


def line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    """Public form of the line lookup, for checks beyond the model (duplicates, references)."""
    return _line_of(doc, loc)
