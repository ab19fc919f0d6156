"""Accounts: societies, users, login and API tokens. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rfl.accounts.limits import LoginThrottle
from rfl.accounts.models import ApiToken, Role, Society, SocietyType, User
from rfl.accounts.passwords import Passwords, password_problems
from rfl.accounts.throttle import Hit, Recorded, Throttle
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationFailed,
)
from rfl.identity import Actor
from rfl.pagination import Page, paginate

TOKEN_PREFIX = "rfl_"  # noqa: S105 (a public prefix that makes leaked tokens easy to scan for)  # nosec B105
TOKEN_BYTES = 32  # 256 random bits
USER_FIELDS = ("email", "name", "role", "password")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    actor: Actor


# --- societies ------------------------------------------------------------------------------------


class KeyRings(Protocol):
    def add_ring(self, ring_id: str) -> None: ...


def create_society(
    session: Session,
    key_rings: KeyRings,
    *,
    code: str,
    name: str,
    type: SocietyType,
    country: str | None,
    audit: AuditSink,
    actor: Actor | None = None,
) -> Society:
    """Create a society and its own key ring, under which its records' data keys are wrapped.

    Societies are created by operators on the command line (``actor`` None) or by the demo.
    """
    errors = _society_problems(code, name, type, country)
    if errors:
        raise ValidationFailed(errors)
    code = code.strip().upper()
    if session.scalar(sa.select(Society.id).where(Society.code == code)) is not None:
        raise Conflict("A society with this code already exists.")
    society = Society(code=code, name=name.strip(), type=type, country=country.upper() if country else None)
    session.add(society)
    session.flush()
    key_rings.add_ring(str(society.id))
    audit(
        AuditEntry(
            Action.SOCIETY_CREATE,
            actor=actor,
            owner_society_id=society.id,
            object_type="society",
            object_id=str(society.id),
            fields=("code", "name", "type", "country"),
        )
    )
    return society


def _society_problems(code: str, name: str, type: SocietyType, country: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not code.strip() or len(code.strip()) > 16 or not all(c.isalnum() or c == "-" for c in code.strip()):
        errors["code"] = ["Must be 1 to 16 letters, digits or hyphens."]
    if not name.strip() or len(name) > 200:
        errors["name"] = ["Must be 1 to 200 characters."]
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        errors["country"] = ["Must be an ISO 3166-1 alpha-2 code."]
    if type is SocietyType.NATIONAL_SOCIETY and country is None:
        errors["country"] = ["A national society has a country."]
    return errors


def get_society_by_code(session: Session, code: str) -> Society:
    society = session.scalar(sa.select(Society).where(Society.code == code.strip().upper()))
    if society is None:
        raise NotFound("No society has this code.")
    return society


# --- users ----------------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    passwords: Passwords,
    *,
    society: Society,
    email: str,
    name: str,
    role: Role,
    password: str,
    audit: AuditSink,
    actor: Actor | None = None,
) -> User:
    """Create a user in ``society``. Authorisation is the caller's: an admin's is checked by
    ``create_user_as``; an operator on the command line (``actor`` None) may create any user."""
    problems = password_problems(password)
    if problems:
        raise ValidationFailed({"password": problems})
    user = User(
        society=society,
        email=normalise_email(email),
        name=name.strip(),
        role=role,
        password_hash=passwords.hash(password),
        active=True,
    )
    session.add(user)
    # Unique within the society only: another society's users are never revealed (issue 9.10).
    _flush_unique(session, "A user of this society already has this email.")
    audit(_user_event(Action.USER_CREATE, actor, user.id, society.id, USER_FIELDS))
    return user


def create_user_as(
    session: Session,
    passwords: Passwords,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    society_code: str | None = None,
    audit: AuditSink,
) -> User:
    """An admin creates a user, only ever in the admin's own society."""
    _require_admin(actor, Action.USER_CREATE, audit)
    if society_code is not None and society_code.strip().upper() != actor.society_code:
        audit(_user_event(Action.USER_CREATE, actor, None, actor.society_id, outcome=Outcome.DENIED))
        raise PermissionDenied("Admins create users only in their own society.")
    society = session.get_one(Society, actor.society_id)
    return create_user(
        session,
        passwords,
        society=society,
        email=email,
        name=name,
        role=role,
        password=password,
        audit=audit,
        actor=actor,
    )


