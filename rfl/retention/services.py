"""Retention and erasure (domain rule 7): periods per society, legal holds, erasure of one person on
request, and retention runs that erase every person whose period ended.

Erasing a person is crypto-shredding plus minimisation, in the caller's transaction:

- their data key is destroyed (``FieldVault.shred``): every ciphertext under it, in this database and
  in every backup, is undecryptable once the KEK versions that wrapped it are retired;
- their ciphertext columns are emptied and their blind-index rows deleted, so search and matching no
  longer find them;
- for the person the matcher compares (a request's sought person, a sighting's found person): their
  open match candidates are withdrawn (code ``erasure``), every candidate of theirs loses its
  explanation and its officers' notes (the candidate's own key is shredded), the outbox drops every
  message about the record or its candidates, and the matcher's stored name frequencies forget them;
- the record keeps its skeleton: ids, status, dates, outcome flags, the reports' columns
  (``condition_code``, ``closed_at``, ``minor``) and when each person was erased.

Every step is audited with ids, roles and codes; the audit log is never edited. Consent records keep
their ciphertexts (they are never edited): those were under the found person's key, now destroyed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import Subject
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.crypto import Crypto
from rfl.errors import Conflict, NotFound, ValidationFailed
from rfl.identity import Actor, Role, society_codes
from rfl.matches import fitting, store
from rfl.matches.models import OPEN_STATUSES, MatchCandidate, MatchStatus
from rfl.outbox.services import discard_for
from rfl.records.canonical import matched_field_names
from rfl.records.fields import SubjectRole
from rfl.records.models import BlindIndexEntry, RecordEdit, RecordMixin, RecordStatus, Sighting
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType, canonical_records
from rfl.retention.models import (
    Erasure,
    ErasureReason,
    HoldReason,
    RetentionPeriod,
    RetentionRun,
    RetentionRunItem,
    RunItemOutcome,
)
from rfl.retention.policy import Category, RecordSkeleton, RetentionPolicy, category_of, expiry_date

__all__ = [
    "PERSONS",
    "Due",
    "PolicyView",
    "RecordSkeleton",
    "RetentionPolicy",
    "RunSummary",
    "erase_on_request",
    "expiry_date",
    "finish_run",
    "lift_legal_hold",
    "plan",
    "policy_view",
    "run_batch",
    "set_legal_hold",
    "start_run",
    "update_policy",
]

# Why the system withdrew a candidate: one of its persons was erased.
ERASURE_CODE = "erasure"
# The persons of each record type, as the API names them.
PERSONS: Mapping[str, Mapping[str, SubjectRole]] = {
    TRACING_REQUESTS.name: {"sought_person": SubjectRole.SOUGHT, "enquirer": SubjectRole.ENQUIRER},
    SIGHTINGS.name: {"person": SubjectRole.FOUND},
}
_KINDS = {TRACING_REQUESTS.name: TRACING_REQUESTS, SIGHTINGS.name: SIGHTINGS}


def person_name(kind: RecordType, role: SubjectRole) -> str:
    return next(name for name, each in PERSONS[kind.name].items() if each is role)


def _erased(kind: RecordType, record: RecordMixin, role: SubjectRole) -> bool:
    return getattr(record, kind.erased_columns[role]) is not None


# --- periods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyView:
    society_code: str
    # Per category: (days in force, the installation's default, whether the society set its own).
    periods: Mapping[Category, tuple[int | None, int | None, bool]]


def effective_policy(session: Session, society_id: uuid.UUID, defaults: RetentionPolicy) -> RetentionPolicy:
    """The installation's periods with the society's own over them."""
    own = session.execute(
        sa.select(RetentionPeriod.category, RetentionPeriod.days).where(
            RetentionPeriod.society_id == society_id
        )
    ).all()
    return defaults.over({Category(row.category): row.days for row in own})


def _view(session: Session, actor: Actor, defaults: RetentionPolicy) -> PolicyView:
    own = set(
        session.scalars(
            sa.select(RetentionPeriod.category).where(RetentionPeriod.society_id == actor.society_id)
        )
    )
    policy = effective_policy(session, actor.society_id, defaults)
    periods = {
        category: (policy.period(category), defaults.period(category), category.value in own)
        for category in Category
    }
    return PolicyView(actor.society_code, periods)


def _policy_entry(action: Action, actor: Actor, fields: Iterable[str] = ()) -> AuditEntry:
    return AuditEntry(
        action,
        actor=actor,
        owner_society_id=actor.society_id,
        object_type="retention_policy",
        object_id=str(actor.society_id),
        fields=tuple(fields),
    )


def policy_view(session: Session, actor: Actor, defaults: RetentionPolicy, *, audit: AuditSink) -> PolicyView:
    """The retention periods in force for the admin's society."""
    audit(_policy_entry(Action.RETENTION_POLICY_READ, actor))
    return _view(session, actor, defaults)


