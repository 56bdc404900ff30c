"""Pure rendering of HL7 v2 acknowledgements (chapter 2.9, 2.15.8 MSA, 2.15.5 ERR).

Original mode (MSH-15 and MSH-16 empty): AA accepted, AE application error, AR rejected.
Enhanced mode (MSH-15 present): commit acknowledgements CA, CE, CR, sent according to MSH-15
(AL always, NE never, ER only on error, SU only on success). The hub commits a message when it is
durably in its log; it sends no separate application acknowledgement.
"""

from __future__ import annotations

import datetime as dt

from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import Header
from hub.adapters.hl7.parse import STOCKHOLM, Separators

_ORIGINAL = {"accept": "AA", "error": "AE", "reject": "AR"}
_ENHANCED = {"accept": "CA", "error": "CE", "reject": "CR"}


def _escape(text: str, sep: Separators) -> str:
    out = text.replace(sep.escape, f"{sep.escape}E{sep.escape}")
    for char, code in ((sep.field, "F"), (sep.component, "S"), (sep.repetition, "R"), (sep.subcomponent, "T")):
        out = out.replace(char, f"{sep.escape}{code}{sep.escape}")
    return out.replace("\r", " ").replace("\n", " ")


def should_send(header: Header | None, outcome: str) -> bool:
    """Whether MSH-15 asks for a commit acknowledgement for this outcome."""
    mode = (header.accept_ack if header else "").upper()
    if mode in ("", "AL"):
        return True
    if mode == "NE":
        return False
    if mode == "ER":
        return outcome != "accept"
    return outcome == "accept"  # SU


def ack(header: Header | None, outcome: str, *, error: Hl7Error | None = None, now: dt.datetime,
        sep: Separators | None = None, receiver: tuple[str, str] = ("SVU-HUB", "SVU-HUB")) -> bytes:
    """An ACK for ``header`` (None when MSH could not be read) with ``outcome`` accept/error/reject."""
    sep = sep or Separators()
    enhanced = bool(header and header.accept_ack)
    code = (_ENHANCED if enhanced else _ORIGINAL)[outcome]
    stamp = now.astimezone(STOCKHOLM).strftime("%Y%m%d%H%M%S%z")
    control = header.control_id if header else ""
    version = header.version if header and header.version else "2.5.1"
    trigger = header.trigger if header else ""
    f = sep.field
    enc = f"{sep.component}{sep.repetition}{sep.escape}{sep.subcomponent}"
    msh = f.join([
        "MSH", enc, receiver[0], receiver[1],
        _escape(header.sending_application, sep) if header else "",
        _escape(header.sending_facility, sep) if header else "",
        stamp, "", f"ACK{sep.component}{_escape(trigger, sep)}{sep.component}ACK",
        _escape(f"A{control}"[:20], sep), "P", _escape(version, sep), "", "", "", "", "", "UNICODE UTF-8",
    ])
    text = error.text if error else ""
    msa = f.join(["MSA", code, _escape(control, sep), _escape(text[:80], sep)])
    segments = [msh, msa]
    if error is not None:
        location = sep.component.join([error.segment, str(error.sequence), str(error.field or "")])
        err = f.join(["ERR", "", location,
                      sep.component.join([error.code, _escape(_CODE_TEXT.get(error.code, "Error"), sep), "HL70357"]),
                      "E", "", "", "", _escape(text, sep)])
        segments.append(err)
    return ("\r".join(segments) + "\r").encode("utf-8")


_CODE_TEXT = {
    "100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
    "103": "Table value not found", "200": "Unsupported message type", "201": "Unsupported event code",
    "202": "Unsupported processing id", "203": "Unsupported version id", "204": "Unknown key identifier",
    "207": "Application internal error",
}
