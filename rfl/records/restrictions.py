"""Rule 10, decided in one place: whether a sighting's protection restrictions let someone see it.

A sighting may carry ``no_cross_border`` (only its own society ever sees it, in search and review: its
pairs with other societies' requests are proposed and shown to it alone) and ``exclude`` (society codes
and tracing-request ids that must never see it, nor be paired with it). Who looks is a
``Viewer``: an officer's society and, where the look is made on behalf of a tracing request (a search
for that request, a match proposed for it), that request. Its own society always sees a sighting.
The same rule is offered as a Python predicate and as a SQL condition, so lists and queues filter in
the database and never let hidden records crowd out visible ones. The SQL condition reads the plain
columns; the predicate reads them through the sighting's seal (``rfl.records.seals``), so whatever a
query lets through is checked against the seal before it is shown.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from rfl.records.models import EXCLUDES_NOBODY, Sighting
from rfl.records.seals import Protection


class Owned(Protocol):
    """A sighting as rule 10 reads it (its protection comes apart, through its seal)."""

    @property
    def society_id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class Viewer:
    society_id: uuid.UUID
    society_code: str
    tracing_request_id: uuid.UUID | None = None

    def exclusion_entries(self) -> list[str]:
        """The ``exclude`` entries that name this viewer: its society code, and its request's id."""
        entries = [self.society_code]
        if self.tracing_request_id is not None:
            entries.append(str(self.tracing_request_id))
        return entries


def visible_to(sighting: Owned, viewer: Viewer, protection: Protection) -> bool:
    """Whether rule 10 lets ``viewer`` see ``sighting`` at all. ``protection`` is the sighting's
    ``Seals.protection``: a sighting whose seal fails is seen by its own society only, and never on
    behalf of a tracing request."""
    # the cheaper test first: proposing asks this of hundreds of sightings for each request
    if viewer.tracing_request_id is None and sighting.society_id == viewer.society_id:
        return True
    if seen_by_everyone(protection):  # most sightings
        return True
    if not protection.intact:
        return False
    if protection.no_cross_border and sighting.society_id != viewer.society_id:
        return False
    return not _excludes(protection, viewer)


def pairable(sighting: Owned, request: Viewer, protection: Protection) -> bool:
    """Whether rule 10 lets the sighting be a candidate of a tracing request (``request``: its society,
    code and id): sealed and not excluded. A ``no_cross_border`` sighting is paired across borders too,
    the pair reviewed by the sighting's society alone (``visible_to`` hides it from the request's):
    the rule keeps its matches to its own society, not from it, and that society is who must learn
    that a family abroad is looking."""
    if seen_by_everyone(protection):
        return True
    return protection.intact and not _excludes(protection, request)


def _excludes(protection: Protection, viewer: Viewer) -> bool:
    return bool(set(viewer.exclusion_entries()) & {canonical_entry(entry) for entry in protection.exclude})


def seen_by_everyone(protection: Protection) -> bool:
    """Whether rule 10 lets every viewer see a sighting: sealed, crossing borders, excluding no one. A
    job proposing for many requests reads it once a sighting (``Head.unrestricted``), not per pair."""
    return protection.intact and not protection.no_cross_border and not protection.exclude


def canonical_entry(entry: str) -> str:
    """An ``exclude`` entry as it is compared: a tracing-request id in canonical form, a society code in
    upper case (entries are stored so since they are checked on write; older ones may not be)."""
    try:
        return str(uuid.UUID(entry))
    except ValueError:
        return entry.strip().upper()


@functools.cache
def visible_condition(dialect: str, *, on_behalf: bool) -> sa.ColumnElement[bool]:
    """``visible_to`` as a SQL condition on ``Sighting`` (``dialect``: the session's dialect name) for
    a viewer looking on behalf of a request or not, the viewer given when executed as the parameters
    ``viewer_parameters`` names: a statement built around it once is executed for every viewer
    (building a search's statement anew cost more CPU than running it)."""
    society = sa.bindparam("viewer_society", type_=Sighting.society_id.type)
    crosses_allowed = sa.or_(Sighting.society_id == society, Sighting.no_cross_border.is_(False))
    # Most sightings exclude nobody: only a list holding entries is parsed as JSON (parsing it on every
    # row of a search or queue was most of the condition's cost).
    entries = 2 if on_behalf else 1  # the viewer's society code, and the request's id
    names = [f"viewer_exclusion_{n}" for n in range(entries)]
    if dialect == "postgresql":  # a list holding the entry is contained in the list
        excluded = [
            sa.cast(Sighting.exclude, postgresql.JSONB).contains(sa.bindparam(name, type_=postgresql.JSONB))
            for name in names
        ]
    else:
        members = sa.func.json_each(Sighting.exclude).table_valued("value")
        excluded = [
            sa.exists(sa.select(1).select_from(members).where(members.c.value == sa.bindparam(name)))
            for name in names
        ]
    allowed = sa.and_(crosses_allowed, sa.or_(EXCLUDES_NOBODY, sa.not_(sa.or_(*excluded))))
    if not on_behalf:
        return sa.or_(Sighting.society_id == society, allowed)
    return allowed


def viewer_parameters(dialect: str, viewer: Viewer) -> dict[str, Any]:
    """The values of ``visible_condition``'s parameters for ``viewer``."""
    entries = viewer.exclusion_entries()
    return {"viewer_society": viewer.society_id} | {
        f"viewer_exclusion_{n}": [entry] if dialect == "postgresql" else entry
        for n, entry in enumerate(entries)
    }
