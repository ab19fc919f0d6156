"""Reviewing match candidates: the officers' queue, a candidate's detail, and the decisions.

Tracing officers of the request's society and of the sighting's society review a pair; a third
society's officer finds nothing (404, audited). Rule 10 applies at every step: a sighting hidden from
the request (or from the officer's society) is not shown. A decision is a compare-and-set on the
candidate's status, so of two officers deciding at once exactly one wins and the other gets 409 with
the state it lost to. A minor or a deceased person's match counts as confirmed only once a second,
different officer approved it. Notes and reasons are encrypted under the candidate's own data key.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matching import Explanation, Matcher
from privacy import Subject
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.crypto import Crypto
from rfl.errors import Conflict, NotFound, PermissionDenied
from rfl.identity import Actor, society_codes, society_id_by_code
from rfl.matches.models import CONFIRMING_STATUSES, MatchCandidate, MatchOutcome, MatchStatus
from rfl.matches.proposals import supersede
from rfl.outbox.services import enqueue
from rfl.pagination import Page, paginate
from rfl.records.canonical import MATCHED_FIELDS_CHANGED
from rfl.records.models import RecordStatus, Sighting, TracingRequest
from rfl.records.restrictions import Viewer, visible_to
from rfl.records.seals import Protection, Seals
from rfl.records.services import (
    SIGHTINGS,
    TRACING_REQUESTS,
    canonical_records,
    locked_tracing_request,
    read_groups,
    read_identity,
)

CANDIDATE_TABLE = MatchCandidate.__tablename__
IDENTIFIER_COMPARISONS = ("document_id", "phone")
# Comparisons whose values a reviewing officer of either society may see (identity fields, rule 5);
# the others (identifiers, places, addresses) are shown as agreement levels only.
VALUES_SHOWN = frozenset(
    {
        "given_name",
        "other_names",
        "third_name",
        "birth_date",
        "sex",
        "nationality",
        "birth_place",
        "father_name",
        "mother_name",
    }
)


@dataclass(frozen=True)
class QueueFilter:
    status: MatchStatus | None = None
    society_code: str | None = None
    min_probability: float | None = None


@dataclass(frozen=True)
class CandidateView:
    candidate: MatchCandidate
    request_society: str
    sighting_society: str
    # Whether the viewer's society holds the sighting (and may know the case's internal outcome).
    sighting_side: bool


@dataclass(frozen=True)
class CandidateDetail:
    view: CandidateView
    comparison: dict[str, dict[str, Any]]
    identifiers: dict[str, str]
    alignment: Explanation
    enquirer: dict[str, Any]


# --- the queue and one candidate -------------------------------------------------------------------


def queue(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    filters: QueueFilter,
    *,
    limit: int,
    cursor: str | None,
    audit: AuditSink,
) -> Page[CandidateView]:
    """Candidates where the officer's society is on either side, most probable first."""
    statement = sa.select(MatchCandidate).where(
        sa.or_(
            MatchCandidate.request_society_id == actor.society_id,
            MatchCandidate.sighting_society_id == actor.society_id,
        )
    )
    statement = statement.where(~_hidden_from_the_family_side(actor))
    if filters.status is not None:
        statement = statement.where(MatchCandidate.status == filters.status)
    if filters.min_probability is not None:
        statement = statement.where(MatchCandidate.match_probability >= filters.min_probability)
    if filters.society_code is not None:
        society = society_id_by_code(session, filters.society_code)
        statement = statement.where(
            sa.or_(
                MatchCandidate.request_society_id == society, MatchCandidate.sighting_society_id == society
            )
        )
    seals = Seals(crypto, audit, actor)
    page = paginate(
        session,
        statement,
        order_by=(MatchCandidate.match_probability, MatchCandidate.id),
        limit=limit,
        cursor=cursor,
        descending=True,
        keep=lambda candidates: _visible_candidates(session, seals, actor, candidates),
    )
    return Page(items=_views(session, list(page.items), actor), next_cursor=page.next_cursor)


