"""The canonical event: a CloudEvents 1.0 envelope around one typed SVU payload.

Every event of one vårdtillfälle carries the same ``episodeid``; the log keys and orders by it.
``sourcemessageid`` links the event to the raw bytes it came from and makes re-sent messages
idempotent; ``receivedtime`` is when the hub got them. CloudEvents ``type`` names payload and
version (``se.svu.patient_admitted.v1``) and is the discriminator of the union.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from functools import cache, lru_cache
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model, model_validator

from hub.errors import IdentifierError, ValidationFailed
from hub.schemas.base import CanonicalModel, Instant
from hub.schemas.figures import MonthlyFigures
from hub.schemas.identifiers import contains_personal_id
from hub.schemas.operations import OPERATION_PAYLOADS
from hub.schemas.payloads import PROCESS_PAYLOADS, Payload

M = TypeVar("M", bound=CanonicalModel)

TYPE_PREFIX = "se.svu."
SCHEMA_URN_PREFIX = "urn:svu-hub:schema:"
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c7c2e-5b7e-4f53-9a55-3d0b8f3a8e21")
EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,64}$")
"""CloudEvents 1.0 §"Attribute Naming Convention": lower-case ASCII letters and digits only."""
MAX_EXTENSIONS = 32
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""W3C Trace Context ``traceparent`` (version-traceid-parentid-flags)."""


@lru_cache(maxsize=65_536)
def _check_episode_id(value: str) -> str:
    if contains_personal_id(value):
        raise IdentifierError("episode id must not contain a personnummer or samordningsnummer")
    return value


EpisodeId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"),
    AfterValidator(_check_episode_id),
]
"""Vårdtillfälle id. Appears in URLs, logs and topic keys, so it may never carry a personnummer."""


def event_type(payload: type[Payload]) -> str:
    """CloudEvents ``type`` of a payload class, e.g. ``se.svu.patient_admitted.v1``."""
    return f"{TYPE_PREFIX}{payload.EVENT_NAME}.v{payload.VERSION}"


def schema_urn(payload: type[Payload]) -> str:
    """CloudEvents ``dataschema`` of a payload class; names a file in ``contracts/events/``."""
    return f"{SCHEMA_URN_PREFIX}{payload.EVENT_NAME}:v{payload.VERSION}"


class Envelope(CanonicalModel):
    """CloudEvents 1.0 attributes plus the hub's extensions. Subclasses fix ``type`` and ``data``.

    Extension attributes the hub does not know (e.g. ``partitionkey``, set by the CloudEvents
    SDK's Kafka binding) are kept and ignored, as CloudEvents 1.0 §"Extension Context Attributes"
    asks: they travel with the event (``model_extra``) but no processor reads them. Their names
    follow the spec's naming rule and their values are scalars (the spec's type system).
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "propertyNames": {"pattern": EXTENSION_NAME.pattern},
        "maxProperties": 64,
    })

    PAYLOAD: ClassVar[type[Payload]] = Payload

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200, description="URI-reference of the sender.")
    type: str
    time: Instant = Field(description="When it happened in the source system.")
    subject: str | None = Field(default=None, max_length=200)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    episode_id: EpisodeId = Field(alias="episodeid")
    source_message_id: str = Field(alias="sourcemessageid", min_length=1, max_length=200)
    received_at: Instant = Field(alias="receivedtime")
    traceparent: str | None = Field(default=None, pattern=TRACEPARENT_PATTERN)
    data: Payload

    @model_validator(mode="after")
    def _extensions(self) -> Envelope:
        extra = self.__pydantic_extra__
        if not extra:
            return self
        if len(extra) > MAX_EXTENSIONS:
            raise ValueError(f"more than {MAX_EXTENSIONS} extension attributes")
        for name, value in extra.items():
            if not EXTENSION_NAME.match(name):
                raise ValueError("an extension attribute name must be lower-case letters and digits "
                                 "(CloudEvents 1.0 naming convention)")
            if not isinstance(value, str | int | bool) and value is not None:
                raise ValueError("an extension attribute must be a string, integer or boolean")
        return self

    def to_json(self) -> bytes:
        """Structured-mode JSON bytes, as stored on the log."""
        return self.model_dump_json(exclude_none=True).encode()


def _envelope_class(payload: type[Payload]) -> type[Envelope]:
    name = payload.__name__ + "Event"
    type_value = event_type(payload)
    literal: Any = Literal[type_value]
    cls: type[Envelope] = create_model(
        name,
        __base__=Envelope,
        __doc__=f"CloudEvents envelope of {payload.__name__}.\n\n{payload.__doc__ or ''}",
        type=(literal, type_value),
        dataschema=(str | None, schema_urn(payload)),
        data=(payload, ...),
    )
    cls.PAYLOAD = payload
    return cls


ALL_PAYLOADS: tuple[type[Payload], ...] = PROCESS_PAYLOADS + OPERATION_PAYLOADS + (MonthlyFigures,)
EVENT_CLASSES: dict[type[Payload], type[Envelope]] = {p: _envelope_class(p) for p in ALL_PAYLOADS}
EVENT_TYPES: dict[str, type[Envelope]] = {event_type(p): c for p, c in EVENT_CLASSES.items()}

CanonicalEvent: Any = Annotated[
    Union[tuple(EVENT_CLASSES.values())],  # noqa: UP007
    Field(discriminator="type"),
]
"""The discriminated union over every canonical event type."""


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(CanonicalEvent)


_NAMESPACE_BYTES = _EVENT_ID_NAMESPACE.bytes


def event_uuid(name: str) -> str:
    """``str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))`` (RFC 4122 §4.3), without building UUID
    objects: the same text, a few times cheaper."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_MISSING: Any = object()


