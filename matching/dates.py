"""Partial dates, ages, and the birth dates they give: the project's one parser of each.

:func:`parse_partial_date` and :func:`parse_age` are strict: they accept exactly a partial ISO date
(``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real calendar date, years 0001-9999) and an age in years
(a whole number 0-130, or a range such as ``30-35``), and raise :class:`~matching.errors.InputError`
(a ``ValueError``) naming the column, never the value, for anything else. An application validating
its input adds its own rules (a plausible range of birth years); a batch reader decides whether a bad
date is an error or a missing value (see :func:`matching.records.prepare`).

A birth date becomes an interval of possible years plus month and day when they are known. Some
registrations write a guessed year as 1 January (or a guessed day as the 1st of the month); where a
source does, that placeholder is read as "year only" (or "year and month"). Whether it does is judged
from the data (:meth:`Placeholders.judged`): 1 January is a birthday for one person in 365, so a list
where it is far commoner uses it for "unknown", and a list where it is not holds real birthdays. An age
(or age range such as ``30-35``) at a record date becomes the interval of birth years it allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from matching.errors import InputError

_PARTIAL = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_AGE = re.compile(r"([0-9]{1,3})(?:-([0-9]{1,3}))?")
MAX_AGE = 130
MAX_ESTIMATE_SPREAD = 3  # years an estimated birth year and an age may span together
# Judging placeholders: a day is one when it is this many times commoner than chance makes it ...
PLACEHOLDER_EXCESS = 3.0
PLACEHOLDER_MIN_COUNT = 5  # ... and occurs at least this often,
PLACEHOLDER_MIN_DATES = 100  # among at least this many full dates; with fewer, the usual convention holds
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


@dataclass(frozen=True, slots=True)
class Placeholders:
    """Which written days of a source stand for an unknown one: 1 January for an unknown day and
    month, the 1st of a month for an unknown day. The default (1 January only) is the usual convention
    of registrations that estimate ages; :meth:`judged` decides from a source's own dates."""

    new_year: bool = True
    first_of_month: bool = False

    @classmethod
    def judged(cls, texts: Iterable[str]) -> Placeholders:
        """The placeholders of a source, from how often its full dates fall on 1 January and on the
        1st of another month compared with chance. Texts that are not full dates are skipped."""
        n = new_year = first = 0
        for text in texts:
            found = _PARTIAL.fullmatch(text.strip()) if isinstance(text, str) else None
            if found is None or found.group(3) is None:
                continue
            n += 1
            if found.group(3) == "01":
                new_year += found.group(2) == "01"
                first += found.group(2) != "01"
        if n < PLACEHOLDER_MIN_DATES:
            return cls()
        return cls(
            new_year=_commoner_than_chance(new_year, n, 1 / DAYS_PER_YEAR),
            first_of_month=_commoner_than_chance(first, n - new_year, 1 / DAYS_PER_MONTH),
        )


DEFAULT_PLACEHOLDERS = Placeholders()


def _commoner_than_chance(count: int, total: int, chance: float) -> bool:
    return count >= PLACEHOLDER_MIN_COUNT and count >= PLACEHOLDER_EXCESS * chance * total


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


def parse_partial_date(text: str, *, column: str | None = None) -> tuple[int, int | None, int | None]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as (year, month or None, day or None).

    Exactly that text (ASCII digits, no spaces), a real calendar date, years 0001 to 9999; anything
    else raises :class:`InputError` with ``column``.
    """
    found = _PARTIAL.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise InputError("not a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD)", column=column)
    year = int(found.group(1))
    month = int(found.group(2)) if found.group(2) else None
    day = int(found.group(3)) if found.group(3) else None
    try:
        date(year, 1 if month is None else month, 1 if day is None else day)  # year 0, month 0, 30 February
    except ValueError:
        raise InputError("not a real date (years 0001 to 9999)", column=column) from None
    return year, month, day


def parse_age(value: int | str, *, column: str | None = "age") -> tuple[int, int]:
    """An age in years as (low, high): a whole number (``30`` or ``"30"``) or a range ``"30-35"``,
    0 to ``MAX_AGE``, low <= high; anything else raises :class:`InputError` with ``column``."""
    low = high = -1
    if isinstance(value, int) and not isinstance(value, bool):
        low = high = value
    elif isinstance(value, str) and (found := _AGE.fullmatch(value)):
        low = int(found.group(1))
        high = int(found.group(2) or low)
    if not 0 <= low <= high <= MAX_AGE:
        raise InputError(f"not an age in years (0 to {MAX_AGE}) or a range such as 30-35", column=column)
    return low, high


def birth_date(
    birth: str, age: str, record_date: str, placeholders: Placeholders = DEFAULT_PLACEHOLDERS
) -> BirthDate | None:
    """The birth date a record states, or the one its age implies, or None (empty text is missing).

    A stated year without month (or a placeholder, see :class:`Placeholders`) and an age are two
    estimates: the interval covers both when they are within a few years of each other.
    """
    ry = parse_partial_date(record_date, column="record_date")[0] if record_date else None
    from_age: tuple[int, int] | None = None
    if age:
        lo, hi = parse_age(age)
        if ry is not None:
            # Someone aged a at the record date was born between that date minus a+1 years and minus a.
            from_age = (ry - hi - 1, ry - lo)
    if birth:
        y, month, day = parse_partial_date(birth, column="birth_date")
        mo, d = month or 0, day or 0
        if d == 1 and mo == 1 and placeholders.new_year:
            mo, d = 0, 0
        elif d == 1 and placeholders.first_of_month:
            d = 0
        if mo == 0 and from_age is not None:
            lo_y, hi_y = min(y, from_age[0]), max(y, from_age[1])
            if hi_y - lo_y <= MAX_ESTIMATE_SPREAD:
                return BirthDate(lo_y, hi_y)
        return BirthDate(y, y, mo, d)
    if from_age is not None:
        return BirthDate(*from_age)
    return None