def candidate_detail(
    session: Session,
    crypto: Crypto,
    matcher: Matcher,
    actor: Actor,
    candidate_id: uuid.UUID,
    *,
    audit: AuditSink,
) -> CandidateDetail:
    """One candidate with the field-by-field explanation and both persons' identity fields side by
    side, decrypted now; identifiers only as agreement levels, never contacts or whereabouts."""
    candidate = reviewable(session, crypto, actor, candidate_id, Action.MATCH_READ, audit=audit)
    request = session.get_one(TracingRequest, candidate.tracing_request_id)
    sighting = session.get_one(Sighting, candidate.sighting_id)
    # The reads of a hidden pair's request are its sighting's society's entries: they are audited all
    # the same, but the request's society must not learn that another looked at its request for a pair.
    protection = Seals(crypto, audit, actor).protection(sighting)
    hidden = _kept_from_the_family(
        hidden_from_the_request(session, candidate, sighting, protection), candidate
    )
    sought = read_identity(crypto, TRACING_REQUESTS, request)
    found = read_identity(crypto, SIGHTINGS, sighting)
    [request_view] = canonical_records(crypto, TRACING_REQUESTS, [request])
    [sighting_view] = canonical_records(crypto, SIGHTINGS, [sighting])
    alignment = matcher.explain(request_view, sighting_view)
    for record, kind, shown in ((request, TRACING_REQUESTS, sought), (sighting, SIGHTINGS, found)):
        audit(
            AuditEntry(
                Action.MATCH_READ,
                actor=actor,
                owner_society_id=sighting.society_id if hidden else record.society_id,
                object_type=kind.name,
                object_id=str(record.id),
                fields=tuple(f"{kind.person_group}.{name}" for name in shown),
            )
        )
    enquirer = _enquirer(
        crypto, actor, request, audit, owner=sighting.society_id if hidden else request.society_id
    )
    identifiers = {
        entry["field"]: entry["level"]
        for entry in candidate.explanation
        if entry["field"] in IDENTIFIER_COMPARISONS
    }
    return CandidateDetail(
        view=_views(session, [candidate], actor)[0],
        comparison={"tracing_request": sought, "sighting": found},
        identifiers=identifiers,
        alignment=_identity_values_only(alignment),
        enquirer=enquirer,
    )


def _enquirer(
    crypto: Crypto, actor: Actor, request: TracingRequest, audit: AuditSink, *, owner: uuid.UUID
) -> dict[str, Any]:
    """Who is looking, as far as the enquirer agreed to be named to the sought person: so the officer
    who asks the found person for consent can say who asks. Without that agreement, nothing."""
    enquirer = read_groups(crypto, TRACING_REQUESTS, request, ["enquirer"]).get("enquirer") or {}
    if not enquirer.get("shares_identity_with_sought_person"):
        return {"identity_shared": False}
    shown = {name: enquirer[name] for name in ("full_name", "relationship") if enquirer.get(name)}
    audit(
        AuditEntry(
            Action.MATCH_READ,
            actor=actor,
            owner_society_id=owner,
            object_type=TRACING_REQUESTS.name,
            object_id=str(request.id),
            fields=tuple(f"enquirer.{name}" for name in shown),
        )
    )
    return {"identity_shared": True, **shown}


def reviewable(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    candidate_id: uuid.UUID,
    action: Action,
    *,
    audit: AuditSink,
) -> MatchCandidate:
    """The candidate if the actor's society is on either side and rule 10 lets it see the sighting
    (read through its seal); otherwise NotFound, audited the same way whether the id exists or not."""
    candidate = session.get(MatchCandidate, candidate_id)
    if (
        candidate is None
        or actor.society_id not in (candidate.request_society_id, candidate.sighting_society_id)
        or not _sighting_visible(session, Seals(crypto, audit, actor), actor, candidate)
        or _refused_contact_hides(actor, candidate)
    ):
        audit(
            AuditEntry(
                action,
                outcome=Outcome.DENIED,
                actor=actor,
                owner_society_id=None if candidate is None else candidate.sighting_society_id,
                object_type="match_candidate",
                object_id=str(candidate_id),
            )
        )
        raise NotFound("No such match candidate.")
    return candidate


def _hidden_from_the_family_side(actor: Actor) -> sa.ColumnElement[bool]:
    """Rule 2: once the found person refused contact, the requesting society (unless it also holds the
    sighting) sees only that its request is closed, never the pair."""
    return sa.and_(
        MatchCandidate.outcome.is_not(None),  # NULL would make the negation NULL, and hide everything
        MatchCandidate.outcome == MatchOutcome.LOCATED_NO_CONTACT,
        MatchCandidate.request_society_id == actor.society_id,
        MatchCandidate.sighting_society_id != actor.society_id,
    )


