"""Consent policy: decides a disclosure request from the facts, as a pure function.

It implements rules 1 to 5 of the domain document (docs/domain.md) and the Consent paragraph:

1. Nothing is released without a confirmed match and an active consent, for this recipient, whose scope
   covers every requested category. All or nothing: one uncovered category denies the whole request.
   For one (found person, recipient) pair the latest consent record replaces all earlier ones; refused
   and withdrawn mean an empty scope; an expired ``given`` means an empty scope from its expiry on.
2. A found person who refuses contact stays unfound: when the latest record for this recipient is
   ``refused`` or ``withdrawn``, nothing is released, not even the fate of a deceased person, and the
   family may be told only that the search is closed (``Decision.search_closed_only``).
3. A minor (any reading of birth date or age could be under 18 on the registration date, or flagged)
   needs consent obtained via a guardian or a recorded best-interests decision, and the match counts as
   confirmed only with the approval of a second, different tracing officer.
4. The fate of a deceased person (a request for ``fate`` and nothing else) needs no consent, but the
   match counts as confirmed only with a second, different officer's approval. A request that adds
   any other category is judged by rule 1 for all of it.
5. Whereabouts and contact are released only through an allowed decision of this policy (the
   application calls it before every disclosure and never shows them otherwise).

Where the rules leave a case open this module takes the cautious reading and says so: a person whose
birth date and age are both unknown is treated as a possible minor; a withdrawal counts as a refusal of
contact for rule 2; a ``given`` record dated after ``now`` is not in force yet (while a later refusal
or withdrawal always counts).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Category(StrEnum):
    """Categories of information that can be disclosed about a found person."""

    ALIVE_AND_WELL = "alive_and_well"
    WHEREABOUTS = "whereabouts"
    CONTACT = "contact"
    MESSAGE = "message"
    FATE = "fate"


class ConsentStatus(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL = "oral"
    GUARDIAN = "guardian"
    BEST_INTERESTS = "best_interests"


MINOR_CONSENT_METHODS = frozenset({ConsentMethod.GUARDIAN, ConsentMethod.BEST_INTERESTS})


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Reason(StrEnum):
    """Why a decision came out as it did. A denial lists every failed condition."""

    # allow
    CONSENT_COVERS_REQUEST = "consent_covers_request"
    FATE_OF_DECEASED = "fate_of_deceased"
    # deny
    NOTHING_REQUESTED = "nothing_requested"
    MATCH_NOT_CONFIRMED = "match_not_confirmed"
    SECOND_APPROVAL_MISSING = "second_approval_missing"
    NO_CONSENT = "no_consent"
    CONSENT_REFUSED = "consent_refused"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_NOT_YET_IN_FORCE = "consent_recorded_after_now"
    CONSENT_NOT_FROM_GUARDIAN = "consent_not_from_guardian_or_best_interests"
    SCOPE_NOT_COVERED = "scope_does_not_cover_request"
    CONTACT_REFUSED = "contact_refused"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One appended consent record for a found person (records are never edited)."""

    record_id: str
    status: ConsentStatus
    recipient: str
    scope: frozenset[Category]
    method: ConsentMethod
    recorded_by: str
    recorded_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MatchFacts:
    """The match between the tracing request and the sighting: who confirmed it, who approved it."""

    status: MatchStatus
    confirmed_by: str | None = None
    approved_by: frozenset[str] = frozenset()

    @property
    def confirmed(self) -> bool:
        return self.status is MatchStatus.CONFIRMED and bool(self.confirmed_by)

    @property
    def second_approval(self) -> bool:
        """A tracing officer other than the confirming one approved the match."""
        return self.confirmed and any(
            officer and officer != self.confirmed_by for officer in self.approved_by
        )


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A possibly partial date: year only, year and month, or a full date."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise ValueError("a day needs a month")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError("month out of range")
        if self.day is not None and self.month is not None:
            date(self.year, self.month, self.day)  # raises ValueError if impossible

    def latest(self) -> date:
        """The latest date this reading allows (the youngest the person can be)."""
        if self.month is None:
            return date(self.year, 12, 31)
        if self.day is None:
            return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])
        return date(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class AgeEstimate:
    """An age range in whole years observed on a date, e.g. "about 30" as 25-35 on 2024-05-01."""

    min_years: int
    max_years: int
    observed_on: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.min_years <= self.max_years:
            raise ValueError("age range must satisfy 0 <= min <= max")


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February in a non-leap year: the later reading, 1 March
        return date(d.year + years, 3, 1)


def could_be_minor(
    on: date,
    *,
    birth_date: PartialDate | date | None = None,
    age: AgeEstimate | None = None,
    flagged: bool = False,
) -> bool:
    """True if any reading of the birth date or the age could make the person under 18 on ``on``.

    ``on`` is the registration date. A year-only birth date is read as late as 31 December, an age
    range at its lower bound (the person just had that birthday when observed). With neither a birth
    date nor an age nothing rules a minor out, so the answer is True.
    """
    if flagged:
        return True
    if birth_date is None and age is None:
        return True
    if birth_date is not None:
        latest_birth = birth_date.latest() if isinstance(birth_date, PartialDate) else birth_date
        if on < _add_years(latest_birth, 18):
            return True
    if age is not None:
        observed = age.observed_on or on
        latest_birth = _add_years(observed, -age.min_years)
        if on < _add_years(latest_birth, 18):
            return True
    return False


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What is known about the found person that the rules depend on."""

    registered_on: date
    birth_date: PartialDate | date | None = None
    age: AgeEstimate | None = None
    flagged_minor: bool = False
    deceased: bool = False

    @property
    def minor(self) -> bool:
        return could_be_minor(
            self.registered_on, birth_date=self.birth_date, age=self.age, flagged=self.flagged_minor
        )


@dataclass(frozen=True, slots=True)
class DisclosureFacts:
    """A disclosure request and every fact the policy needs to decide it."""

    recipient: str
    requested: frozenset[Category]
    match: MatchFacts
    subject: SubjectFacts
    consents: tuple[ConsentRecord, ...]
    now: datetime
    """Timezone-aware, like every datetime in the consent records."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer. ``consent_record_id`` is the record the disclosure relies on, if any;
    ``uncovered`` lists requested categories the consent does not cover; ``search_closed_only`` says the
    family may be told only that the search is closed (rule 2)."""

    allowed: bool
    reasons: tuple[Reason, ...]
    consent_record_id: str | None = None
    uncovered: frozenset[Category] = field(default_factory=frozenset)
    search_closed_only: bool = False


def latest_consent(consents: Iterable[ConsentRecord], recipient: str) -> ConsentRecord | None:
    """The record in force for this recipient: the latest by ``recorded_at``; on a tie, the one
    appended last."""
    latest: ConsentRecord | None = None
    for record in consents:
        if record.recipient == recipient and (latest is None or record.recorded_at >= latest.recorded_at):
            latest = record
    return latest


def decide_disclosure(facts: DisclosureFacts) -> Decision:
    """Allow or deny a disclosure request, with every reason (see the module docstring)."""
    requested = frozenset(facts.requested)
    record = latest_consent(facts.consents, facts.recipient)
    refused = record is not None and record.status in (ConsentStatus.REFUSED, ConsentStatus.WITHDRAWN)
    if not requested:
        return Decision(False, (Reason.NOTHING_REQUESTED,), search_closed_only=refused)

    subject = facts.subject
    needs_second = subject.minor or subject.deceased
    reasons: list[Reason] = []

    if not facts.match.confirmed:
        reasons.append(Reason.MATCH_NOT_CONFIRMED)
    if needs_second and not facts.match.second_approval:
        reasons.append(Reason.SECOND_APPROVAL_MISSING)
    if refused:
        reasons.append(Reason.CONTACT_REFUSED)

    fate_exception = subject.deceased and requested == {Category.FATE}
    uncovered: frozenset[Category] = frozenset()
    if not fate_exception:
        consent_reasons, uncovered = _consent_failures(record, requested, subject.minor, facts.now)
        reasons.extend(consent_reasons)

    if reasons:
        return Decision(False, tuple(reasons), uncovered=uncovered, search_closed_only=refused)
    if fate_exception:
        return Decision(True, (Reason.FATE_OF_DECEASED,))
    record_id = record.record_id if record is not None else None  # never None: no consent failure
    return Decision(True, (Reason.CONSENT_COVERS_REQUEST,), consent_record_id=record_id)


def _consent_failures(
    record: ConsentRecord | None, requested: frozenset[Category], minor: bool, now: datetime
) -> tuple[list[Reason], frozenset[Category]]:
    if record is None:
        return [Reason.NO_CONSENT], requested
    if record.status is ConsentStatus.REFUSED:
        return [Reason.CONSENT_REFUSED], requested
    if record.status is ConsentStatus.WITHDRAWN:
        return [Reason.CONSENT_WITHDRAWN], requested
    reasons: list[Reason] = []
    uncovered = requested - record.scope
    if record.expires_at is not None and now >= record.expires_at:
        reasons.append(Reason.CONSENT_EXPIRED)
        uncovered = requested  # an expired consent has an empty scope
    if record.recorded_at > now:  # clock skew or a back-dated request: not in force yet
        reasons.append(Reason.CONSENT_NOT_YET_IN_FORCE)
        uncovered = requested
    if minor and record.method not in MINOR_CONSENT_METHODS:
        reasons.append(Reason.CONSENT_NOT_FROM_GUARDIAN)
    if uncovered:
        reasons.append(Reason.SCOPE_NOT_COVERED)
    return reasons, uncovered
