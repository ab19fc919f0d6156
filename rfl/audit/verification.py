"""Verifying the audit log in one pass, and recording how far verification has come.

One pass: entries are read in index order, ``READ_BATCH`` rows at a time; each leaf hash is recomputed
from the entry's content and compared with the stored one (the first bad entry is named), and a compact
range grows with the recomputed leaves. Whenever its size reaches that of a stored checkpoint (or of an
exported one), its root is compared with the checkpoint's signed root, and the row's unsigned columns
with what they should hold. Time is linear in the size of the log; memory is bounded by the batch.
Run it in a read-only transaction (``db.transaction(read_only=True)``): it sees one snapshot and keeps no
writer waiting.

A verification *run* starts at entry 0 and may advance in steps (``continue_verification``, for the
API, where each request does a bounded amount of work). After each step, and after a full pass of the
CLI, the caller stores a record of the run's progress: a note signed with the checkpoint key holding the
run, its size, the tree's right edge there and the problems found so far. The next step continues from
the newest record whose signature verifies, so a forged record (the application role can insert one)
can neither skip entries nor hide problems; it is itself reported.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    CheckpointVerifier,
    CompactRange,
    PrivacyError,
    ProofError,
    canonical_entry,
    leaf_hash,
    open_note,
    sign_note,
    verify_checkpoint,
)
from rfl.audit import checkpoints
from rfl.audit.log import EntryColumns, canonical_form, log_size
from rfl.audit.models import AuditCheckpoint, AuditEvent, AuditVerification

log = logging.getLogger(__name__)

READ_BATCH = checkpoints.READ_BATCH
CHECKPOINT_BATCH = 1_000
# Problems kept by a run; later ones are only counted (a damaged log would otherwise list thousands).
MAX_PROBLEMS = 20
# The second line of a progress record's note: never a tree size, so no record passes for a checkpoint.
RECORD_KIND = "rfl audit verification v1"
# How many of the newest progress records are tried before a run starts again from entry 0.
RECORD_SCAN = 8


@dataclass
class Progress:
    """Where a run stands: entries [0, size) checked, the right edge of their tree, what was found."""

    run_id: uuid.UUID
    started_at: datetime
    compact: CompactRange
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0
    # Only the first bad entry is named: after it, every later comparison fails too.
    entries_intact: bool = True
    # The newest stored checkpoint whose row matched the recomputed tree.
    checkpoint_size: int | None = None

    @classmethod
    def fresh(cls, now: datetime) -> Progress:
        return cls(run_id=uuid.uuid4(), started_at=now, compact=CompactRange())

    @property
    def ok(self) -> bool:
        return not self.problems and not self.more_problems

    def add_problem(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def report(self) -> list[str]:
        more = [f"... and {self.more_problems} more problems"] if self.more_problems else []
        return [*self.problems, *more]


@dataclass(frozen=True)
class Verification:
    ok: bool
    # Entries [0, size) have been verified by this run; ``root`` is their tree's recomputed root.
    size: int
    root: bytes
    problems: list[str]
    # Whether the run has reached the end of the log (as it was when this step read it).
    complete: bool
    log_size: int
    started_at: datetime
    # The newest stored checkpoint (signed note) found to match the recomputed tree, if any.
    checkpoint: str | None
    progress: Progress


def verify_log(
    session: Session,
    verifier: CheckpointVerifier,
    *,
    origin: str,
    now: datetime,
    against: str | None = None,
) -> Verification:
    """Verify the whole log from entry 0 in one pass, and that it extends the exported ``against``."""
    progress = Progress.fresh(now)
    exported = _exported_checkpoint(against, verifier, origin, progress)
    complete = _advance(session, progress, verifier, origin, limit=None, exported=exported)
    return _result(session, progress, complete)


def continue_verification(
    session: Session,
    verifier: CheckpointVerifier,
    *,
    origin: str,
    now: datetime,
    step: int,
    restart: bool = False,
) -> Verification:
    """Verify at most ``step`` more entries of the latest run, or of a new run from entry 0 when there
    is none (or ``restart``). The caller records the result with ``record_progress``."""
    progress = None if restart else _latest_progress(session, verifier, origin)
    if progress is None:
        progress = Progress.fresh(now)
    complete = _advance(session, progress, verifier, origin, limit=step, exported=None)
    return _result(session, progress, complete)


def record_progress(
    session: Session, signer: CheckpointSigner, *, origin: str, progress: Progress, now: datetime
) -> None:
    """Store the run's progress as a signed note (in the caller's short write transaction)."""
    session.add(
        AuditVerification(id=uuid.uuid4(), recorded_at=now, note=_record_note(progress, origin, now, signer))
    )
    session.flush()


def _result(session: Session, progress: Progress, complete: bool) -> Verification:
    checkpoint = (
        None if progress.checkpoint_size is None else session.get(AuditCheckpoint, progress.checkpoint_size)
    )
    return Verification(
        ok=progress.ok,
        size=progress.compact.size,
        root=progress.compact.root(),
        problems=progress.report(),
        complete=complete,
        log_size=log_size(session),
        started_at=progress.started_at,
        checkpoint=None if checkpoint is None else checkpoint.note,
        progress=progress,
    )


# --- the pass -------------------------------------------------------------------------------------


def _advance(
    session: Session,
    progress: Progress,
    verifier: CheckpointVerifier,
    origin: str,
    *,
    limit: int | None,
    exported: Checkpoint | None,
) -> bool:
    """Hash up to ``limit`` more entries into ``progress``; return whether the log's end was reached."""
    compact = progress.compact
    heads = _SignedHeads(session, progress, verifier, origin, exported)
    stop = None if limit is None else compact.size + limit
    next_seq = compact.size
    while stop is None or compact.size < stop:
        batch = READ_BATCH if stop is None else min(READ_BATCH, stop - compact.size)
        rows = session.connection().execute(_ENTRIES.where(_TABLE.c.seq >= next_seq).limit(batch)).all()
        if not rows:
            heads.beyond_the_log(compact.size)
            return True
        for row in rows:
            leaf = _recomputed_leaf(row)
            if progress.entries_intact:
                _check_entry(progress, row, leaf)
            compact.append(row.leaf_hash if leaf is None else leaf)
            if compact.size == heads.next_size:
                heads.check(compact)
        next_seq = rows[-1].seq + 1
    if session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.seq >= next_seq).limit(1)) is None:
        heads.beyond_the_log(compact.size)
        return True
    return False


