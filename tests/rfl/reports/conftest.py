"""A seeded skeleton: requests, sightings, candidates, consents and disclosures written straight into
their tables with chosen dates (reports read nothing else), and kept as plain specs the tests count
from independently."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from privacy import ConsentMethod, ConsentStatus, Reason
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, Society, SocietyType
from rfl.consent.models import Consent
from rfl.db import db
from rfl.disclosures.models import Disclosure, DisclosureOutcome
from rfl.extensions import app_services
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.records.models import Condition, LegalBasis, RecordStatus, Sighting, TracingRequest
from tests.conftest import Factories, unaudited

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 181  # 2026-01-01 to 2026-06-30
DENY_REASONS = [r.value for r in Reason if r not in (Reason.CONSENT_COVERS_REQUEST, Reason.FATE_OF_DECEASED)]


@dataclass
class RequestSpec:
    id: uuid.UUID
    society: str
    created_at: datetime
    status: RecordStatus
    closed_at: datetime | None


@dataclass
class SightingSpec:
    id: uuid.UUID
    society: str
    created_at: datetime
    condition: Condition | None
    minor: bool


@dataclass
class CandidateSpec:
    id: uuid.UUID
    request: RequestSpec
    sighting: SightingSpec
    created_at: datetime
    status: MatchStatus
    confirmed_at: datetime | None
    approved_at: datetime | None


@dataclass
class ConsentSpec:
    sighting: SightingSpec
    recorded_at: datetime
    decision: ConsentStatus
    method: ConsentMethod


@dataclass
class DisclosureSpec:
    candidate: CandidateSpec
    decided_at: datetime
    outcome: DisclosureOutcome
    reasons: list[str]


@dataclass
class Seeded:
    societies: dict[str, Society]
    requests: list[RequestSpec] = field(default_factory=list)
    sightings: list[SightingSpec] = field(default_factory=list)
    candidates: list[CandidateSpec] = field(default_factory=list)
    consents: list[ConsentSpec] = field(default_factory=list)
    disclosures: list[DisclosureSpec] = field(default_factory=list)


def central_tracing_agency(app: Flask) -> Society:
    with app.app_context(), db.transaction() as session:
        return accounts.create_society(
            session,
            app_services(app).keys,
            code="ICRC-CTA",
            name="ICRC Central Tracing Agency",
            type=SocietyType.CENTRAL_TRACING_AGENCY,
            country=None,
            audit=unaudited,
        )


def _moment(rng: random.Random) -> datetime:
    # A few fall just outside the first half of 2026, to prove the window holds.
    if rng.random() < 0.05:
        return rng.choice([START - timedelta(minutes=1), START + timedelta(days=DAYS)])
    return START + timedelta(seconds=rng.randrange(DAYS * 86400))


def _later(rng: random.Random, moment: datetime, most_days: int = 60) -> datetime:
    return moment + timedelta(seconds=rng.randrange(1, most_days * 86400))


def build_specs(rng: random.Random, codes: tuple[str, ...], size: int) -> Seeded:
    """Specs of ``size`` requests and as many sightings, and candidates, consents and disclosures."""
    seeded = Seeded(societies={})
    for _ in range(size):
        created = _moment(rng)
        status = rng.choice(list(RecordStatus))
        closed = _later(rng, created) if status in (RecordStatus.CLOSED, RecordStatus.DISCLOSED) else None
        seeded.requests.append(RequestSpec(uuid.uuid4(), rng.choice(codes), created, status, closed))
    for _ in range(size):
        condition = rng.choice([*Condition, None])
        seeded.sightings.append(
            SightingSpec(uuid.uuid4(), rng.choice(codes), _moment(rng), condition, rng.random() < 0.3)
        )
    _candidates(rng, seeded)
    for sighting in seeded.sightings:
        for _ in range(rng.choice([0, 0, 1, 2])):
            decision, method = rng.choice(list(ConsentStatus)), rng.choice(list(ConsentMethod))
            seeded.consents.append(
                ConsentSpec(sighting, _later(rng, sighting.created_at, 90), decision, method)
            )
    for candidate in seeded.candidates:
        if candidate.status is MatchStatus.CONFIRMED and rng.random() < 0.7:
            for _ in range(rng.choice([1, 1, 2])):
                seeded.disclosures.append(_disclosure(rng, candidate))
    return seeded


def _candidates(rng: random.Random, seeded: Seeded) -> None:
    confirming: set[uuid.UUID] = set()
    for request in seeded.requests:
        for sighting in rng.sample(seeded.sightings, rng.choice([0, 0, 1, 1, 2, 3])):
            created = _later(rng, max(request.created_at, sighting.created_at), 20)
            status = rng.choice(list(MatchStatus))
            holds = (MatchStatus.CONFIRMED, MatchStatus.PENDING_APPROVAL)
            if status in holds and request.id in confirming:
                status = MatchStatus.REJECTED  # one confirming sighting per request (a unique index)
            if status in holds:
                confirming.add(request.id)
            confirmed = approved = None
            if status in (*holds, MatchStatus.WITHDRAWN):
                confirmed = _later(rng, created, 30)
            if status is MatchStatus.CONFIRMED and rng.random() < 0.4:
                approved = _later(rng, confirmed or created, 10)
            seeded.candidates.append(
                CandidateSpec(uuid.uuid4(), request, sighting, created, status, confirmed, approved)
            )


def _disclosure(rng: random.Random, candidate: CandidateSpec) -> DisclosureSpec:
    allowed = rng.random() < 0.6
    reasons = (
        [rng.choice([Reason.CONSENT_COVERS_REQUEST.value, Reason.FATE_OF_DECEASED.value])]
        if allowed
        else rng.sample(DENY_REASONS, rng.randint(1, 3))
    )
    outcome = DisclosureOutcome.ALLOWED if allowed else DisclosureOutcome.DENIED
    moment = _later(rng, candidate.approved_at or candidate.confirmed_at or candidate.created_at, 40)
    return DisclosureSpec(candidate, moment, outcome, reasons)


def write(app: Flask, make: Factories, seeded: Seeded, codes: tuple[str, ...]) -> None:
    """Write the specs' rows directly (ciphertext columns empty: reports never read them)."""
    for code in codes:
        seeded.societies[code] = make.society(code, country=code[:2])
    users = {code: make.user(Role.CASEWORKER, society=seeded.societies[code]).id for code in codes}
    ids = {code: society.id for code, society in seeded.societies.items()}
    with app.app_context(), db.transaction() as session:
        for request in seeded.requests:
            record = TracingRequest(
                id=request.id,
                society_id=ids[request.society],
                created_by=users[request.society],
                legal_basis=LegalBasis.VITAL_INTEREST,
                sought_subject_id=uuid.uuid4(),
                enquirer_subject_id=uuid.uuid4(),
                created_at=request.created_at,
                updated_at=request.created_at,
            )
            record.status = request.status
            record.closed_at = request.closed_at  # after the status: its listener stamps the wall clock
            session.add(record)
        for sighting in seeded.sightings:
            found = Sighting(
                id=sighting.id,
                society_id=ids[sighting.society],
                created_by=users[sighting.society],
                legal_basis=LegalBasis.VITAL_INTEREST,
                found_subject_id=uuid.uuid4(),
                condition_code=sighting.condition,
                deceased=sighting.condition is Condition.DECEASED,
                minor=sighting.minor,
                created_at=sighting.created_at,
                updated_at=sighting.created_at,
            )
            found.status = RecordStatus.OPEN
            session.add(found)
        session.flush()
        for candidate in seeded.candidates:
            session.add(
                MatchCandidate(
                    id=candidate.id,
                    tracing_request_id=candidate.request.id,
                    sighting_id=candidate.sighting.id,
                    request_society_id=ids[candidate.request.society],
                    sighting_society_id=ids[candidate.sighting.society],
                    request_match_version=1,
                    sighting_match_version=1,
                    match_probability=0.9,
                    match_weight=3.0,
                    model_version="test",
                    explanation=[],
                    status=candidate.status,
                    subject_id=uuid.uuid4(),
                    confirmed_at=candidate.confirmed_at,
                    approved_at=candidate.approved_at,
                    created_at=candidate.created_at,
                    updated_at=candidate.created_at,
                )
            )
        session.flush()
        for consent in seeded.consents:
            session.add(
                Consent(
                    sighting_id=consent.sighting.id,
                    society_id=ids[consent.sighting.society],
                    recipient="partners",
                    decision=consent.decision,
                    scope=[],
                    method=consent.method,
                    recorded_by=users[consent.sighting.society],
                    recorded_at=consent.recorded_at,
                    seal=b"not verified by reports",
                )
            )
        for disclosure in seeded.disclosures:
            candidate = disclosure.candidate
            session.add(
                Disclosure(
                    match_candidate_id=candidate.id,
                    tracing_request_id=candidate.request.id,
                    sighting_id=candidate.sighting.id,
                    request_society_id=ids[candidate.request.society],
                    sighting_society_id=ids[candidate.sighting.society],
                    categories=["alive_and_well"],
                    outcome=disclosure.outcome,
                    reasons=disclosure.reasons,
                    officer_user_id=users[candidate.request.society],
                    decided_at=disclosure.decided_at,
                )
            )


CODES = ("DE", "IT", "GR")


@pytest.fixture
def seeded(app: Flask, make: Factories) -> Seeded:
    """Three societies, 150 requests and 150 sightings over the first half of 2026."""
    specs = build_specs(random.Random(16), CODES, 150)
    write(app, make, specs, CODES)
    return specs