@cache
def _fields(cls: type[CanonicalModel]) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) of each field, in the model's order."""
    return tuple((name, _MISSING if info.is_required() else info.default, info.default_factory)
                 for name, info in cls.model_fields.items())


def build_trusted(cls: type[M], /, **values: Any) -> M:
    """A model built from values its caller has already checked (an adapter that validated the
    outside input field by field, or the hub's own derived data): defaults filled in, nothing
    validated again, fields in the model's order (so its JSON is the validated model's JSON).
    What ``model_construct`` does, at a fraction of its cost."""
    data = {}
    for name, default, factory in _fields(cls):
        if name in values:
            data[name] = values[name]
        elif factory is not None:
            data[name] = factory()
        elif default is not _MISSING:
            data[name] = default
    obj = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(obj, "__dict__", data)
    setattr_(obj, "__pydantic_fields_set__", set(values))
    setattr_(obj, "__pydantic_extra__", None)
    setattr_(obj, "__pydantic_private__", None)
    return obj


def new_event(
    payload: Payload,
    *,
    episode_id: str,
    source: str,
    source_message_id: str,
    time: Any,
    received_at: Any,
    event_id: str | None = None,
    subject: str | None = None,
    traceparent: str | None = None,
    trusted: bool = False,
) -> Envelope:
    """Wrap a payload in its envelope.

    Without ``event_id`` the id is derived from source, source message, type and episode, so that
    the same source message always yields the same event (replays and re-sends stay idempotent).
    ``trusted`` skips re-validating the envelope for events the hub derives itself from events
    it already validated (the payload is validated when it is built); times must then be UTC.
    """
    cls = EVENT_CLASSES[type(payload)]
    etype = event_type(type(payload))
    if event_id is None:
        event_id = event_uuid(f"{source}|{source_message_id}|{etype}|{episode_id}")
    if trusted:
        return build_trusted(
            cls, id=event_id, type=etype, source=source, time=time, subject=subject,
            episode_id=episode_id, source_message_id=source_message_id, received_at=received_at,
            traceparent=traceparent, data=payload, specversion="1.0",
            datacontenttype="application/json", dataschema=schema_urn(type(payload)))
    return cls(
        id=event_id,
        type=etype,
        source=source,
        time=time,
        subject=subject,
        episode_id=episode_id,
        source_message_id=source_message_id,
        received_at=received_at,
        traceparent=traceparent,
        data=payload,
    )


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in EVENT_TYPES:  # the union's tag: say it once, not in every path
        parts = parts[1:]
    return ".".join(parts)


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs of a pydantic error, without input values (they may hold
    patient data). Identifier messages are already masked by their validators."""
    out = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            msg = "not valid JSON: " + msg.removeprefix("Invalid JSON: ")
        elif not err["loc"] and err["type"] in ("model_type", "dict_type", "model_attributes_type"):
            msg = "a canonical event must be a JSON object"
        out.append((_location(err["loc"]), msg))
    return out


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Validate one canonical event (JSON bytes, text or a decoded object).

    Raises ValidationFailed naming each field and the rule it broke, with no patient data.
    """
    try:
        if isinstance(raw, dict):
            result: Envelope = _adapter().validate_python(raw)
        else:
            result = _adapter().validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(validation_errors(exc)) from None
    return result


__all__ = [
    "ALL_PAYLOADS",
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "CanonicalEvent",
    "Envelope",
    "EpisodeId",
    "event_type",
    "new_event",
    "parse_event",
    "schema_urn",
    "validation_errors",
]