def _sighting_visible(session: Session, seals: Seals, actor: Actor, candidate: MatchCandidate) -> bool:
    return bool(_visible_candidates(session, seals, actor, [candidate]))


def _visible_candidates(
    session: Session, seals: Seals, actor: Actor, candidates: Sequence[MatchCandidate]
) -> list[MatchCandidate]:
    """The candidates ``actor`` may review under rule 10: every pair of its own society's sightings,
    and those whose sighting rule 10 shows to the request and to ``actor`` (a page's sightings and
    societies are read in one query each, not one per candidate).

    A sighting's own society reviews all its pairs, also those its restrictions hide from the request's
    side: proposed across borders under ``no_cross_border`` (reviewed by it alone, rule 10), or
    restricted after they were proposed (to reject or withdraw them; confirming waits until the
    restrictions are lifted). A pair whose sighting's seal fails is no one's to review."""
    if not candidates:
        return []
    wanted = {c.sighting_id for c in candidates}
    sightings = {s.id: s for s in session.scalars(sa.select(Sighting).where(Sighting.id.in_(wanted)))}
    request_codes = society_codes(session, {c.request_society_id for c in candidates})
    actor_view = Viewer(actor.society_id, actor.society_code)
    visible = []
    for candidate in candidates:
        sighting = sightings[candidate.sighting_id]
        protection = seals.protection(sighting)
        if sighting.society_id == actor.society_id:
            if protection.intact:
                visible.append(candidate)
            continue
        on_request_side = Viewer(
            candidate.request_society_id,
            request_codes[candidate.request_society_id],
            candidate.tracing_request_id,
        )
        # Hidden from the request: hidden from everyone but the sighting's society.
        if visible_to(sighting, on_request_side, protection) and visible_to(sighting, actor_view, protection):
            visible.append(candidate)
    return visible


def _refused_contact_hides(actor: Actor, candidate: MatchCandidate) -> bool:
    return (
        candidate.outcome is MatchOutcome.LOCATED_NO_CONTACT
        and actor.society_id == candidate.request_society_id
        and actor.society_id != candidate.sighting_society_id
    )


def _views(session: Session, candidates: list[MatchCandidate], actor: Actor) -> list[CandidateView]:
    ids = {c.request_society_id for c in candidates} | {c.sighting_society_id for c in candidates}
    codes = society_codes(session, ids)
    return [
        CandidateView(
            c,
            codes[c.request_society_id],
            codes[c.sighting_society_id],
            c.sighting_society_id == actor.society_id,
        )
        for c in candidates
    ]


def _identity_values_only(explanation: Explanation) -> Explanation:
    """The matcher's explanation with values only where they are identity fields: identifiers, places
    and addresses keep their agreement level and weight, never their value (rule 5)."""
    kept = tuple(
        field if field.field in VALUES_SHOWN else dataclasses.replace(field, left="", right="", alignment=())
        for field in explanation.fields
    )
    return dataclasses.replace(explanation, fields=kept)


# --- decisions --------------------------------------------------------------------------------------


def confirm(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    candidate_id: uuid.UUID,
    *,
    note: str | None,
    now: datetime,
    audit: AuditSink,
) -> CandidateView:
    """Confirm a proposed pair. A minor or a deceased person's pair waits for a second officer."""
    candidate = reviewable(session, crypto, actor, candidate_id, Action.MATCH_CONFIRM, audit=audit)
    request = _decided_on(session, actor, candidate, Action.MATCH_CONFIRM, audit)
    _refuse_when_closed(session, request, candidate)
    rules = _pair_rules(session, Seals(crypto, audit, actor), request, candidate)
    _refuse_when_hidden(audit, actor, Action.MATCH_CONFIRM, candidate, rules)
    _transition(
        session,
        candidate,
        expected=(MatchStatus.PROPOSED,),
        values={
            "status": MatchStatus.PENDING_APPROVAL if rules.needs_second_approval else MatchStatus.CONFIRMED,
            "confirmed_by": actor.user_id,
            "confirmed_at": now,
            "confirm_note": _seal(crypto, candidate, "confirm_note", note),
        },
    )
    _request_follows(session, request, candidate)
    _decided(
        audit,
        Action.MATCH_CONFIRM,
        actor,
        candidate,
        wrote="confirm_note" if note else None,
    )
    return _views(session, [candidate], actor)[0]


