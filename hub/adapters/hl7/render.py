"""Pure rendering of HL7 v2 acknowledgements (chapter 2.9, 2.14.9 MSH-15/16, 2.15.8 MSA,
2.15.5 ERR).

- Original mode (MSH-15 and MSH-16 both empty): AA accepted, AE application error, AR rejected,
  always sent.
- Enhanced mode (either present), table 0155 (AL always, NE never, ER only on error, SU only on
  success; an unknown value is read as AL): the hub commits a message when it is durably in its
  log and processes it in the same step, so it answers each frame at most once: a commit ACK
  (CA/CE/CR) when MSH-15 asks for one, otherwise an application ACK (AA/AE/AR) when MSH-16
  does — an ``NE|AL`` sender gets its AA.
- ERR follows the version: up to v2.4 the location and code are ERR-1 (ELD, one repetition
  per error); from v2.5 one ERR segment per error with ERR-2 location, ERR-3 code, ERR-4
  severity and ERR-8 user message.
- The ACK uses the sender's separators and encoding characters and its MSH-18 character set.
"""

from __future__ import annotations

import datetime as dt

from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import Header
from hub.adapters.hl7.parse import STOCKHOLM, Separators, codec_for

_ORIGINAL = {"accept": "AA", "error": "AE", "reject": "AR"}
_ENHANCED = {"accept": "CA", "error": "CE", "reject": "CR"}
_ELD_VERSIONS = frozenset({"2.1", "2.2", "2.3", "2.3.1", "2.4"})


def _escape(text: str, sep: Separators) -> str:
    out = text.replace(sep.escape, f"{sep.escape}E{sep.escape}")
    for char, code in ((sep.field, "F"), (sep.component, "S"), (sep.repetition, "R"), (sep.subcomponent, "T")):
        out = out.replace(char, f"{sep.escape}{code}{sep.escape}")
    return out.replace("\r", " ").replace("\n", " ")


def _wants(mode: str, outcome: str) -> bool:
    mode = mode.upper()
    if mode == "NE":
        return False
    if mode == "ER":
        return outcome != "accept"
    if mode == "SU":
        return outcome == "accept"
    return True  # AL, and any value outside table 0155


def reply_code(header: Header | None, outcome: str) -> str | None:
    """The MSA-1 code owed for ``outcome`` (accept/error/reject), or None when none is owed."""
    if header is None or not (header.accept_ack or header.application_ack):
        return _ORIGINAL[outcome]
    if header.accept_ack and _wants(header.accept_ack, outcome):
        return _ENHANCED[outcome]
    if header.application_ack and _wants(header.application_ack, outcome):
        return _ORIGINAL[outcome]
    return None


def should_send(header: Header | None, outcome: str) -> bool:
    """Whether MSH-15/MSH-16 ask for an acknowledgement of this outcome."""
    return reply_code(header, outcome) is not None


def ack(header: Header | None, outcome: str, *, error: Hl7Error | None = None, now: dt.datetime,
        sep: Separators | None = None, receiver: tuple[str, str] = ("SVU-HUB", "SVU-HUB"),
        charset: str | None = None) -> bytes:
    """An ACK for ``header`` (None when MSH could not be read) with ``outcome`` accept/error/reject,
    listing every error of ``error`` (``error.all``). ``charset`` overrides the codec MSH-18 names."""
    sep = sep or Separators()
    code = reply_code(header, outcome) or _ORIGINAL[outcome]
    stamp = now.astimezone(STOCKHOLM).strftime("%Y%m%d%H%M%S%z")
    control = header.control_id if header else ""
    version = header.version if header and header.version else "2.5.1"
    trigger = header.trigger if header else ""
    declared = header.charset if header and header.charset else ""
    codec = codec_for(declared, charset) or "utf-8"
    f = sep.field
    enc = f"{sep.component}{sep.repetition}{sep.escape}{sep.subcomponent}"
    msh = f.join([
        "MSH", enc, receiver[0], receiver[1],
        _escape(header.sending_application, sep) if header else "",
        _escape(header.sending_facility, sep) if header else "",
        stamp, "", f"ACK{sep.component}{_escape(trigger, sep)}{sep.component}ACK",
        _escape(f"A{control}"[:20], sep), "P", _escape(version, sep), "", "", "", "", "",
        _escape(declared, sep) if declared else "UNICODE UTF-8",
    ])
    errors = error.all if error is not None else []
    text = errors[0].text if errors else ""
    msa = f.join(["MSA", code, _escape(control, sep), _escape(text[:80], sep)])
    segments = [msh, msa]
    c, s = sep.component, sep.subcomponent
    if errors and version in _ELD_VERSIONS:
        locations = [c.join([e.segment, str(e.sequence), str(e.field or ""),
                             s.join([e.code, _escape(_CODE_TEXT.get(e.code, "Error"), sep), "HL70357"])])
                     for e in errors]
        segments.append(f.join(["ERR", sep.repetition.join(locations)]))
    else:
        for e in errors:
            location = c.join([e.segment, str(e.sequence), str(e.field or "")])
            segments.append(f.join(["ERR", "", location,
                                    c.join([e.code, _escape(_CODE_TEXT.get(e.code, "Error"), sep), "HL70357"]),
                                    "E", "", "", "", _escape(e.text, sep)]))
    return ("\r".join(segments) + "\r").encode(codec, errors="replace")


_CODE_TEXT = {
    "100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
    "103": "Table value not found", "200": "Unsupported message type", "201": "Unsupported event code",
    "202": "Unsupported processing id", "203": "Unsupported version id", "204": "Unknown key identifier",
    "207": "Application internal error",
}
