"""The audit sinks services write to: one for HTTP requests, one for command-line actions.

Over HTTP, entries of actions that happened (outcome ``ok``) are appended just before the request
commits, so they exist exactly when the action does. Refusals and failures are appended whether the
request then succeeds or fails: a refused attempt must leave a trace although nothing else of it is kept.

On the command line, ``audited_transaction`` gives the command a session and a sink; the entries are
appended in that same transaction just before it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from flask import g, request
from sqlalchemy.orm import Session

from rfl.audit import log
from rfl.audit.entries import AuditEntry, AuditSink, Outcome
from rfl.db import db
from rfl.extensions import app_services


def record(entry: AuditEntry) -> None:
    """The sink of an HTTP request: log ``entry`` with this request's id."""
    entry = replace(entry, request_id=g.get("request_id"))
    key = "rfl_audit_done" if entry.outcome == Outcome.OK else "rfl_audit_refused"
    this_request = request._get_current_object()  # type: ignore[attr-defined]
    held: tuple[object, list[AuditEntry]] | None = g.get(key)
    # Requests driven in process inside an application context already pushed (tests, benchmarks)
    # share its ``g``: a list an earlier request left there was appended at that request's end, and
    # an entry added to it now would never be.
    if held is None or held[0] is not this_request:
        held = (this_request, [])
        setattr(g, key, held)
        db.before_commit(_appender(held[1]))
        if entry.outcome != Outcome.OK:
            db.record_even_if_failing(_appender(held[1]))
    held[1].append(entry)


def _appender(pending: list[AuditEntry]) -> Callable[[Session], None]:
    def append_pending(session: Session) -> None:
        append_entries(session, pending)

    return append_pending


@contextmanager
def audited_transaction() -> Iterator[tuple[Session, AuditSink]]:
    """A command-line transaction and its audit sink: entries commit with the command's work."""
    pending: list[AuditEntry] = []
    with db.transaction() as session:
        yield session, pending.append
        append_entries(session, pending)


def append_entries(session: Session, entries: list[AuditEntry]) -> None:
    """Append entries in ``session`` now, signing a checkpoint when the log crosses an interval."""
    app = app_services()
    log.append(
        session,
        entries,
        now=app.clock(),
        signer=app.audit_signer,
        origin=app.settings.checkpoint_origin,
    )
