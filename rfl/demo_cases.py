"""Two demo cases walked through the whole workflow, through the same services as the API: one from
request to disclosure, one to the found person's refusal; and what an auditor then sees."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import Category, ConsentMethod, ConsentStatus
from rfl.audit.entries import AuditSink
from rfl.consent import services as consent
from rfl.consent.models import Consent
from rfl.crypto import Crypto
from rfl.disclosures import services as disclosures
from rfl.disclosures.models import Disclosure
from rfl.identity import Actor, Role
from rfl.matches import services as matches
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.records.models import Sighting

CONSENTED = frozenset({Category.ALIVE_AND_WELL, Category.WHEREABOUTS})


@dataclass(frozen=True)
class WalkedCases:
    disclosed: uuid.UUID | None
    refused: uuid.UUID | None


def walk_two_cases(
    session: Session, crypto: Crypto, officers: dict[str, Actor], *, now: datetime, audit: AuditSink
) -> WalkedCases:
    """The two most probable German-Italian pairs: one confirmed, consented and disclosed; one confirmed
    and refused. ``officers`` maps a society code to one of its tracing officers (a second one under
    ``<code>-2`` approves what needs two officers)."""
    pairs = session.scalars(
        sa.select(MatchCandidate)
        .where(
            MatchCandidate.status == MatchStatus.PROPOSED,
            MatchCandidate.request_society_id == officers["DE"].society_id,
            MatchCandidate.sighting_society_id == officers["IT"].society_id,
        )
        .order_by(MatchCandidate.match_probability.desc(), MatchCandidate.id)
        .limit(2)
    ).all()
    if len(pairs) < 2:
        return WalkedCases(None, None)
    first, second = (pair.id for pair in pairs)
    _confirm(session, crypto, officers, first, now=now, audit=audit)
    _consent(session, crypto, officers["IT"], first, ConsentStatus.GIVEN, now=now, audit=audit)
    disclosures.disclose(session, crypto, officers["DE"], first, CONSENTED, now=now, audit=audit)
    _confirm(session, crypto, officers, second, now=now, audit=audit)
    _consent(session, crypto, officers["IT"], second, ConsentStatus.REFUSED, now=now, audit=audit)
    return WalkedCases(first, second)


def _confirm(
    session: Session,
    crypto: Crypto,
    officers: dict[str, Actor],
    match_id: uuid.UUID,
    *,
    now: datetime,
    audit: AuditSink,
) -> None:
    view = matches.confirm(session, crypto, officers["DE"], match_id, note=None, now=now, audit=audit)
    if view.candidate.status is MatchStatus.PENDING_APPROVAL:  # a minor or a deceased person
        matches.approve(session, crypto, officers["IT"], match_id, now=now, audit=audit)


def _consent(
    session: Session,
    crypto: Crypto,
    officer: Actor,
    match_id: uuid.UUID,
    decision: ConsentStatus,
    *,
    now: datetime,
    audit: AuditSink,
) -> None:
    match = session.get_one(MatchCandidate, match_id)
    minor = session.get_one(Sighting, match.sighting_id).minor
    given = consent.ConsentInput(
        decision=decision,
        scope=CONSENTED if decision is ConsentStatus.GIVEN else frozenset(),
        recipient=str(match.tracing_request_id),
        method=ConsentMethod.BEST_INTERESTS if minor else ConsentMethod.ORAL,
    )
    consent.record_consent(session, crypto, officer, match.sighting_id, given, now=now, audit=audit)


def print_auditors_view(
    session: Session,
    cases: WalkedCases,
    tokens: dict[tuple[str, Role], str],
    *,
    base: str,
    echo: Callable[[str], None],
) -> None:
    if cases.disclosed is None:
        return
    allowed = session.scalar(
        sa.select(sa.func.count()).select_from(Disclosure).where(Disclosure.outcome == "allowed")
    )
    consents = session.scalar(sa.select(sa.func.count()).select_from(Consent))
    de_officer = f'-H "Authorization: Bearer {tokens[("DE", Role.TRACING_OFFICER)]}"'
    auditor = f'-H "Authorization: Bearer {tokens[("DE", Role.AUDITOR)]}"'
    it_auditor = f'-H "Authorization: Bearer {tokens[("IT", Role.AUDITOR)]}"'
    echo("\nTwo cases were walked through: one to disclosure, one to the found person's refusal.")
    echo(f"  curl {de_officer} {base}/api/v1/matches/{cases.disclosed}   # confirmed, disclosed")
    echo(f"  (match {cases.refused}: refused; the German side sees only its request closed)")
    echo(f"The auditor's view ({allowed} disclosure(s) allowed, {consents} consent record(s)):")
    echo(f"  curl {auditor} {base}/api/v1/disclosures        # every disclosure, its consent, its proofs")
    echo(f"  curl {it_auditor} {base}/api/v1/consents         # the consent log, seals checked")
    echo(f'  curl {auditor} "{base}/api/v1/audit/export?kind=disclosures" > disclosures.json')
    echo("  .venv/bin/rfl audit public-key   # then, offline:")
    echo("  .venv/bin/rfl audit verify-export disclosures.json --key <that key>")