def update_policy(
    session: Session,
    actor: Actor,
    defaults: RetentionPolicy,
    periods: Mapping[Category, int | None],
    *,
    now: datetime,
    audit: AuditSink,
) -> PolicyView:
    """Replace the society's own periods by ``periods`` (days, or None for no time limit); categories
    not named follow the installation's defaults again."""
    session.execute(sa.delete(RetentionPeriod).where(RetentionPeriod.society_id == actor.society_id))
    for category, days in periods.items():
        session.add(
            RetentionPeriod(
                society_id=actor.society_id,
                category=category.value,
                days=days,
                updated_by=actor.user_id,
                updated_at=now,
            )
        )
    session.flush()
    audit(_policy_entry(Action.RETENTION_POLICY_UPDATE, actor, sorted(c.value for c in periods)))
    return _view(session, actor, defaults)


# --- legal holds -----------------------------------------------------------------------------------


def _entry(
    kind: RecordType,
    verb: str,
    actor: Actor | None,
    record: RecordMixin,
    fields: Iterable[str] = (),
    *,
    outcome: Outcome = Outcome.OK,
) -> AuditEntry:
    return AuditEntry(
        Action.on(kind.name, verb),
        outcome=outcome,
        actor=actor,
        owner_society_id=record.society_id,
        object_type=kind.name,
        object_id=str(record.id),
        fields=tuple(fields),
    )


def _own_record(
    session: Session, actor: Actor, kind: RecordType, record_id: uuid.UUID, *, verb: str, audit: AuditSink
) -> RecordMixin:
    """The record if it belongs to the actor's society; any other id answers NotFound, audited whether
    unknown or another society's (the same path either way, as for the records' own routes)."""
    record = session.get(kind.model, record_id)
    if record is None or record.society_id != actor.society_id:
        audit(
            AuditEntry(
                Action.on(kind.name, verb),
                outcome=Outcome.DENIED,
                actor=actor,
                owner_society_id=None if record is None else record.society_id,
                object_type=kind.name,
                object_id=str(record_id),
            )
        )
        raise NotFound("No such record.")
    return record


def set_legal_hold(
    session: Session,
    actor: Actor,
    kind: RecordType,
    record_id: uuid.UUID,
    reason: HoldReason,
    *,
    now: datetime,
    audit: AuditSink,
) -> RecordMixin:
    """Put the record under a legal hold (or change its reason): no person of it is erased until lifted."""
    record = _own_record(session, actor, kind, record_id, verb="legal_hold", audit=audit)
    if record.legal_hold is None:
        record.legal_hold_at = now
    record.legal_hold = reason.value
    session.flush()
    audit(_entry(kind, "legal_hold", actor, record, [f"reason:{reason.value}"]))
    return record


