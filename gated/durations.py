"""The duration grammar of keys and budgets: a positive integer and a unit — `30s`, `30m`, `30h`,
`30d`, `4w`, `3mo` (calendar months)."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_DURATION = re.compile(r"([1-9][0-9]{0,5})(s|m|h|d|w|mo)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_YEARS = 100   # any longer and a date computed from it may not exist (year 9999); "never" is null


def check_duration(text: str) -> str:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError("must be a number and a unit: s, m, h, d, w or mo (e.g. 30d, 3mo)")
    count, unit = int(match[1]), match[2]
    if (count / 12 if unit == "mo" else count * _SECONDS[unit] / (365.25 * 86400)) > MAX_YEARS:
        raise ValueError(f"must be at most {MAX_YEARS} years (null means no limit)")
    return text


def add_duration(moment: dt.datetime, text: str) -> dt.datetime:
    match = _DURATION.fullmatch(check_duration(text))
    assert match is not None
    count, unit = int(match[1]), match[2]
    if unit != "mo":
        return moment + dt.timedelta(seconds=count * _SECONDS[unit])
    month_index = moment.month - 1 + count
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
