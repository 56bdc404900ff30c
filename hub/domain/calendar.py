"""Deadline arithmetic in Europe/Stockholm local time, results in UTC (domain.md, Deadlines).

- Elapsed-hour rules (the law's 24 hours for the inskrivningsmeddelande) count real elapsed
  time: across the spring-forward night 24 h later is an hour later on the wall clock.
- Day rules (kallelse till SIP within 3 days, betalningsansvar after 3 days) count local
  calendar days and keep the local wall-clock time across daylight-saving changes.
- Working days: Monday–Friday that are not Swedish public holidays (the `holidays` library),
  and not midsommarafton, julafton or nyårsafton, which are de-facto non-working days in
  Swedish health and social care. These three come from their definitions (midsommarafton is
  the Friday from 19 to 25 June, the eve of midsommardagen; julafton 24 December; nyårsafton 31
  December), never from a holiday's name, which the library translates by the locale.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import holidays

from hub.schemas.base import ColourTrack

if TYPE_CHECKING:
    from hub.domain.rules import KvitteringPolicy, PaymentLiability, SipTiming

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DayKind = Literal["calendar", "working"]


@lru_cache(maxsize=64)
def _non_working(year: int) -> frozenset[dt.date]:
    public = holidays.country_holidays("SE", years=year, include_sundays=False)
    days = set(public)
    days |= {midsummer_eve(year), dt.date(year, 12, 24), dt.date(year, 12, 31)}
    return frozenset(days)


def midsummer_eve(year: int) -> dt.date:
    """Midsommarafton: the Friday between 19 and 25 June (SFS 1989:253 puts midsommardagen on
    the Saturday between 20 and 26 June; the afton is the day before)."""
    june19 = dt.date(year, 6, 19)
    return june19 + dt.timedelta(days=(4 - june19.weekday()) % 7)


@lru_cache(maxsize=8192)
def is_working_day(day: dt.date) -> bool:
    """Monday–Friday, not a public holiday, not midsommarafton, julafton or nyårsafton."""
    return day.weekday() < 5 and day not in _non_working(day.year)


def local_date(when: dt.datetime) -> dt.date:
    """The Stockholm calendar date of an instant."""
    return when.astimezone(STOCKHOLM).date()


def _utc(local: dt.datetime) -> dt.datetime:
    """A local wall time as UTC; a wall time skipped by spring-forward moves forward an hour."""
    as_utc = local.astimezone(dt.UTC)
    if as_utc.astimezone(STOCKHOLM).replace(tzinfo=None) != local.replace(tzinfo=None):
        as_utc = (local.replace(tzinfo=None) + dt.timedelta(hours=1)).replace(
            tzinfo=STOCKHOLM).astimezone(dt.UTC)
    return as_utc


@lru_cache(maxsize=65536)
def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """``time`` on ``day`` in Stockholm, as UTC."""
    return _utc(dt.datetime.combine(day, time, STOCKHOLM))


def after_hours(start: dt.datetime, hours: int) -> dt.datetime:
    """``hours`` of elapsed time after ``start`` (UTC)."""
    return start.astimezone(dt.UTC) + dt.timedelta(hours=hours)


def after_days(start: dt.datetime, days: int, kind: DayKind) -> dt.datetime:
    """The same local wall-clock time ``days`` calendar (or working) days later, UTC."""
    local = start.astimezone(STOCKHOLM)
    day = local.date()
    if kind == "calendar":
        day += dt.timedelta(days=days)
    else:
        left = days
        while left > 0:
            day += dt.timedelta(days=1)
            if is_working_day(day):
                left -= 1
    return at_local(day, local.time().replace(tzinfo=None))


def end_of_local_day(day_of: dt.datetime) -> dt.datetime:
    """The last microsecond of the local date of ``day_of``, UTC."""
    return at_local(local_date(day_of), dt.time(23, 59, 59, 999999))


@lru_cache(maxsize=65536)
def next_kvittering(received: dt.datetime, policy: KvitteringPolicy) -> dt.datetime:
    """The first kvitteringstid strictly after ``received`` (local); under ``roll_forward``
    only on working days (domain.md §1.3; weekends and röda dagar are the pack's policy)."""
    local = received.astimezone(STOCKHOLM)
    day = local.date()
    for _ in range(400):
        if policy.non_working_days == "keep" or is_working_day(day):
            for t in sorted(policy.times):
                candidate = at_local(day, t)
                if candidate > received:
                    return candidate
        day += dt.timedelta(days=1)
    raise ValueError("no kvitteringstid within 400 days")  # only with an empty policy


def liability_start(notice_at: dt.datetime, rule: PaymentLiability, psychiatric: bool) -> dt.date:
    """First local date the kommun pays for: the notice's date plus N calendar days, one more
    when the pack has a cutoff (Stockholm 12:00) and the notice came at or after it (W8, W10)."""
    days = rule.days_after_notice
    if psychiatric and rule.psychiatry_days is not None:
        days = rule.psychiatry_days
    local = notice_at.astimezone(STOCKHOLM)
    start = local.date() + dt.timedelta(days=days)
    if rule.notice_cutoff is not None and local.time() >= rule.notice_cutoff:
        start += dt.timedelta(days=1)
    return start


def liability_days(notice_at: dt.datetime, end_at: dt.datetime, rule: PaymentLiability,
                   psychiatric: bool) -> int:
    """Calendar days the kommun pays for, from ``liability_start`` up to, not including, the local
    date of ``end_at`` (discharge or withdrawal): vårdtid counts 0 for same-day events (W21)."""
    start = liability_start(notice_at, rule, psychiatric)
    end = local_date(end_at)
    return max(0, (end - start).days)


def liability_amount(days: int, rule: PaymentLiability, year: int) -> int:
    """Days × the pack's daily rate for ``year`` (see ``daily_rate``; 0 when none is known)."""
    rate, _ = daily_rate(rule, year)
    return days * rate if rate is not None else 0


def daily_rate(rule: PaymentLiability, year: int) -> tuple[int | None, str]:
    """The amount per vårddygn for ``year`` and where it comes from: the pack's amount for the
    year; else, by the pack's ``unknown_year``, the latest earlier year's or the setting."""
    if year in rule.daily_rate:
        return rule.daily_rate[year], f"payment_liability.daily_rate {year}"
    if rule.unknown_year == "latest_earlier":
        earlier = [y for y in rule.daily_rate if y <= year]
        if earlier:
            return rule.daily_rate[max(earlier)], f"payment_liability.daily_rate {max(earlier)} (latest before {year})"
        return None, f"no amount for {year} in the pack"
    if rule.setting_rate is not None:
        return rule.setting_rate, f"setting engine.liability_daily_rate_sek (no amount known for {year})"
    return None, f"no amount known for {year}: set engine.liability_daily_rate_sek"


def sip_window(colour: ColourTrack, discharged_at: dt.datetime,
               timing: SipTiming) -> tuple[dt.datetime, dt.datetime] | None:
    """When the SIP meeting should take place by färgspår (S2): green 1–3 weeks, yellow 1–6
    days after discharge, red at discharge or before; blue and grey need none."""
    spans = {ColourTrack.GREEN: timing.green, ColourTrack.YELLOW: timing.yellow,
             ColourTrack.RED: timing.red}
    span = spans.get(colour)
    if span is None:
        return None
    first, last = span
    earliest = after_days(discharged_at, first, "calendar")
    latest = end_of_local_day(after_days(discharged_at, last, "calendar"))
    return earliest, latest
