"""Evidence for auditors: the consent and disclosure logs exported with proofs, checked offline.

An export holds, for each row (ids, codes and categories, never personal data), the audit-log entry
that recorded it and an inclusion proof of that entry in the tree of a signed checkpoint. Anyone with
the log's public key alone (``rfl audit public-key``) can check it: the checkpoint's signature, each
entry's inclusion under the signed root, and that each row says exactly what its entry recorded. A row
added, removed from the middle of a proof, or altered anywhere fails.

Formats: JSON (one document), or CSV whose first lines, each starting with ``#``, carry the format and
the signed checkpoint.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import (
    CheckpointError,
    CheckpointSigner,
    CheckpointVerifier,
    JsonValue,
    ProofError,
    canonical_entry,
    leaf_hash,
    verify_checkpoint,
    verify_inclusion,
)
from rfl.audit.entries import Action, AuditEntry, AuditSink
from rfl.audit.log import entry_document, sign_current_checkpoint
from rfl.audit.models import AuditEvent
from rfl.audit.proofs import TreeProofs
from rfl.consent.models import Consent
from rfl.consent.services import PERSONAL_COLUMNS, consent_terms
from rfl.disclosures.models import Disclosure
from rfl.disclosures.services import disclosure_terms
from rfl.errors import ValidationFailed
from rfl.identity import Actor

FORMAT = "rfl-audit-export/1"
KINDS = ("consents", "disclosures")
CONSENT_COLUMNS = (
    "id", "sighting_id", "recipient", "decision", "scope", "method", "expires_at", "details", "recorded_by",
    "recorded_at",
)  # fmt: skip
DISCLOSURE_COLUMNS = (
    "id", "match_candidate_id", "tracing_request_id", "sighting_id", "categories", "outcome", "reasons",
    "consent_id", "officer_user_id", "decided_at",
)  # fmt: skip
LIST_COLUMNS = ("scope", "details", "categories", "reasons")


@dataclass(frozen=True)
class ExportQuery:
    kind: str
    since: datetime | None = None
    until: datetime | None = None


def build_export(
    session: Session,
    actor: Actor,
    signer: CheckpointSigner,
    query: ExportQuery,
    *,
    origin: str,
    now: datetime,
    audit: AuditSink,
) -> dict[str, Any]:
    """The rows of one log for the actor's society, each with its entry and proof, and the checkpoint."""
    rows = (
        _consent_rows(session, actor, query)
        if query.kind == "consents"
        else _disclosure_rows(session, actor, query)
    )
    checkpoint = sign_current_checkpoint(session, signer, origin=origin, now=now)
    entries = _entries(session, actor, [row["id"] for row in rows])
    tree = TreeProofs(session, signer.verifier(), origin, checkpoint.compact)
    proven = {proof.seq: proof.proof for proof in tree.for_events(entries.values())}
    for row in rows:
        event = entries[row["id"]]
        row["audit"] = {
            "seq": event.seq,
            "entry": entry_document(event),
            "proof": [base64.b64encode(node).decode() for node in proven[event.seq]],
        }
    audit(
        AuditEntry(
            Action.AUDIT_EXPORT, actor=actor, owner_society_id=actor.society_id, object_type=query.kind
        )
    )
    return {
        "format": FORMAT,
        "kind": query.kind,
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
        "checkpoint": checkpoint.note,
        "rows": rows,
    }


def _consent_rows(session: Session, actor: Actor, query: ExportQuery) -> list[dict[str, Any]]:
    statement = sa.select(Consent).where(Consent.society_id == actor.society_id)
    statement = _period(statement, Consent.recorded_at, query)
    return [
        {
            "id": str(c.id),
            "sighting_id": str(c.sighting_id),
            "recipient": c.recipient,
            "decision": c.decision.value,
            "scope": list(c.scope),
            "method": c.method.value,
            "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            "details": [name for name in PERSONAL_COLUMNS if getattr(c, name) is not None],
            "recorded_by": str(c.recorded_by),
            "recorded_at": c.recorded_at.isoformat(),
        }
        for c in session.scalars(statement.order_by(Consent.recorded_at, Consent.id))
    ]


def _disclosure_rows(session: Session, actor: Actor, query: ExportQuery) -> list[dict[str, Any]]:
    society = actor.society_id
    statement = sa.select(Disclosure).where(
        sa.or_(Disclosure.request_society_id == society, Disclosure.sighting_society_id == society)
    )
    statement = _period(statement, Disclosure.decided_at, query)
    return [
        {
            "id": str(d.id),
            "match_candidate_id": str(d.match_candidate_id),
            "tracing_request_id": str(d.tracing_request_id),
            "sighting_id": str(d.sighting_id),
            "categories": list(d.categories),
            "outcome": d.outcome.value,
            "reasons": list(d.reasons),
            "consent_id": str(d.consent_id) if d.consent_id else None,
            "officer_user_id": str(d.officer_user_id),
            "decided_at": d.decided_at.isoformat(),
        }
        for d in session.scalars(statement.order_by(Disclosure.decided_at, Disclosure.id))
    ]


def _period(statement: sa.Select[Any], column: Any, query: ExportQuery) -> sa.Select[Any]:
    if query.since is not None:
        statement = statement.where(column >= query.since)
    if query.until is not None:
        statement = statement.where(column < query.until)
    return statement