def lift_legal_hold(
    session: Session, actor: Actor, kind: RecordType, record_id: uuid.UUID, *, audit: AuditSink
) -> RecordMixin:
    record = _own_record(session, actor, kind, record_id, verb="legal_hold_lift", audit=audit)
    if record.legal_hold is not None:
        record.legal_hold = None
        record.legal_hold_at = None
        session.flush()
    audit(_entry(kind, "legal_hold_lift", actor, record))
    return record


# --- erasure ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    kind: RecordType
    record: RecordMixin
    role: SubjectRole


def erase_on_request(
    session: Session,
    crypto: Crypto,
    actor: Actor | None,
    kind: RecordType,
    record_id: uuid.UUID,
    *,
    person: str,
    reason: ErasureReason,
    now: datetime,
    audit: AuditSink,
) -> RecordMixin:
    """Erase one person of a record (the right to erasure): by an admin of the owning society, or by
    the operator on the command line (``actor`` None). Refused (409, audited) under a legal hold or
    when the person was erased already."""
    roles = PERSONS[kind.name]
    if person not in roles:
        raise ValidationFailed({"person": [f"One of: {', '.join(roles)}."]})
    role = roles[person]
    if actor is None:
        record = session.get(kind.model, record_id)
        if record is None:
            raise NotFound("No such record.")
    else:
        if actor.role is not Role.ADMIN:
            raise NotFound("No such record.")
        record = _own_record(session, actor, kind, record_id, verb="erase", audit=audit)
    if record.legal_hold is not None:
        audit(
            _entry(kind, "erase", actor, record, [f"person:{person}", "legal_hold"], outcome=Outcome.DENIED)
        )
        raise Conflict("The record is under a legal hold: nothing of it is erased until the hold is lifted.")
    if _erased(kind, record, role):
        audit(_entry(kind, "erase", actor, record, [f"person:{person}"], outcome=Outcome.DENIED))
        raise Conflict("This person's data was erased already.")
    erase_persons(
        session, crypto, [Person(kind, record, role)], reason=reason, actor=actor, now=now, audit=audit
    )
    return record


def erase_persons(
    session: Session,
    crypto: Crypto,
    persons: Sequence[Person],
    *,
    reason: ErasureReason,
    actor: Actor | None,
    now: datetime,
    audit: AuditSink,
    run_id: uuid.UUID | None = None,
) -> None:
    """Erase each person (see the module's description); the matcher forgets them once for all."""
    fitted = store.fitted_at(session)
    forgotten: list[dict[str, Any]] = []
    counts = {TRACING_REQUESTS.name: 0, SIGHTINGS.name: 0}
    refit = False
    for person in persons:
        kind, record = person.kind, person.record
        if person.role is kind.matched_role and fitted is not None and record.created_at <= fitted:
            if _edited_since(session, kind, record, fitted):
                # The fit counted names this record no longer holds: only a new fit forgets them.
                refit = True
            else:
                # Read (in memory only) before the key goes: what the fitted name frequencies counted.
                forgotten.extend(canonical_records(crypto, kind, [record]))
                counts[kind.name] += 1
    # Every key first, in a row of small statements (no record update is flushed between them), then
    # the records, whose updates go out together.
    for person in persons:
        kind, record = person.kind, person.record
        subject_id = getattr(record, kind.subject_columns[person.role])
        crypto.vault.shred(Subject(ring_id=str(record.society_id), subject_id=str(subject_id)))
    for person in persons:
        _erase(session, person, reason=reason, actor=actor, now=now, audit=audit, run_id=run_id)
    _remove_traces(session, crypto, persons, actor=actor, now=now, audit=audit)
    if refit:
        _refit(session, crypto, actor=actor, audit=audit)
        return
    model = store.forget(
        session,
        crypto,
        forgotten,
        requests=counts[TRACING_REQUESTS.name],
        sightings=counts[SIGHTINGS.name],
    )
    if model is not None:
        audit(
            AuditEntry(
                Action.MATCH_FORGET,
                actor=actor,
                object_type="matcher_model",
                object_id=model.version,
                fields=(f"records:{len(forgotten)}",),
            )
        )