def get_user_as(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    audit: AuditSink,
    purpose: Action = Action.USER_READ,
) -> User:
    """A user of the actor's own society; any other answers NotFound, as if it did not exist.

    A miss is audited (as ``purpose``: a user looked up in order to change it is refused as an update)
    whether the id is unknown or another society's, so both take the same path.
    """
    user = session.get(User, user_id)
    if user is None or user.society_id != actor.society_id:
        owner = None if user is None else user.society_id
        audit(_user_event(purpose, actor, user_id, owner, outcome=Outcome.DENIED))
        raise NotFound("No such user.")
    return user


def list_users_as(
    session: Session, actor: Actor, *, limit: int, cursor: str | None, audit: AuditSink
) -> Page[User]:
    _require_admin(actor, Action.USER_READ, audit)
    statement = sa.select(User).where(User.society_id == actor.society_id)
    return paginate(session, statement, order_by=(User.created_at, User.id), limit=limit, cursor=cursor)


EDITABLE_USER_FIELDS = frozenset({"name", "role", "active"})


def update_user_as(
    session: Session, actor: Actor, user: User, document: Mapping[str, Any], *, audit: AuditSink
) -> User:
    """Give ``user`` the editable fields of ``document`` (the validated result of a merge patch)."""
    _require_admin(actor, Action.USER_UPDATE, audit)
    unknown = set(document) - EDITABLE_USER_FIELDS
    if unknown:
        raise ValidationFailed({name: ["This field cannot be changed."] for name in sorted(unknown)})
    changes = {name: value for name, value in document.items() if getattr(user, name) != value}
    if user.id == actor.user_id and (
        changes.get("active") is False or changes.get("role", Role.ADMIN) != Role.ADMIN
    ):
        # An admin who demotes or deactivates themself may leave the society with no admin at all.
        raise Conflict("Admins cannot demote or deactivate themselves.")
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("active") is False:
        _revoke_all_tokens(session, user)
    session.flush()
    audit(_user_event(Action.USER_UPDATE, actor, user.id, user.society_id, tuple(changes)))
    return user


def _user_event(
    action: Action,
    actor: Actor | None,
    user_id: uuid.UUID | None,
    society_id: uuid.UUID | None,
    fields: tuple[str, ...] = (),
    *,
    outcome: Outcome = Outcome.OK,
) -> AuditEntry:
    return AuditEntry(
        action,
        outcome=outcome,
        actor=actor,
        owner_society_id=society_id,
        object_type="user",
        object_id=None if user_id is None else str(user_id),
        fields=fields,
    )


def _require_admin(actor: Actor, action: Action, audit: AuditSink) -> None:
    if actor.role is not Role.ADMIN:
        audit(_user_event(action, actor, None, actor.society_id, outcome=Outcome.DENIED))
        raise PermissionDenied("Only admins manage users.")


def authorize(actor: Actor, allowed: Collection[Role], *, endpoint: str | None, audit: AuditSink) -> None:
    """Refuse (and audit) an actor whose role may not use ``endpoint``."""
    if actor.role not in allowed:
        audit(
            AuditEntry(
                Action.ACCESS_DENIED,
                outcome=Outcome.DENIED,
                actor=actor,
                object_type="endpoint",
                object_id=endpoint,
            )
        )
        raise PermissionDenied("Your role may not perform this action.")


