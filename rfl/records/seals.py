"""Sealed protection and status columns: a record's rules cannot be lifted with one UPDATE.

A tracing request's ``minor`` and ``flagged_minor``, and a sighting's ``minor``, ``flagged_minor``,
``deceased``, ``no_cross_border`` and ``exclude`` stay plain columns (lists, queues and reports filter on
them), but each row carries a seal: a keyed MAC (``privacy.RowSealer``, under the owning society's
ring) over those columns, its owning society, its table and its id. Whoever writes the database without
the society's keys can change the columns, not make a matching seal.

Every path that decides with these columns reads them through ``Seals.protection``: when the seal holds,
the stored values; when it does not (a changed value, a row moved to another society, a seal copied
from another row, or no seal at all), the most restrictive values: minor and deceased (so every decision
needs a second officer and a guardian's consent), no cross-border visibility, and visible only to its
own society outside any tracing request (no search, match or disclosure made for a request sees it).
The failure is logged and audited (``<type>.seal_invalid``, outcome ``failed``) once per record and
operation; ``rfl check`` lists the failing ids.

A row with no seal (registered before seals were kept) is treated exactly like a broken one, never as
unrestricted: ``rfl records seal`` seals such rows once, from their current values, after the upgrade.
SQL filters (``restrictions.visible_condition``) still run on the plain columns so hidden rows never crowd
out visible ones; the records they let through are checked here before anything is shown.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import SealValue
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.crypto import Crypto
from rfl.identity import Actor
from rfl.records.models import RecordMixin, Sighting, TracingRequest

log = logging.getLogger(__name__)

SEALED_MODELS: tuple[type[RecordMixin], ...] = (TracingRequest, Sighting)
# Each sealed model's table (bound into its seals) and its object type (in audit entries).
_NAMES: dict[type[RecordMixin], tuple[str, str]] = {
    TracingRequest: (TracingRequest.__tablename__, "tracing_request"),
    Sighting: (Sighting.__tablename__, "sighting"),
}


# A record as its seal is checked: an ORM record, or a row of its columns read without the ORM (a search
# reads hundreds, and building ORM objects was half of reading them) with the model it is a row of.
Readable = RecordMixin | sa.Row[Any]


def _model_of(record: Readable, model: type[RecordMixin] | None) -> type[RecordMixin]:
    if model is not None:
        return model
    if isinstance(record, sa.Row):
        raise TypeError("a row is checked with the model it is a row of")
    return type(record)


def _as_sighting(record: Readable, model: type[RecordMixin] | None) -> Sighting | None:
    """The record, read as a sighting (a row of a sighting's columns reads the same), or None."""
    return cast(Sighting, record) if issubclass(_model_of(record, model), Sighting) else None


@dataclass(frozen=True)
class Protection:
    """A record's protection and status as the rules read them (the stored values only if sealed)."""

    intact: bool
    minor: bool
    flagged_minor: bool
    deceased: bool
    no_cross_border: bool
    exclude: tuple[str, ...]


def object_type(model: type[RecordMixin]) -> str:
    """The object type of a sealed model, as audit entries and ``rfl check`` name it."""
    return _NAMES[model][1]


def sealed_columns(record: Readable, model: type[RecordMixin] | None = None) -> dict[str, SealValue]:
    """What a record's seal covers: its owner and its protection and status columns."""
    columns: dict[str, SealValue] = {
        "society_id": str(record.society_id),
        "minor": bool(record.minor),
        "flagged_minor": bool(record.flagged_minor),
    }
    sighting = _as_sighting(record, model)
    if sighting is not None:
        columns |= {
            "deceased": bool(sighting.deceased),
            "no_cross_border": bool(sighting.no_cross_border),
            "exclude": list(sighting.exclude or ()),
        }
    return columns


def seal(crypto: Crypto, record: RecordMixin) -> None:
    """Seal the record's current protection and status columns (after every write of them)."""
    record.seal = seal_of(crypto, record)


def seal_of(crypto: Crypto, record: RecordMixin) -> bytes:
    table, _ = _NAMES[type(record)]
    return crypto.sealer(record.society_id).seal(table, str(record.id), sealed_columns(record))


def seal_holds(crypto: Crypto, record: Readable, model: type[RecordMixin] | None = None) -> bool:
    """Whether the stored seal is the seal of the stored columns (False when there is none)."""
    model = _model_of(record, model)
    table, _ = _NAMES[model]
    columns = sealed_columns(record, model)
    return crypto.sealer(record.society_id).verify(table, str(record.id), columns, record.seal)


def stored(record: Readable, model: type[RecordMixin] | None = None) -> Protection:
    sighting = _as_sighting(record, model)
    return Protection(
        intact=True,
        minor=bool(record.minor),
        flagged_minor=bool(record.flagged_minor),
        deceased=sighting is not None and bool(sighting.deceased),
        no_cross_border=sighting is not None and bool(sighting.no_cross_border),
        exclude=tuple(sighting.exclude or ()) if sighting is not None else (),
    )


def most_restrictive(record: Readable, model: type[RecordMixin] | None = None) -> Protection:
    """What a record whose seal fails is taken to be: the stored exclusions are kept (they can only
    add to the protection), everything else at its most protective."""
    sighting = _as_sighting(record, model)
    exclude = tuple(sighting.exclude or ()) if sighting is not None else ()
    return Protection(
        intact=False, minor=True, flagged_minor=True, deceased=True, no_cross_border=True, exclude=exclude
    )


class Seals:
    """Seal checks for one operation: each record is verified once, and a failure logged and audited
    once, for the record's own society.
    """

    def __init__(self, crypto: Crypto, audit: AuditSink, actor: Actor | None = None) -> None:
        self._crypto = crypto
        self._audit = audit
        self._actor = actor
        self._checked: dict[tuple[str, uuid.UUID], Protection] = {}

    def protection(self, record: Readable, model: type[RecordMixin] | None = None) -> Protection:
        """``record``'s protection as its seal gives it (``model``: what a row read without the ORM
        is a row of)."""
        model = _model_of(record, model)
        table, object_type = _NAMES[model]
        key = (table, record.id)
        known = self._checked.get(key)
        if known is not None:
            return known
        if seal_holds(self._crypto, record, model):
            found = stored(record, model)
        else:
            found = most_restrictive(record, model)
            log.error("record_seal_mismatch", extra={"record_type": object_type, "record_id": str(record.id)})
            self._audit(
                AuditEntry(
                    Action.on(object_type, "seal_invalid"),
                    outcome=Outcome.FAILED,
                    actor=self._actor,
                    owner_society_id=record.society_id,
                    object_type=object_type,
                    object_id=str(record.id),
                )
            )
        self._checked[key] = found
        return found


# --- backfill and check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SealBatch:
    sealed: int
    # The last record looked at, to go on after; None when there was nothing left.
    last_id: uuid.UUID | None


def seal_unsealed(
    session: Session,
    crypto: Crypto,
    model: type[RecordMixin],
    *,
    after: uuid.UUID | None,
    limit: int,
    audit: AuditSink,
) -> SealBatch:
    """Seal up to ``limit`` records of ``model`` that have no seal yet (in id order after ``after``),
    from their current column values; each is audited. Records with a seal, broken or not, are left
    as they are: a broken seal is repaired only by its owner's edit, never by a batch."""
    statement = sa.select(model).where(model.seal.is_(None)).order_by(model.id).limit(limit)
    if after is not None:
        statement = statement.where(model.id > after)
    records = session.scalars(statement).all()
    _, object_type = _NAMES[model]
    for record in records:
        # A plain UPDATE of the seal alone: no value the owner edits changed, so neither the version
        # (clients' ETags) nor updated_at move.
        session.execute(
            sa.update(model)
            .where(model.id == record.id, model.seal.is_(None))
            .values(seal=seal_of(crypto, record), updated_at=record.updated_at)
            .execution_options(synchronize_session=False)
        )
        audit(
            AuditEntry(
                Action.on(object_type, "seal"),
                owner_society_id=record.society_id,
                object_type=object_type,
                object_id=str(record.id),
                fields=tuple(sorted(sealed_columns(record))),
            )
        )
    return SealBatch(len(records), records[-1].id if records else None)


def broken_seals(
    session: Session, crypto: Crypto, model: type[RecordMixin], *, batch: int
) -> Iterator[uuid.UUID]:
    """The ids of the records of ``model`` whose seal does not hold (missing seals included)."""
    after: uuid.UUID | None = None
    while True:
        statement = sa.select(model).order_by(model.id).limit(batch)
        if after is not None:
            statement = statement.where(model.id > after)
        records = session.scalars(statement).all()
        if not records:
            return
        for record in records:
            if not seal_holds(crypto, record):
                yield record.id
        after = records[-1].id
        session.expunge_all()