def _edited_since(session: Session, kind: RecordType, record: RecordMixin, since: datetime) -> bool:
    """Whether a field the matcher reads changed after ``since`` (the edit history names fields)."""
    matched = matched_field_names(kind.person_group)
    edits = session.scalars(
        sa.select(RecordEdit.changed_fields).where(
            RecordEdit.record_type == kind.name,
            RecordEdit.record_id == record.id,
            RecordEdit.edited_at > since,
        )
    )
    return any(matched.intersection(fields) for fields in edits)


def _refit(session: Session, crypto: Crypto, *, actor: Actor | None, audit: AuditSink) -> None:
    """Fit a new model on the records left (erased persons are left out), destroying every older one;
    with too few records left, destroy them all and fall back to the shipped default."""
    try:
        model = fitting.fit_and_store(session, crypto, progress=lambda _message: None, audit=audit)
    except ValidationFailed:
        store.destroy_other_models(session, crypto, keep=None)
        version = "default"
    else:
        store.destroy_other_models(session, crypto, keep=model.version)
        version = model.version
    audit(
        AuditEntry(
            Action.MATCH_FORGET,
            actor=actor,
            object_type="matcher_model",
            object_id=version,
            fields=("refit",),
        )
    )


def _erase(
    session: Session,
    person: Person,
    *,
    reason: ErasureReason,
    actor: Actor | None,
    now: datetime,
    audit: AuditSink,
    run_id: uuid.UUID | None,
) -> None:
    """Empty the person's columns (their key is destroyed already) and record the erasure."""
    kind, record, role = person.kind, person.record, person.role
    emptied = []
    for group in kind.groups:
        if group.subject is role:
            for name, _ in group.fields:
                if getattr(record, group.column(name)) is not None:
                    setattr(record, group.column(name), None)
                    emptied.append(name if group.key is None else f"{group.key}.{name}")
    setattr(record, kind.erased_columns[role], now)
    name = person_name(kind, role)
    session.add(
        Erasure(
            record_type=kind.name,
            record_id=record.id,
            society_id=record.society_id,
            person=name,
            reason=reason,
            requested_by=None if actor is None else actor.user_id,
            run_id=run_id,
            erased_at=now,
        )
    )
    audit(
        _entry(kind, "erase", actor, record, [f"person:{name}", f"reason:{reason.value}", *sorted(emptied)])
    )


# Ids per IN (...) list: far within every database's limit on bound parameters.
_CHUNK = 500


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _remove_traces(
    session: Session,
    crypto: Crypto,
    persons: Sequence[Person],
    *,
    actor: Actor | None,
    now: datetime,
    audit: AuditSink,
) -> None:
    """What the erased persons leave elsewhere, a few statements for the whole batch: their
    blind-index rows, and for compared persons their candidates and the outbox's messages."""
    subjects = [getattr(p.record, p.kind.subject_columns[p.role]) for p in persons]
    for chunk in _chunks(subjects):
        session.execute(sa.delete(BlindIndexEntry).where(BlindIndexEntry.subject_id.in_(chunk)))
    compared = [p for p in persons if p.role is p.kind.matched_role]
    requests = [p.record.id for p in compared if p.kind is TRACING_REQUESTS]
    sightings = [p.record.id for p in compared if p.kind is SIGHTINGS]
    candidates: list[MatchCandidate] = []
    for column, ids in (
        (MatchCandidate.tracing_request_id, requests),
        (MatchCandidate.sighting_id, sightings),
    ):
        for chunk in _chunks(ids):
            candidates.extend(session.scalars(sa.select(MatchCandidate).where(column.in_(chunk))))
    _close_candidates(
        session, crypto, list({c.id: c for c in candidates}.values()), actor=actor, now=now, audit=audit
    )
    for chunk in _chunks([*requests, *sightings, *(c.id for c in candidates)]):
        discard_for(session, chunk)
    session.flush()


