"""Recording a found person's consent, and reading the consents in force.

Only tracing officers of the sighting's society record consent. A recipient is a tracing request whose
match with the sighting was confirmed, or ``partners`` (sharing the sighting with RFL partners in
exports). A minor's consent comes only from a guardian or a recorded best-interests decision. Records
are appended; a withdrawal is a new record. Every row is sealed, and a row whose seal does not verify
is never honoured: it is left out, reported in the log and audited.

Recording a refusal (or a withdrawal) for a tracing request closes the case for the family (rule 2):
the request is closed, and the match keeps the internal outcome "located, no contact wished", which
only the sighting's society and auditors see.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import Category, ConsentMethod, ConsentRecord, ConsentStatus, SealValue, Subject
from privacy.consent import MINOR_CONSENT_METHODS
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.consent.models import PARTNERS, Consent
from rfl.crypto import Crypto
from rfl.errors import Conflict, NotFound, ValidationFailed
from rfl.identity import Actor, society_id_by_code
from rfl.matches.models import CONFIRMING_STATUSES, MatchCandidate, MatchOutcome, MatchStatus
from rfl.matches.services import close_on_refusal, hidden_from_the_request
from rfl.pagination import Page, paginate
from rfl.records.models import RecordStatus, Sighting
from rfl.records.seals import Protection, Seals
from rfl.records.services import locked_tracing_request

log = logging.getLogger(__name__)

TABLE = Consent.__tablename__
PERSONAL_COLUMNS = ("guardian_name", "note", "message")
# Categories a consent may cover; the fate of a deceased person needs none (rule 4).
CONSENTABLE = frozenset(Category) - {Category.FATE}
ALL_STATUSES = tuple(MatchStatus)


@dataclass(frozen=True)
class ConsentInput:
    decision: ConsentStatus
    scope: frozenset[Category]
    recipient: str
    method: ConsentMethod
    expires_at: datetime | None = None
    guardian_name: str | None = None
    note: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ConsentView:
    consent: Consent
    sealed: bool
    personal: dict[str, str]


def record_consent(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    sighting_id: uuid.UUID,
    given: ConsentInput,
    *,
    now: datetime,
    audit: AuditSink,
) -> Consent:
    sighting = own_sighting(session, actor, sighting_id, Action.CONSENT_RECORD, audit)
    protection = Seals(crypto, audit, actor).protection(sighting)
    match = _check(session, sighting, protection.minor, given, now)
    consent = Consent(
        id=uuid.uuid4(),
        sighting_id=sighting.id,
        society_id=sighting.society_id,
        recipient=given.recipient,
        decision=given.decision,
        scope=sorted(given.scope) if given.decision is ConsentStatus.GIVEN else [],
        method=given.method,
        expires_at=given.expires_at,
        recorded_by=actor.user_id,
        recorded_at=_after_the_latest(session, sighting.id, given.recipient, now),
    )
    written = _encrypt_personal(crypto, sighting, consent, given)
    consent.seal = crypto.sealer(sighting.society_id).seal(TABLE, str(consent.id), sealed_terms(consent))
    session.add(consent)
    session.flush()
    if match is not None:
        _follow_the_decision(session, match, given.decision, audit, seen=(sighting, protection))
    audit(
        AuditEntry(
            Action.CONSENT_RECORD,
            actor=actor,
            owner_society_id=sighting.society_id,
            object_type="consent",
            object_id=str(consent.id),
            fields=bound_terms(consent, written),
        )
    )
    return consent


def bound_terms(consent: Consent, written: Sequence[str] = ()) -> tuple[str, ...]:
    """A consent's terms as audit-entry fields (see ``consent_terms``)."""
    return consent_terms(
        decision=consent.decision.value,
        method=consent.method.value,
        recipient=consent.recipient,
        sighting_id=str(consent.sighting_id),
        scope=consent.scope,
        details=written,
        expires_at=consent.expires_at.isoformat() if consent.expires_at else None,
    )


