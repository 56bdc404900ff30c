"""Prator XML (``contracts/prator/prator-message.xsd``) ⇄ canonical events: the one module to
replace when Prator's own specification is at hand. Parsing validates against the XSD with lxml
(errors name the element and the line) and then maps; rendering builds the document from a
delivery and validates it too, so nothing leaves the hub that the contract would refuse."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from importlib.resources import files
from typing import Any

from lxml import etree
from pydantic import ValidationError

from hub.adapters.prator.errors import PratorError
from hub.errors import IdentifierError
from hub.schemas import payloads as p
from hub.schemas.base import AnswerStatus, CareType, ColourTrack, Service
from hub.schemas.envelope import Envelope, new_event, validation_errors

NS = "urn:svu-hub:prator:1"
Q = f"{{{NS}}}"
MAX_BYTES = 2_000_000


@cache
def schema() -> etree.XMLSchema:
    source = files("hub.adapters.prator") / "prator-message.xsd"
    return etree.XMLSchema(etree.fromstring(source.read_bytes()))


def _parser() -> etree.XMLParser:
    # no DTDs, no entities, no network: XML from outside is untrusted
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _text(el: Any, name: str) -> str | None:
    child = el.find(Q + name)
    return child.text.strip() if child is not None and child.text else None


def _services(el: Any, name: str) -> frozenset[Service]:
    value = _text(el, name)
    return frozenset(Service(v) for v in value.split()) if value else frozenset()


def parse(raw: bytes, received_at: dt.datetime, *, source: str = "/prator") -> Envelope:
    """One Prator XML message → its canonical event. PratorError names element and line."""
    if len(raw) > MAX_BYTES:
        raise PratorError(f"message over {MAX_BYTES} bytes")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise PratorError("not well-formed XML (its text is not shown)", line=exc.lineno) from None
    if root.getroottree().docinfo.doctype:
        raise PratorError("a DOCTYPE is not allowed", line=1)
    xsd = schema()
    try:
        valid = xsd.validate(root)
    except etree.Error:
        raise PratorError("the document cannot be validated against the contract", line=1) from None
    if not valid:
        err = xsd.error_log.last_error
        named = _ELEMENT.search(err.message)
        raise PratorError(err.message.replace(Q, ""), element=named.group(1) if named else "", line=err.line)
    try:
        return _event(root, received_at, source)
    except IdentifierError as exc:
        raise PratorError(str(exc), element="Personnummer", line=_line(root, "Personnummer")) from None
    except ValidationError as exc:
        loc, msg = validation_errors(exc)[0]
        element = next((_FIELDS[part] for part in reversed(loc.split(".")) if part in _FIELDS), root[-1].tag)
        element = element.replace(Q, "")
        raise PratorError(msg, element=element, line=_line(root, element) or root[-1].sourceline) from None


_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([A-Za-z]+)'")
_FIELDS = {"id": "Personnummer", "municipality": "Folkbokforingskommun", "address": "Adress",
           "listed_unit": "ListadVid", "name": "Namn", "recipients": "Mottagare", "sender": "Avsandare",
           "unit": "Avsandare", "postal_code": "Postnummer", "street": "Gata", "city": "Ort"}


def _line(root: Any, name: str) -> int | None:
    found = root.find(f".//{Q}{name}")
    return found.sourceline if found is not None else None


def _patient(root: Any) -> p.Patient | None:
    el = root.find(Q + "Patient")
    if el is None:
        return None
    address = el.find(Q + "Adress")
    listed = el.find(Q + "ListadVid")
    return p.Patient(
        id=_text(el, "Personnummer"),
        name=_text(el, "Namn"),
        address=p.Address(street=_text(address, "Gata") or "", postal_code=_text(address, "Postnummer") or "",
                          city=_text(address, "Ort") or "") if address is not None else None,
        municipality=_text(el, "Folkbokforingskommun"),
        listed_unit=listed.get("hsaId") if listed is not None else None)


def _event(root: Any, received_at: dt.datetime, source: str) -> Envelope:
    message_id = _text(root, "MeddelandeId") or ""
    created = dt.datetime.fromisoformat(_text(root, "Skapad") or "")
    sender = root.find(Q + "Avsandare").get("hsaId")
    recipients = tuple(e.get("hsaId") for e in root.findall(Q + "Mottagare"))
    body = root[-1]
    kind = body.tag.replace(Q, "")
    payload: p.Payload
    match kind:
        case "Inskrivningsmeddelande" if body.get("uppdatering", "false") != "false":
            payload = p.AdmissionNoticeUpdated(
                notice_id=message_id, sender=sender, reason=body.get("uppdatering"), patient=_patient(root),
                needs=p.Needs(existing=_services(body, "BefintligaInsatser"),
                              expected=_services(body, "ForvantadeInsatser"),
                              changed=_text(body, "NyaEllerForandrade") == "true")
                if body.find(Q + "ForvantadeInsatser") is not None else None)
        case "Inskrivningsmeddelande":
            patient = _patient(root)
            if patient is None:
                raise PratorError("an inskrivningsmeddelande needs its Patient (law minimum content)",
                                  element="Patient", line=body.sourceline)
            estimated = _text(body, "BeraknadUtskrivning")
            changed = _text(body, "NyaEllerForandrade")
            payload = p.AdmissionNoticeSent(
                notice_id=message_id, sender=sender, patient=patient,
                estimated_discharge=dt.date.fromisoformat(estimated) if estimated else None,
                care_type=CareType(care) if (care := _text(body, "Vardtyp")) else None,
                needs=p.Needs(existing=_services(body, "BefintligaInsatser"),
                              expected=_services(body, "ForvantadeInsatser"), changed=changed == "true"),
                recipients=recipients)
        case "Kvittering":
            payload = p.MessageAcknowledged(message_id=body.get("meddelandeId"), unit=sender, acknowledged_at=created)
        case "Planeringsunderlag":
            sections = tuple(p.PlanningSection(code=s.get("kod"), status=AnswerStatus(s.get("status")),
                                               text=(s.text or None)) for s in body.findall(Q + "Avsnitt"))
            colour = body.get("farg")
            payload = p.PlanningBasisUpdated(unit=sender, sections=sections, updated_at=created,
                                             colour=ColourTrack(colour) if colour else None)
        case "AndratUtskrivningsdatum":
            before = body.get("tidigare")
            payload = p.EstimatedDischargeDateChanged(previous=dt.date.fromisoformat(before) if before else None,
                                                      date=dt.date.fromisoformat(body.get("nytt")), unit=sender)
        case "Utskrivningsklar":
            payload = p.ReadyForDischarge(sender=sender, recipients=recipients)
        case "EjLangreUtskrivningsklar":
            payload = p.ReadyForDischargeWithdrawn(sender=sender, reason=body.get("orsak"))
        case "FastVardkontakt":
            payload = p.CareContactAssigned(unit=sender, contact_name=body.get("namn"),
                                            contact_phone=body.get("telefon"), assigned_at=created)
        case "KallelseSip":
            when = body.get("tid")
            payload = p.SipInvitationSent(sender=sender, meeting_at=dt.datetime.fromisoformat(when) if when else None,
                                          place=body.get("plats"), participants=recipients)
        case "Kommunklar":
            payload = p.MunicipalityReady(municipality=body.get("kommun"), unit=sender,
                                          sol_services=tuple(e.text or "" for e in body.findall(Q + "SoL")),
                                          hsl_services=tuple(e.text or "" for e in body.findall(Q + "HSL")))
        case _:
            discharge = dt.datetime.fromisoformat(body.get("utskrivning"))
            payload = p.DischargeNoticeSent(sender=sender, discharge_at=discharge)
    return new_event(payload, episode_id=_text(root, "Vardtillfalle") or "", source=source,
                     source_message_id=message_id, time=created, received_at=received_at)


RENDERED = {
    "admission_notice_sent": "Inskrivningsmeddelande", "message_acknowledged": "Kvittering",
    "planning_basis_updated": "Planeringsunderlag", "estimated_discharge_date_changed": "AndratUtskrivningsdatum",
    "ready_for_discharge": "Utskrivningsklar", "ready_for_discharge_withdrawn": "EjLangreUtskrivningsklar",
    "care_contact_assigned": "FastVardkontakt", "sip_invitation_sent": "KallelseSip",
    "municipality_ready": "Kommunklar", "discharge_notice_sent": "Utskrivningsmeddelande",
    "admission_notice_updated": "Inskrivningsmeddelande",
}


def render(delivery: dict[str, Any], episode_id: str) -> bytes:
    """A delivery (``DeliveryRequested`` data) → a Prator XML document, validated against the XSD."""
    content = delivery.get("content") or {}
    data: dict[str, Any] = content.get("data", {})
    kind = RENDERED.get(delivery["message_type"])
    if kind is None:
        raise PratorError(f"{delivery['message_type']} has no Prator form", element="PratorMeddelande")
    root = etree.Element(Q + "PratorMeddelande", nsmap={None: NS}, version="1")
    if delivery.get("handover"):
        root.set("overlamning", "true")
    etree.SubElement(root, Q + "MeddelandeId").text = delivery["idempotency_key"]
    etree.SubElement(root, Q + "Skapad").text = content.get("time")
    etree.SubElement(root, Q + "Vardtillfalle").text = episode_id
    sender = data.get("sender") or data.get("unit")
    etree.SubElement(root, Q + "Avsandare", hsaId=sender)
    etree.SubElement(root, Q + "Mottagare", hsaId=delivery["receiver"])
    patient = data.get("patient")
    if patient:
        el = etree.SubElement(root, Q + "Patient")
        etree.SubElement(el, Q + "Personnummer").text = patient["id"]["value"]
        if patient.get("name"):
            etree.SubElement(el, Q + "Namn").text = patient["name"]
        if patient.get("address"):
            a = etree.SubElement(el, Q + "Adress")
            for tag, key in (("Gata", "street"), ("Postnummer", "postal_code"), ("Ort", "city")):
                etree.SubElement(a, Q + tag).text = patient["address"][key]
        if patient.get("municipality"):
            etree.SubElement(el, Q + "Folkbokforingskommun").text = patient["municipality"]
        if patient.get("listed_unit"):
            etree.SubElement(el, Q + "ListadVid", hsaId=patient["listed_unit"])
    body = etree.SubElement(root, Q + kind)
    _fill(body, kind, data)
    xsd = schema()
    if not xsd.validate(root):
        raise PratorError(f"rendered message breaks the contract: {xsd.error_log.last_error.message}", element=kind)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out


def _fill(body: Any, kind: str, data: dict[str, Any]) -> None:
    if kind == "Inskrivningsmeddelande":
        if data.get("reason"):  # an update of the inskrivningsmeddelande (e.g. after a transfer)
            body.set("uppdatering", data["reason"])
        if data.get("estimated_discharge"):
            etree.SubElement(body, Q + "BeraknadUtskrivning").text = data["estimated_discharge"]
        if data.get("care_type"):
            etree.SubElement(body, Q + "Vardtyp").text = data["care_type"]
        needs = data.get("needs") or {}
        for tag, key in (("BefintligaInsatser", "existing"), ("ForvantadeInsatser", "expected")):
            if needs.get(key):
                etree.SubElement(body, Q + tag).text = " ".join(sorted(needs[key]))
        if "changed" in needs:
            etree.SubElement(body, Q + "NyaEllerForandrade").text = "true" if needs["changed"] else "false"
    elif kind == "Kvittering":
        body.set("meddelandeId", data["message_id"])
    elif kind == "Planeringsunderlag":
        if data.get("colour"):
            body.set("farg", data["colour"])
        for section in data.get("sections", []):
            el = etree.SubElement(body, Q + "Avsnitt", kod=section["code"], status=section["status"])
            el.text = section.get("text")
    elif kind == "AndratUtskrivningsdatum":
        body.set("nytt", data["date"])
        if data.get("previous"):
            body.set("tidigare", data["previous"])
    elif kind == "EjLangreUtskrivningsklar" and data.get("reason"):
        body.set("orsak", data["reason"])
    elif kind == "FastVardkontakt":
        for attr, key in (("namn", "contact_name"), ("telefon", "contact_phone")):
            if data.get(key):
                body.set(attr, data[key])
    elif kind == "KallelseSip":
        if data.get("meeting_at"):
            body.set("tid", data["meeting_at"])
        if data.get("place"):
            body.set("plats", data["place"])
    elif kind == "Kommunklar":
        body.set("kommun", data["municipality"])
        for tag, key in (("SoL", "sol_services"), ("HSL", "hsl_services")):
            for value in data.get(key, []):
                etree.SubElement(body, Q + tag).text = value
    elif kind == "Utskrivningsmeddelande":
        body.set("utskrivning", data["discharge_at"])