def approve(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    candidate_id: uuid.UUID,
    *,
    now: datetime,
    audit: AuditSink,
) -> CandidateView:
    """The second, different officer's approval that makes a minor's or deceased person's pair count:
    a pair awaiting it, or a confirmed one whose person has since died or been found to be a minor
    (the disclosure policy asks for it then too)."""
    candidate = reviewable(session, crypto, actor, candidate_id, Action.MATCH_APPROVE, audit=audit)
    request = _decided_on(session, actor, candidate, Action.MATCH_APPROVE, audit)
    if candidate.confirmed_by == actor.user_id and candidate.status in CONFIRMING_STATUSES:
        audit(
            _event(
                Action.MATCH_APPROVE, actor, candidate, candidate.sighting_society_id, outcome=Outcome.DENIED
            )
        )
        raise PermissionDenied("A second, different tracing officer must approve this match.")
    if candidate.status is MatchStatus.PROPOSED:
        raise Conflict(
            "This match is not confirmed yet: an approval follows a confirmation.", current=_state(candidate)
        )
    rules = _pair_rules(session, Seals(crypto, audit, actor), request, candidate)
    late = candidate.status is MatchStatus.CONFIRMED
    if late and (candidate.approved_by is not None or not rules.needs_second_approval):
        raise Conflict("This match needs no further approval.", current=_state(candidate))
    _refuse_when_closed(session, request, candidate)
    _refuse_when_hidden(audit, actor, Action.MATCH_APPROVE, candidate, rules)
    _transition(
        session,
        candidate,
        expected=(MatchStatus.CONFIRMED,) if late else (MatchStatus.PENDING_APPROVAL,),
        values={"status": MatchStatus.CONFIRMED, "approved_by": actor.user_id, "approved_at": now},
        unless=MatchCandidate.approved_by.is_not(None),
    )
    _request_follows(session, request, candidate)
    _decided(audit, Action.MATCH_APPROVE, actor, candidate)
    return _views(session, [candidate], actor)[0]


def reject(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    candidate_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    audit: AuditSink,
) -> CandidateView:
    """Not the same person (a proposal, or a confirmation still awaiting its second approval)."""
    candidate = reviewable(session, crypto, actor, candidate_id, Action.MATCH_REJECT, audit=audit)
    request = _decided_on(session, actor, candidate, Action.MATCH_REJECT, audit)
    hidden = _pair_hidden(session, Seals(crypto, audit, actor), candidate)
    was = candidate.status
    _transition(
        session,
        candidate,
        expected=(MatchStatus.PROPOSED, MatchStatus.PENDING_APPROVAL),
        values={
            "status": MatchStatus.REJECTED,
            "decided_by": actor.user_id,
            "decided_at": now,
            "reject_reason": _seal(crypto, candidate, "reject_reason", reason),
        },
    )
    _request_follows(session, request, candidate, was=was)
    _decided(audit, Action.MATCH_REJECT, actor, candidate, wrote="reject_reason", hidden=hidden)
    return _views(session, [candidate], actor)[0]


def withdraw(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    candidate_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    audit: AuditSink,
) -> CandidateView:
    """Take back a confirmation; the tracing request is open again (unless already disclosed)."""
    candidate = reviewable(session, crypto, actor, candidate_id, Action.MATCH_WITHDRAW, audit=audit)
    request = _decided_on(session, actor, candidate, Action.MATCH_WITHDRAW, audit)
    hidden = _pair_hidden(session, Seals(crypto, audit, actor), candidate)
    was = candidate.status
    _transition(
        session,
        candidate,
        expected=CONFIRMING_STATUSES,
        values={
            "status": MatchStatus.WITHDRAWN,
            "decided_by": actor.user_id,
            "decided_at": now,
            "withdraw_reason": _seal(crypto, candidate, "withdraw_reason", reason),
        },
    )
    _request_follows(session, request, candidate, was=was)
    _decided(audit, Action.MATCH_WITHDRAW, actor, candidate, wrote="withdraw_reason", hidden=hidden)
    return _views(session, [candidate], actor)[0]


def _decided_on(
    session: Session, actor: Actor, candidate: MatchCandidate, action: Action, audit: AuditSink
) -> TracingRequest:
    """The pair's tracing request, locked for the decision (one decision on a request's pairs at a
    time, each reading what the one before it committed), and the candidate read anew under it: a
    refusal committed while this decision waited hides the pair from the family's side now."""
    request = locked_tracing_request(session, candidate.tracing_request_id)
    session.refresh(candidate)
    if _refused_contact_hides(actor, candidate):
        audit(_event(action, actor, candidate, candidate.sighting_society_id, outcome=Outcome.DENIED))
        raise NotFound("No such match candidate.")
    return request