def _close_candidates(
    session: Session,
    crypto: Crypto,
    candidates: Sequence[MatchCandidate],
    *,
    actor: Actor | None,
    now: datetime,
    audit: AuditSink,
) -> None:
    """Withdraw the open ones; every one keeps nothing of the erased person (no explanation, no
    officers' notes: the candidate's own key is shredded)."""
    for candidate in candidates:
        crypto.vault.shred(
            Subject(ring_id=str(candidate.sighting_society_id), subject_id=str(candidate.subject_id))
        )
        candidate.explanation = []
        candidate.confirm_note = candidate.reject_reason = candidate.withdraw_reason = None
        if candidate.status in OPEN_STATUSES:
            was = candidate.status
            candidate.status = MatchStatus.WITHDRAWN
            candidate.withdraw_code = ERASURE_CODE
            candidate.decided_at = now
            candidate.decided_by = None if actor is None else actor.user_id
            if was is MatchStatus.PENDING_APPROVAL:
                request = session.get_one(TRACING_REQUESTS.model, candidate.tracing_request_id)
                if request.status is RecordStatus.AWAITING_CONSENT:
                    request.status = RecordStatus.OPEN
            for society_id in dict.fromkeys((candidate.request_society_id, candidate.sighting_society_id)):
                audit(
                    AuditEntry(
                        Action.MATCH_WITHDRAW,
                        actor=actor,
                        owner_society_id=society_id,
                        object_type="match_candidate",
                        object_id=str(candidate.id),
                        fields=(f"withdraw_code:{ERASURE_CODE}",),
                    )
                )


# --- retention runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A person whose record's period ended: ids, role and why (the category), never data."""

    record_type: str
    record_id: uuid.UUID
    person: str
    category: Category
    held: bool


# A record counts as matched from its first officer's confirmation.
CONFIRMING = (MatchStatus.CONFIRMED, MatchStatus.PENDING_APPROVAL)


def _matched(session: Session, column: Any, among: Sequence[uuid.UUID] | None = None) -> set[uuid.UUID]:
    """Ids in a candidate ``column`` with a confirmed (or confirming) candidate; only ``among`` if given."""
    statement = sa.select(column).where(MatchCandidate.status.in_(CONFIRMING))
    if among is not None:
        statement = statement.where(column.in_(among))
    return set(session.scalars(statement.distinct()))


def copy_expiry(
    session: Session,
    society_id: uuid.UUID,
    defaults: RetentionPolicy,
    records: Sequence[RecordMixin],
    *,
    now: datetime,
) -> dict[uuid.UUID, date | None]:
    """The day a partner must delete its copy of each of the society's records (PFIF ``expiry_date``):
    the record's own erasure day once its period runs, and for a live case the day it would be erased
    were it closed today, so that no partner keeps a copy longer than we could keep ours (a later
    export carries a later day). None where the society keeps that category without a time limit."""
    policy = effective_policy(session, society_id, defaults)
    ids = [record.id for record in records]
    matched = _matched(session, MatchCandidate.tracing_request_id, ids) | _matched(
        session, MatchCandidate.sighting_id, ids
    )
    expiry: dict[uuid.UUID, date | None] = {}
    for record in records:
        skeleton = RecordSkeleton(
            "sighting" if isinstance(record, Sighting) else "tracing_request",
            record.status.value,
            record.created_at,
            record.closed_at,
            record.id in matched,
            bool(getattr(record, "deceased", False)),
        )
        if category_of(skeleton) is None:
            skeleton = replace(skeleton, status=RecordStatus.CLOSED.value, closed_at=now)
        expiry[record.id] = expiry_date(skeleton, policy)
    return expiry


