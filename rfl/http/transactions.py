"""The request's transaction: how it begins (reading or writing) and how it ends (commit or roll back).

Requests with a safe method (GET, HEAD, OPTIONS) read in a read-only transaction, which on SQLite takes
no write lock, so reads go on while another connection writes. What such a request must record (the
audit entries of what it revealed) is written at its end in a short write transaction; if that cannot
be done the answer is a 503 and the body already computed is never sent: personal data is never
delivered without its audit entry. Other methods write, in one transaction that takes the write lock
up front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from rfl.db import db, is_unavailable
from rfl.extensions import app_services
from rfl.http.errors import handle_database_unavailable, handle_integrity_error, handle_stale_write
from rfl.matches.worker import hand_on

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES_ATTRIBUTE = "__rfl_writes_on_safe_method__"

V = TypeVar("V", bound=Callable[..., Any])


def writes_on_safe_method(view: V) -> V:
    """Mark a GET view that writes (e.g. signs a checkpoint): it runs in a write transaction."""
    setattr(view, WRITES_ATTRIBUTE, True)
    return view


def init_request_transactions(app: Flask) -> None:
    app.before_request(_begin_transaction)
    app.after_request(_end_transaction)


def _begin_transaction() -> None:
    db.begin_request(read_only=request.method in SAFE_METHODS and not _view_writes())


def _view_writes() -> bool:
    view: Any = current_app.view_functions.get(request.endpoint or "")
    while view is not None:
        if getattr(view, WRITES_ATTRIBUTE, False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _end_transaction(response: Response) -> Response:
    """Commit the request's work when it succeeded; roll it back on any error answer.

    A database that cannot take the commit (busy beyond the wait, or unreachable) turns the answer into
    a 503. A requested delay (failed logins) is waited out only then, so no transaction or lock is held.
    """
    try:
        return _commit_or_roll_back(response)
    except SQLAlchemyError as error:
        if not is_unavailable(error):
            raise
        db.abandon_request()
        return handle_database_unavailable(error)
    finally:
        delay = g.pop("rfl_answer_delay", 0.0)
        if delay:
            app_services().sleep(delay)


def keep_the_refusal() -> None:
    """Commit this request's work although it answers with an error: a refusal that is itself a record
    (a denied disclosure is kept, with its reasons, as a fact auditors verify)."""
    g.rfl_keep_refusal = True


def _commit_or_roll_back(response: Response) -> Response:
    succeeded = response.status_code < 400 or bool(g.pop("rfl_keep_refusal", False))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # What the write puts in the outbox follows the answer, never delays it.
    writes = succeeded and request.method not in SAFE_METHODS
    handoff = hand_on(app, db.current_session()) if writes else None
    try:
        db.end_request(succeeded=succeeded)
    except StaleDataError as error:
        db.end_request(succeeded=False)
        return handle_stale_write(error)
    except IntegrityError as error:
        db.end_request(succeeded=False)
        return handle_integrity_error(error)
    if handoff is not None:
        handoff.after(response)
    return response