def _refuse_when_closed(session: Session, request: TracingRequest, candidate: MatchCandidate) -> None:
    """No one confirms a pair of a case that was closed, except the pair whose found person refused
    contact (which closed it: rule 2 keeps it closed, and the pair may still be approved); nor a pair
    of a sighting that was closed (its proposals are being superseded)."""
    if request.status is RecordStatus.CLOSED and candidate.outcome is None:
        raise Conflict("The tracing request is closed.", current=_state(candidate))
    if session.get_one(Sighting, candidate.sighting_id).status is RecordStatus.CLOSED:
        raise Conflict("This pair can no longer be confirmed.", current=_state(candidate))  # nothing of why


@dataclass(frozen=True)
class _PairRules:
    """What the rules read of a pair's records for a decision, as they read now, through the seals."""

    needs_second_approval: bool  # rules 3 and 4: a minor on either side, or a deceased found person
    hidden_from_the_request: bool  # rule 10: the sighting's restrictions hide it from the request


def _pair_rules(
    session: Session, seals: Seals, request: TracingRequest, candidate: MatchCandidate
) -> _PairRules:
    sighting = session.get_one(Sighting, candidate.sighting_id)
    # both seals read (a broken one is audited) before either answers
    found, sought = seals.protection(sighting), seals.protection(request)
    return _PairRules(
        needs_second_approval=found.minor or found.deceased or sought.minor,
        hidden_from_the_request=hidden_from_the_request(session, candidate, sighting, found),
    )


def _pair_hidden(session: Session, seals: Seals, candidate: MatchCandidate) -> bool:
    sighting = session.get_one(Sighting, candidate.sighting_id)
    return hidden_from_the_request(session, candidate, sighting, seals.protection(sighting))


def _kept_from_the_family(hidden_by_rule_10: bool, candidate: MatchCandidate) -> bool:
    """Whether the pair's audit entries are its sighting's society's alone: rule 10 hides it from the
    request's side, or the found person refused contact (rule 2: the family's side sees the search
    closed, and never that another society looked at its request for a pair)."""
    return hidden_by_rule_10 or candidate.outcome is MatchOutcome.LOCATED_NO_CONTACT


def hidden_from_the_request(
    session: Session, candidate: MatchCandidate, sighting: Sighting, protection: Protection
) -> bool:
    """Whether rule 10 hides the pair's sighting from its tracing request (``protection``: the
    sighting's, through its seal). Such a pair is its sighting's society's alone: its review, its
    decisions and their audit entries (the request's society must not learn even that it exists)."""
    society = candidate.request_society_id
    viewer = Viewer(society, society_codes(session, {society})[society], candidate.tracing_request_id)
    return not visible_to(sighting, viewer, protection)


def _refuse_when_hidden(
    audit: AuditSink, actor: Actor, action: Action, candidate: MatchCandidate, rules: _PairRules
) -> None:
    """A pair its sighting's restrictions hide from the request's side (proposed across borders under
    no_cross_border, or restricted after it was proposed) is reviewed by the sighting's society alone
    and is not confirmed: the family side would learn of it. Its officers lift the restrictions first
    (with the found person's agreement), or reject or withdraw the pair. Refused and audited."""
    if rules.hidden_from_the_request:
        audit(_event(action, actor, candidate, candidate.sighting_society_id, outcome=Outcome.DENIED))
        raise PermissionDenied(
            "The sighting's restrictions keep it from this tracing request: lift them before the pair"
            " is confirmed."
        )


def close_on_refusal(
    session: Session, match: MatchCandidate, request: TracingRequest, audit: AuditSink
) -> None:
    """Rule 2 for the request's confirming pair ``match`` whose found person said no (refused, or
    withdrew, before anything was disclosed): the family's case is closed and the pair hidden from it,
    the internal outcome kept. Also when the refusal came first and the pair was confirmed after."""
    if request.status is RecordStatus.DISCLOSED:
        return
    match.outcome = MatchOutcome.LOCATED_NO_CONTACT
    request.status = RecordStatus.CLOSED
    # The search ends: the request's other proposals go too, as a closed request's do (left open,
    # they would wait in the queues of societies that must not learn why none can be confirmed).
    others = session.scalars(
        sa.select(MatchCandidate).where(
            MatchCandidate.tracing_request_id == request.id,
            MatchCandidate.status == MatchStatus.PROPOSED,
            MatchCandidate.id != match.id,
        )
    )
    supersede(session, list(others), audit)


