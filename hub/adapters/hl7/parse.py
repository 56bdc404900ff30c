"""Pure HL7 v2 parsing for ADT: bytes → message → canonical events.

A fast splitter that extracts only the fields the hub needs (hl7apy, which builds the full
message tree, parses roughly a hundred ADT messages a second; this parser tens of thousands).
It honours MSH-1 and MSH-2 (any separators), MSH-18 (UNICODE UTF-8, 8859/1, ASCII), the HL7
escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\ \\.br\\) and \\r, \\n or \\r\\n segment ends
(HL7 v2.5.1 chapter 2).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SUPPORTED_VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"})
CHARSETS = {"": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "8859/1": "iso-8859-1",
            "ASCII": "ascii", "8859/15": "iso-8859-15"}
_SEGMENT_END = re.compile(rb"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")


@dataclass(frozen=True, slots=True)
class Separators:
    """MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass
class Message:
    """A split HL7 message: segments by id (in order), with their fields (1-based like HL7)."""

    separators: Separators
    segments: list[tuple[str, list[str]]] = field(default_factory=list)
    charset: str = "utf-8"
    _first: dict[str, list[str]] = field(default_factory=dict)

    def add(self, seg_id: str, fields: list[str]) -> None:
        self.segments.append((seg_id, fields))
        self._first.setdefault(seg_id, fields)

    def segment(self, name: str) -> list[str] | None:
        """The first segment with this id."""
        return self._first.get(name)

    def field(self, segment: str, number: int) -> str:
        """Raw (still escaped) field ``number`` of the first ``segment``; '' when absent.
        MSH-1 is the field separator itself, so MSH numbering is shifted by one."""
        fields = self.segment(segment)
        if fields is None:
            return ""
        index = number - 1 if segment == "MSH" else number
        return fields[index] if 0 <= index < len(fields) else ""

    def component(self, segment: str, number: int, component: int = 1, repetition: int = 0) -> str:
        """One component of a field (decoded)."""
        reps = self.field(segment, number).split(self.separators.repetition)
        if repetition >= len(reps):
            return ""
        parts = reps[repetition].split(self.separators.component)
        return unescape(parts[component - 1], self.separators) if component - 1 < len(parts) else ""

    def repetitions(self, segment: str, number: int) -> list[list[str]]:
        """Every repetition of a field, split into decoded components."""
        raw = self.field(segment, number)
        if not raw:
            return []
        return [[unescape(c, self.separators) for c in rep.split(self.separators.component)]
                for rep in raw.split(self.separators.repetition)]


_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?")
_ESCAPE = re.compile(r"\\(F|S|T|R|E|X[0-9A-Fa-f]+|\.br|H|N)\\")


def unescape(text: str, sep: Separators) -> str:
    """Decode HL7 escape sequences (chapter 2.7)."""
    if sep.escape not in text:
        return text
    if sep.escape != "\\":
        text = text.replace(sep.escape, "\\")

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        simple = {"F": sep.field, "S": sep.component, "T": sep.subcomponent, "R": sep.repetition,
                  "E": sep.escape, ".br": "\n", "H": "", "N": ""}
        if code in simple:
            return simple[code]
        try:
            return bytes.fromhex(code[1:]).decode("latin-1")
        except ValueError:
            return m.group(0)

    return _ESCAPE.sub(one, text)


def split(raw: bytes) -> Message:
    """Split a message into segments and fields, decoding text per MSH-18.

    Raises Hl7Error naming the segment and field for: no MSH, bad separators, an unknown
    character set, bytes that are not text in the declared set, a malformed segment id.
    """
    body = raw.strip(b"\r\n\x00 \t")
    if not body.startswith(b"MSH"):
        raise Hl7Error("the message does not start with an MSH segment", segment="MSH",
                       code=E.SEGMENT_SEQUENCE, reject=True)
    if len(body) < 8:
        raise Hl7Error("MSH is truncated", segment="MSH", field=2, code=E.REQUIRED_FIELD_MISSING, reject=True)
    fsep = chr(body[3])
    enc = body[4:8].decode("latin-1")
    if fsep.isalnum() or fsep in " \r\n" or len(set(enc + fsep)) != 5 or any(c.isalnum() for c in enc):
        raise Hl7Error("MSH-1/MSH-2: field separator and encoding characters must be five distinct "
                       "non-alphanumeric characters", segment="MSH", field=2, code=E.DATA_TYPE_ERROR, reject=True)
    sep = Separators(fsep, enc[0], enc[1], enc[2], enc[3])
    lines = [ln for ln in _SEGMENT_END.split(body) if ln.strip()]
    msh_fields = lines[0].decode("latin-1").split(fsep)
    declared = msh_fields[17].split(sep.component)[0].strip() if len(msh_fields) > 17 else ""
    charset = CHARSETS.get(declared.upper())
    if charset is None:
        raise Hl7Error(f"MSH-18: character set '{declared[:20]}' is not supported (UNICODE UTF-8, 8859/1, ASCII)",
                       segment="MSH", field=18, code=E.TABLE_VALUE_NOT_FOUND, reject=True)
    message = Message(sep, charset=charset)
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode(charset)
        except UnicodeDecodeError:
            raise Hl7Error(f"segment {number} is not valid {charset} text (MSH-18 says '{declared or 'UTF-8'}')",
                           segment="MSH", field=18, code=E.DATA_TYPE_ERROR) from None
        seg_id = text[:3]
        if not _SEGMENT_ID.match(seg_id) or (len(text) > 3 and text[3] != fsep):
            raise Hl7Error(f"segment {number} does not begin with a segment id and '{fsep}'",
                           segment=seg_id if _SEGMENT_ID.match(seg_id) else "???",
                           sequence=number, code=E.SEGMENT_SEQUENCE)
        message.add(seg_id, text.split(fsep))
    return message


def hl7_time(value: str, segment: str, number: int) -> dt.datetime | None:
    """An HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]); without an offset it is Stockholm time."""
    value = value.strip()
    if not value:
        return None
    m = _DTM.fullmatch(value)
    if m is None:
        raise Hl7Error(f"{segment}-{number}: '{value[:30]}' is not an HL7 date/time", segment=segment,
                       field=number, code=E.DATA_TYPE_ERROR)
    y, mo, d, h, mi, s, frac, offset = m.groups()
    try:
        naive = dt.datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0),
                            int((frac or "0").ljust(6, "0")[:6]))
    except ValueError:
        raise Hl7Error(f"{segment}-{number}: '{value[:30]}' is not a calendar date/time", segment=segment,
                       field=number, code=E.DATA_TYPE_ERROR) from None
    if offset:
        sign = 1 if offset[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return naive.replace(tzinfo=tz).astimezone(dt.UTC)
    return naive.replace(tzinfo=STOCKHOLM).astimezone(dt.UTC)


WardLookup = Callable[[str, str | None], str | None]
"""PV1-3 point-of-care code (and facility) → the ward's HSA-id, from the unit directory."""
