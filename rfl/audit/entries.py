"""What the audit log can say: every action and outcome, declared once, and the entry services emit.

One pattern everywhere: a service builds ``AuditEntry`` values and hands them to the ``AuditSink`` it was
given. Over HTTP the sink is ``rfl.audit.recorder.record`` (entries commit with the request, refusals
even when it fails); on the command line it is ``rfl.audit.recorder.CommandAudit`` (entries commit with
the command's transaction). Entries hold ids, actions and field names, never values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from rfl.identity import Actor


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class Action(StrEnum):
    """Every action the log records, as ``<object>.<verb>``."""

    AUTH_LOGIN = "auth.login"
    AUTH_LOGOUT = "auth.logout"
    ACCESS_DENIED = "access.denied"

    SOCIETY_CREATE = "society.create"
    USER_CREATE = "user.create"
    USER_READ = "user.read"
    USER_UPDATE = "user.update"

    TRACING_REQUEST_CREATE = "tracing_request.create"
    TRACING_REQUEST_READ = "tracing_request.read"
    TRACING_REQUEST_UPDATE = "tracing_request.update"
    TRACING_REQUEST_LIST = "tracing_request.list"
    TRACING_REQUEST_SEARCH = "tracing_request.search"
    TRACING_REQUEST_SEARCH_MATCH = "tracing_request.search_match"
    # A record's protection and status columns sealed by ``rfl records seal`` (rows from before seals).
    TRACING_REQUEST_SEAL = "tracing_request.seal"
    # A record whose seal did not verify: read as its most restrictive setting (rfl.records.seals).
    TRACING_REQUEST_SEAL_INVALID = "tracing_request.seal_invalid"

    SIGHTING_CREATE = "sighting.create"
    SIGHTING_READ = "sighting.read"
    SIGHTING_UPDATE = "sighting.update"
    SIGHTING_LIST = "sighting.list"
    SIGHTING_SEARCH = "sighting.search"
    SIGHTING_SEARCH_MATCH = "sighting.search_match"
    SIGHTING_RESTRICTION_APPLIED = "sighting.restriction_applied"
    # The condition of a sighting registered before its code was kept, read to fill the code in.
    SIGHTING_BACKFILL = "sighting.backfill"
    SIGHTING_SEAL = "sighting.seal"
    SIGHTING_SEAL_INVALID = "sighting.seal_invalid"
    # Records leaving in an export to RFL partners (the fields sent, never their values).
    TRACING_REQUEST_EXPORT = "tracing_request.export"
    SIGHTING_EXPORT = "sighting.export"

    MATCH_PROPOSE = "match.propose"
    MATCH_CANDIDATE_CREATE = "match_candidate.create"
    MATCH_SUPERSEDE = "match_candidate.supersede"
    MATCH_LIST = "match_candidate.list"
    MATCH_READ = "match_candidate.read"
    MATCH_CONFIRM = "match_candidate.confirm"
    MATCH_APPROVE = "match_candidate.approve"
    MATCH_REJECT = "match_candidate.reject"
    MATCH_WITHDRAW = "match_candidate.withdraw"
    MATCH_FIT = "match.fit"
    MATCH_RUN = "match.run"

    CONSENT_RECORD = "consent.record"
    CONSENT_READ = "consent.read"
    CONSENT_LOG_READ = "consent.log_read"
    CONSENT_SEAL_INVALID = "consent.seal_invalid"
    DISCLOSURE_ALLOWED = "disclosure.allowed"
    DISCLOSURE_DENIED = "disclosure.denied"
    DISCLOSURE_LOG_READ = "disclosure.log_read"
    AUDIT_EXPORT = "audit.export"

    AUDIT_READ = "audit.read"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_PROOF = "audit.proof"
    AUDIT_CONSISTENCY = "audit.consistency"
    AUDIT_VERIFY = "audit.verify"

    # A key-file change is preceded by its committed *_started (or *_resumed) entry and followed by its
    # outcome: a start without an end marks an interrupted rotation or retirement.
    KEYS_ROTATE_STARTED = "keys.rotate_started"
    KEYS_ROTATE_RESUMED = "keys.rotate_resumed"
    KEYS_ROTATE = "keys.rotate"
    KEYS_RETIRE_STARTED = "keys.retire_started"
    KEYS_RETIRE = "keys.retire"
    KEYS_INDEX_ROTATE_STARTED = "keys.index_rotate_started"
    KEYS_INDEX_ROTATE = "keys.index_rotate"

    IDEMPOTENCY_PURGE = "idempotency.purge"

    # Imports of files (PFIF, CSV) and exports: the job or export is the object; its parameters and
    # counts are the fields (codes and numbers only).
    IMPORT_START = "import.start"
    IMPORT_FINISH = "import.finish"
    IMPORT_READ = "import.read"
    EXPORT_RUN = "export.run"

    # A monitoring report run: its name is the object id, its parameters (codes) the fields.
    REPORT_RUN = "report.run"

    # Erasure of one person of a record: the fields name the person's role and the reason code.
    TRACING_REQUEST_ERASE = "tracing_request.erase"
    SIGHTING_ERASE = "sighting.erase"
    TRACING_REQUEST_LEGAL_HOLD = "tracing_request.legal_hold"
    TRACING_REQUEST_LEGAL_HOLD_LIFT = "tracing_request.legal_hold_lift"
    SIGHTING_LEGAL_HOLD = "sighting.legal_hold"
    SIGHTING_LEGAL_HOLD_LIFT = "sighting.legal_hold_lift"
    RETENTION_POLICY_READ = "retention_policy.read"
    RETENTION_POLICY_UPDATE = "retention_policy.update"
    # A retention run's start (with its plan) and its end; a start without an end marks a killed run.
    RETENTION_RUN_STARTED = "retention.run_started"
    RETENTION_RUN = "retention.run"
    # The matcher's stored name frequencies no longer count erased persons (a new model version).
    MATCH_FORGET = "match.forget"

    @classmethod
    def on(cls, object_type: str, verb: str) -> Action:
        """The declared action ``<object_type>.<verb>``; ValueError if it was never declared."""
        return cls(f"{object_type}.{verb}")


@dataclass(frozen=True)
class ObjectRef:
    """An object an entry is about, and the society that owns it."""

    object_id: str
    society_id: uuid.UUID


@dataclass(frozen=True)
class AuditEntry:
    """What is to be logged; ids, action and field names only (never values)."""

    action: Action
    outcome: Outcome = Outcome.OK
    actor: Actor | None = None
    # The society whose object this is: only it sees the entry (None: the actor's society sees it).
    owner_society_id: uuid.UUID | None = None
    object_type: str | None = None
    object_id: str | None = None
    fields: tuple[str, ...] = field(default_factory=tuple)
    request_id: str | None = None
    # Further objects the entry is about (the records one search returned, each with its owning society):
    # their ids are logged with the entry, and each owning society sees the entry (its own ids only).
    objects: tuple[ObjectRef, ...] = field(default_factory=tuple)


AuditSink = Callable[[AuditEntry], None]
