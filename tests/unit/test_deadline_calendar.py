"""Deadline arithmetic in Stockholm local time: working days, kvitteringstider, both DST
changes, payment-liability days."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import calendar as cal
from hub.domain.rules import KvitteringPolicy, PaymentLiability
from tests.support.episodes import STHLM, local

POLICY = KvitteringPolicy()


def test_working_days_skip_weekends_public_holidays_and_the_eves() -> None:
    assert cal.is_working_day(dt.date(2026, 3, 2))          # a Monday
    assert not cal.is_working_day(dt.date(2026, 3, 7))      # Saturday
    assert not cal.is_working_day(dt.date(2026, 4, 3))      # långfredag
    assert not cal.is_working_day(dt.date(2026, 4, 6))      # annandag påsk
    assert not cal.is_working_day(dt.date(2026, 6, 19))     # midsommarafton
    assert not cal.is_working_day(dt.date(2026, 12, 24))    # julafton
    assert not cal.is_working_day(dt.date(2026, 12, 31))    # nyårsafton
    assert not cal.is_working_day(dt.date(2027, 1, 6))      # trettondedag jul
    assert cal.is_working_day(dt.date(2026, 6, 22))


def test_next_kvittering() -> None:
    assert cal.next_kvittering(local(2026, 3, 2, 8), POLICY) == local(2026, 3, 2, 9).astimezone(dt.UTC)
    assert cal.next_kvittering(local(2026, 3, 2, 9), POLICY) == local(2026, 3, 2, 14).astimezone(dt.UTC)
    assert cal.next_kvittering(local(2026, 3, 6, 14, 1), POLICY) == local(2026, 3, 9, 9).astimezone(dt.UTC)
    keep = KvitteringPolicy(non_working_days="keep")
    assert cal.next_kvittering(local(2026, 3, 6, 14, 1), keep) == local(2026, 3, 7, 9).astimezone(dt.UTC)
    one = KvitteringPolicy(times=(dt.time(13),))
    assert cal.next_kvittering(local(2026, 3, 2, 13, 30), one) == local(2026, 3, 3, 13).astimezone(dt.UTC)


def test_days_keep_the_local_time_across_both_dst_changes() -> None:
    spring = cal.after_days(local(2026, 3, 27, 10), 3, "calendar")
    assert spring.astimezone(STHLM) == local(2026, 3, 30, 10)
    assert spring - local(2026, 3, 27, 10) == dt.timedelta(days=3) - dt.timedelta(hours=1)
    autumn = cal.after_days(local(2026, 10, 23, 10), 3, "calendar")
    assert autumn - local(2026, 10, 23, 10) == dt.timedelta(days=3, hours=1)
    assert cal.after_hours(local(2026, 3, 28, 10), 24).astimezone(STHLM) == local(2026, 3, 29, 11)


def test_a_wall_time_skipped_by_spring_forward_moves_forward() -> None:
    assert cal.after_days(local(2026, 3, 28, 2, 30), 1, "calendar").astimezone(STHLM).hour == 3


def test_working_days_skip_easter() -> None:
    assert cal.after_days(local(2026, 4, 2, 10), 1, "working").astimezone(STHLM) == local(2026, 4, 7, 10)


def test_end_of_local_day_in_summer_and_winter() -> None:
    assert cal.end_of_local_day(local(2026, 7, 1, 1)) == dt.datetime(2026, 7, 1, 21, 59, 59, 999999, tzinfo=dt.UTC)
    assert cal.end_of_local_day(local(2026, 1, 1, 1)) == dt.datetime(2026, 1, 1, 22, 59, 59, 999999, tzinfo=dt.UTC)


def test_liability_days_default_noon_cutoff_and_psychiatry() -> None:
    default = PaymentLiability()
    assert cal.liability_days(local(2026, 3, 5, 16), local(2026, 3, 8, 10), default, False) == 0
    assert cal.liability_days(local(2026, 3, 5, 16), local(2026, 3, 9, 10), default, False) == 1
    sthlm = PaymentLiability(psychiatry_days=5, notice_cutoff=dt.time(12))
    assert cal.liability_start(local(2026, 3, 5, 11, 59), sthlm, False) == dt.date(2026, 3, 8)
    assert cal.liability_start(local(2026, 3, 5, 12, 0), sthlm, False) == dt.date(2026, 3, 9)
    assert cal.liability_start(local(2026, 3, 5, 11, 0), sthlm, True) == dt.date(2026, 3, 10)
    assert cal.liability_amount(4, PaymentLiability(daily_rate={2019: 7800, 2022: 9300}), 2026) == 4 * 9300
    assert cal.liability_amount(4, PaymentLiability(daily_rate={2019: 7800, 2022: 9300}), 2020) == 4 * 7800


instants = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31),
                        timezones=st.just(dt.UTC))
policies = st.builds(
    KvitteringPolicy,
    times=st.lists(st.times(), min_size=1, max_size=3, unique=True).map(tuple),
    non_working_days=st.sampled_from(["roll_forward", "keep"]),
)


@given(instants, policies)
def test_next_kvittering_is_the_first_kvitteringstid_after_receipt(received: dt.datetime,
                                                                   policy: KvitteringPolicy) -> None:
    due = cal.next_kvittering(received, policy)
    local_due = due.astimezone(STHLM)
    assert due > received
    wall = local_due.time().replace(tzinfo=None)
    shifted = {(dt.datetime.combine(dt.date(2000, 1, 1), t) + dt.timedelta(hours=1)).time()
               for t in policy.times}  # a kvitteringstid skipped by spring-forward moves an hour
    assert wall in policy.times or wall in shifted
    if policy.non_working_days == "roll_forward":
        assert cal.is_working_day(local_due.date())
    # no kvitteringstid lies strictly between receipt and due
    day = received.astimezone(STHLM).date()
    while day <= local_due.date():
        if policy.non_working_days == "keep" or cal.is_working_day(day):
            for t in policy.times:
                candidate = cal.at_local(day, t)
                assert not (received < candidate < due)
        day += dt.timedelta(days=1)


@given(instants, st.integers(min_value=0, max_value=40))
def test_calendar_days_keep_the_wall_clock(start: dt.datetime, days: int) -> None:
    end = cal.after_days(start, days, "calendar")
    s, e = start.astimezone(STHLM), end.astimezone(STHLM)
    assert (e.date() - s.date()).days == days
    assert e.time() == s.time() or abs(
        dt.datetime.combine(dt.date.min, e.time()) - dt.datetime.combine(dt.date.min, s.time())
    ) == dt.timedelta(hours=1)  # only a wall time skipped by spring-forward moves


# ── locale independence ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("year", range(2018, 2041))
def test_midsommarafton_is_the_friday_before_midsommardagen(year: int) -> None:
    from hub.domain.calendar import midsummer_eve

    eve = midsummer_eve(year)
    assert eve.weekday() == 4 and dt.date(year, 6, 19) <= eve <= dt.date(year, 6, 25)
    public = holidays.country_holidays("SE", years=year)
    assert eve + dt.timedelta(days=1) in public  # midsommardagen, found by date, not by name
    assert not cal.is_working_day(eve)


@pytest.mark.parametrize("lang", ["sv_SE.UTF-8", "en_US.UTF-8", "C.UTF-8"])
def test_working_days_do_not_depend_on_the_locale(lang: str) -> None:
    """The holiday library names holidays in the locale's language; nothing may look them up by
    name (with a Swedish locale a lookup of "Midsummer" found nothing)."""
    code = ("import datetime as dt; from hub.domain.calendar import is_working_day; "
            "days = [dt.date(2026, 6, 19), dt.date(2026, 12, 24), dt.date(2026, 12, 31), "
            "dt.date(2026, 6, 18), dt.date(2027, 6, 25)]; "
            "print([is_working_day(d) for d in days])")
    env = {**os.environ, "LANG": lang, "LC_ALL": lang, "LANGUAGE": lang.split(".")[0]}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "[False, False, False, True, False]"