def _check_entry(progress: Progress, row: sa.Row[Any], leaf: bytes | None) -> None:
    index = progress.compact.size
    if row.seq != index:
        progress.add_problem(
            f"entry {index}: missing (the next present is {row.seq}); entries removed or reordered"
        )
    elif leaf is None:
        # What was stored there is no longer an id, a time or JSON: it is not quoted.
        progress.add_problem(f"entry {index}: altered; its content can no longer be read")
    elif not hmac.compare_digest(leaf, row.leaf_hash):
        progress.add_problem(
            f"entry {index} (id {_id_text(row.id)}): altered; its content no longer matches its leaf hash"
        )
    else:
        return
    progress.entries_intact = False


# --- reading entries ------------------------------------------------------------------------------
# SQLAlchemy's type processing of ids, times and JSON costs more than hashing the entry, so the pass
# reads the values as the database sends them and converts them here: ids as text (the server's text
# on PostgreSQL, 32 hex digits on SQLite), times as the driver gives them (a datetime, or SQLite's
# text), JSON as text. For every value the application writes this gives what the ORM reads (an id in
# another spelling is read as a UUID, as the column type would); a value in no form the application
# writes (tampered) makes the entry unreadable, reported like an altered one instead of stopping the
# pass.

_TABLE = AuditEvent.__table__
_ENTRIES = sa.select(
    _TABLE.c.seq,
    sa.cast(_TABLE.c.id, sa.Text).label("id"),
    sa.type_coerce(_TABLE.c.occurred_at, sa.types.NullType()).label("occurred_at"),
    *(
        sa.cast(_TABLE.c[name], sa.Text).label(name)
        for name in ("actor_user_id", "actor_society_id", "owner_society_id")
    ),
    _TABLE.c.action,
    _TABLE.c.outcome,
    _TABLE.c.object_type,
    _TABLE.c.object_id,
    sa.cast(_TABLE.c.fields, sa.Text).label("fields"),
    _TABLE.c.request_id,
    _TABLE.c.leaf_hash,
    sa.cast(_TABLE.c.object_ids, sa.Text).label("object_ids"),
).order_by(_TABLE.c.seq)


