"""Disclosure: releasing information about a found person to the family that asked, if the policy
allows it (``privacy.decide_disclosure``, domain rules 1 to 5).

A tracing officer of the request's society asks for categories; the policy decides from the match
(confirmed, and approved by a second officer where the person is a minor or deceased), the found
person's verified consent records for this request, and what is asked. All or nothing: if one
category is not covered, nothing is released. Allowed: the answer carries exactly the released data,
decrypted now, and the request becomes ``disclosed``. Denied: every reason is given. Either way the
attempt is recorded and audited for both societies.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import Category, Decision, DisclosureFacts, MatchFacts, Reason, SubjectFacts, decide_disclosure
from privacy import MatchStatus as PolicyMatchStatus
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.consent import services as consent
from rfl.crypto import Crypto
from rfl.disclosures.models import Disclosure, DisclosureOutcome
from rfl.errors import Conflict, NotFound, PermissionDenied
from rfl.identity import Actor, society_id_by_code
from rfl.matches.models import CONFIRMING_STATUSES, MatchCandidate, MatchOutcome, MatchStatus
from rfl.matches.services import close_on_refusal, reviewable
from rfl.pagination import Page, paginate
from rfl.records.models import RecordStatus, Sighting
from rfl.records.seals import Protection, Seals
from rfl.records.services import SIGHTINGS, locked_tracing_request, read_groups, subject_facts

# What each category releases from the sighting (group, fields); message and fate are not fields.
RELEASED_FIELDS: dict[Category, tuple[str, tuple[str, ...]]] = {
    Category.WHEREABOUTS: ("whereabouts", ("current_place", "address")),
    Category.CONTACT: ("whereabouts", ("phone", "email")),
}


@dataclass(frozen=True)
class DisclosureResult:
    disclosure: Disclosure | None  # None: the pair turned out refused (see ``disclose``)
    decision: Decision
    released: dict[str, Any] = field(default_factory=dict)


def disclose(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    match_id: uuid.UUID,
    categories: frozenset[Category],
    *,
    now: datetime,
    audit: AuditSink,
) -> DisclosureResult:
    """Decide and record one disclosure request (see the module docstring)."""
    match = reviewable(session, crypto, actor, match_id, Action.DISCLOSURE_DENIED, audit=audit)
    # As a match decision or a consent does: one at a time for a request, each reading the pair and
    # its consents as the one before it committed them (a withdrawal racing a disclosure).
    request = locked_tracing_request(session, match.tracing_request_id)
    session.refresh(match)
    if actor.society_id != match.request_society_id:
        audit(
            _event(Action.DISCLOSURE_DENIED, actor, match, match.sighting_society_id, outcome=Outcome.DENIED)
        )
        raise PermissionDenied("Only tracing officers of the requesting society disclose to its family.")
    if match.outcome is MatchOutcome.LOCATED_NO_CONTACT:
        # Rule 2: to the family's side the search is closed; it never learns the person was found.
        audit(
            _event(Action.DISCLOSURE_DENIED, actor, match, match.sighting_society_id, outcome=Outcome.DENIED)
        )
        raise NotFound("No such match candidate.")
    sighting = session.get_one(Sighting, match.sighting_id)
    if sighting.found_erased_at is not None:
        # The found person's data is gone for good: nothing of them can reach anyone any more.
        audit(
            _event(Action.DISCLOSURE_DENIED, actor, match, match.sighting_society_id, outcome=Outcome.DENIED)
        )
        raise Conflict("The found person's data was erased; nothing of them can be disclosed.")
    records = consent.policy_records(session, crypto, sighting.id, str(match.tracing_request_id), audit=audit)
    protection = Seals(crypto, audit, actor).protection(sighting)
    subject = subject_facts(crypto, sighting, protection)
    decision = decide_disclosure(_facts(match, subject, records, categories, now))
    if (
        decision.search_closed_only
        and match.status in CONFIRMING_STATUSES
        and request.status is not RecordStatus.DISCLOSED
    ):
        # The person said no while no pair was confirmed (it was withdrawn), and the pair was confirmed
        # again: rule 2 as at a refusal, found out now, before anything is recorded for the family's
        # side to read (the attempt's reasons would say it).
        close_on_refusal(session, match, request, audit)
        audit(
            _event(Action.DISCLOSURE_DENIED, actor, match, match.sighting_society_id, outcome=Outcome.DENIED)
        )
        return DisclosureResult(None, decision)
    if match.status is not MatchStatus.CONFIRMED:
        # Of a pair not (yet) confirmed the family's side learns that alone, never what the found
        # person said nor that they are a minor or dead (rules 2 to 4): the policy's other reasons
        # would say it.
        decision = dataclasses.replace(
            decision, reasons=(Reason.MATCH_NOT_CONFIRMED,), uncovered=frozenset(), search_closed_only=False
        )
    disclosure = _record(session, actor, match, categories=categories, decision=decision, now=now)
    if not decision.allowed:
        for owner in _owners(match):
            audit(
                _event(
                    Action.DISCLOSURE_DENIED,
                    actor,
                    match,
                    owner,
                    disclosure=disclosure,
                    outcome=Outcome.DENIED,
                )
            )
        return DisclosureResult(disclosure, decision)
    by_id = {str(row.id): row for row, _ in records}
    released = _released(
        crypto, sighting, protection, categories, by_id.get(decision.consent_record_id or "")
    )
    request.status = RecordStatus.DISCLOSED
    for owner in _owners(match):
        audit(_event(Action.DISCLOSURE_ALLOWED, actor, match, owner, disclosure=disclosure))
    return DisclosureResult(disclosure, decision, released)


def _facts(
    match: MatchCandidate,
    subject: SubjectFacts,
    records: Sequence[tuple[Any, Any]],
    categories: frozenset[Category],
    now: datetime,
) -> DisclosureFacts:
    confirmed = match.status is MatchStatus.CONFIRMED
    return DisclosureFacts(
        recipient=str(match.tracing_request_id),
        requested=categories,
        match=MatchFacts(
            status=PolicyMatchStatus.CONFIRMED if confirmed else PolicyMatchStatus.PROPOSED,
            confirmed_by=str(match.confirmed_by) if match.confirmed_by else None,
            approved_by=frozenset({str(match.approved_by)}) if match.approved_by else frozenset(),
        ),
        subject=subject,
        consents=tuple(record for _, record in records),
        now=now,
    )


def _record(
    session: Session,
    actor: Actor,
    match: MatchCandidate,
    *,
    categories: frozenset[Category],
    decision: Decision,
    now: datetime,
) -> Disclosure:
    disclosure = Disclosure(
        id=uuid.uuid4(),
        match_candidate_id=match.id,
        tracing_request_id=match.tracing_request_id,
        sighting_id=match.sighting_id,
        request_society_id=match.request_society_id,
        sighting_society_id=match.sighting_society_id,
        categories=sorted(categories),
        outcome=DisclosureOutcome.ALLOWED if decision.allowed else DisclosureOutcome.DENIED,
        reasons=[reason.value for reason in decision.reasons],
        consent_id=uuid.UUID(decision.consent_record_id) if decision.consent_record_id else None,
        officer_user_id=actor.user_id,
        decided_at=now,
    )
    session.add(disclosure)
    session.flush()
    return disclosure


def _released(
    crypto: Crypto,
    sighting: Sighting,
    protection: Protection,
    categories: frozenset[Category],
    relied_on: Any,
) -> dict[str, Any]:
    """Exactly the released data, decrypted now: nothing of the sighting beyond the categories."""
    released: dict[str, Any] = {}
    wanted = [RELEASED_FIELDS[c] for c in categories if c in RELEASED_FIELDS]
    groups = read_groups(crypto, SIGHTINGS, sighting, [group for group, _ in wanted])
    for category in categories:
        if category in RELEASED_FIELDS:
            group, names = RELEASED_FIELDS[category]
            values = groups.get(group) or {}
            released[category.value] = {name: values[name] for name in names if values.get(name) is not None}
        elif category is Category.ALIVE_AND_WELL:
            released[category.value] = True
        elif category is Category.FATE:
            released[category.value] = "deceased" if protection.deceased else "alive"
        elif category is Category.MESSAGE:
            released[category.value] = consent.released_message(crypto, sighting, relied_on)
    return released


def _owners(match: MatchCandidate) -> tuple[uuid.UUID, ...]:
    return tuple(dict.fromkeys((match.request_society_id, match.sighting_society_id)))


def _event(
    action: Action,
    actor: Actor,
    match: MatchCandidate,
    owner: uuid.UUID,
    *,
    disclosure: Disclosure | None = None,
    outcome: Outcome = Outcome.OK,
) -> AuditEntry:
    """Entries name the disclosure (or the match, for a refusal before one was recorded) with its terms
    (categories, reasons, and the ids of the request, sighting and consent it relied on), so an export
    of the disclosure log is bound to the log entry by entry. Names, codes and ids: never values."""
    return AuditEntry(
        action,
        outcome=outcome,
        actor=actor,
        owner_society_id=owner,
        object_type="disclosure" if disclosure is not None else "match_candidate",
        object_id=str(disclosure.id if disclosure is not None else match.id),
        fields=bound_terms(disclosure) if disclosure is not None else (),
    )


def _refused(actor: Actor, match: MatchCandidate) -> AuditEntry:
    return _event(Action.DISCLOSURE_DENIED, actor, match, match.sighting_society_id, outcome=Outcome.DENIED)


def bound_terms(disclosure: Disclosure) -> tuple[str, ...]:
    """A disclosure's terms as audit-entry fields (see ``disclosure_terms``)."""
    return disclosure_terms(
        categories=disclosure.categories,
        reasons=disclosure.reasons,
        tracing_request_id=str(disclosure.tracing_request_id),
        sighting_id=str(disclosure.sighting_id),
        consent_id=str(disclosure.consent_id) if disclosure.consent_id else None,
    )


