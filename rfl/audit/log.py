"""The log itself: canonical entries, ordered appends and signed tree heads (what auditors ask of it:
``rfl.audit.services``; proofs: ``rfl.audit.proofs``; verification: ``rfl.audit.verification``).

Order: entries are appended inside the transaction of the action they record, under a lock that
serialises appenders (a PostgreSQL transaction-level advisory lock; SQLite transactions are already
serialised, see ``rfl.db``). The next index is read under that lock, so concurrent requests can never
give two entries the same index or leave a gap: the tree never forks, and an entry is in the tree
exactly when its action committed. The primary key on ``seq`` backs this up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import (
    Checkpoint,
    CheckpointSigner,
    CompactRange,
    JsonValue,
    canonical_entry,
    leaf_hash,
    sign_checkpoint,
)
from rfl.audit import checkpoints
from rfl.audit.entries import AuditEntry
from rfl.audit.models import AuditCheckpoint, AuditEvent, AuditEventObject

# An arbitrary constant naming the audit log's advisory lock on PostgreSQL.
AUDIT_LOCK_KEY = 0x52464C_4155_4454
# A checkpoint is signed automatically whenever the log crosses a multiple of this size.
CHECKPOINT_INTERVAL = 256


class EntryColumns(NamedTuple):
    """The columns an entry's leaf hash covers, as plain values: a new entry's before it is inserted,
    or a stored one's as read back for verification (ids then in their text form)."""

    seq: int
    id: uuid.UUID | str
    occurred_at: datetime
    actor_user_id: uuid.UUID | str | None
    actor_society_id: uuid.UUID | str | None
    owner_society_id: uuid.UUID | str | None
    action: str
    outcome: str
    object_type: str | None
    object_id: str | None
    fields: list[str]
    request_id: str | None
    object_ids: list[str] | None


class EntryContent(Protocol):
    """The columns of an entry that its leaf hash covers: an ``AuditEvent``, or the same values read
    directly from the database (ids may then be given in their text form)."""

    @property
    def seq(self) -> int: ...
    @property
    def id(self) -> uuid.UUID | str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def actor_user_id(self) -> uuid.UUID | str | None: ...
    @property
    def actor_society_id(self) -> uuid.UUID | str | None: ...
    @property
    def owner_society_id(self) -> uuid.UUID | str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def object_type(self) -> str | None: ...
    @property
    def object_id(self) -> str | None: ...
    @property
    def fields(self) -> list[str]: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def object_ids(self) -> list[str] | None: ...


def canonical_form(event: EntryContent) -> bytes:
    """The bytes whose leaf hash enters the tree: every column but the hash itself."""
    return canonical_entry(entry_document(event))


def entry_document(event: EntryContent) -> dict[str, JsonValue]:
    """An entry as the document its canonical form encodes (exports carry it for offline checks)."""
    actor_user, actor_society, owner = event.actor_user_id, event.actor_society_id, event.owner_society_id
    document: dict[str, JsonValue] = {
        "seq": event.seq,
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": None if actor_user is None else str(actor_user),
        "actor_society_id": None if actor_society is None else str(actor_society),
        "owner_society_id": None if owner is None else str(owner),
        "action": event.action,
        "outcome": event.outcome,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "fields": list(event.fields),
        "request_id": event.request_id,
    }
    if event.object_ids:  # only entries about several objects have them: older leaves keep their form
        document["object_ids"] = list(event.object_ids)
    return document


def visible_to(society_id: uuid.UUID | None) -> sa.ColumnElement[bool]:
    """The entries a society sees: those about its own objects (whoever acted), and those about no
    society's object that its own users caused. Entries about another society's objects stay with that
    society: even that a record exists, or that a restriction hid it, is that society's to know. An
    entry about several societies' objects (a search's results) is also seen by each of them."""
    return sa.or_(
        AuditEvent.owner_society_id == society_id,
        sa.and_(AuditEvent.owner_society_id.is_(None), AuditEvent.actor_society_id == society_id),
        AuditEvent.seq.in_(sa.select(AuditEventObject.seq).where(AuditEventObject.society_id == society_id)),
    )


def about_object(object_id: str) -> sa.ColumnElement[bool]:
    """The entries about ``object_id``: as their object, or among their further objects."""
    return sa.or_(
        AuditEvent.object_id == object_id,
        AuditEvent.seq.in_(sa.select(AuditEventObject.seq).where(AuditEventObject.object_id == object_id)),
    )


