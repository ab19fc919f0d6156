"""Partial and estimated birth dates.

A birth date becomes an interval of possible years plus month and day when they are known. Registrations
often hold a guessed year written as 1 January; that placeholder is read as "year only". An age (or age
range such as ``30-35``) at a record date becomes the interval of birth years it allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from matching.errors import InputError

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
MAX_ESTIMATE_SPREAD = 3  # years an estimated birth year and an age may span together
_AGE = re.compile(r"^(\d{1,3})(?:\s*-\s*(\d{1,3}))?$")


@dataclass(frozen=True, slots=True)
class BirthDate:
    """Birth year interval [year_lo, year_hi]; month and day are 0 when unknown or a placeholder."""

    year_lo: int
    year_hi: int
    month: int = 0
    day: int = 0

    @property
    def full(self) -> bool:
        return self.year_lo == self.year_hi and self.month > 0 and self.day > 0


def parse_partial_date(text: str, column: str = "birth_date") -> tuple[int, int, int]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as (year, month, day), 0 for missing parts."""
    m = _PARTIAL.match(text.strip())
    if not m:
        raise InputError(f"not a partial ISO date: {text!r}", column=column)
    year = int(m.group(1))
    month = int(m.group(2) or 0)
    day = int(m.group(3) or 0)
    if not 1000 <= year <= 2200 or month > 12 or (m.group(2) and month == 0):
        raise InputError(f"not a valid date: {text!r}", column=column)
    if day:
        try:
            date(year, month, day)
        except ValueError:
            raise InputError(f"not a valid date: {text!r}", column=column) from None
    return year, month, day


def parse_age(text: str) -> tuple[int, int]:
    m = _AGE.match(text.strip())
    if not m:
        raise InputError(f"not an age or age range: {text!r}", column="age")
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if hi < lo or hi > 130:
        raise InputError(f"not an age or age range: {text!r}", column="age")
    return lo, hi


def birth_date(birth: str, age: str, record_date: str) -> BirthDate | None:
    """The birth date a record states, or the one its age implies, or None.

    A stated year without month (or a 1 January placeholder) and an age are two estimates: the
    interval covers both when they are within a few years of each other.
    """
    ry = parse_partial_date(record_date, column="record_date")[0] if record_date.strip() else None
    from_age: tuple[int, int] | None = None
    if age.strip():
        lo, hi = parse_age(age)
        if ry is not None:
            # Someone aged a at the record date was born between that date minus a+1 years and minus a.
            from_age = (ry - hi - 1, ry - lo)
    if birth.strip():
        y, mo, d = parse_partial_date(birth)
        if mo == 1 and d == 1:  # the usual placeholder of an estimated year
            mo, d = 0, 0
        if mo == 0 and from_age is not None:
            lo_y, hi_y = min(y, from_age[0]), max(y, from_age[1])
            if hi_y - lo_y <= MAX_ESTIMATE_SPREAD:
                return BirthDate(lo_y, hi_y)
        return BirthDate(y, y, mo, d)
    if from_age is not None:
        return BirthDate(*from_age)
    return None