def _request_follows(
    session: Session, request: TracingRequest, candidate: MatchCandidate, *, was: MatchStatus | None = None
) -> None:
    """Where the family's tracing request stands after a decision on ``candidate`` (``was``: its status
    before a rejection or withdrawal). A confirmation moves an open request to awaiting consent (one
    closed by the found person's refusal stays closed, one disclosed stays disclosed: the family side
    learns nothing more). Taking back the request's confirming pair (at most one) opens it again, also
    when that person's refusal had closed it (it was not the sought person: the search goes on, and is
    proposed for anew); rejecting one of its other proposals changes nothing."""
    if candidate.status is MatchStatus.CONFIRMED:
        if request.status is RecordStatus.OPEN:
            request.status = RecordStatus.AWAITING_CONSENT
    elif was in CONFIRMING_STATUSES:
        if request.status is RecordStatus.AWAITING_CONSENT:
            request.status = RecordStatus.OPEN
        elif request.status is RecordStatus.CLOSED and candidate.outcome is MatchOutcome.LOCATED_NO_CONTACT:
            request.status = RecordStatus.OPEN
            enqueue(session, MATCHED_FIELDS_CHANGED, TRACING_REQUESTS.name, request.id)


def _transition(
    session: Session,
    candidate: MatchCandidate,
    *,
    expected: tuple[MatchStatus, ...],
    values: Mapping[str, Any],
    unless: sa.ColumnElement[bool] | None = None,
) -> None:
    """Compare-and-set: move the candidate on only if it is still in one of the ``expected`` statuses
    (and ``unless`` does not hold of it).

    Two officers deciding at once both read the old status; only the first UPDATE matches it, the
    other one changes no row and answers 409 with the state it lost to. One confirmed (or confirming)
    sighting per tracing request is a unique index, so two confirmations of one request race the same.
    """
    condition: sa.ColumnElement[bool] = MatchCandidate.status.in_(expected)
    if unless is not None:
        condition = sa.and_(condition, sa.not_(unless))
    try:
        with session.begin_nested():
            result = session.execute(
                sa.update(MatchCandidate)
                .where(MatchCandidate.id == candidate.id, condition)
                .values(**values, version=MatchCandidate.version + 1)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        session.refresh(candidate)
        raise Conflict(
            "This tracing request already has a confirmed sighting; withdraw that confirmation first.",
            current=_state(candidate),
        ) from None
    session.refresh(candidate)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The match candidate was decided meanwhile.", current=_state(candidate))


def _state(candidate: MatchCandidate) -> dict[str, object]:
    return {"id": str(candidate.id), "status": candidate.status.value, "version": candidate.version}


def _seal(crypto: Crypto, candidate: MatchCandidate, column: str, text: str | None) -> bytes | None:
    subject = Subject(ring_id=str(candidate.sighting_society_id), subject_id=str(candidate.subject_id))
    return crypto.vault.encrypt(subject, CANDIDATE_TABLE, column, str(candidate.id), text)


def _decided(
    audit: AuditSink,
    action: Action,
    actor: Actor,
    candidate: MatchCandidate,
    *,
    wrote: str | None = None,
    hidden: bool = False,
) -> None:
    """One entry for each society of the pair: both follow what happens to it, unless it is kept from
    the request's side (``hidden``: by rule 10, see ``hidden_from_the_request``; or by the found
    person's refusal, see ``_kept_from_the_family``). ``wrote``: the encrypted note or reason column
    written, if any."""
    fields = (wrote,) if wrote else ()
    owners = (
        (candidate.sighting_society_id,)
        if _kept_from_the_family(hidden, candidate)
        else (candidate.request_society_id, candidate.sighting_society_id)
    )
    for society_id in dict.fromkeys(owners):
        audit(_event(action, actor, candidate, society_id, fields=fields))


def _event(
    action: Action,
    actor: Actor,
    candidate: MatchCandidate,
    owner: uuid.UUID,
    *,
    outcome: Outcome = Outcome.OK,
    fields: tuple[str, ...] = (),
) -> AuditEntry:
    return AuditEntry(
        action,
        outcome=outcome,
        actor=actor,
        owner_society_id=owner,
        object_type="match_candidate",
        object_id=str(candidate.id),
        fields=fields,
    )