def plan(session: Session, defaults: RetentionPolicy, as_of: datetime) -> list[Due]:
    """Every person not yet erased whose record's period ended by ``as_of``, in a fixed order; those
    under a legal hold are listed as held (they will be skipped)."""
    policies: dict[uuid.UUID, RetentionPolicy] = {}
    due: list[Due] = []
    for kind in (TRACING_REQUESTS, SIGHTINGS):
        model = kind.model
        matched = _matched(
            session,
            MatchCandidate.tracing_request_id if kind is TRACING_REQUESTS else MatchCandidate.sighting_id,
        )
        erased = [getattr(model, column) for column in kind.erased_columns.values()]
        deceased = Sighting.deceased if kind is SIGHTINGS else sa.false()
        statement = sa.select(
            model.id,
            model.society_id,
            model.status,
            model.created_at,
            model.closed_at,
            model.legal_hold,
            deceased.label("deceased"),
            *erased,
        ).where(sa.or_(*(column.is_(None) for column in erased)))
        if kind is TRACING_REQUESTS:  # a request's period runs only once it is closed or disclosed
            statement = statement.where(model.status.in_([RecordStatus.CLOSED, RecordStatus.DISCLOSED]))
        for row in session.execute(statement.order_by(model.id)):
            skeleton = RecordSkeleton(
                kind.name,
                row.status.value,
                row.created_at,
                row.closed_at,
                row.id in matched,
                bool(row.deceased),
            )
            policy = policies.get(row.society_id)
            if policy is None:
                policy = policies[row.society_id] = effective_policy(session, row.society_id, defaults)
            category, expires = category_of(skeleton), expiry_date(skeleton, policy)
            if category is None or expires is None or expires > as_of.date():
                continue
            for name, erased_at in zip(PERSONS[kind.name], row[7:], strict=True):
                if erased_at is None:
                    due.append(Due(kind.name, row.id, name, category, row.legal_hold is not None))
    return due


def unfinished_run(session: Session) -> RetentionRun | None:
    return session.scalar(
        sa.select(RetentionRun).where(RetentionRun.finished_at.is_(None)).order_by(RetentionRun.created_at)
    )


def pending(session: Session, run: RetentionRun) -> list[Due]:
    """What a run still has to do, in its order (the dry run of a run to resume)."""
    items = session.scalars(
        sa.select(RetentionRunItem)
        .where(RetentionRunItem.run_id == run.id, RetentionRunItem.done_at.is_(None))
        .order_by(RetentionRunItem.position)
    ).all()
    records = _records(session, items)
    return [
        Due(
            item.record_type,
            item.record_id,
            item.person,
            Category(item.category),
            records[item.record_id].legal_hold is not None,
        )
        for item in items
    ]


def start_run(
    session: Session, defaults: RetentionPolicy, *, now: datetime, audit: AuditSink
) -> tuple[RetentionRun, bool]:
    """The unfinished run to resume (True), else a new run whose plan, as of ``now``, is stored."""
    run = unfinished_run(session)
    if run is not None:
        return run, True
    due = plan(session, defaults, now)
    run = RetentionRun(id=uuid.uuid4(), as_of=now, planned=len(due))
    session.add(run)
    session.flush()
    if due:
        session.execute(
            sa.insert(RetentionRunItem),
            [
                {
                    "run_id": run.id,
                    "position": position,
                    "record_type": item.record_type,
                    "record_id": item.record_id,
                    "person": item.person,
                    "category": item.category.value,
                }
                for position, item in enumerate(due)
            ],
        )
    audit(
        AuditEntry(
            Action.RETENTION_RUN_STARTED,
            object_type="retention_run",
            object_id=str(run.id),
            fields=(f"planned:{len(due)}",),
        )
    )
    return run, False


def _records(session: Session, items: Sequence[RetentionRunItem]) -> dict[uuid.UUID, RecordMixin]:
    found: dict[uuid.UUID, RecordMixin] = {}
    for name, kind in _KINDS.items():
        ids = [item.record_id for item in items if item.record_type == name]
        if ids:
            found.update(
                (r.id, r) for r in session.scalars(sa.select(kind.model).where(kind.model.id.in_(ids)))
            )
    return found


