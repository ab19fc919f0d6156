"""Who acts and for which organisation: the ``Actor`` every service takes, roles, and society look-ups.

Every area's services may use this module (and only it) to know about users and societies, so no area
imports another's internals for that.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, Session

from rfl.accounts.models import Role, Society, SocietyType, User

__all__ = [
    "Actor",
    "Role",
    "is_central_tracing_agency",
    "society_codes",
    "society_id_by_code",
    "society_ids_by_code",
    "user_id_by_email",
]


@dataclass(frozen=True)
class Actor:
    """The authenticated user on whose behalf a service acts."""

    user_id: uuid.UUID
    society_id: uuid.UUID
    society_code: str
    role: Role
    token_id: uuid.UUID | None = None


def society_codes(session: Session, ids: Iterable[uuid.UUID] | None = None) -> dict[uuid.UUID, str]:
    """Codes of the given societies (of every society when ``ids`` is None), by id."""
    statement = sa.select(Society.id, Society.code)
    if ids is not None:
        statement = statement.where(Society.id.in_(list(ids)))
    return {row.id: row.code for row in session.execute(statement)}


def societies_holding(session: Session, owner: QueryableAttribute[uuid.UUID]) -> list[uuid.UUID]:
    """Ids of the societies that own at least one row of a table (``owner``: its indexed society
    column): an index probe per society, where a DISTINCT over the rows read them all (18 ms a
    proposal at 100k sightings on PostgreSQL)."""
    owns_one = sa.exists().where(owner == Society.id)
    return list(session.scalars(sa.select(Society.id).where(owns_one).order_by(Society.id)))


def society_ids_by_code(session: Session, codes: Iterable[str]) -> dict[str, uuid.UUID]:
    """Ids of the societies with these codes; unknown codes are absent from the answer."""
    wanted = [code.strip().upper() for code in codes]
    statement = sa.select(Society.code, Society.id).where(Society.code.in_(wanted))
    return {row.code: row.id for row in session.execute(statement)}


def society_id_by_code(session: Session, code: str) -> uuid.UUID | None:
    """The id of the society with this code (in any case), None when there is none: a filter by an
    unknown code then matches nothing."""
    return society_ids_by_code(session, [code]).get(code.strip().upper())


def is_central_tracing_agency(session: Session, society_id: uuid.UUID) -> bool:
    """Whether the society is the ICRC's Central Tracing Agency (it sees across the network)."""
    kind = session.scalar(sa.select(Society.type).where(Society.id == society_id))
    return kind is SocietyType.CENTRAL_TRACING_AGENCY


def user_id_by_email(session: Session, email: str, *, society_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the society's user with this email (None when the society has no such user)."""
    statement = sa.select(User.id).where(User.email == email.strip().lower(), User.society_id == society_id)
    return session.scalar(statement)
