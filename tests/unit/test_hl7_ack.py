"""HL7 v2 chapter 2 acknowledgement rules: MSH-15/16 per table 0155 (unknown = AL, both empty =
original mode), ERR per version with every error, the sender's separators and character set,
and MSA-2 = MSH-10 whenever MSH-10 can be read."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import canonical, lenient_header
from hub.adapters.hl7.parse import CHARSETS, codec_for, split
from hub.adapters.hl7.render import ack, reply_code
from tests.support.hl7 import adt, lookup, msh

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _header(accept: str = "", app: str = "", version: str = "2.5.1"):  # type: ignore[no-untyped-def]
    text = adt(version=version).replace(msh(version=version), msh(version=version, accept_ack=accept, app_ack=app))
    return canonical(text.encode(), lookup, NOW).header


@pytest.mark.parametrize(("accept", "app", "ok", "bad"), [
    ("", "", "AA", "AE"),          # original mode: always
    ("AL", "", "CA", "CE"),
    ("NE", "", None, None),
    ("ER", "", None, "CE"),
    ("SU", "", "CA", None),
    ("NE", "AL", "AA", "AE"),      # no commit ACK, but the application ACK it asked for
    ("NE", "ER", None, "AE"),
    ("ER", "AL", "AA", "CE"),
    ("XX", "", "CA", "CE"),        # a value outside table 0155 is read as AL
    ("", "AL", "AA", "AE"),
    ("NE", "NE", None, None),
])
def test_table_0155(accept: str, app: str, ok: str | None, bad: str | None) -> None:
    h = _header(accept, app)
    assert (reply_code(h, "accept"), reply_code(h, "error")) == (ok, bad)


def _errors() -> Hl7Error:
    return Hl7Error.several([
        Hl7Error("PV1-44: not an HL7 date/time", segment="PV1", field=44, code="102"),
        Hl7Error("PID-5 (patient name) is longer than 200 characters", segment="PID", field=5, code="102"),
    ])


def test_err_is_err1_up_to_v24_and_err2_3_from_v25_with_every_error() -> None:
    old = ack(_header(version="2.3"), "error", error=_errors(), now=NOW).decode()
    (err,) = [s for s in old.split("\r") if s.startswith("ERR")]
    assert err == "ERR|PV1^1^44^102&Data type error&HL70357~PID^1^5^102&Data type error&HL70357"
    new = ack(_header(version="2.5"), "error", error=_errors(), now=NOW).decode()
    errs = [s for s in new.split("\r") if s.startswith("ERR")]
    assert [e.split("|")[2] for e in errs] == ["PV1^1^44", "PID^1^5"]
    assert all(e.split("|")[3] == "102^Data type error^HL70357" and e.split("|")[4] == "E" for e in errs)


def test_every_error_of_a_message_is_found() -> None:
    bad = adt(admit="2026-03-02", discharge="yesterday", name="X" * 250 + "^Y")
    with pytest.raises(Hl7Error) as exc:
        canonical(bad.encode(), lookup, NOW)
    assert sorted(e.location for e in exc.value.all) == ["PID-5", "PV1-44", "PV1-45"]


def test_ack_uses_the_senders_separators_and_charset() -> None:
    text = adt(charset="8859/1", name="Åström^Örjan").replace("|", "#").replace("^", "$").replace("MSH#$~\\&", "MSH#$~\\&")
    raw = text.encode("iso-8859-1")
    message = split(raw)
    head = canonical(raw, lookup, NOW).header
    error = Hl7Error("vårdtillfälle saknas", segment="PV1", field=19, code="101")
    out = ack(head, "error", error=error, now=NOW, sep=message.separators)
    assert out.startswith(b"MSH#$~\\&#SVU-HUB#")
    assert b"#8859/1" in out.split(b"\r")[0]
    assert "vårdtillfälle".encode("iso-8859-1") in out  # encoded as the sender's MSH-18 says
    assert b"MSA#AE#MSG0001#" in out


@pytest.mark.parametrize(("name", "codec"), [("UNICODE UTF-8", "utf-8"), ("8859/1", "iso8859-1"),
                                             ("8859/15", "iso8859-15"), ("ISO IR100", "iso8859-1"),
                                             ("ASCII", "ascii"), ("windows-1252", "cp1252")])
def test_charset_names_map_to_python_codecs(name: str, codec: str) -> None:
    found = codec_for(name)
    assert found is not None and found.replace("-", "").replace("_", "") == codec.replace("-", "")
    assert codec_for("8859/1", override="windows-1252") == "cp1252"
    assert codec_for("NO-SUCH-SET") is None
    assert set(CHARSETS) >= {"UNICODE UTF-8", "8859/1", "8859/15", "ISO IR100"}


def test_windows_1252_setting_reads_what_latin1_cannot() -> None:
    raw = adt(charset="8859/1", name="O\u2019Brien^Ann").encode("cp1252")  # ’ is 0x92 in Windows-1252
    from hub.adapters.hl7.profile import Profile
    (event,) = canonical(raw, lookup, NOW, Profile(charset="windows-1252")).events
    assert event.data.patient.name == "Ann O\u2019Brien"  # type: ignore[attr-defined]


@pytest.mark.parametrize("raw", [
    adt(control="KEEP1").replace("MSH|^~\\&", "MSH|^~").encode(),          # MSH-2 malformed
    adt(control="KEEP1").replace("MSH|^~\\&", "MSH|^~\\&#%").encode(),     # MSH-2 too long
    adt(control="KEEP1", version="9.9").encode(),
    adt(control="KEEP1", charset="KLINGON-8").encode(),
    (adt(control="KEEP1") + "bad segment\r").encode(),
])
def test_msa2_carries_msh10_whenever_it_can_be_read(raw: bytes) -> None:
    with pytest.raises(Hl7Error) as exc:
        canonical(raw, lookup, NOW)
    found = lenient_header(raw)
    assert found is not None
    head, sep = found
    out = ack(head, "reject" if exc.value.reject else "error", error=exc.value, now=NOW, sep=sep).decode()
    assert "MSA|A" in out and out.split("MSA|")[1].split("|")[1] == "KEEP1"


@pytest.mark.parametrize(("kwargs", "location"), [
    ({"visit": "V" * 65}, "PV1-19"),
    ({"name": "N" * 201 + "^A"}, "PID-5"),
    ({"control": "C" * 200}, "MSH-10"),
])
def test_over_long_values_are_refused_naming_the_field(kwargs: dict[str, str], location: str) -> None:
    with pytest.raises(Hl7Error) as exc:
        canonical(adt(**kwargs).encode(), lookup, NOW)
    assert exc.value.location == location and "longer than" in exc.value.text