def consent_terms(
    *,
    decision: str,
    method: str,
    recipient: str,
    sighting_id: str,
    scope: Sequence[str],
    details: Sequence[str],
    expires_at: str | None,
) -> tuple[str, ...]:
    """Codes, ids and the names of the encrypted details written, never their values: what the audit
    entry of a consent records, and what an export of the consent log is checked against."""
    terms = [
        f"decision:{decision}",
        f"method:{method}",
        f"recipient:{recipient}",
        f"sighting:{sighting_id}",
        *(f"scope:{category}" for category in scope),
        *details,
    ]
    if expires_at is not None:
        terms.append(f"expires_at:{expires_at}")
    return tuple(sorted(terms))


def _after_the_latest(session: Session, sighting_id: uuid.UUID, recipient: str, now: datetime) -> datetime:
    """``now``, or just after the latest record for this recipient if that is not earlier: the latest
    record wins (rule 1), so two records made within one clock tick must still have an order."""
    latest = session.scalar(
        sa.select(sa.func.max(Consent.recorded_at)).where(
            Consent.sighting_id == sighting_id, Consent.recipient == recipient
        )
    )
    if latest is not None and latest.tzinfo is None:  # SQLite's MAX drops the offset; times are UTC
        latest = latest.replace(tzinfo=UTC)
    return max(now, latest + timedelta(microseconds=1)) if latest is not None else now


def own_sighting(
    session: Session, actor: Actor, sighting_id: uuid.UUID, action: Action, audit: AuditSink
) -> Sighting:
    """The sighting if it is the actor's society's; else NotFound, audited the same way whatever the id."""
    sighting = session.get(Sighting, sighting_id)
    if sighting is None or sighting.society_id != actor.society_id:
        audit(
            AuditEntry(
                action,
                outcome=Outcome.DENIED,
                actor=actor,
                owner_society_id=None if sighting is None else sighting.society_id,
                object_type="sighting",
                object_id=str(sighting_id),
            )
        )
        raise NotFound("No such record.")
    return sighting


def _check(
    session: Session, sighting: Sighting, minor: bool, given: ConsentInput, now: datetime
) -> MatchCandidate | None:
    """Validate the record against the rules (``minor``: as the sighting's seal lets the rules read
    it); returns the confirmed match with the recipient, if any."""
    errors: dict[str, list[str]] = {}
    if given.decision is ConsentStatus.GIVEN and not given.scope:
        errors["scope"] = ["A consent given covers at least one category."]
    if given.decision is not ConsentStatus.GIVEN and given.scope:
        errors["scope"] = ["Only a consent given has a scope; a refusal or withdrawal covers nothing."]
    if given.scope - CONSENTABLE:
        errors["scope"] = [f"Categories are {', '.join(sorted(CONSENTABLE))}."]
    if given.message is not None and Category.MESSAGE not in given.scope:
        errors["message"] = ["A message goes with a consent whose scope includes message."]
    if given.expires_at is not None and given.expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    if minor and given.method not in MINOR_CONSENT_METHODS:
        errors["method"] = ["A minor's consent comes from a guardian or a best-interests decision."]
    if given.method is ConsentMethod.GUARDIAN and not given.guardian_name:
        errors["guardian_name"] = ["Name the guardian who gave or refused consent."]
    match = None
    if given.recipient != PARTNERS:
        match = _paired(session, sighting, given.recipient, CONFIRMING_STATUSES)
        # Saying no is always possible (rule 1: withdrawal is one call), also once the pair was
        # withdrawn: a consent left standing would let a later confirmation of the pair disclose.
        refusing = given.decision is not ConsentStatus.GIVEN
        if match is None and not (refusing and _paired(session, sighting, given.recipient, ALL_STATUSES)):
            errors["recipient_tracing_request_id"] = [
                "Must be a tracing request confirmed as matching this sighting"
                " (a refusal or withdrawal: one ever proposed for it)."
            ]
    if errors:
        raise ValidationFailed(errors)
    return match


def _paired(
    session: Session, sighting: Sighting, recipient: str, statuses: tuple[MatchStatus, ...]
) -> MatchCandidate | None:
    """The sighting's pair with the tracing request ``recipient`` in one of ``statuses``, if any."""
    try:
        request_id = uuid.UUID(recipient)
    except ValueError:
        return None
    return session.scalars(
        sa.select(MatchCandidate)
        .where(
            MatchCandidate.sighting_id == sighting.id,
            MatchCandidate.tracing_request_id == request_id,
            MatchCandidate.status.in_(statuses),
        )
        .limit(1)
    ).first()