def shown_object_ids(
    session: Session, events: Sequence[AuditEvent], society_id: uuid.UUID
) -> dict[int, list[str]]:
    """The further objects of each of ``events`` that ``society_id`` may see listed, by entry: all of
    them for the society the entry belongs to, else only its own (another society's ids, even of
    records one search returned beside it, are that society's to know)."""
    seqs = [event.seq for event in events if event.object_ids]
    own = {
        (row.seq, row.object_id)
        for row in session.execute(
            sa.select(AuditEventObject.seq, AuditEventObject.object_id).where(
                AuditEventObject.seq.in_(seqs), AuditEventObject.society_id == society_id
            )
        )
    }
    shown: dict[int, list[str]] = {}
    for event in events:
        ids = list(event.object_ids or ())
        if (event.owner_society_id or event.actor_society_id) != society_id:
            ids = [object_id for object_id in ids if (event.seq, object_id) in own]
        shown[event.seq] = ids
    return shown


def append(
    session: Session,
    entries: Sequence[AuditEntry],
    *,
    now: datetime,
    signer: CheckpointSigner | None = None,
    origin: str = "",
) -> None:
    """Append ``entries`` in order within the session's transaction (they commit with it).

    Rows are inserted without the ORM (every request that does anything appends: building and
    flushing objects for an entry and its objects cost three times the inserts)."""
    if not entries:
        return
    lock_log(session)
    next_seq = log_size(session)
    events = [_event_row(next_seq + offset, entry, now) for offset, entry in enumerate(entries)]
    session.connection().execute(sa.insert(AuditEvent), events)
    objects = [
        {"seq": event["seq"], "object_id": ref.object_id, "society_id": ref.society_id}
        for event, entry in zip(events, entries, strict=True)
        for ref in {ref.object_id: ref for ref in entry.objects}.values()
    ]
    if objects:
        session.connection().execute(sa.insert(AuditEventObject), objects)
    new_size = next_seq + len(entries)
    if signer is not None and next_seq // CHECKPOINT_INTERVAL != new_size // CHECKPOINT_INTERVAL:
        sign_current_checkpoint(session, signer, origin=origin, now=now)


def _event_row(seq: int, entry: AuditEntry, now: datetime) -> dict[str, object]:
    event = EntryColumns(
        seq=seq,
        id=uuid.uuid4(),
        occurred_at=now,
        actor_user_id=entry.actor.user_id if entry.actor else None,
        actor_society_id=entry.actor.society_id if entry.actor else None,
        owner_society_id=entry.owner_society_id,
        action=entry.action.value,
        outcome=entry.outcome.value,
        object_type=entry.object_type,
        object_id=entry.object_id,
        fields=sorted(entry.fields),
        request_id=entry.request_id,
        object_ids=[ref.object_id for ref in entry.objects] or None,
    )
    return event._asdict() | {"leaf_hash": leaf_hash(canonical_form(event))}


def lock_log(session: Session) -> None:
    """Serialise appenders and signers of the log until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))


def log_size(session: Session) -> int:
    highest = session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    return 0 if highest is None else highest + 1


# --- checkpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head with the tree's right edge at its size, computed here or checked against the
    signature (never taken from the unsigned columns)."""

    note: str
    compact: CompactRange

    @property
    def size(self) -> int:
        return self.compact.size

    @property
    def root(self) -> bytes:
        return self.compact.root()


def extend_with_stored_leaves(session: Session, compact: CompactRange) -> None:
    """Grow ``compact`` with the stored leaf hashes of the entries after it, streamed in batches."""
    compact.extend(
        session.scalars(
            sa.select(AuditEvent.leaf_hash).where(AuditEvent.seq >= compact.size).order_by(AuditEvent.seq),
            execution_options={"yield_per": checkpoints.READ_BATCH},
        )
    )


def sign_current_checkpoint(
    session: Session, signer: CheckpointSigner, *, origin: str, now: datetime
) -> SignedHead:
    """Sign the current tree head, unless the latest trusted checkpoint already covers it.

    Starts from the latest stored checkpoint that proves itself (``checkpoints.trusted_resume_point``),
    so only entries added since are hashed, and a forged row can neither stop the log nor get an
    arbitrary root signed.
    """
    lock_log(session)
    size = log_size(session)
    compact, stored = checkpoints.trusted_resume_point(session, signer.verifier(), origin, size)
    if stored is not None and compact.size == size:
        return SignedHead(stored.note, compact)
    extend_with_stored_leaves(session, compact)
    root = compact.root()
    note = sign_checkpoint(Checkpoint(origin=origin, size=compact.size, root=root), signer)
    checkpoints.store(
        session,
        AuditCheckpoint(
            tree_size=compact.size,
            root_hash=root,
            note=note,
            created_at=now,
            compact_range=compact.to_bytes(),
        ),
    )
    return SignedHead(note, compact)
