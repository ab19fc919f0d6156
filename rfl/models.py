"""Every mapped model, imported in one place so the metadata is complete (Alembic, tests)."""

from rfl.accounts.models import ApiToken, Society, ThrottleHit, User
from rfl.audit.models import AuditCheckpoint, AuditEvent, AuditVerification
from rfl.consent.models import Consent
from rfl.crypto.models import BlindIndexPlan, DataKey
from rfl.db import Base
from rfl.disclosures.models import Disclosure
from rfl.exchange.models import ImportedRecord, ImportJob
from rfl.idempotency.models import IdempotencyRecord
from rfl.matches.models import MatchCandidate, MatcherModel, MatchRun, MatchRunChunk
from rfl.outbox.models import OutboxMessage
from rfl.records.models import BlindIndexEntry, RecordEdit, Sighting, TracingRequest
from rfl.retention.models import Erasure, RetentionPeriod, RetentionRun, RetentionRunItem

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditVerification",
    "Base",
    "BlindIndexEntry",
    "BlindIndexPlan",
    "Consent",
    "DataKey",
    "Disclosure",
    "Erasure",
    "IdempotencyRecord",
    "ImportJob",
    "ImportedRecord",
    "MatchCandidate",
    "MatchRun",
    "MatchRunChunk",
    "MatcherModel",
    "OutboxMessage",
    "RecordEdit",
    "RetentionPeriod",
    "RetentionRun",
    "RetentionRunItem",
    "Sighting",
    "Society",
    "ThrottleHit",
    "TracingRequest",
    "User",
]