def _recomputed_leaf(row: Sequence[Any]) -> bytes | None:
    """The leaf hash of the entry's content as stored now; None if it can no longer be read."""
    seq, entry_id, at, user, society, owner, action, outcome, object_type, object_id, fields, request = row[
        :12
    ]
    object_ids = row[13]
    try:
        content = EntryColumns(
            seq,
            _id_text(entry_id),
            _utc(at),
            None if user is None else _id_text(user),
            None if society is None else _id_text(society),
            None if owner is None else _id_text(owner),
            action,
            outcome,
            object_type,
            object_id,
            json.loads(fields),
            request,
            None if object_ids is None else json.loads(object_ids),
        )
        return leaf_hash(canonical_form(content))
    except (ValueError, TypeError, AttributeError, PrivacyError):
        return None


def _id_text(value: str) -> str:
    if len(value) == 32 and value == value.lower():
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    if len(value) == 36 and value == value.lower():
        return value
    return str(uuid.UUID(value))  # what reading it as a UUID column gives, or ValueError


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, without offset)
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _SignedHeads:
    """The signed tree heads a pass compares with, in size order: the stored checkpoints from the run's
    position on, and an exported checkpoint. ``next_size`` is the size at which to call ``check``."""

    def __init__(
        self,
        session: Session,
        progress: Progress,
        verifier: CheckpointVerifier,
        origin: str,
        exported: Checkpoint | None,
    ) -> None:
        self._session = session
        self._progress = progress
        self._verifier = verifier
        self._origin = origin
        self._exported = exported
        # A continued run already checked the rows at its starting size.
        start = progress.compact.size
        self._rows = _stored_checkpoints(session, after=start - 1 if start == 0 else start)
        self._row = next(self._rows, None)
        self.next_size = self._next_size()
        if start == 0:
            self.check(progress.compact)

    def _next_size(self) -> int:
        sizes = [head.tree_size for head in (self._row,) if head is not None]
        if self._exported is not None:
            sizes.append(self._exported.size)
        return min(sizes, default=-1)

    def check(self, compact: CompactRange) -> None:
        size = compact.size
        while self._row is not None and self._row.tree_size == size:
            self._check_row(self._row, compact)
            self._row = next(self._rows, None)
        if self._exported is not None and self._exported.size == size:
            if not hmac.compare_digest(self._exported.root, compact.root()):
                self._progress.add_problem(_not_extended("exported checkpoint", size))
            self._exported = None
        self.next_size = self._next_size()

    def _check_row(self, row: AuditCheckpoint, compact: CompactRange) -> None:
        try:
            signed = checkpoints.signed_head(row, self._verifier, self._origin)
        except checkpoints.UntrustedCheckpoint as untrusted:
            self._progress.add_problem(f"stored checkpoint row {row.tree_size}: {untrusted.reason}")
            return
        if not hmac.compare_digest(signed.root, compact.root()):
            self._progress.add_problem(_not_extended("stored checkpoint", row.tree_size))
        elif row.compact_range != compact.to_bytes():
            self._progress.add_problem(
                f"stored checkpoint row {row.tree_size}: its compact range does not match the log"
            )
        else:
            self._progress.checkpoint_size = row.tree_size

    def beyond_the_log(self, size: int) -> None:
        """Report the signed heads larger than the log, which has ``size`` entries."""
        if self._exported is not None and self._exported.size > size:
            self._progress.add_problem(_removed("exported checkpoint", self._exported.size, size))
        while self._row is not None:
            if len(self._progress.problems) >= MAX_PROBLEMS:
                self._progress.more_problems += self._count_rows_from(self._row.tree_size)
                return
            try:
                checkpoints.signed_head(self._row, self._verifier, self._origin)
                self._progress.add_problem(_removed("stored checkpoint", self._row.tree_size, size))
            except checkpoints.UntrustedCheckpoint as untrusted:
                self._progress.add_problem(f"stored checkpoint row {self._row.tree_size}: {untrusted.reason}")
            self._row = next(self._rows, None)

    def _count_rows_from(self, tree_size: int) -> int:
        count = self._session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditCheckpoint)
            .where(AuditCheckpoint.tree_size >= tree_size)
        )
        return int(count or 0)


