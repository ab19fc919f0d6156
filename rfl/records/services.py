"""Record services: create, read, update, list and name search of tracing requests and sightings.

Services take the session, the acting user, the crypto context and an audit sink explicitly; they flush
and never commit. Visibility: only the owning society's caseworkers and tracing officers read and edit
a record; to anyone else it does not exist (NotFound), and the refusal is audited.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from matching import Matcher, parse_age, parse_partial_date
from privacy import AgeEstimate, DecryptionError, PartialDate, Subject, SubjectFacts
from rfl.audit.entries import Action, AuditEntry, AuditSink, ObjectRef, Outcome
from rfl.crypto import Crypto
from rfl.db import one_of
from rfl.errors import NotFound, PermissionDenied, TooManyAttempts, ValidationFailed
from rfl.identity import Actor, Role, society_codes, society_ids_by_code
from rfl.outbox.services import enqueue
from rfl.pagination import Page, paginate
from rfl.records import indexing
from rfl.records.canonical import (
    MATCHED_FIELDS_CHANGED,
    MATCHED_PERSON_FIELDS,
    canonical_names,
    canonical_record,
    matched_field_names,
    record_place,
)
from rfl.records.codec import RecordCodec, subjects_of
from rfl.records.fields import (
    IDENTITY_FIELDS,
    NAME_FIELDS,
    SIGHTING_GROUPS,
    TRACING_REQUEST_GROUPS,
    Group,
    SubjectRole,
)
from rfl.records.models import (
    RESTRICTED,
    WORKFLOW_STATUSES,
    BlindIndexEntry,
    Condition,
    LegalBasis,
    RecordEdit,
    RecordMixin,
    RecordStatus,
    Sighting,
    TracingRequest,
)
from rfl.records.restrictions import Viewer, viewer_parameters, visible_condition, visible_to
from rfl.records.seals import Protection, Seals, seal, stored

SEARCH_CANDIDATES = 200
# A search's candidates are found among this many times SEARCH_CANDIDATES best matching records first
# (``_candidate_rows``): hidden ones rarely take more than half of them.
HIDDEN_HEADROOM = 2
# Sightings hidden from a searcher beyond which a search finds the withheld ones from its matches.
WITHHELD_LISTED = 1000


@dataclass(frozen=True)
class RecordType:
    name: str
    model: type[RecordMixin]
    groups: tuple[Group, ...]
    table: str
    person_group: str
    subject_columns: Mapping[SubjectRole, str]
    # When each person was erased; the first role is the person the matcher compares (and indexes).
    erased_columns: Mapping[SubjectRole, str]

    @property
    def matched_role(self) -> SubjectRole:
        return next(iter(self.subject_columns))


TRACING_REQUESTS = RecordType(
    name="tracing_request",
    model=TracingRequest,
    groups=TRACING_REQUEST_GROUPS,
    table=TracingRequest.__tablename__,
    person_group="sought_person",
    subject_columns={SubjectRole.SOUGHT: "sought_subject_id", SubjectRole.ENQUIRER: "enquirer_subject_id"},
    erased_columns={SubjectRole.SOUGHT: "sought_erased_at", SubjectRole.ENQUIRER: "enquirer_erased_at"},
)
SIGHTINGS = RecordType(
    name="sighting",
    model=Sighting,
    groups=SIGHTING_GROUPS,
    table=Sighting.__tablename__,
    person_group="person",
    subject_columns={SubjectRole.FOUND: "found_subject_id"},
    erased_columns={SubjectRole.FOUND: "found_erased_at"},
)


@dataclass(frozen=True)
class RecordView:
    """A decrypted record as its owner sees it."""

    id: uuid.UUID
    record: RecordMixin
    society_code: str
    document: dict[str, Any]
    # The protection and status columns as the rules read them (the most restrictive if unsealed).
    protection: Protection


def _event(
    kind: RecordType,
    verb: str,
    actor: Actor,
    record: RecordMixin | None = None,
    fields: Sequence[str] = (),
    *,
    outcome: Outcome = Outcome.OK,
) -> AuditEntry:
    """The audit entry of an action on a record (owned by the record's society): ids and field names."""
    return AuditEntry(
        action=Action.on(kind.name, verb),
        outcome=outcome,
        actor=actor,
        owner_society_id=None if record is None else record.society_id,
        object_type=kind.name,
        object_id=None if record is None else str(record.id),
        fields=tuple(fields),
    )


def _subjects(kind: RecordType, record: RecordMixin | sa.Row[Any]) -> dict[SubjectRole, Any]:
    ids = {role: getattr(record, column) for role, column in kind.subject_columns.items()}
    return subjects_of(record.society_id, ids)


def _codec(kind: RecordType, crypto: Crypto) -> RecordCodec:
    return RecordCodec(crypto.vault, kind.table, kind.groups)


def _personal_field_names(kind: RecordType, document: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Dotted names of the personal fields (those present in ``document`` when given)."""
    names = []
    for group in kind.groups:
        for name, _ in group.fields:
            dotted = name if group.key is None else f"{group.key}.{name}"
            if document is None or _lookup(document, dotted) is not None:
                names.append(dotted)
    return tuple(names)


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    head, _, tail = dotted.partition(".")
    value = document.get(head)
    if tail:
        return value.get(tail) if isinstance(value, Mapping) else None
    return value


def _record_date(kind: RecordType, document: Mapping[str, Any], fallback: date) -> date:
    """The date ages are measured at: the registration date of a sighting, else the record's creation."""
    registration = (document.get("registration") or {}).get("date")
    if kind is SIGHTINGS and registration:
        year, month, day = parse_partial_date(registration)
        return date(year, month or 1, day or 1)
    return fallback


def _is_minor(person: Mapping[str, Any], on: date) -> bool:
    return _subject_facts(person, on, deceased=False).minor


def _subject_facts(person: Mapping[str, Any], on: date, *, deceased: bool) -> SubjectFacts:
    """What the consent rules need to know of a person (rule 3's minor, rule 4's deceased)."""
    birth = None
    if person.get("birth_date"):
        year, month, day = parse_partial_date(person["birth_date"])
        birth = PartialDate(year, month, day)
    age = None
    if person.get("age") is not None:
        low, high = parse_age(person["age"])
        age = AgeEstimate(low, high, on)
    return SubjectFacts(
        registered_on=on,
        birth_date=birth,
        age=age,
        flagged_minor=bool(person.get("flagged_minor")),
        deceased=deceased,
    )


def subject_facts(crypto: Crypto, sighting: Sighting, protection: Protection) -> SubjectFacts:
    """The found person's facts for the consent policy, decrypted in memory (birth date, age);
    ``protection``: the sighting's ``Seals.protection``."""
    wanted = ("birth_date", "age")
    document = _codec(SIGHTINGS, crypto).decrypt(
        sighting, _subjects(SIGHTINGS, sighting), groups=["person", "registration"], fields=(*wanted, "date")
    )
    person = dict(document.get("person") or {}) | {"flagged_minor": protection.flagged_minor}
    on = _record_date(SIGHTINGS, document, sighting.created_at.date())
    return _subject_facts(person, on, deceased=protection.deceased)


def _apply_plain_columns(
    kind: RecordType, record: RecordMixin, document: Mapping[str, Any], on: date
) -> None:
    person = document[kind.person_group]
    record.status = RecordStatus(document.get("status", RecordStatus.OPEN))
    record.legal_basis = LegalBasis(document["legal_basis"])
    record.flagged_minor = bool(person.get("flagged_minor"))
    record.minor = _is_minor(person, on)
    if isinstance(record, Sighting):
        record.condition_code = Condition(document["condition"])
        record.deceased = record.condition_code is Condition.DECEASED
        restrictions = document.get("restrictions") or {}
        record.no_cross_border = bool(restrictions.get("no_cross_border"))
        record.exclude = list(restrictions.get("exclude") or [])


def _reindex(
    session: Session,
    crypto: Crypto,
    kind: RecordType,
    record: RecordMixin,
    *,
    document: Mapping[str, Any],
    on: date,
    new: bool = False,
) -> None:
    if not new:  # a record created in this transaction has no rows yet
        session.execute(sa.delete(BlindIndexEntry).where(BlindIndexEntry.record_id == record.id))
    index = crypto.index(record.society_id)
    subject_column = next(iter(kind.subject_columns.values()))
    canonical = canonical_record(
        record.id, document[kind.person_group], record_date=on, place=record_place(document)
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "record_type": kind.name,
            "record_id": record.id,
            "society_id": record.society_id,
            "subject_id": getattr(record, subject_column),
            "index_name": value.index,
            "index_version": value.version,
            "key_version": index.key_version,
            "value": value.value,
        }
        for value in indexing.person_index_values(index, canonical)
    ]
    if rows:  # one multi-row insert: a record has dozens of index rows, not worth an object each
        session.execute(sa.insert(BlindIndexEntry), rows)


# --- create / read / update ------------------------------------------------------------------------


def create_record(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    kind: RecordType,
    document: Mapping[str, Any],
    *,
    now: datetime,
    audit: AuditSink,
) -> RecordView:
    document = _checked_restrictions(session, kind, document)
    record = kind.model()
    record.id = uuid.uuid4()
    record.society_id = actor.society_id
    record.created_by = actor.user_id
    for column in kind.subject_columns.values():
        setattr(record, column, uuid.uuid4())
    on = _record_date(kind, document, now.date())
    _apply_plain_columns(kind, record, document, on)
    seal(crypto, record)
    subjects = _subjects(kind, record)
    for subject in subjects.values():
        crypto.vault.ensure_subject_key(subject)  # new people: their keys are made without a lookup
    _codec(kind, crypto).encrypt(record, subjects, document)
    session.add(record)
    session.flush()
    _reindex(session, crypto, kind, record, document=document, on=on, new=True)
    enqueue(session, MATCHED_FIELDS_CHANGED, kind.name, record.id)
    audit(_event(kind, "create", actor, record, _personal_field_names(kind, document)))
    protection = stored(record)
    return RecordView(
        record.id,
        record,
        actor.society_code,
        _editable_document(kind, record, document, protection),
        protection,
    )


def _checked_restrictions(
    session: Session, kind: RecordType, document: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The document with its ``restrictions.exclude`` in canonical form (society codes upper case,
    tracing-request ids as canonical UUIDs, each once), after checking that every entry names a known
    society or an existing tracing request: a typo must never silently fail to protect someone, so a
    bad entry is refused, by position only (what was typed may be a name: rule 8)."""
    restrictions = document.get("restrictions")
    if kind is not SIGHTINGS or not restrictions or not restrictions.get("exclude"):
        return document
    entries: list[str] = []
    request_ids: dict[int, uuid.UUID] = {}
    codes: dict[int, str] = {}
    for position, entry in enumerate(restrictions["exclude"]):
        try:
            request_ids[position] = uuid.UUID(str(entry))
        except ValueError:
            codes[position] = str(entry).strip().upper()
    known_codes = set(society_ids_by_code(session, set(codes.values())))
    known_requests = set(
        session.scalars(sa.select(TracingRequest.id).where(TracingRequest.id.in_(set(request_ids.values()))))
    )
    problems: dict[str, list[str]] = {}
    for position, code in codes.items():
        if code not in known_codes:
            problems[str(position)] = ["No society has this code."]
    for position, request_id in request_ids.items():
        if request_id not in known_requests:
            problems[str(position)] = ["No tracing request has this id."]
    if problems:
        raise ValidationFailed({"restrictions": {"exclude": problems}})
    for position in range(len(restrictions["exclude"])):
        entry = codes.get(position) or str(request_ids[position])
        if entry not in entries:
            entries.append(entry)
    return {**document, "restrictions": {**restrictions, "exclude": entries}}


def _editable_document(
    kind: RecordType, record: RecordMixin, decrypted: Mapping[str, Any], protection: Protection
) -> dict[str, Any]:
    """The record as its owner edits it; the protection columns as the rules read them, so an edit of a
    record whose seal failed keeps (and seals) the most restrictive setting unless an officer lifts it."""
    document = dict(decrypted)
    document["status"] = record.status.value
    document["legal_basis"] = record.legal_basis.value
    person = dict(document.get(kind.person_group) or {})
    if protection.flagged_minor:
        person["flagged_minor"] = True
    document[kind.person_group] = person
    if isinstance(record, Sighting):
        document["restrictions"] = {
            "no_cross_border": protection.no_cross_border,
            "exclude": list(protection.exclude),
        }
    return document


def _visible_record(
    session: Session, actor: Actor, kind: RecordType, record_id: uuid.UUID, *, audit: AuditSink, verb: str
) -> RecordMixin:
    """The actor's society's record; any other id answers NotFound, as if it did not exist.

    A miss is audited whether the id is unknown or another society's (the owner sees the entry), so
    both take the same path: the answer's timing does not tell them apart."""
    record = session.get(kind.model, record_id)
    if record is None or record.society_id != actor.society_id:
        audit(
            AuditEntry(
                action=Action.on(kind.name, verb),
                outcome=Outcome.DENIED,
                actor=actor,
                owner_society_id=None if record is None else record.society_id,
                object_type=kind.name,
                object_id=str(record_id),
            )
        )
        raise NotFound("No such record.")
    return record


def read_record(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    kind: RecordType,
    record_id: uuid.UUID,
    *,
    audit: AuditSink,
    purpose: str = "read",
) -> RecordView:
    """The record decrypted for its own society; ``purpose`` is what a refusal is logged as (a record
    read in order to change it is refused as an ``update``)."""
    record = _visible_record(session, actor, kind, record_id, audit=audit, verb=purpose)
    protection = Seals(crypto, audit, actor).protection(record)
    decrypted = _codec(kind, crypto).decrypt(record, _subjects(kind, record))
    audit(_event(kind, "read", actor, record, _personal_field_names(kind, decrypted)))
    return RecordView(
        record.id,
        record,
        actor.society_code,
        _editable_document(kind, record, decrypted, protection),
        protection,
    )


def update_record(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    kind: RecordType,
    current: RecordView,
    *,
    document: Mapping[str, Any],
    now: datetime,
    audit: AuditSink,
) -> RecordView:
    """Give the record ``document`` (its whole validated editable document, e.g. the result of a merge
    patch); only what changed is re-encrypted, and the edit is kept in the history by field name."""
    record = current.record
    document = _checked_restrictions(session, kind, document)
    changed_columns, changed_names = _changes(kind, current.document, document)
    plain_changes = [
        name
        for name in ("status", "legal_basis", "restrictions")
        if current.document.get(name) != document.get(name)
    ]
    if current.document[kind.person_group].get("flagged_minor", False) != document[kind.person_group].get(
        "flagged_minor", False
    ):
        plain_changes.append(f"{kind.person_group}.flagged_minor")
    if _lifts_restrictions(current.document, document) and actor.role is not Role.TRACING_OFFICER:
        # Rule 10: anyone who may edit a sighting may add restrictions; only tracing officers lift them.
        audit(_event(kind, "update", actor, record, ["restrictions"], outcome=Outcome.DENIED))
        raise PermissionDenied("Only tracing officers lift protection restrictions.")
    if not changed_columns and not plain_changes:
        return current
    _check_status_change(current.record.status, RecordStatus(document["status"]))
    on = _record_date(kind, document, record.created_at.date())
    _apply_plain_columns(kind, record, document, on)
    seal(crypto, record)
    _codec(kind, crypto).encrypt(record, _subjects(kind, record), document, only_columns=changed_columns)
    session.flush()  # the version check happens here: a concurrent edit raises StaleDataError
    if matched_field_names(kind.person_group) & set(changed_names):
        # The indexes and the matcher's keys come from these fields: new index rows, new proposals.
        _reindex(session, crypto, kind, record, document=document, on=on)
        record.match_version += 1
        enqueue(session, MATCHED_FIELDS_CHANGED, kind.name, record.id)
    elif "status" in plain_changes:
        # Closed, its open candidates are superseded (no one confirms a pair of a closed case);
        # opened again, it is proposed for anew.
        enqueue(session, MATCHED_FIELDS_CHANGED, kind.name, record.id)
    all_changed = sorted([*changed_names, *plain_changes])
    session.add(
        RecordEdit(
            record_type=kind.name,
            record_id=record.id,
            version=record.version,
            actor_user_id=actor.user_id,
            changed_fields=all_changed,
            edited_at=now,
        )
    )
    session.flush()
    audit(_event(kind, "update", actor, record, tuple(all_changed)))
    protection = stored(record)
    return RecordView(
        record.id,
        record,
        current.society_code,
        _editable_document(kind, record, _strip_plain(kind, document), protection),
        protection,
    )


def locked_tracing_request(session: Session, request_id: uuid.UUID) -> TracingRequest:
    """The tracing request read anew and locked until the transaction ends. What moves a request
    between workflow statuses (a decision on one of its pairs, a consent) takes this first, so each
    reads the status the one before it committed, never one it read before waiting (PostgreSQL;
    SQLite lets one writer at a time anyway). Taken before any of its pairs' rows: one order. The
    lock is FOR NO KEY UPDATE: a proposal inserting a pair of the request holds the row FOR KEY SHARE
    (the foreign key) while it updates other pairs, and a plain FOR UPDATE would wait on it (deadlock)."""
    return session.execute(
        sa.select(TracingRequest)
        .where(TracingRequest.id == request_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _check_status_change(before: RecordStatus, after: RecordStatus) -> None:
    """An edit opens or closes a record; awaiting consent and disclosed belong to the match workflow."""
    if before != after and (before in WORKFLOW_STATUSES or after in WORKFLOW_STATUSES):
        raise ValidationFailed({"status": ["This status is set by the match and disclosure workflow."]})


def _lifts_restrictions(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an edit removes protection: turns no_cross_border off or drops an excluded entry."""
    old = before.get("restrictions") or {}
    new = after.get("restrictions") or {}
    if old.get("no_cross_border") and not new.get("no_cross_border"):
        return True
    return not set(old.get("exclude") or ()) <= set(new.get("exclude") or ())


def _strip_plain(kind: RecordType, document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value for key, value in document.items() if key not in ("status", "legal_basis", "restrictions")
    }


def _changes(
    kind: RecordType, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    columns, names = [], []
    for group in kind.groups:
        for name, _ in group.fields:
            dotted = name if group.key is None else f"{group.key}.{name}"
            if _lookup(before, dotted) != _lookup(after, dotted):
                columns.append(group.column(name))
                names.append(dotted)
    return columns, names


DISPLAY_NAME_FIELDS = ("full_name", "given_name", "family_name")


@dataclass(frozen=True)
class RecordSummary:
    """A list item: the record's plain columns and, for its own society's caseworkers and officers,
    a display name to browse cases by."""

    record: RecordMixin
    display_name: str | None
    protection: Protection


def list_records(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    kind: RecordType,
    *,
    status: RecordStatus | None,
    limit: int,
    cursor: str | None,
    audit: AuditSink,
) -> Page[RecordSummary]:
    """The actor's society's records, oldest first; only the names are decrypted, and each one shown is
    audited as a read of those fields."""
    statement = sa.select(kind.model).where(kind.model.society_id == actor.society_id)
    if status is not None:
        statement = statement.where(kind.model.status == status)
    page = paginate(
        session, statement, order_by=(kind.model.created_at, kind.model.id), limit=limit, cursor=cursor
    )
    codec = _codec(kind, crypto)
    seals = Seals(crypto, audit, actor)
    items = []
    for record in page.items:
        person = codec.decrypt(
            record, _subjects(kind, record), groups=[kind.person_group], fields=DISPLAY_NAME_FIELDS
        )[kind.person_group]
        shown = [f"{kind.person_group}.{name}" for name in DISPLAY_NAME_FIELDS if person.get(name)]
        audit(_event(kind, "list", actor, record, shown))
        items.append(RecordSummary(record, _display_name(person), seals.protection(record)))
    return Page(items=items, next_cursor=page.next_cursor)


# --- search -----------------------------------------------------------------------------------------


class Band(StrEnum):
    """How strongly another society's record matches a name search, and nothing finer: the query's
    name skeletons (consonant classes: Maria, Mario and Marco share one) that the record's index holds.
    """

    STRONG = "strong"  # at least two of the query's skeletons and at least half of them
    POSSIBLE = "possible"  # at least a third of them


STRONG_SKELETONS = 2  # a strong record holds at least this many of the query's skeletons (and half)


def may_be_strong(
    matched: sa.ColumnElement[int], wanted: int | sa.ColumnElement[int]
) -> sa.ColumnElement[bool]:
    """``band_of``'s strong rule as a SQL condition on a count of matched skeletons."""
    return sa.and_(matched >= STRONG_SKELETONS, 2 * matched >= wanted)


def band_of(matched: int, wanted: int) -> Band | None:
    """The band of a record holding ``matched`` of the query's ``wanted`` name skeletons (None: below
    ``possible``)."""
    if wanted == 0 or matched == 0:
        return None
    if matched >= STRONG_SKELETONS and 2 * matched >= wanted:
        return Band.STRONG
    if 3 * matched >= wanted:
        return Band.POSSIBLE
    return None


@dataclass(frozen=True)
class SearchHit:
    """A hit; of another society's record only ``id``, ``society`` and ``band`` are ever set."""

    id: uuid.UUID
    society: str
    band: Band
    status: str | None = None
    score: float | None = None
    name: str | None = None


class SearchBudget(Protocol):
    """The searches a user (and a tracing request) may still make: raises TooManyAttempts when spent."""

    def spend(
        self, session: Session, user_id: uuid.UUID, tracing_request_id: uuid.UUID | None, *, now: datetime
    ) -> None: ...


def search_records(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    kind: RecordType,
    query: str,
    *,
    matcher: Matcher,
    limit: int,
    budget: SearchBudget,
    now: datetime,
    audit: AuditSink,
    tracing_request_id: uuid.UUID | None = None,
) -> list[SearchHit]:
    """Find records by name through the blind indexes.

    Without ``tracing_request_id`` only the actor's own society is searched. A tracing officer's search
    of sightings made on behalf of one of their society's tracing requests also reaches other
    societies' sightings that rule 10 lets that request see; those hits say only the society, the
    record id and a band (``band_of``), never a name or a score, and are ordered by id within their band.
    The actor's own records are ranked by the matcher's name evidence and show a name. The candidates
    the truncated index values found are decrypted in memory (names only; only until the page is
    settled, ``_examined``) and dropped unless they hold one of the query's terms, so truncation's
    false positives never reach a hit list, and bands count the query's name skeletons the record really
    holds. Searches count
    against the user's and the request's limits. One audit entry lists the ids returned (each owning
    society sees it); one more lists the sightings a restriction withheld, for their owners.
    """
    query_terms = _query_terms(query)
    wanted = len(query_terms[indexing.NAME_SKELETON])
    purpose: TracingRequest | None = None
    if tracing_request_id is not None:
        purpose = _visible_record(  # type: ignore[assignment]
            session, actor, TRACING_REQUESTS, tracing_request_id, audit=audit, verb="search"
        )
    try:
        budget.spend(session, actor.user_id, tracing_request_id, now=now)
    except TooManyAttempts:
        audit(_search_event(kind, actor, purpose, outcome=Outcome.DENIED))
        raise
    viewer = Viewer(actor.society_id, actor.society_code, tracing_request_id)
    codes = _searchable_societies(session, actor, kind, purpose)
    matches = _index_matches(crypto, kind, query, list(codes), own_society=actor.society_id)
    if kind is SIGHTINGS and purpose is not None:
        hidden = _withheld(session, matches, viewer)
        holding = _holding_query_terms(
            crypto, kind, list(_loaded(session, kind, [row.id for row in hidden]).values()), query_terms
        )
        hidden = [row for row in hidden if row.id in holding]  # not those sharing only a truncated value
        if hidden:
            audit(
                AuditEntry(
                    Action.SIGHTING_RESTRICTION_APPLIED,
                    outcome=Outcome.DENIED,
                    actor=actor,
                    object_type=SIGHTINGS.name,
                    objects=tuple(ObjectRef(str(row.id), row.society_id) for row in hidden),
                )
            )
    candidates = _candidate_rows(
        session,
        kind,
        matches,
        viewer if kind is SIGHTINGS else None,
        own_society=actor.society_id,
        wanted=wanted,
    )
    candidates, found = _examined(
        session,
        crypto,
        kind,
        candidates,
        query_terms,
        actor=actor,
        viewer=viewer,
        settled_at=limit,
        audit=audit,
    )
    own = [
        found[row.record_id]
        for row in candidates
        if row.society_id == actor.society_id and row.record_id in found
    ]
    own_hits = _own_hits(actor, kind, query, own, matcher=matcher, wanted=wanted)
    others = [
        SearchHit(row.record_id, codes[row.society_id], band)
        for row in candidates
        if row.society_id != actor.society_id
        and row.record_id in found
        and (band := band_of(found[row.record_id].skeletons, wanted)) is not None
    ]
    hits = sorted(own_hits + others, key=_hit_order(actor))[:limit]
    owners = {code: society_id for society_id, code in codes.items()}
    audit(
        _search_event(
            kind,
            actor,
            purpose,
            objects=tuple(ObjectRef(str(hit.id), owners[hit.society]) for hit in hits),
            fields=_revealed_fields(kind, own_hits, hits),
        )
    )
    return hits


def _examined(
    session: Session,
    crypto: Crypto,
    kind: RecordType,
    candidates: Sequence[sa.Row[uuid.UUID, uuid.UUID, int]],
    query_terms: Mapping[str, set[str]],
    *,
    actor: Actor,
    viewer: Viewer,
    settled_at: int,
    audit: AuditSink,
) -> tuple[list[sa.Row[uuid.UUID, uuid.UUID, int]], dict[uuid.UUID, _Found]]:
    """The candidates examined (seals checked, names decrypted) and those really holding a query term.

    Candidates come in the order their hits could take on a page (``_candidates_statement``) and are
    examined a slice at a time until the page is settled (``_page_settled``): what is left could not
    enter it, and is never decrypted."""
    wanted = len(query_terms[indexing.NAME_SKELETON])
    examined: list[sa.Row[uuid.UUID, uuid.UUID, int]] = []
    found: dict[uuid.UUID, _Found] = {}
    start = 0
    while start < len(candidates):
        if _page_settled(
            candidates[start], found.values(), own=actor.society_id, wanted=wanted, size=settled_at
        ):
            break
        listed = candidates[
            start : _slice_end(candidates, start, own=actor.society_id, wanted=wanted, size=settled_at)
        ]
        start += len(listed)
        loaded = _loaded(session, kind, [row.record_id for row in listed])
        part = listed
        if kind is SIGHTINGS:  # the SQL filter read the plain columns: check them against the seals
            part = _sealed_visible(crypto, actor, viewer, listed, loaded, audit=audit)
        examined += part
        found |= _holding_query_terms(crypto, kind, [loaded[row.record_id] for row in part], query_terms)
    return examined, found


def _slice_end(
    candidates: Sequence[sa.Row[uuid.UUID, uuid.UUID, int]],
    start: int,
    *,
    own: uuid.UUID,
    wanted: int,
    size: int,
) -> int:
    """Where the slice from ``start`` ends: within the candidates that may be strong (or within the
    rest), all the own society's (they are ranked by score) and ``size`` of the others'."""
    strong = band_of(candidates[start].matched, wanted) is Band.STRONG
    end, others = start, 0
    while (
        end < len(candidates)
        and (band_of(candidates[end].matched, wanted) is Band.STRONG) == strong
        and others < size
    ):
        others += candidates[end].society_id != own
        end += 1
    return end


def _page_settled(
    upcoming: sa.Row[uuid.UUID, uuid.UUID, int],
    found: Collection[_Found],
    *,
    own: uuid.UUID,
    wanted: int,
    size: int,
) -> bool:
    """Whether ``size`` hits already found come before any hit the candidates from ``upcoming`` on
    could give. Those may be strong only if their shared values say so (what a record really holds is
    never more); on a page, strong hits come first, within a band the own society's (by score) before
    the others' (by id), and the candidates come in that order."""
    strong = sum(1 for hit in found if band_of(hit.skeletons, wanted) is Band.STRONG)
    if strong >= size:
        return True
    if band_of(upcoming.matched, wanted) is Band.STRONG or upcoming.society_id == own:
        return False
    # Another society's candidate of the weaker band: before it come every strong hit, the own
    # society's other hits, and the other societies' weaker hits of smaller ids.
    before = [
        hit
        for hit in found
        if hit.record.society_id == own
        or (band_of(hit.skeletons, wanted) is not None and hit.record.id < upcoming.record_id)
    ]
    return len(before) >= size


def _loaded(session: Session, kind: RecordType, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    """The records of ``ids`` in one query, by id, with only what a search reads of them: the sealed
    columns and the seal, the data keys' subjects, the status, and the name fields' ciphertext. Rows,
    not ORM objects, read on the session's connection: a search reads up to 200, and building their
    objects cost more than reading them; even as rows, the ORM's result handling cost 5 ms of CPU for
    200 where the connection's took 1.4."""
    if not ids:
        return {}
    columns = [getattr(kind.model, name) for name in _search_columns(kind)]
    statement = sa.select(*columns).where(one_of(session, kind.model.id, ids))
    return {row.id: row for row in session.connection().execute(statement)}


def _person_group(kind: RecordType) -> Group:
    return next(group for group in kind.groups if group.key == kind.person_group)


def _name_columns(kind: RecordType) -> list[str]:
    """The ciphertext columns of the person's name fields (what a search decrypts)."""
    person = _person_group(kind)
    return [person.column(name) for name, _ in person.fields if name in NAME_FIELDS]


def _search_columns(kind: RecordType) -> list[str]:
    sealed = ["society_id", "minor", "flagged_minor", "seal", "version"]
    if kind is SIGHTINGS:
        sealed += ["deceased", "no_cross_border", "exclude"]
    return [
        "id",
        "status",
        *sealed,
        *kind.subject_columns.values(),
        *_name_columns(kind),
    ]


def _sealed_visible(
    crypto: Crypto,
    actor: Actor,
    viewer: Viewer,
    candidates: Sequence[sa.Row[uuid.UUID, uuid.UUID, int]],
    sightings: Mapping[uuid.UUID, sa.Row[Any]],
    *,
    audit: AuditSink,
) -> list[sa.Row[uuid.UUID, uuid.UUID, int]]:
    """The candidates whose restrictions, read through their seals, let the viewer see them."""
    seals = Seals(crypto, audit, actor)
    return [
        row
        for row in candidates
        if visible_to(sightings[row.record_id], viewer, seals.protection(sightings[row.record_id], Sighting))
    ]


def _hit_order(actor: Actor) -> Callable[[SearchHit], tuple[int, int, float, str]]:
    """Strong before possible; within a band the actor's own records by score, then the others by id."""

    def key(hit: SearchHit) -> tuple[int, int, float, str]:
        own = hit.score is not None
        return (0 if hit.band is Band.STRONG else 1, 0 if own else 1, -(hit.score or 0.0), str(hit.id))

    return key


@dataclass(frozen=True)
class _Found:
    """A candidate that really holds a query term: its record, decrypted names, and how many of the
    query's name skeletons it holds."""

    record: sa.Row[Any]  # the columns ``_loaded`` reads
    person: Mapping[str, Any]
    skeletons: int


def _holding_query_terms(
    crypto: Crypto, kind: RecordType, records: Sequence[sa.Row[Any]], query_terms: Mapping[str, set[str]]
) -> dict[uuid.UUID, _Found]:
    """The candidates (decrypted in memory, names only; the data keys not held unwrapped read in one
    query) whose names hold one of the query's tokens or skeletons: truncated index values also find
    records that share only a value, never a term."""
    if not records:
        return {}
    codec = _codec(kind, crypto)
    subjects = [_subjects(kind, record) for record in records]
    found = {}
    with crypto.prefetched(_keys_to_read(crypto, kind, records, subjects)):
        for record, subject in zip(records, subjects, strict=True):
            person = codec.decrypt(record, subject, groups=[kind.person_group], fields=NAME_FIELDS)[
                kind.person_group
            ]
            terms = indexing.name_terms(indexing.person_names(person))
            shared = {name: terms[name] & query_terms[name] for name in terms}
            if any(shared.values()):
                found[record.id] = _Found(record, person, len(shared[indexing.NAME_SKELETON]))
    return found


def _keys_to_read(
    crypto: Crypto,
    kind: RecordType,
    records: Sequence[sa.Row[Any]],
    subjects: Sequence[Mapping[SubjectRole, Subject]],
) -> list[Subject]:
    """The people among the records' whose data key for their names this process does not hold
    unwrapped already (a recent search decrypted many of the same candidates): only those are read."""
    role, columns = _person_group(kind).subject, _name_columns(kind)

    def a_name(record: sa.Row[Any]) -> bytes | None:
        return next((token for column in columns if (token := getattr(record, column)) is not None), None)

    pairs = zip(records, subjects, strict=True)
    return crypto.vault.uncached((per_record[role], a_name(record)) for record, per_record in pairs)


def _own_hits(
    actor: Actor, kind: RecordType, query: str, found: Sequence[_Found], *, matcher: Matcher, wanted: int
) -> list[SearchHit]:
    """The actor's own society's hits, ranked by the matcher's name evidence."""
    if not found:
        return []
    weights = matcher.name_weights(query, [canonical_names(hit.record.id, hit.person) for hit in found])
    return [
        SearchHit(
            hit.record.id,
            actor.society_code,
            band_of(hit.skeletons, wanted) or Band.POSSIBLE,
            status=hit.record.status.value,
            score=_even_odds(weight),
            name=_display_name(hit.person),
        )
        for hit, weight in zip(found, weights, strict=True)
    ]


def _revealed_fields(
    kind: RecordType, own_hits: Sequence[SearchHit], returned: Sequence[SearchHit]
) -> list[str]:
    """The name fields shown: a display name for each own record returned (nothing of other records)."""
    shown = {hit.id for hit in returned if hit.name is not None}
    if not shown & {hit.id for hit in own_hits}:
        return []
    return [f"{kind.person_group}.{name}" for name in DISPLAY_NAME_FIELDS]


def _search_event(
    kind: RecordType,
    actor: Actor,
    purpose: TracingRequest | None,
    *,
    outcome: Outcome = Outcome.OK,
    objects: tuple[ObjectRef, ...] = (),
    fields: Sequence[str] = (),
) -> AuditEntry:
    """The one entry of a search: made for which request (if any), and which records it returned."""
    return AuditEntry(
        action=Action.on(kind.name, "search"),
        outcome=outcome,
        actor=actor,
        object_type=None if purpose is None else TRACING_REQUESTS.name,
        object_id=None if purpose is None else str(purpose.id),
        fields=tuple(fields),
        objects=objects,
    )


def _query_terms(query: str) -> dict[str, set[str]]:
    """The query's name tokens and skeletons; 422 without a name of two letters or more."""
    terms = indexing.name_terms([query])
    if not terms[indexing.NAME_SKELETON] | terms[indexing.NAME_TOKEN]:
        raise ValidationFailed({"q": ["Give at least one name of two letters or more."]})
    return terms


def _searchable_societies(
    session: Session, actor: Actor, kind: RecordType, purpose: TracingRequest | None
) -> dict[uuid.UUID, str]:
    """Codes, by id, of the societies whose records the actor's search covers: other societies' only
    for a tracing officer's search of sightings made on behalf of one of their requests."""
    if kind is SIGHTINGS and purpose is not None and actor.role is Role.TRACING_OFFICER:
        return society_codes(session)
    return {actor.society_id: actor.society_code}


@dataclass(frozen=True)
class _Asked:
    """The values of one index that a query asks of one society's records, under one index-key
    version."""

    index_name: str
    values: tuple[bytes, ...]
    society_id: uuid.UUID
    key_version: int


@dataclass(frozen=True)
class IndexMatches:
    """The blind-index rows that match a query: one range of the lookup index holds every one of them
    (its leading columns cover all the values asked), and what was asked of which society and key
    version (``asked``) sorts out which rows of the range match.

    Its SQL (``_matching_rows``) names its values as parameters (``parameters``), so that a statement
    built around it once serves every query asking as many sets of values."""

    record_type: str
    asked: tuple[_Asked, ...]

    def parameters(self) -> dict[str, Any]:
        """The values of the parameters ``_matching_rows`` names."""
        values: dict[str, Any] = {
            "record_type": self.record_type,
            "range_values": sorted({value for asked in self.asked for value in asked.values}),
        }
        for n, asked in enumerate(self.asked):
            values |= {
                f"asked_{n}_index": asked.index_name,
                f"asked_{n}_values": list(asked.values),
                f"asked_{n}_society": asked.society_id,
                f"asked_{n}_key_version": asked.key_version,
            }
        return values


@dataclass(frozen=True)
class _MatchingRows:
    condition: sa.ColumnElement[bool]
    rows: sa.Subquery


@functools.lru_cache(maxsize=64)
def _matching_rows(asked: int) -> _MatchingRows:
    """The rows matching ``asked`` sets of asked values, as a condition on the index table and as a
    subquery (``record_id``, ``society_id``, ``index_name``); the values are given when executed
    (``IndexMatches.parameters``).

    ``rows`` reads the range on its own (``OFFSET 0`` keeps the exact conditions out of its plan),
    then sorts it out. Given the exact conditions with the range, PostgreSQL may read them through a
    bitmap of the table's pages instead (it expects one row each; it did for queries whose values a
    society is asked one at a time): at 100k records that read 8,000 scattered pages for 10k rows,
    27 ms where the range alone, read from the index without the table, took 11 ms."""

    entry = BlindIndexEntry
    within = sa.and_(
        entry.index_name.in_(indexing.SEARCH_INDEXES),
        entry.index_version == indexing.INDEX_VERSION,
        entry.value.in_(sa.bindparam("range_values", type_=entry.value.type, expanding=True)),
        entry.record_type == sa.bindparam("record_type", type_=entry.record_type.type),
    )

    def exact(columns: Any) -> sa.ColumnElement[bool]:
        """Which rows of the range were asked for; ``columns`` are the index table's or a subquery's."""
        return sa.or_(
            sa.false(),
            *(
                sa.and_(
                    columns.index_name == sa.bindparam(f"asked_{n}_index", type_=entry.index_name.type),
                    columns.value.in_(
                        sa.bindparam(f"asked_{n}_values", type_=entry.value.type, expanding=True)
                    ),
                    columns.society_id == sa.bindparam(f"asked_{n}_society", type_=entry.society_id.type),
                    columns.key_version
                    == sa.bindparam(f"asked_{n}_key_version", type_=entry.key_version.type),
                )
                for n in range(asked)
            ),
        )

    ranged = (
        sa.select(entry.record_id, entry.society_id, entry.index_name, entry.value, entry.key_version)
        .where(within)
        .offset(0)
        .subquery()
    )
    rows = (
        sa.select(ranged.c.record_id, ranged.c.society_id, ranged.c.index_name)
        .where(exact(ranged.c))
        .subquery()
    )
    return _MatchingRows(sa.and_(within, exact(entry)), rows)


def _index_matches(
    crypto: Crypto,
    kind: RecordType,
    query: str,
    societies: Sequence[uuid.UUID],
    *,
    own_society: uuid.UUID,
) -> IndexMatches:
    """Blind-index rows that match the query, under every index-key version of each society's ring
    (read from the key ring: nothing scans the index to find them).

    Another society's records are matched on their name skeletons only: their hits show a band, which
    counts skeletons, so a record sharing only a token with the query could never be shown (and one
    holding a query token holds its skeleton too). Their token rows were a quarter of a common name's
    rows at 100k sightings."""
    asked = []
    for society_id in societies:
        index_names = indexing.SEARCH_INDEXES if society_id == own_society else (indexing.NAME_SKELETON,)
        for index in crypto.indexes(society_id):
            values = indexing.query_index_values(index, query)
            for index_name in index_names:
                wanted = tuple(sorted({value.value for value in values if value.index == index_name}))
                if wanted:
                    asked.append(_Asked(index_name, wanted, society_id, index.key_version))
    return IndexMatches(kind.name, tuple(asked))


def _candidate_rows(
    session: Session,
    kind: RecordType,
    matches: IndexMatches,
    viewer: Viewer | None,
    *,
    own_society: uuid.UUID,
    wanted: int,
) -> Sequence[sa.Row[uuid.UUID, uuid.UUID, int]]:
    """The first ``SEARCH_CANDIDATES`` matching records the viewer may see (``_candidates_statement``).

    The database keeps the best ``SEARCH_CANDIDATES * HIDDEN_HEADROOM`` matching records first (a
    top-N sort; ordering every record that shares a common name was a quarter of the query at 100k
    sightings) and drops those rule 10 hides from them; when fewer than ``SEARCH_CANDIDATES`` are left
    (few records match, or hidden ones crowded the front), every matching record is ordered instead."""
    dialect = _dialect(session)
    parameters = matches.parameters() | {"own_society": own_society, "wanted": wanted}
    on_behalf = None
    if viewer is not None:
        on_behalf = viewer.tracing_request_id is not None
        parameters |= viewer_parameters(dialect, viewer)

    def first(ranked_limit: int | None) -> Sequence[sa.Row[uuid.UUID, uuid.UUID, int]]:
        statement = _candidates_statement(dialect, len(matches.asked), on_behalf, ranked_limit)
        # Rows on the session's connection, without the ORM's result handling (as ``_loaded``).
        return session.connection().execute(statement, parameters).all()

    if viewer is None:  # nothing is hidden: the best matching records are the candidates
        return first(None)
    rows = first(SEARCH_CANDIDATES * HIDDEN_HEADROOM)
    return rows if len(rows) == SEARCH_CANDIDATES else first(None)


@functools.lru_cache(maxsize=64)
def _candidates_statement(
    dialect: str, asked: int, on_behalf: bool | None, ranked_limit: int | None
) -> sa.Select[uuid.UUID, uuid.UUID, int]:
    """The first ``SEARCH_CANDIDATES`` matching records a viewer may see (``on_behalf``: whether the
    viewer looks on behalf of a request; None: rule 10 hides nothing), with their society and how many
    of the query's name skeletons their index values share (``matched``), in the order their hits
    could take on a page: those that may be strong (``band_of``) first, within them the actor's own
    society's (the most matched and shared values first: they are ranked by score later), then the
    others by id (as they are shown); then the same for the rest. With ``ranked_limit``, only the first
    so many matching records are looked at (visible or not).

    Built once for each shape (``asked`` sets of values; its parameters are ``IndexMatches``',
    ``viewer_parameters``', ``own_society`` and ``wanted``): building it anew cost 3.5 ms of CPU a
    search, more than running it."""
    # Rows are counted as they are: a record holding one value twice (two of its terms sharing a
    # truncated value, a few in 10,000 rows) is counted twice. The counts only order the candidates and
    # say which may be strong (an upper bound on what a record holds, as truncation already makes them);
    # bands are decided on the decrypted names. Making the rows distinct first was a fifth of the query.
    values = _matching_rows(asked).rows
    matched = sa.func.count().filter(values.c.index_name == indexing.NAME_SKELETON)
    own = values.c.society_id == sa.bindparam("own_society", type_=BlindIndexEntry.society_id.type)
    wanted = sa.bindparam("wanted", type_=sa.Integer)
    ranked = (
        sa.select(
            values.c.record_id,
            values.c.society_id,
            matched.label("matched"),
            sa.case((may_be_strong(matched, wanted), 1), else_=0).label("may_be_strong"),
            sa.case((own, 1), else_=0).label("own"),
            sa.case((own, matched), else_=0).label("own_matched"),
            sa.case((own, sa.func.count()), else_=0).label("own_shared"),
        )
        .group_by(values.c.record_id, values.c.society_id)
        .subquery()
    )

    def page_order(columns: Any) -> list[sa.UnaryExpression[Any]]:
        keys = ("may_be_strong", "own", "own_matched", "own_shared")
        return [*(columns[key].desc() for key in keys), columns.record_id.asc()]

    if on_behalf is None:
        return (
            sa.select(ranked.c.record_id, ranked.c.society_id, ranked.c.matched)
            .order_by(*page_order(ranked.c))
            .limit(SEARCH_CANDIDATES)
        )
    # Ordered first, then joined to their sightings in that order (OFFSET 0 keeps the ordering a step
    # of its own, and the same order outside lets the join keep it): the join stops once the limit's
    # visible sightings are found, instead of reading the sighting of every record that shares a
    # common name.
    listed = sa.select(ranked).order_by(*page_order(ranked.c)).offset(0).limit(ranked_limit).subquery()
    return (
        sa.select(listed.c.record_id, listed.c.society_id, listed.c.matched)
        .join(Sighting, Sighting.id == listed.c.record_id)
        .where(visible_condition(dialect, on_behalf=on_behalf))
        .order_by(*page_order(listed.c))
        .limit(SEARCH_CANDIDATES)
    )


def _withheld(session: Session, matches: IndexMatches, viewer: Viewer) -> list[sa.Row[uuid.UUID, uuid.UUID]]:
    """Matching sightings that rule 10 hides from the viewer (ids and owners, the first
    ``SEARCH_CANDIDATES`` by id).

    The sightings hidden from the viewer are few (a partial index holds the restricted ones): they are
    listed first, and only when there are at most ``WITHHELD_LISTED`` of them are their matching rows
    looked up by id; otherwise every matching record is joined to its sighting
    (``_restricted_sightings``). Asking the database for both at once lets it choose, and it cannot
    tell how many rows a common name matches (it expects one): it re-read every matching row for
    each restricted sighting (3.8 s at 100k sightings, 5 % of them restricted)."""
    dialect = _dialect(session)
    on_behalf = viewer.tracing_request_id is not None
    parameters = matches.parameters() | viewer_parameters(dialect, viewer)
    connection = session.connection()
    listed = {"listed": WITHHELD_LISTED + 1}
    hidden = connection.execute(_hidden_sightings(dialect, on_behalf), parameters | listed).all()
    if len(hidden) > WITHHELD_LISTED:
        restricted = _restricted_sightings(dialect, len(matches.asked), on_behalf)
        return list(connection.execute(restricted, parameters))
    if not hidden:
        return []
    lookup = (
        sa.select(BlindIndexEntry.record_id)
        .where(
            _matching_rows(len(matches.asked)).condition,
            BlindIndexEntry.record_id.in_([row.id for row in hidden]),
        )
        .distinct()
    )
    matching = set(connection.scalars(lookup, parameters))
    return [row for row in hidden if row.id in matching][:SEARCH_CANDIDATES]


@functools.lru_cache(maxsize=8)
def _hidden_sightings(dialect: str, on_behalf: bool) -> sa.Select[uuid.UUID, uuid.UUID]:
    """The first ``listed`` (a parameter) sightings rule 10 hides from the viewer, by id (read through
    the partial index of restricted sightings)."""
    return (
        sa.select(Sighting.id, Sighting.society_id)
        .where(_hidden(dialect, on_behalf))
        .order_by(Sighting.id)
        .limit(sa.bindparam("listed", type_=sa.Integer))
    )


@functools.lru_cache(maxsize=64)
def _restricted_sightings(dialect: str, asked: int, on_behalf: bool) -> sa.Select[uuid.UUID, uuid.UUID]:
    """The first ``SEARCH_CANDIDATES`` matching sightings that rule 10 hides from the viewer, by id:
    every matching record listed once, then joined to its sighting (what the matching records cost,
    however many are restricted)."""
    rows = _matching_rows(asked).rows
    matching = sa.select(rows.c.record_id).distinct().subquery()
    return (
        sa.select(Sighting.id, Sighting.society_id)
        .join(matching, matching.c.record_id == Sighting.id)
        .where(_hidden(dialect, on_behalf))
        .order_by(Sighting.id)
        .limit(SEARCH_CANDIDATES)
    )


def _hidden(dialect: str, on_behalf: bool) -> sa.ColumnElement[bool]:
    return sa.and_(RESTRICTED, sa.not_(visible_condition(dialect, on_behalf=on_behalf)))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _even_odds(weight: float) -> float:
    """How strongly the names alone point to a record, as a probability at even prior odds."""
    bounded = max(min(weight, 60.0), -60.0)
    return round(1.0 / (1.0 + float(2.0**-bounded)), 4)


def _display_name(person: Mapping[str, Any]) -> str | None:
    if person.get("full_name"):
        return str(person["full_name"])
    parts = [person.get("given_name"), person.get("family_name")]
    return " ".join(part for part in parts if part) or None


# --- the matcher's view ----------------------------------------------------------------------------

# The groups a canonical record is read from: the person, and where its date and place come from.
_MATCHED_GROUPS = {"tracing_request": ("sought_person", "separation"), "sighting": ("person", "registration")}
# The fields of those groups a canonical record reads (nothing else is decrypted for the matcher).
_MATCHED_FIELDS = (*MATCHED_PERSON_FIELDS, "date", "place", "last_known_place")
# Records whose data keys one query loads (each key a bound parameter: databases cap them).
KEYS_PER_QUERY = 500


def kind_named(name: str) -> RecordType:
    return TRACING_REQUESTS if name == TRACING_REQUESTS.name else SIGHTINGS


def read_groups(
    crypto: Crypto, kind: RecordType, record: RecordMixin, groups: Sequence[str]
) -> dict[str, Any]:
    """Only the named groups of a record, decrypted (the caller decides what may be shown, and audits)."""
    if not groups:
        return {}
    return _codec(kind, crypto).decrypt(record, _subjects(kind, record), groups=groups)


def read_identity(crypto: Crypto, kind: RecordType, record: RecordMixin) -> dict[str, Any]:
    """The identity fields of a record's person (names, sex, birth, nationality, parents, marks...),
    decrypted for a reviewing officer: no identifier, contact or whereabouts. The caller audits it."""
    wanted = [name for name, _ in IDENTITY_FIELDS]
    document = _codec(kind, crypto).decrypt(
        record, _subjects(kind, record), groups=[kind.person_group], fields=wanted
    )
    return dict(document.get(kind.person_group) or {})


def canonical_records(
    crypto: Crypto, kind: RecordType, records: Sequence[RecordMixin]
) -> list[dict[str, Any]]:
    """The matcher's view of each record, decrypted in memory only: the person's identity and
    identifier fields, the date ages are measured at, and one place; never contacts or whereabouts.

    The caller audits that the records were read for matching.
    """
    views: list[dict[str, Any]] = []
    for first in range(0, len(records), KEYS_PER_QUERY):
        views += _canonical_slice(crypto, kind, records[first : first + KEYS_PER_QUERY])
    return views


def _canonical_slice(
    crypto: Crypto, kind: RecordType, records: Sequence[RecordMixin]
) -> list[dict[str, Any]]:
    codec = _codec(kind, crypto)
    subjects = [_subjects(kind, record) for record in records]
    views = []
    with crypto.prefetched(subject for per_record in subjects for subject in per_record.values()):
        for record, subject in zip(records, subjects, strict=True):
            groups, fields = _MATCHED_GROUPS[kind.name], _MATCHED_FIELDS
            document = codec.decrypt(record, subject, groups=groups, fields=fields)
            on = _record_date(kind, document, record.created_at.date())
            person = document.get(kind.person_group) or {}
            views.append(canonical_record(record.id, person, record_date=on, place=record_place(document)))
    return views


def reindex_older_versions(
    session: Session, crypto: Crypto, kind: RecordType, society_id: uuid.UUID, *, limit: int
) -> int:
    """Rebuild the index rows of up to ``limit`` of the society's records that still have rows under an
    older index-key version than the active one (after ``rfl keys rotate-index``); returns how many."""
    active = crypto.index(society_id).key_version
    ids = sa.select(BlindIndexEntry.record_id).where(
        BlindIndexEntry.society_id == society_id,
        BlindIndexEntry.record_type == kind.name,
        BlindIndexEntry.key_version < active,
    )
    stale = session.scalars(
        sa.select(kind.model).where(kind.model.id.in_(ids.distinct())).order_by(kind.model.id).limit(limit)
    ).all()
    for record in stale:
        reindex(session, crypto, kind, record)
    return len(stale)


def indexed_under_older_versions(session: Session, crypto: Crypto, society_id: uuid.UUID) -> int:
    """How many of the society's index rows are under an older index-key version than the active one."""
    active = crypto.index(society_id).key_version
    statement = sa.select(sa.func.count()).where(
        BlindIndexEntry.society_id == society_id, BlindIndexEntry.key_version < active
    )
    return session.scalar(statement) or 0


def reindex(session: Session, crypto: Crypto, kind: RecordType, record: RecordMixin) -> None:
    """Recompute a record's blind-index rows from its decrypted fields (after an index change)."""
    document = _codec(kind, crypto).decrypt(record, _subjects(kind, record))
    on = _record_date(kind, document, record.created_at.date())
    _reindex(session, crypto, kind, record, document=document, on=on)


# --- the condition code of sightings registered before it was kept ---------------------------------


@dataclass(frozen=True)
class BackfillBatch:
    filled: int
    # Sightings whose condition can no longer be read (their person was erased): they stay uncounted.
    unreadable: int
    # The last sighting looked at, to go on after; None when there was nothing left.
    last_id: uuid.UUID | None


def backfill_condition_codes(
    session: Session, crypto: Crypto, *, after: uuid.UUID | None, limit: int, audit: AuditSink
) -> BackfillBatch:
    """Give sightings without a condition code the code of their encrypted condition, ``limit`` at a
    time in id order after ``after``: each condition is decrypted in memory only, and each read is
    audited (by field name) like any other read of personal data."""
    statement = (
        sa.select(Sighting).where(Sighting.condition_code.is_(None)).order_by(Sighting.id).limit(limit)
    )
    if after is not None:
        statement = statement.where(Sighting.id > after)
    sightings = session.scalars(statement).all()
    filled = unreadable = 0
    codec = _codec(SIGHTINGS, crypto)
    for sighting in sightings:
        try:
            document = codec.decrypt(
                sighting, _subjects(SIGHTINGS, sighting), groups=[None], fields=["condition"]
            )
        except DecryptionError:
            unreadable += 1
            continue
        sighting.condition_code = Condition(document["condition"])
        filled += 1
        audit(
            AuditEntry(
                Action.SIGHTING_BACKFILL,
                owner_society_id=sighting.society_id,
                object_type=SIGHTINGS.name,
                object_id=str(sighting.id),
                fields=("condition",),
            )
        )
    session.flush()
    return BackfillBatch(filled, unreadable, sightings[-1].id if sightings else None)