def _flush_unique(session: Session, message: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(message) from None


# --- login and tokens -----------------------------------------------------------------------------


class Authenticator:
    """Logs users in and throttles failures, without revealing whether an email exists.

    Each attempt first reserves a failure (a hit of the login limits, ``rfl.accounts.throttle``) in a
    short transaction of its own, under a per-key lock, and only then checks the password, outside any
    transaction; a success removes the reservation. So concurrent guesses can never exceed the limit,
    and the slow Argon2 check never holds a database lock.
    """

    def __init__(
        self,
        passwords: Passwords,
        throttle: LoginThrottle,
        *,
        secret_key: str,
        token_ttl: timedelta,
        independent_transaction: Callable[[], AbstractContextManager[Session]],
        delay_answer: Callable[[float], None],
    ) -> None:
        self._passwords = passwords
        self._throttle = throttle
        self._limiter = Throttle(secret_key=secret_key)
        self._token_ttl = token_ttl
        # Reservations must be committed before the password check and survive a failed request.
        self._independent_transaction = independent_transaction
        # Slows the failed answer; the caller waits only after the transaction ended (no lock held).
        self._delay_answer = delay_answer

    def login(
        self,
        session: Session,
        *,
        email: str,
        password: str,
        client_address: str,
        now: datetime,
        audit: AuditSink,
        society_code: str | None = None,
    ) -> IssuedToken:
        """Log in the one account ``email`` (and ``society_code``, when given) names. An email held by
        accounts in several societies names none without its society: the answer is the same 401 as a
        wrong password, after the same password check, so a caller learns nothing it did not know."""
        email_hit = Hit(self._throttle.per_email, self._limiter.key("login-email", normalise_email(email)))
        client_hit = Hit(self._throttle.per_client, self._limiter.key("login-client", client_address))
        try:
            user_id, stored_hash, active, reserved = self._reserve_attempt(
                email, society_code, email_hit, client_hit, now
            )
        except TooManyAttempts:
            audit(AuditEntry(Action.AUTH_LOGIN, outcome=Outcome.DENIED))
            raise
        if not (self._passwords.verify(stored_hash, password) and active):
            self._delay_answer(
                min(
                    self._throttle.max_delay_seconds,
                    self._throttle.delay_step_seconds * (reserved.earlier[0] + 1),
                )
            )
            # No email in the entry: whatever was typed may be someone else's address, or a password.
            audit(AuditEntry(Action.AUTH_LOGIN, outcome=Outcome.FAILED))
            raise AuthenticationRequired("The email or password is wrong.")
        user = session.get_one(User, user_id)
        if self._passwords.needs_rehash(user.password_hash):
            user.password_hash = self._passwords.hash(password)
        # A success is no failure: the email's failures are forgiven, this attempt's reservation dropped.
        self._limiter.clear(session, email_hit)
        self._limiter.forget(session, reserved)
        issued = issue_token(session, user, now=now, ttl=self._token_ttl)
        audit(_user_event(Action.AUTH_LOGIN, issued.actor, user.id, user.society_id))
        return issued

    def _reserve_attempt(
        self, email: str, society_code: str | None, email_hit: Hit, client_hit: Hit, now: datetime
    ) -> tuple[uuid.UUID | None, str | None, bool, Recorded]:
        """Refuse a locked email or address, else count this attempt as a failure until it succeeds.

        Returns the account's id and stored password hash (None for an email that names no single
        account), whether the user is active, and the reservation (how many failures the email and the
        address had before). Failures are counted per email, whatever society is given.
        """
        with self._independent_transaction() as reservation:
            try:
                reserved = self._limiter.hit(reservation, [email_hit, client_hit], now=now)
            except TooManyAttempts as refused:
                raise TooManyAttempts(
                    "Too many failed logins; try again later.", refused.retry_after_seconds
                ) from None
            accounts = sa.select(User.id, User.password_hash, User.active).where(
                User.email == normalise_email(email)
            )
            if society_code is not None:
                accounts = accounts.join(Society, Society.id == User.society_id).where(
                    Society.code == society_code.strip().upper()
                )
            rows = reservation.execute(accounts.limit(2)).all()
        if len(rows) != 1:  # no account, or several in different societies and none named
            return None, None, False, reserved
        [row] = rows
        return row.id, row.password_hash, row.active, reserved


def hash_token(token: str) -> bytes:
    # A plain hash suffices: the token has 256 random bits, so nothing can be guessed from its digest.
    return hashlib.sha256(token.encode()).digest()


def issue_token(session: Session, user: User, *, now: datetime, ttl: timedelta) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    record = ApiToken(user=user, token_hash=hash_token(token), expires_at=now + ttl)
    session.add(record)
    session.flush()
    return IssuedToken(token=token, expires_at=record.expires_at, actor=actor_of(user, token_id=record.id))


def actor_of(user: User, *, token_id: uuid.UUID | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        society_id=user.society_id,
        society_code=user.society.code,
        role=user.role,
        token_id=token_id,
    )


def authenticate_token(session: Session, token: str, *, now: datetime) -> Actor:
    record = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if record is None or record.revoked_at is not None or record.expires_at <= now or not record.user.active:
        raise AuthenticationRequired("The token is invalid, expired or revoked.")
    return actor_of(record.user, token_id=record.id)


def revoke_token(session: Session, actor: Actor, *, now: datetime, audit: AuditSink) -> None:
    if actor.token_id is None:
        return
    record = session.get_one(ApiToken, actor.token_id)
    record.revoked_at = now
    session.flush()
    audit(_user_event(Action.AUTH_LOGOUT, actor, actor.user_id, actor.society_id))


def _revoke_all_tokens(session: Session, user: User) -> None:
    session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))
