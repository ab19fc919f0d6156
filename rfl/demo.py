"""Demo data for the README's run command, created through the same services as real data."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rfl.accounts import services as accounts
from rfl.accounts.models import ApiToken, Role, Society, SocietyType, User
from rfl.accounts.passwords import Passwords
from rfl.audit.entries import AuditSink
from rfl.crypto import Crypto
from rfl.demo_records import seed_demo_records
from rfl.identity import Actor
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.records.models import TracingRequest

DEMO_SOCIETIES = (
    ("IT", "Italian Red Cross", SocietyType.NATIONAL_SOCIETY, "IT"),
    ("GR", "Hellenic Red Cross", SocietyType.NATIONAL_SOCIETY, "GR"),
    ("DE", "German Red Cross", SocietyType.NATIONAL_SOCIETY, "DE"),
    ("SE", "Swedish Red Cross", SocietyType.NATIONAL_SOCIETY, "SE"),
    ("ICRC-CTA", "ICRC Central Tracing Agency", SocietyType.CENTRAL_TRACING_AGENCY, None),
)
# Families ask in these societies; people are registered in the others.
FAMILY_SOCIETIES = ("DE", "SE")
REGISTERING_SOCIETIES = ("IT", "GR")
DEMO_TOKEN_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class DemoCredential:
    email: str
    role: Role
    society: str
    password: str
    token: str
    actor: Actor

    def __str__(self) -> str:
        person = f"{self.society:<9} {self.role.value:<16} {self.email:<34}"
        return f"{person} password={self.password}  token={self.token}"


def seed_demo(
    session: Session,
    passwords: Passwords,
    key_rings: accounts.KeyRings,
    *,
    now: datetime,
    audit: AuditSink,
) -> list[DemoCredential]:
    """Create the demo societies and one user per role in each (idempotent).

    Each run gives every demo user a new password and a new token, and revokes the tokens an earlier
    run printed: a demo's credentials are valid only until the next demo.
    """
    credentials = []
    for code, name, society_type, country in DEMO_SOCIETIES:
        society = session.scalar(sa.select(Society).where(Society.code == code)) or accounts.create_society(
            session, key_rings, code=code, name=name, type=society_type, country=country, audit=audit
        )
        for role in Role:
            credentials.append(_demo_user(session, passwords, society, role, now=now, audit=audit))
    return credentials


def _demo_user(
    session: Session, passwords: Passwords, society: Society, role: Role, *, now: datetime, audit: AuditSink
) -> DemoCredential:
    email = f"{role.value.replace('_', '-')}@{society.code.lower()}.demo.rfl"
    password = secrets.token_urlsafe(12)
    user = session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        name = f"Demo {role.value.replace('_', ' ')} ({society.code})"
        user = accounts.create_user(
            session,
            passwords,
            society=society,
            email=email,
            name=name,
            role=role,
            password=password,
            audit=audit,
        )
    else:
        user.password_hash = passwords.hash(password)
        session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    issued = accounts.issue_token(session, user, now=now, ttl=DEMO_TOKEN_TTL)
    return DemoCredential(
        email=email,
        role=role,
        society=society.code,
        password=password,
        token=issued.token,
        actor=issued.actor,
    )


def seed_demo_records_once(
    session: Session, crypto: Crypto, credentials: list[DemoCredential], *, now: datetime, audit: AuditSink
) -> tuple[int, int]:
    """Create the demo records on the first run only; returns how many were created (0, 0 later)."""
    if session.scalar(sa.select(sa.func.count()).select_from(TracingRequest)):
        return 0, 0
    caseworkers = {c.society: c.actor for c in credentials if c.role is Role.CASEWORKER}
    return seed_demo_records(
        session,
        crypto,
        families=[caseworkers[code] for code in FAMILY_SOCIETIES],
        registrars=[caseworkers[code] for code in REGISTERING_SOCIETIES],
        now=now,
        audit=audit,
    )


@dataclass(frozen=True)
class ExampleMatch:
    id: uuid.UUID
    proposed: int


def example_match(session: Session, credentials: list[DemoCredential]) -> ExampleMatch | None:
    """The most probable proposed pair a German tracing officer reviews, to show the workflow with."""
    germany = next(c.actor.society_id for c in credentials if c.society == "DE")
    proposed = sa.select(MatchCandidate).where(MatchCandidate.status == MatchStatus.PROPOSED)
    count = session.scalar(sa.select(sa.func.count()).select_from(proposed.subquery())) or 0
    best = session.scalar(
        proposed.where(MatchCandidate.request_society_id == germany)
        .order_by(MatchCandidate.match_probability.desc(), MatchCandidate.id)
        .limit(1)
    )
    return None if best is None else ExampleMatch(best.id, count)


def print_next_steps(
    credentials: list[DemoCredential],
    created: tuple[int, int],
    example: ExampleMatch | None,
    *,
    base: str,
    echo: Callable[[str], None],
) -> None:
    """What to try next, with commands that work against the seeded data."""
    requests, sightings = created
    if requests:
        echo(f"Created {requests} tracing requests (DE, SE) and {sightings} sightings (IT, GR).")
    echo("Demo users (passwords and tokens are new on every run; earlier demo tokens are revoked):")
    for line in credentials:
        echo(f"  {line}")
    italy = next(c.token for c in credentials if c.society == "IT" and c.role is Role.CASEWORKER)
    auth = f'-H "Authorization: Bearer {italy}"'
    json = '-H "Content-Type: application/json"'
    echo(f"\nAPI: {base}/api/v1   docs: {base}/api/docs")
    echo("Try, as the Italian caseworker:")
    echo(f'  curl {auth} "{base}/api/v1/sightings?limit=5"                 # your cases, with names')
    echo(f'  curl {auth} {json} -d \'{{"q": "Abdulrahman Haddad"}}\' {base}/api/v1/sightings/search')
    echo(f"  curl {auth} {base}/api/v1/sightings/<an id from either answer>   # the whole record")
    if example is None:
        echo("\nNo match candidates yet: `.venv/bin/rfl match drain` proposes for records waiting.")
        return
    officer = next(c.token for c in credentials if c.society == "DE" and c.role is Role.TRACING_OFFICER)
    review = f'-H "Authorization: Bearer {officer}"'
    echo(f"\n{example.proposed} match candidates are proposed. Review one as the German tracing officer:")
    echo(
        f'  curl {review} "{base}/api/v1/matches?status=proposed&limit=5"   # the queue, most probable first'
    )
    echo(f"  curl {review} {base}/api/v1/matches/{example.id}   # explained, both persons side by side")
    echo(
        f'  curl {review} {json} -d \'{{"note": "same father and birth year"}}\' '
        f"{base}/api/v1/matches/{example.id}/confirm   # or /reject with a reason"
    )