def _encrypt_personal(crypto: Crypto, sighting: Sighting, consent: Consent, given: ConsentInput) -> list[str]:
    subject = _subject(sighting)
    written = []
    for column in PERSONAL_COLUMNS:
        value = getattr(given, column)
        setattr(consent, column, crypto.vault.encrypt(subject, TABLE, column, str(consent.id), value))
        if value is not None:
            written.append(column)
    return written


def _follow_the_decision(
    session: Session,
    match: MatchCandidate,
    decision: ConsentStatus,
    audit: AuditSink,
    *,
    seen: tuple[Sighting, Protection],
) -> None:
    """Rule 2: a refusal (or a withdrawal) before anything was disclosed closes the family's case and
    hides that the person was found; consent given later opens the way to disclosure again (once the
    match counts: a minor's awaiting its second approval leaves the request open; and not while the
    sighting's restrictions hide it from the request, rule 10: the family side learns nothing then,
    and the consent is recorded again once they are lifted). After a disclosure the family already
    knows: a withdrawal only stops further releases (the policy denies). ``seen``: the sighting and
    its protection as its seal gives it."""
    request = locked_tracing_request(session, match.tracing_request_id)  # as a match decision does
    session.refresh(match)
    if match.status not in CONFIRMING_STATUSES and decision is not ConsentStatus.GIVEN:
        return  # the pair was withdrawn or rejected meanwhile: saying no is recorded all the same
    if match.status not in CONFIRMING_STATUSES:
        raise Conflict(
            "The match was withdrawn or rejected meanwhile.",
            current={"id": str(match.id), "status": match.status.value, "version": match.version},
        )
    if request.status is RecordStatus.DISCLOSED:
        return
    if decision is ConsentStatus.GIVEN:
        sighting, protection = seen
        if hidden_from_the_request(session, match, sighting, protection):
            return
        if match.outcome is MatchOutcome.LOCATED_NO_CONTACT:
            match.outcome = None
            confirmed = match.status is MatchStatus.CONFIRMED
            request.status = RecordStatus.AWAITING_CONSENT if confirmed else RecordStatus.OPEN
        return
    close_on_refusal(session, match, request, audit)


def _subject(sighting: Sighting) -> Subject:
    return Subject(ring_id=str(sighting.society_id), subject_id=str(sighting.found_subject_id))


def sealed_terms(consent: Consent) -> dict[str, SealValue]:
    """What a consent's seal covers: its terms and whose they are."""
    return {
        "sighting_id": str(consent.sighting_id),
        "recipient": consent.recipient,
        "decision": consent.decision.value,
        "scope": list(consent.scope),
        "method": consent.method.value,
        "expires_at": consent.expires_at,
        "recorded_by": str(consent.recorded_by),
        "recorded_at": consent.recorded_at,
    }


# --- reading --------------------------------------------------------------------------------------


def verified(crypto: Crypto, consents: Sequence[Consent], audit: AuditSink) -> list[Consent]:
    """The consents whose seals verify; a forged or altered row is left out, logged and audited."""
    kept = []
    for consent in consents:
        if seal_verifies(crypto, consent):
            kept.append(consent)
            continue
        log.error("consent_seal_mismatch", extra={"consent_id": str(consent.id)})
        audit(
            AuditEntry(
                Action.CONSENT_SEAL_INVALID,
                outcome=Outcome.FAILED,
                owner_society_id=consent.society_id,
                object_type="consent",
                object_id=str(consent.id),
            )
        )
    return kept


def seal_verifies(crypto: Crypto, consent: Consent) -> bool:
    return crypto.sealer(consent.society_id).verify(
        TABLE, str(consent.id), sealed_terms(consent), consent.seal
    )


def policy_records(
    session: Session, crypto: Crypto, sighting_id: uuid.UUID, recipient: str, *, audit: AuditSink
) -> list[tuple[Consent, ConsentRecord]]:
    """The verified consent records of one (person, recipient), in the form the policy reads."""
    rows = session.scalars(
        sa.select(Consent)
        .where(Consent.sighting_id == sighting_id, Consent.recipient == recipient)
        .order_by(Consent.recorded_at, Consent.id)
    ).all()
    return [(row, as_policy_record(row)) for row in verified(crypto, rows, audit)]