@dataclass(frozen=True)
class BatchResult:
    erased: int
    held: int
    already_erased: int
    # (record type, record id, person, category) of the held items, to report.
    held_items: tuple[tuple[str, uuid.UUID, str, str], ...]

    @property
    def done(self) -> int:
        return self.erased + self.held + self.already_erased


def run_batch(
    session: Session, crypto: Crypto, run: RetentionRun, *, limit: int, now: datetime, audit: AuditSink
) -> BatchResult:
    """Erase the next ``limit`` persons of the run; each item is marked done in this transaction, so a
    kill loses nothing and repeats nothing. A record under a legal hold is skipped (and reported)."""
    items = session.scalars(
        sa.select(RetentionRunItem)
        .where(RetentionRunItem.run_id == run.id, RetentionRunItem.done_at.is_(None))
        .order_by(RetentionRunItem.position)
        .limit(limit)
        .with_for_update()
    ).all()
    records = _records(session, items)
    persons: list[Person] = []
    held: list[tuple[str, uuid.UUID, str, str]] = []
    already = 0
    for item in items:
        kind = _KINDS[item.record_type]
        record = records[item.record_id]
        role = PERSONS[kind.name][item.person]
        if record.legal_hold is not None:
            item.outcome = RunItemOutcome.HELD
            held.append((item.record_type, item.record_id, item.person, item.category))
        elif _erased(kind, record, role):
            item.outcome = RunItemOutcome.ALREADY_ERASED
            already += 1
        else:
            item.outcome = RunItemOutcome.ERASED
            persons.append(Person(kind, record, role))
        item.done_at = now
    erase_persons(
        session,
        crypto,
        persons,
        reason=ErasureReason.RETENTION_EXPIRED,
        actor=None,
        now=now,
        audit=audit,
        run_id=run.id,
    )
    session.flush()
    return BatchResult(len(persons), len(held), already, tuple(held))


@dataclass(frozen=True)
class RunSummary:
    run_id: uuid.UUID
    planned: int
    erased: int
    held: int
    already_erased: int
    # Erased persons per society code and category.
    by_society: Mapping[tuple[str, str], int]


def finish_run(session: Session, run: RetentionRun, *, now: datetime, audit: AuditSink) -> RunSummary:
    """Close the run (once nothing is left to do) and count what it did."""
    counts = dict(
        session.execute(
            sa.select(RetentionRunItem.outcome, sa.func.count())
            .where(RetentionRunItem.run_id == run.id)
            .group_by(RetentionRunItem.outcome)
        ).all()
    )
    erased_rows = session.execute(
        sa.select(Erasure.society_id, RetentionRunItem.category, sa.func.count())
        .join(
            RetentionRunItem,
            sa.and_(
                RetentionRunItem.run_id == Erasure.run_id,
                RetentionRunItem.record_id == Erasure.record_id,
                RetentionRunItem.person == Erasure.person,
            ),
        )
        .where(Erasure.run_id == run.id)
        .group_by(Erasure.society_id, RetentionRunItem.category)
    ).all()
    codes = society_codes(session, {row[0] for row in erased_rows})
    run.finished_at = now
    session.flush()
    summary = RunSummary(
        run.id,
        run.planned,
        counts.get(RunItemOutcome.ERASED, 0),
        counts.get(RunItemOutcome.HELD, 0),
        counts.get(RunItemOutcome.ALREADY_ERASED, 0),
        {(codes[row[0]], row[1]): row[2] for row in erased_rows},
    )
    audit(
        AuditEntry(
            Action.RETENTION_RUN,
            object_type="retention_run",
            object_id=str(run.id),
            fields=(
                f"erased:{summary.erased}",
                f"held:{summary.held}",
                f"already_erased:{summary.already_erased}",
            ),
        )
    )
    return summary
