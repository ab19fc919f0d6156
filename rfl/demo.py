"""Demo data for the README's run command, created through the same services as real data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rfl.accounts import services as accounts
from rfl.accounts.models import Role, Society, SocietyType, User
from rfl.accounts.passwords import Passwords
from rfl.audit.recorder import append_now
from rfl.audit.services import AuditEntry
from rfl.demo_records import seed_demo_records
from rfl.records.models import TracingRequest
from rfl.records.services import Crypto

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
    actor: accounts.Actor

    def __str__(self) -> str:
        person = f"{self.society:<9} {self.role.value:<16} {self.email:<34}"
        return f"{person} password={self.password}  token={self.token}"


def seed_demo(
    session: Session, passwords: Passwords, key_rings: accounts.KeyRings, *, now: datetime
) -> list[DemoCredential]:
    """Create the demo societies and one user per role in each (idempotent; passwords are reset)."""
    credentials = []
    for code, name, society_type, country in DEMO_SOCIETIES:
        society = session.scalar(sa.select(Society).where(Society.code == code)) or accounts.create_society(
            session, key_rings, code=code, name=name, type=society_type, country=country
        )
        for role in Role:
            credentials.append(_demo_user(session, passwords, society, role, now))
    return credentials


def _demo_user(
    session: Session, passwords: Passwords, society: Society, role: Role, now: datetime
) -> DemoCredential:
    email = f"{role.value.replace('_', '-')}@{society.code.lower()}.demo.rfl"
    password = secrets.token_urlsafe(12)
    user = session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        name = f"Demo {role.value.replace('_', ' ')} ({society.code})"
        user = accounts.create_user(
            session, passwords, society=society, email=email, name=name, role=role, password=password
        )
    else:
        user.password_hash = passwords.hash(password)
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
    session: Session, crypto: Crypto, credentials: list[DemoCredential], *, now: datetime
) -> tuple[int, int]:
    """Create the demo records on the first run only; returns how many were created (0, 0 later)."""
    if session.scalar(sa.select(sa.func.count()).select_from(TracingRequest)):
        return 0, 0
    caseworkers = {c.society: c.actor for c in credentials if c.role is Role.CASEWORKER}
    entries: list[AuditEntry] = []
    created = seed_demo_records(
        session,
        crypto,
        families=[caseworkers[code] for code in FAMILY_SOCIETIES],
        registrars=[caseworkers[code] for code in REGISTERING_SOCIETIES],
        now=now,
        audit=entries.append,
    )
    append_now(session, entries)
    return created
