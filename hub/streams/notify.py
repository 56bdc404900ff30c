"""Notifications — the escalation routine. On each alert raised (level 1) and each escalation
(level 2, 3, …) on ``svu.alerts``, every matching recipient (by responsible unit, kommun, rule
and level) is told by webhook (JSON POST) and e-mail (SMTP with STARTTLS), each retried with
exponential back-off.

A notification carries the rule, its Swedish name, the level, the responsible unit, the kommun,
the deadline, the episode id and a link to the console — never the patient's personnummer or
name. The notifier keeps its position on the log like a processor, so a restart resumes where
it stopped and does not notify twice for what it had finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hub.domain.labels import labels_for
from hub.schemas import topics
from hub.settings import NotifyMatch, NotifySettings
from hub.streams.log import Positions, Record
from hub.streams.sqlite_log import SqliteLog

log = logging.getLogger(__name__)
NAME = "notify"


class NotifyFailed(Exception):
    """One attempt to notify a recipient failed; it is tried again after a back-off."""


@dataclass(frozen=True, slots=True)
class Notification:
    """What one recipient is told (no patient identity)."""

    event: str  # "raised" or "escalated"
    alert_id: str
    episode_id: str
    rule: str
    rule_name: str
    level: int
    responsible_unit: str | None
    municipality: str | None
    deadline: str | None
    at: str
    link: str

    def json(self) -> dict[str, Any]:
        return {"type": f"svu.alert.{self.event}", "alert_id": self.alert_id, "episode_id": self.episode_id,
                "rule": self.rule, "rule_name": self.rule_name, "level": self.level,
                "responsible_unit": self.responsible_unit, "municipality": self.municipality,
                "deadline": self.deadline, "at": self.at, "link": self.link}

    def subject(self) -> str:
        what = "Nytt larm" if self.event == "raised" else f"Larm eskalerat till nivå {self.level}"
        return f"[svu-hub] {what}: {self.rule_name} ({self.episode_id})"

    def text(self) -> str:
        lines = [f"{self.subject()}", "", f"Regel: {self.rule_name} ({self.rule})", f"Nivå: {self.level}",
                 f"Vårdtillfälle: {self.episode_id}"]
        if self.responsible_unit:
            lines.append(f"Ansvarig enhet: {self.responsible_unit}")
        if self.municipality:
            lines.append(f"Kommun: {self.municipality}")
        if self.deadline:
            lines.append(f"Tidsgräns: {self.deadline}")
        lines += ["", f"Öppna i driftvyn: {self.link}"]
        return "\n".join(lines) + "\n"


def matches(match: NotifyMatch, n: Notification) -> bool:
    return ((not match.units or n.responsible_unit in match.units)
            and (not match.municipalities or n.municipality in match.municipalities)
            and (not match.rules or n.rule in match.rules)
            and (not match.levels or n.level in match.levels))


class Notifier:
    """Reads ``svu.alerts`` from its position and notifies for raises and escalations."""

    def __init__(self, sqlite: SqliteLog, settings: NotifySettings, *, pack_id: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.log = sqlite
        self.settings = settings
        self.labels = labels_for(pack_id)
        self.positions = sqlite.positions(NAME)
        self._http = httpx.AsyncClient(timeout=10.0, transport=transport)
        self._known: dict[str, dict[str, Any]] = {}
        self.sent = 0
        self.failed = 0

    async def close(self) -> None:
        await self._http.aclose()

    def notification(self, event: dict[str, Any]) -> Notification | None:
        """The notification for one alert event, or None (resolutions, operator actions)."""
        kind, d = event["type"].split(".")[2], event["data"]
        if kind == "alert_raised":
            self._known[d["alert_id"]] = d
            info, what, level, at = d, "raised", int(d.get("level", 1)), d["raised_at"]
        elif kind == "alert_escalated":
            info = self._known.get(d["alert_id"]) or self._from_table(d["alert_id"])
            if info is None:
                return None
            what, level, at = "escalated", int(d["level"]), d["escalated_at"]
        else:
            return None
        episode_id = str(event["episodeid"])
        link = f"{self.settings.console_url.rstrip('/')}#vardtillfalle={episode_id}"
        return Notification(what, d["alert_id"], episode_id, info["rule"], self.labels.rule(info["rule"]).namn,
                            level, info.get("responsible_unit"), info.get("municipality"), info.get("deadline"),
                            at, link)

    def _from_table(self, alert_id: str) -> dict[str, Any] | None:
        rows = self.log.query("SELECT rule, responsible_unit, municipality, deadline FROM alerts "
                              "WHERE alert_id = ?", (alert_id,))
        return dict(rows[0]) if rows else None

    async def run_once(self) -> int:
        done = 0
        for partition in range(self.log.partitions(topics.ALERTS)):
            for record in self.log.read(topics.ALERTS, partition,
                                        self.positions.get(topics.ALERTS, partition), 100):
                await self._one(record)
                done += 1
        return done

    async def run(self, stop: asyncio.Event) -> None:
        self.log.create_topic(topics.ALERTS)
        try:
            while not stop.is_set():
                if await self.run_once() == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_s)
        finally:
            await self.close()

    async def _one(self, record: Record) -> None:
        n = self.notification(orjson.loads(record.value))
        if n is not None:
            await self.deliver(n)
        new = Positions(dict(self.positions.offsets))
        new.advance(record)
        with self.log.transaction() as tx:
            tx.commit_positions(NAME, new)
        self.positions = new

    async def deliver(self, n: Notification) -> None:
        """Every matching recipient, each with its own retries; a recipient that fails for good
        is logged (by alert id and recipient kind, never the content) and counted."""
        for hook in self.settings.webhooks:
            if matches(hook.match, n):
                headers = {"Authorization": f"Bearer {hook.token.get_secret_value()}"} if hook.token else {}
                await self._attempt("webhook", n, lambda h=hook, hd=headers: self._post(h.url, n, hd))
        for mail in self.settings.email:
            if matches(mail.match, n):
                await self._attempt("email", n, lambda m=mail: asyncio.to_thread(self._send_mail, m.to, n))

    async def _attempt(self, kind: str, n: Notification, call: Any) -> None:
        s = self.settings
        try:
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(s.attempts), reraise=True,
                    wait=wait_exponential(multiplier=s.backoff_initial_s, max=s.backoff_max_s),
                    retry=retry_if_exception_type((NotifyFailed, httpx.TransportError, OSError,
                                                   smtplib.SMTPException))):
                with attempt:
                    await call()
            self.sent += 1
        except (NotifyFailed, httpx.TransportError, OSError, smtplib.SMTPException) as exc:
            self.failed += 1
            log.error("notification of alert %s by %s failed for good: %s", n.alert_id, kind, type(exc).__name__)

    async def _post(self, url: str, n: Notification, headers: dict[str, str]) -> None:
        response = await self._http.post(url, content=orjson.dumps(n.json()),
                                         headers={"Content-Type": "application/json", **headers})
        if response.status_code >= 300:
            raise NotifyFailed(f"webhook answered {response.status_code}")

    def _send_mail(self, to: tuple[str, ...], n: Notification) -> None:
        smtp = self.settings.smtp
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = smtp.sender, ", ".join(to), n.subject()
        msg.set_content(n.text())
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
                client.starttls(context=context)
                client.ehlo()
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password.get_secret_value())
            client.send_message(msg)