def as_policy_record(consent: Consent) -> ConsentRecord:
    return ConsentRecord(
        record_id=str(consent.id),
        status=consent.decision,
        recipient=consent.recipient,
        scope=frozenset(Category(category) for category in consent.scope),
        method=consent.method,
        recorded_by=str(consent.recorded_by),
        recorded_at=consent.recorded_at,
        expires_at=consent.expires_at,
    )


def consents_of_sighting(
    session: Session, crypto: Crypto, actor: Actor, sighting_id: uuid.UUID, *, audit: AuditSink
) -> list[ConsentView]:
    """Every consent record of one found person, for the officers of the sighting's society: the
    terms, whether the seal holds, and the personal details decrypted (audited as a read)."""
    sighting = own_sighting(session, actor, sighting_id, Action.CONSENT_READ, audit)
    rows = session.scalars(
        sa.select(Consent).where(Consent.sighting_id == sighting.id).order_by(Consent.recorded_at, Consent.id)
    ).all()
    return [_read(crypto, actor, sighting, consent, audit) for consent in rows]


def read_consent(
    session: Session, crypto: Crypto, actor: Actor, consent_id: uuid.UUID, *, audit: AuditSink
) -> ConsentView:
    """One consent record, as ``consents_of_sighting`` shows it (a retried recording's first result)."""
    consent = session.get_one(Consent, consent_id)
    sighting = own_sighting(session, actor, consent.sighting_id, Action.CONSENT_READ, audit)
    return _read(crypto, actor, sighting, consent, audit)


def _read(
    crypto: Crypto, actor: Actor, sighting: Sighting, consent: Consent, audit: AuditSink
) -> ConsentView:
    sealed = seal_verifies(crypto, consent)
    # An erased person's details went with their key: the terms stay, nothing else is left.
    personal = {} if sighting.found_erased_at is not None else _decrypt_personal(crypto, sighting, consent)
    audit(
        AuditEntry(
            Action.CONSENT_READ,
            actor=actor,
            owner_society_id=sighting.society_id,
            object_type="consent",
            object_id=str(consent.id),
            fields=tuple(sorted(personal)),
        )
    )
    return ConsentView(consent, sealed, personal)


def _decrypt_personal(crypto: Crypto, sighting: Sighting, consent: Consent) -> dict[str, str]:
    subject = _subject(sighting)
    shown = {}
    for column in PERSONAL_COLUMNS:
        value = crypto.vault.decrypt(subject, TABLE, column, str(consent.id), getattr(consent, column))
        if value is not None:
            shown[column] = str(value)
    return shown


def released_message(crypto: Crypto, sighting: Sighting, consent: Consent) -> str | None:
    if sighting.found_erased_at is not None:  # the message went with the person's key
        return None
    value = crypto.vault.decrypt(_subject(sighting), TABLE, "message", str(consent.id), consent.message)
    return None if value is None else str(value)


@dataclass(frozen=True)
class ConsentLogFilter:
    society_code: str | None = None
    officer_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    decision: ConsentStatus | None = None


def consent_log(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    filters: ConsentLogFilter,
    *,
    limit: int,
    cursor: str | None,
    audit: AuditSink,
) -> Page[ConsentView]:
    """The consent log for auditors and admins of a society: terms and ids only, never the personal
    details; each row says whether its seal holds."""
    statement = sa.select(Consent).where(Consent.society_id == actor.society_id)
    if filters.society_code is not None:
        society = society_id_by_code(session, filters.society_code)
        statement = statement.where(Consent.society_id == society)
    if filters.officer_id is not None:
        statement = statement.where(Consent.recorded_by == filters.officer_id)
    if filters.since is not None:
        statement = statement.where(Consent.recorded_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(Consent.recorded_at < filters.until)
    if filters.decision is not None:
        statement = statement.where(Consent.decision == filters.decision)
    page = paginate(
        session, statement, order_by=(Consent.recorded_at, Consent.id), limit=limit, cursor=cursor
    )
    audit(
        AuditEntry(
            Action.CONSENT_LOG_READ, actor=actor, owner_society_id=actor.society_id, object_type="consent_log"
        )
    )
    return Page(
        items=[ConsentView(c, seal_verifies(crypto, c), {}) for c in page.items], next_cursor=page.next_cursor
    )
