"""Pure HL7 v2 parsing for ADT: bytes → message → canonical events.

A fast splitter that extracts only the fields the hub needs (hl7apy, which builds the full
message tree, parses roughly a hundred ADT messages a second; this parser tens of thousands).
It honours MSH-1 and MSH-2 (any separators, the v2.7 truncation character too), MSH-18 (HL7
table 0211 names mapped onto Python codecs, see ``codec_for``), the HL7 escape sequences
(\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\ \\.br\\), \\r, \\n or \\r\\n segment ends and the HL7 null
``""`` (chapter 2.5.3: present and null, "clear the value"; it is never a value itself)
(HL7 v2.5.1 chapter 2). A stray MLLP start byte (0x0B, what a pasted manual line break
becomes) inside the text is read as a space.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SUPPORTED_VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"})
CHARSETS = {"": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "UNICODE": "utf-8", "ASCII": "ascii",
            "ISO IR6": "ascii", "ISO IR100": "iso-8859-1", "ISO IR101": "iso-8859-2", "ISO IR148": "iso-8859-9",
            "ISO IR192": "utf-8", **{f"8859/{n}": f"iso-8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)}}
"""HL7 table 0211 (alternate character sets) → Python codec names; other names are tried as
Python codec names themselves (``windows-1252``, ``cp1252``)."""
NULL = '""'
_SEGMENT_END = re.compile(rb"\r\n|\r|\n")
_TEXT_SEGMENT_END = re.compile(r"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_KNOWN_IDS = frozenset({"MSH", "EVN", "PID", "PD1", "PV1", "PV2", "NK1", "MRG", "AL1", "DG1", "OBX", "ROL", "GT1",
                        "IN1", "IN2"})


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
        if seg_id not in self._first:
            # MSH-1 is the field separator itself: stored shifted so that MSH-n is at index n
            self._first[seg_id] = [seg_id, self.separators.field, *fields[1:]] if seg_id == "MSH" else fields

    def segment(self, name: str) -> list[str] | None:
        """The first segment with this id (MSH with MSH-1 at index 1)."""
        return self._first.get(name)

    def field(self, segment: str, number: int) -> str:
        """Raw (still escaped) field ``number`` of the first ``segment``; '' when absent."""
        fields = self._first.get(segment)
        if fields is None or not 0 <= number < len(fields):
            return ""
        return fields[number]

    def is_null(self, segment: str, number: int) -> bool:
        """The field is present and null (``""``): the sender clears the value."""
        return self.field(segment, number) == NULL

    def component(self, segment: str, number: int, component: int = 1, repetition: int = 0) -> str:
        """One component of a field (decoded); '' when absent or null (``""``)."""
        fields = self._first.get(segment)
        if fields is None or number >= len(fields):
            return ""
        raw = fields[number]
        if not raw or raw == NULL:
            return ""
        sep = self.separators
        if sep.repetition in raw:
            reps = raw.split(sep.repetition)
            if repetition >= len(reps):
                return ""
            raw = reps[repetition]
        elif repetition:
            return ""
        if sep.component in raw:
            parts = raw.split(sep.component)
            value = parts[component - 1] if component - 1 < len(parts) else ""
        else:
            value = raw if component == 1 else ""
        if value == NULL:
            return ""
        return unescape(value, sep) if sep.escape in value else value

    def repetitions(self, segment: str, number: int) -> list[list[str]]:
        """Every repetition of a field, split into decoded components (null ``""`` → '')."""
        raw = self.field(segment, number)
        if not raw or raw == NULL:
            return []
        return [["" if c == NULL else unescape(c, self.separators) for c in rep.split(self.separators.component)]
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


def codec_for(declared: str, override: str | None = None) -> str | None:
    """The Python codec for an MSH-18 value (HL7 table 0211, then Python's own codec names), or
    None. ``override`` (a sender's setting, e.g. ``windows-1252`` for a feed that declares
    8859/1 but sends Windows-1252) wins when set."""
    if override:
        return codecs.lookup(override).name
    name = CHARSETS.get(declared.strip().upper())
    if name is not None:
        return name
    try:
        found = codecs.lookup(declared.strip()).name
        "MSH".encode(found)  # a text encoding, not base64 or zlib
    except (LookupError, ValueError):
        return None
    return found


def read_msh(raw: bytes) -> tuple[Separators, list[str]] | None:
    """MSH read leniently (for the acknowledgement): its separators and fields (MSH-n at index
    n-1), also when MSH-2 or the rest of the message is malformed; None without an MSH."""
    body = raw.lstrip(b"\r\n\x00 \t\x0b")
    if not body.startswith(b"MSH") or len(body) < 4:
        return None
    line = _SEGMENT_END.split(body, maxsplit=1)[0].decode("latin-1")
    fsep = line[3]
    if fsep.isalnum() or fsep.isspace():
        return None
    fields = line.split(fsep)
    enc = fields[1] if len(fields) > 1 else ""
    defaults = "^~\\&"
    chars = [c for c in enc[:4] if not c.isalnum() and c != fsep]
    chars = (chars + [c for c in defaults if c not in chars and c != fsep])[:4]
    return Separators(fsep, *chars), [fsep, *fields[1:]]


def split(raw: bytes, *, charset: str | None = None) -> Message:
    """Split a message into segments and fields, decoding text per MSH-18 (or ``charset``).

    Raises Hl7Error naming the segment and field for: no MSH, bad separators, an unknown
    character set, bytes that are not text in the declared set, a malformed segment id.
    """
    body = raw.strip(b"\r\n\x00 \t\x0b")
    if b"\x0b" in body:
        body = body.replace(b"\x0b", b" ")
    if not body.startswith(b"MSH"):
        raise Hl7Error("the message does not start with an MSH segment", segment="MSH",
                       code=E.SEGMENT_SEQUENCE, reject=True)
    if len(body) < 8:
        raise Hl7Error("MSH is truncated", segment="MSH", field=2, code=E.REQUIRED_FIELD_MISSING, reject=True)
    fsep = chr(body[3])
    end = body.find(body[3:4], 4)
    enc = body[4:end if end > 0 else 9].decode("latin-1")
    enc = enc[:4] if len(enc) in (4, 5) else ""  # v2.7 adds a fifth, the truncation character
    if fsep.isalnum() or fsep in " \r\n" or len(set(enc + fsep)) != 5 or any(c.isalnum() for c in enc):
        raise Hl7Error("MSH-1/MSH-2: field separator and encoding characters must be five distinct "
                       "non-alphanumeric characters", segment="MSH", field=2, code=E.DATA_TYPE_ERROR, reject=True)
    sep = Separators(fsep, enc[0], enc[1], enc[2], enc[3])
    msh_fields = _SEGMENT_END.split(body, maxsplit=1)[0].decode("latin-1").split(fsep)
    declared = msh_fields[17].split(sep.component)[0].strip() if len(msh_fields) > 17 else ""
    codec = codec_for(declared, charset)
    if codec is None:
        raise Hl7Error(f"MSH-18: character set '{declared[:20]}' is not supported (HL7 table 0211 or a "
                       "Python codec name)", segment="MSH", field=18, code=E.TABLE_VALUE_NOT_FOUND, reject=True)
    message = Message(sep, charset=codec)
    add = message.add
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        number = len(_SEGMENT_END.findall(body[:exc.start])) + 1
        raise Hl7Error(f"segment {number} is not valid {codec} text (MSH-18 says '{declared[:20] or 'UTF-8'}')",
                       segment="MSH", field=18, code=E.DATA_TYPE_ERROR) from None
    lines = text.split("\r") if "\n" not in text else _TEXT_SEGMENT_END.split(text)
    number = 0
    for line in lines:
        if not line or line.isspace():
            continue
        number += 1
        seg_id = line[:3]
        if (seg_id not in _KNOWN_IDS and not _SEGMENT_ID.match(seg_id)) or (len(line) > 3 and line[3] != fsep):
            raise Hl7Error(f"segment {number} does not begin with a segment id and '{fsep}'",
                           segment=seg_id if _SEGMENT_ID.match(seg_id) else "???",
                           sequence=number, code=E.SEGMENT_SEQUENCE)
        add(seg_id, line.split(fsep))
    return message


@lru_cache(maxsize=8192)
def _stockholm_offset(year: int, month: int, day: int, hour: int) -> dt.timedelta:
    """UTC offset of a Stockholm wall-clock hour (fold 0, as zoneinfo reads ambiguous and
    skipped times); the offset only changes on the hour, so one entry serves a whole hour."""
    offset = dt.datetime(year, month, day, hour, tzinfo=STOCKHOLM).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=8192)
def hl7_time(value: str, segment: str, number: int) -> dt.datetime | None:
    """An HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]); without an offset it is Stockholm time.
    A pure function of its text, so kept in a cache (the times of one episode's messages repeat)."""
    value = value.strip()
    if not value:
        return None
    if len(value) in (8, 12, 14) and value.isdigit() and value.isascii():  # the usual shapes, without the regex
        y, mo, d = int(value[:4]), int(value[4:6]), int(value[6:8])
        h, mi, s = int(value[8:10] or 0), int(value[10:12] or 0), int(value[12:14] or 0)
        try:
            naive = dt.datetime(y, mo, d, h, mi, s)
        except ValueError:
            raise Hl7Error(f"{segment}-{number}: '{value[:30]}' is not a calendar date/time", segment=segment,
                           field=number, code=E.DATA_TYPE_ERROR) from None
        return (naive - _stockholm_offset(y, mo, d, h)).replace(tzinfo=dt.UTC)
    m = _DTM.fullmatch(value)
    if m is None:
        raise Hl7Error(f"{segment}-{number}: '{value[:30]}' is not an HL7 date/time", segment=segment,
                       field=number, code=E.DATA_TYPE_ERROR)
    y_, mo_, d_, h_, mi_, s_, frac, offset = m.groups()
    try:
        naive = dt.datetime(int(y_), int(mo_ or 1), int(d_ or 1), int(h_ or 0), int(mi_ or 0), int(s_ or 0),
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
