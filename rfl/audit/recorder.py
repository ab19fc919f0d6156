"""Recording audit entries during an HTTP request.

Entries of actions that happened (outcome ``ok``) are appended just before the request commits, so
they exist exactly when the action does. Refusals and failures are appended whether the request then
succeeds or fails: a refused attempt must leave a trace although nothing else of it is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import current_app, g
from sqlalchemy.orm import Session

from rfl.audit import services
from rfl.audit.services import AuditEntry, Outcome
from rfl.clock import now
from rfl.db import db

AuditSink = Callable[[AuditEntry], None]


def record(entry: AuditEntry) -> None:
    """Log ``entry`` with this request's id (the sink every view passes to services)."""
    entry = replace(entry, request_id=g.get("request_id"))
    key = "rfl_audit_done" if entry.outcome == Outcome.OK else "rfl_audit_refused"
    pending: list[AuditEntry] | None = g.get(key)
    if pending is None:
        pending = []
        setattr(g, key, pending)
        db.before_commit(_appender(pending))
        if entry.outcome != Outcome.OK:
            db.record_even_if_failing(_appender(pending))
    pending.append(entry)


def _appender(pending: list[AuditEntry]) -> Callable[[Session], None]:
    def append_pending(session: Session) -> None:
        append_now(session, pending)

    return append_pending


def append_now(session: Session, entries: list[AuditEntry]) -> None:
    """Append entries in ``session`` at once (CLI commands, and the request hooks above)."""
    services.append(
        session,
        entries,
        now=now(),
        signer=current_app.extensions["rfl.audit_signer"],
        origin=current_app.extensions["rfl.settings"].checkpoint_origin,
    )