def disclosure_terms(
    *,
    categories: Sequence[str],
    reasons: Sequence[str],
    tracing_request_id: str,
    sighting_id: str,
    consent_id: str | None,
) -> tuple[str, ...]:
    """Categories, reason codes and the ids of the request, sighting and consent relied on: what the
    audit entry of a disclosure records, and what an export of the disclosure log is checked against."""
    terms = [*categories, *(f"reason:{reason}" for reason in reasons)]
    terms += [f"tracing_request:{tracing_request_id}", f"sighting:{sighting_id}"]
    if consent_id is not None:
        terms.append(f"consent:{consent_id}")
    return tuple(sorted(terms))


# --- the disclosure log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureLogFilter:
    tracing_request_id: uuid.UUID | None = None
    society_code: str | None = None  # either side's
    sighting_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: DisclosureOutcome | None = None
    officer_id: uuid.UUID | None = None


def disclosure_log(
    session: Session,
    actor: Actor,
    filters: DisclosureLogFilter,
    *,
    limit: int,
    cursor: str | None,
    audit: AuditSink,
) -> Page[Disclosure]:
    """Disclosures where the actor's society is on either side: ids, categories, outcomes, reasons."""
    statement = sa.select(Disclosure).where(
        sa.or_(
            Disclosure.request_society_id == actor.society_id,
            Disclosure.sighting_society_id == actor.society_id,
        )
    )
    for column, value in (
        (Disclosure.tracing_request_id, filters.tracing_request_id),
        (Disclosure.sighting_id, filters.sighting_id),
        (Disclosure.outcome, filters.outcome),
        (Disclosure.officer_user_id, filters.officer_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.society_code is not None:
        society = society_id_by_code(session, filters.society_code)
        statement = statement.where(
            sa.or_(Disclosure.request_society_id == society, Disclosure.sighting_society_id == society)
        )
    if filters.since is not None:
        statement = statement.where(Disclosure.decided_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(Disclosure.decided_at < filters.until)
    page = paginate(
        session, statement, order_by=(Disclosure.decided_at, Disclosure.id), limit=limit, cursor=cursor
    )
    audit(
        AuditEntry(
            Action.DISCLOSURE_LOG_READ,
            actor=actor,
            owner_society_id=actor.society_id,
            object_type="disclosure_log",
        )
    )
    return page