def _not_extended(label: str, size: int) -> str:
    # Only the checkpoint's root is known, so the damage is located to its range, not one entry.
    return (
        f"{label} of size {size}: the log does not extend it; entries before index {size} were altered, "
        "inserted, removed or reordered"
    )


def _removed(label: str, size: int, log_entries: int) -> str:
    return f"{label} of size {size}: the log has only {log_entries} entries; entries removed"


def _stored_checkpoints(session: Session, *, after: int) -> Iterator[AuditCheckpoint]:
    """Stored checkpoint rows larger than ``after``, in size order, ``CHECKPOINT_BATCH`` at a time."""
    while True:
        rows = session.scalars(
            sa.select(AuditCheckpoint)
            .where(AuditCheckpoint.tree_size > after)
            .order_by(AuditCheckpoint.tree_size)
            .limit(CHECKPOINT_BATCH)
        ).all()
        yield from rows
        if len(rows) < CHECKPOINT_BATCH:
            return
        after = rows[-1].tree_size


def _exported_checkpoint(
    note: str | None, verifier: CheckpointVerifier, origin: str, progress: Progress
) -> Checkpoint | None:
    if note is None:
        return None
    try:
        return verify_checkpoint(note, verifier, origin=origin)
    except CheckpointError:
        progress.add_problem("exported checkpoint: signature or format invalid")
        return None


# --- progress records -----------------------------------------------------------------------------


class _UntrustedRecord(Exception):
    pass


def _latest_progress(session: Session, verifier: CheckpointVerifier, origin: str) -> Progress | None:
    """The newest progress record that proves itself; records that do not are reported in it."""
    rows = session.scalars(
        sa.select(AuditVerification)
        .order_by(AuditVerification.recorded_at.desc(), AuditVerification.id.desc())
        .limit(RECORD_SCAN)
    ).all()
    untrusted: list[str] = []
    for row in rows:
        try:
            progress = _parse_record(row, verifier, origin)
        except _UntrustedRecord as reason:
            log.warning(
                "audit_verification_record_untrusted", extra={"record_id": str(row.id), "reason": str(reason)}
            )
            untrusted.append(f"stored verification record {row.id}: {reason}")
            continue
        for problem in untrusted:
            progress.add_problem(problem)
        return progress
    return None


def _record_note(progress: Progress, origin: str, recorded_at: datetime, signer: CheckpointSigner) -> str:
    document = canonical_entry(
        {
            "run": str(progress.run_id),
            "started_at": progress.started_at.isoformat(),
            "recorded_at": recorded_at.isoformat(),
            "size": progress.compact.size,
            "compact_range": [base64.b64encode(h).decode("ascii") for h in progress.compact.hashes],
            "entries_intact": progress.entries_intact,
            "problems": list(progress.problems),
            "more_problems": progress.more_problems,
            "checkpoint_size": progress.checkpoint_size,
        }
    ).decode("utf-8")
    return sign_note(f"{origin}\n{RECORD_KIND}\n{document}\n", signer)


def _parse_record(row: AuditVerification, verifier: CheckpointVerifier, origin: str) -> Progress:
    try:
        body = open_note(row.note, verifier)
    except CheckpointError:
        raise _UntrustedRecord("signature or format invalid") from None
    lines = body[:-1].split("\n")
    if len(lines) != 3 or lines[0] != origin or lines[1] != RECORD_KIND:
        raise _UntrustedRecord("not a verification record of this log")
    try:
        document = json.loads(lines[2])
        if datetime.fromisoformat(document["recorded_at"]) != row.recorded_at:
            raise _UntrustedRecord("its time differs from its signed time")
        hashes = [base64.b64decode(h, validate=True) for h in document["compact_range"]]
        return Progress(
            run_id=uuid.UUID(document["run"]),
            started_at=datetime.fromisoformat(document["started_at"]),
            compact=CompactRange(int(document["size"]), hashes),
            problems=[str(problem) for problem in document["problems"]],
            more_problems=int(document["more_problems"]),
            entries_intact=bool(document["entries_intact"]),
            checkpoint_size=document["checkpoint_size"],
        )
    except (KeyError, TypeError, ValueError, binascii.Error, ProofError):
        raise _UntrustedRecord("malformed") from None