def _entries(session: Session, actor: Actor, ids: Sequence[str]) -> dict[str, AuditEvent]:
    """The entry that recorded each row, the one the exporting society owns."""
    if not ids:
        return {}
    events = session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.object_id.in_(list(ids)),
            AuditEvent.owner_society_id == actor.society_id,
            AuditEvent.action.in_(
                [Action.CONSENT_RECORD.value, Action.DISCLOSURE_ALLOWED.value, Action.DISCLOSURE_DENIED.value]
            ),
        )
        .order_by(AuditEvent.seq)
    )
    found: dict[str, AuditEvent] = {}
    for event in events:
        found.setdefault(str(event.object_id), event)
    missing = [row_id for row_id in ids if row_id not in found]
    if missing:  # a row without its entry cannot be proven: an export must never hide that
        raise ValidationFailed({"kind": [f"{len(missing)} rows have no entry in the audit log."]})
    return found


# --- formats ------------------------------------------------------------------------------------------


def as_csv(export: Mapping[str, Any]) -> str:
    """The export as CSV: ``#`` lines with the format and the signed checkpoint, then one row each."""
    columns = CONSENT_COLUMNS if export["kind"] == "consents" else DISCLOSURE_COLUMNS
    out = io.StringIO()
    out.write(f"# {FORMAT} {export['kind']}\n")
    for line in str(export["checkpoint"]).splitlines():
        out.write(f"# {line}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, "audit_seq", "audit_entry", "audit_proof"])
    for row in export["rows"]:
        cells = [" ".join(row[c]) if c in LIST_COLUMNS else (row[c] or "") for c in columns]
        audit = row["audit"]
        writer.writerow(
            [*cells, audit["seq"], json.dumps(audit["entry"], sort_keys=True), " ".join(audit["proof"])]
        )
    return out.getvalue()


def parse(text: str) -> dict[str, Any]:
    """An export read back from either format (ValueError if it is neither)."""
    if text.lstrip().startswith("{"):
        document: dict[str, Any] = json.loads(text)
        return document
    comments = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    if not comments or not comments[0].startswith(FORMAT):
        raise ValueError("not an rfl audit export")
    kind = comments[0].split()[1]
    rows = []
    for raw in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        row: dict[str, Any] = {k: v for k, v in raw.items() if not k.startswith("audit_")}
        for column in LIST_COLUMNS:
            if column in row:
                row[column] = row[column].split() if row[column] else []
        for column in ("expires_at", "consent_id"):
            if column in row and not row[column]:
                row[column] = None
        row["audit"] = {
            "seq": int(raw["audit_seq"]),
            "entry": json.loads(raw["audit_entry"]),
            "proof": raw["audit_proof"].split(),
        }
        rows.append(row)
    return {"format": FORMAT, "kind": kind, "checkpoint": "\n".join(comments[1:]) + "\n", "rows": rows}


# --- offline verification -------------------------------------------------------------------------------


def verify_export(text: str, verifier: CheckpointVerifier) -> list[str]:
    """Problems found in an export, checked with the public key alone (an empty list: it verifies)."""
    try:
        export = parse(text)
        checkpoint = verify_checkpoint(export["checkpoint"], verifier)
    except (ValueError, KeyError, CheckpointError):
        return ["the export or its checkpoint is malformed, or the checkpoint's signature is not valid"]
    if export.get("format") != FORMAT or export.get("kind") not in KINDS:
        return ["not an rfl audit export of consents or disclosures"]
    expected = _expected_entry(export["kind"])
    problems = []
    for number, row in enumerate(export["rows"], start=1):
        problem = _row_problem(row, checkpoint.size, checkpoint.root, expected)
        if problem:
            problems.append(f"row {number} (id {row.get('id')}): {problem}")
    return problems


def _row_problem(
    row: Mapping[str, Any],
    size: int,
    root: bytes,
    expected: Callable[[Mapping[str, Any]], tuple[tuple[str, ...], tuple[str, ...]]],
) -> str | None:
    audit = row["audit"]
    entry: dict[str, JsonValue] = audit["entry"]
    try:
        proof = [base64.b64decode(node, validate=True) for node in audit["proof"]]
        verify_inclusion(int(audit["seq"]), size, leaf_hash(canonical_entry(entry)), proof, root)
    except (ValueError, ProofError):
        return "its audit entry is not in the log under the signed checkpoint"
    if entry.get("seq") != audit["seq"] or entry.get("object_id") != row.get("id"):
        return "its audit entry is about another row"
    actions, terms = expected(row)
    if entry.get("action") not in actions or tuple(entry.get("fields") or ()) != terms:  # type: ignore[arg-type]
        return "the row differs from what the audit log recorded"
    return None


def _expected_entry(kind: str) -> Callable[[Mapping[str, Any]], tuple[tuple[str, ...], tuple[str, ...]]]:
    if kind == "consents":
        return lambda row: (
            (Action.CONSENT_RECORD.value,),
            consent_terms(
                decision=row["decision"],
                method=row["method"],
                recipient=row["recipient"],
                sighting_id=row["sighting_id"],
                scope=row["scope"],
                details=row["details"],
                expires_at=row["expires_at"],
            ),
        )
    return lambda row: (
        (Action.DISCLOSURE_ALLOWED.value if row["outcome"] == "allowed" else Action.DISCLOSURE_DENIED.value,),
        disclosure_terms(
            categories=row["categories"],
            reasons=row["reasons"],
            tracing_request_id=row["tracing_request_id"],
            sighting_id=row["sighting_id"],
            consent_id=row["consent_id"],
        ),
    )
