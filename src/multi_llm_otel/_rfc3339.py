"""The timestamps a Rust service's ``created_at`` may hold: a port of chrono 0.4's relaxed RFC 3339
parser (``DateTime<FixedOffset>::from_str``, which serde uses for ``DateTime<Utc>``).

chrono takes more than RFC 3339: whitespace around most parts, ``t`` or a space for ``T``,
one- and two-digit fields, a signed year of any width, any number of fraction digits (the
tenth on ignored), offsets written ``+02:00``, ``+0200``, ``+02 00``, ``02:00`` after a minus sign (U+2212) or
``UTC``, and ``:60`` for a leap second in any minute. The result is converted to UTC. Each step
below names the chrono function it follows, so the two can be compared line by line.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["parse_relaxed"]

# Rust's char::is_whitespace (Unicode White_Space), which differs from str.isspace.
_WHITESPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_DIGITS: Final = frozenset("0123456789")
_I64_MAX: Final = 2**63 - 1
_I32: Final = (-(2**31), 2**31 - 1)
_UNIX_EPOCH_DAYS: Final = 719_468  # days from 0000-03-01 to 1970-01-01


class _Refused(ValueError):
    pass


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def trim(self) -> None:
        """``str::trim_start``."""
        s, i = self.s, self.i
        while i < len(s) and s[i] in _WHITESPACE:
            i += 1
        self.i = i

    def literal(self, char: str) -> None:
        if self.i >= len(self.s) or self.s[self.i] != char:
            raise _Refused(f"expected {char!r} at character {self.i + 1}")
        self.i += 1

    def number(self, least: int, most: int) -> int:
        """``scan::number``: ASCII digits, at least ``least``, at most ``most``."""
        s, start = self.s, self.i
        i = start
        while i < len(s) and i - start < most and s[i] in _DIGITS:
            i += 1
        if i - start < least:
            raise _Refused(f"expected a digit at character {start + 1}")
        value = int(s[start:i])
        if value > _I64_MAX:
            raise _Refused("number out of range")
        self.i = i
        return value

    def field(self, width: int, low: int, high: int, name: str) -> int:
        """``Item::Numeric`` (unsigned) then ``Parsed::set_*``'s range check."""
        self.trim()
        value = self.number(1, width)
        if not low <= value <= high:
            raise _Refused(f"{name} {value} out of range")
        return value

    def year(self) -> int:
        self.trim()
        s = self.s
        if self.i < len(s) and s[self.i] in "+-":
            negative = s[self.i] == "-"
            self.i += 1
            value = self.number(1, len(s))
            value = -value if negative else value
        else:
            value = self.number(1, 4)
        if not _I32[0] <= value <= _I32[1]:
            raise _Refused("year out of range")
        return value

    def nanosecond(self) -> int:
        """``Fixed::Nanosecond``: an optional ``.`` and 1 to 9 digits; later digits skipped."""
        s = self.s
        if self.i >= len(s) or s[self.i] != ".":
            return 0
        self.i += 1
        start = self.i
        value = self.number(1, 9)
        value *= int(10 ** (9 - (self.i - start)))
        while self.i < len(s) and s[self.i] in _DIGITS:
            self.i += 1
        return value

    def offset(self) -> int:
        """``scan::timezone_offset`` with Zulu, no missing minutes, and U+2212 allowed."""
        s = self.s
        head = s[self.i : self.i + 3]
        if head.isascii() and head.upper() == "UTC":
            self.i += 3
            return 0
        if self.i >= len(s):
            raise _Refused("no offset")
        sign = s[self.i]
        if sign in "Zz":
            self.i += 1
            return 0
        if sign not in "+-\u2212":
            raise _Refused(f"expected an offset at character {self.i + 1}")
        self.i += 1
        hours_text = s[self.i : self.i + 2]
        if len(hours_text) < 2 or not set(hours_text) <= _DIGITS:
            raise _Refused("offset hours: two digits")
        self.i += 2
        # scan::colon_or_space: any run of colons and whitespace.
        while self.i < len(s) and (s[self.i] == ":" or s[self.i] in _WHITESPACE):
            self.i += 1
        minutes_text = s[self.i : self.i + 2]
        if len(minutes_text) < 2 or not set(minutes_text) <= _DIGITS or minutes_text[0] > "5":
            raise _Refused("offset minutes: two digits, 00 to 59")
        self.i += 2
        seconds = int(hours_text) * 3600 + int(minutes_text) * 60
        return seconds if sign == "+" else -seconds


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - _UNIX_EPOCH_DAYS


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_relaxed(text: str) -> tuple[datetime, int]:
    """``(UTC time to the microsecond, nanoseconds)`` as chrono parses ``text``; ``ValueError``
    if chrono refuses it, or if the time is outside the years Python's ``datetime`` holds."""
    sc = _Scanner(text)
    # parse_rfc3339_relaxed: DATE_ITEMS
    year = sc.year()
    sc.trim()
    sc.literal("-")
    month = sc.field(2, 1, 12, "month")
    sc.trim()
    sc.literal("-")
    day = sc.field(2, 1, 31, "day")
    if sc.i >= len(text) or text[sc.i] not in "tT ":
        raise _Refused(f"expected 'T' at character {sc.i + 1}")
    sc.i += 1
    # TIME_ITEMS
    hour = sc.field(2, 0, 23, "hour")
    sc.trim()
    sc.literal(":")
    minute = sc.field(2, 0, 59, "minute")
    sc.trim()
    sc.literal(":")
    second = sc.field(2, 0, 60, "second")
    nanos = sc.nanosecond()
    sc.trim()
    offset = sc.offset()
    sc.trim()
    if sc.i != len(text):
        raise _Refused(f"unexpected text at character {sc.i + 1}")
    # Parsed::to_datetime
    if day > _month_days(year, month):
        raise _Refused("no such date")
    if abs(offset) >= 86_400:
        raise _Refused("offset out of range")
    # A leap second is second 59 plus a whole second of nanoseconds in chrono.
    leap = second == 60
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + (59 if leap else second)
    seconds += leap - offset
    try:
        moment = datetime.fromtimestamp(0, timezone.utc) + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise ValueError("outside the years 1 to 9999 that Python's datetime holds") from None
    return moment, nanos
